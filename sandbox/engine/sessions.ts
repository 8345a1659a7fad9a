/**
 * The logical sessions a server has seen (every command's `lsid`), as `$listLocalSessions`
 * lists them and `endSessions` forgets them, and the retryable writes run in them. Without
 * authentication every session belongs to the same (empty) user, whose `uid` is the SHA-256 of
 * the empty user name, as on mongod.
 *
 * A retryable write (a write command with `lsid` and `txnNumber`) is recorded as mongod records
 * it in its transaction table: the session's latest transaction number and, for each statement
 * it executed, its statement id and what it did. A retry with the same number does not execute
 * those statements again and answers what the first attempt did; an older number fails with
 * TransactionTooOld. Only the latest number is kept, and a session idle for the session timeout
 * (`logicalSessionTimeoutMinutes`, 30) is forgotten with its history.
 *
 * @module
 */

import { Binary } from "bson";
import { type Doc, isPlainDoc, numericValue } from "../bson_values.ts";
import { CommandError } from "../errors.ts";

/** SHA-256 of "", the `uid` mongod gives sessions without an authenticated user. */
const _NO_USER_UID = new Binary(
  Uint8Array.from(
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855".match(/../g)!,
    (h) => parseInt(h, 16),
  ),
  0,
);

/** mongod's `logicalSessionTimeoutMinutes` (what `hello` reports), in milliseconds. */
export const SESSION_TIMEOUT_MS = 30 * 60 * 1000;

/** The statement id mongod treats as "none": such statements are not recorded. */
const _UNINITIALIZED_STMT_ID = -1;

interface _Session {
  id: Binary;
  lastUse: number;
  /** Latest transaction number of a retryable write in this session. */
  txnNumber?: number;
  /** What each executed statement of that write did, by statement id. */
  executed?: Map<number, Doc>;
}

/** One attempt of a retryable write command: which of its statements already ran. */
export class RetryableWrite {
  readonly #executed: Map<number, Doc>;
  readonly #stmtIds: unknown[] | undefined;
  readonly #firstStmtId: number;
  /** Statement ids this attempt found already executed (`retriedStmtIds` of the reply). */
  readonly retried: number[] = [];

  /**
   * @param executed The session's record of executed statements (shared, updated in place).
   * @param body The command (its `stmtIds` or `stmtId`).
   */
  constructor(executed: Map<number, Doc>, body: Doc) {
    this.#executed = executed;
    this.#stmtIds = Array.isArray(body.stmtIds) ? body.stmtIds : undefined;
    this.#firstStmtId = numericValue(body.stmtId) ?? 0;
  }

  /**
   * The statement id of the i-th statement: `stmtIds[i]`, else `stmtId + i` (0 by default).
   *
   * @param index The statement's index in the command.
   * @returns Its statement id.
   */
  stmtId(index: number): number {
    if (this.#stmtIds) return numericValue(this.#stmtIds[index]) ?? _UNINITIALIZED_STMT_ID;
    return this.#firstStmtId + index;
  }

  /**
   * What the i-th statement did when a previous attempt executed it, noting it as retried.
   *
   * @param index The statement's index in the command.
   * @returns The recorded result, or `undefined` when it must run now.
   */
  previous(index: number): Doc | undefined {
    const stmtId = this.stmtId(index);
    const result = this.#executed.get(stmtId);
    if (result !== undefined) this.retried.push(stmtId);
    return result;
  }

  /**
   * Records that the i-th statement executed, with what it did.
   *
   * @param index The statement's index in the command.
   * @param result What a retry answers for it (e.g. `{ n: 1, nModified: 1 }`).
   */
  record(index: number, result: Doc): void {
    const stmtId = this.stmtId(index);
    if (stmtId !== _UNINITIALIZED_STMT_ID) this.#executed.set(stmtId, result);
  }
}

function _key(lsid: unknown): [string, Binary] | undefined {
  const id = isPlainDoc(lsid) ? lsid.id : undefined;
  return id instanceof Binary ? [id.toString("hex"), id] : undefined;
}

/** The server's session cache. */
export class LocalSessions {
  readonly #sessions = new Map<string, _Session>();
  readonly #timeoutMs: number;
  #lastSweep = Date.now();

  /** @param timeoutMs How long an idle session is kept (mongod: 30 minutes). */
  constructor(timeoutMs = SESSION_TIMEOUT_MS) {
    this.#timeoutMs = timeoutMs;
  }

  /** Number of sessions held. */
  get size(): number {
    return this.#sessions.size;
  }

  #sweep(now: number): void {
    if (now - this.#lastSweep < Math.min(60_000, this.#timeoutMs)) return;
    this.#lastSweep = now;
    for (const [key, session] of this.#sessions) {
      if (now - session.lastUse > this.#timeoutMs) this.#sessions.delete(key);
    }
  }

  #session(lsid: unknown): _Session | undefined {
    const key = _key(lsid);
    if (!key) return undefined;
    const now = Date.now();
    this.#sweep(now);
    const known = this.#sessions.get(key[0]);
    if (known && now - known.lastUse <= this.#timeoutMs) {
      known.lastUse = now;
      return known;
    }
    const session = { id: key[1], lastUse: now };
    this.#sessions.set(key[0], session);
    return session;
  }

  /**
   * Notes that a command used a session (one map update per command).
   *
   * @param lsid The command's `lsid`.
   */
  touch(lsid: unknown): void {
    this.#session(lsid);
  }

  /**
   * Starts (or resumes, for a retry) the retryable write a write command carries.
   *
   * @param body The write command.
   * @returns The attempt, or `undefined` when the command is not a retryable write (no `lsid`
   *   or `txnNumber`, or part of a multi-document transaction).
   * @throws {CommandError} TransactionTooOld (225) when a newer write already started.
   */
  retryableWrite(body: Doc): RetryableWrite | undefined {
    if (body.txnNumber === undefined || body.autocommit !== undefined) return undefined;
    const txnNumber = numericValue(body.txnNumber);
    const session = this.#session(body.lsid);
    if (txnNumber === undefined || !session) return undefined;
    if (session.txnNumber !== undefined && txnNumber < session.txnNumber) {
      throw new CommandError(
        225,
        `Retryable write with txnNumber ${txnNumber} is prohibited on session ${
          session.id.toString("hex")
        } because a newer retryable write with txnNumber ${session.txnNumber} has already started on this session.`,
        { extra: { codeName: "TransactionTooOld" } },
      );
    }
    if (session.txnNumber !== txnNumber || !session.executed) {
      session.txnNumber = txnNumber;
      session.executed = new Map();
    }
    return new RetryableWrite(session.executed, body);
  }

  /**
   * Forgets sessions (`endSessions`).
   *
   * @param ids The `lsid` documents.
   */
  end(ids: unknown[]): void {
    for (const lsid of ids) {
      const key = _key(lsid);
      if (key) this.#sessions.delete(key[0]);
    }
  }

  /**
   * Lists the sessions as `$listLocalSessions` returns them.
   *
   * @returns `{ _id: { id, uid }, lastUse }` documents, oldest use first.
   */
  list(): Doc[] {
    const now = Date.now();
    return [...this.#sessions.values()]
      .filter((s) => now - s.lastUse <= this.#timeoutMs)
      .sort((a, b) => a.lastUse - b.lastUse)
      .map(({ id, lastUse }) => ({ _id: { id, uid: _NO_USER_UID }, lastUse: new Date(lastUse) }));
  }
}
