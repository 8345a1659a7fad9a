/**
 * The fail points mongod implements for driver tests: `failCommand` (make chosen commands
 * fail with an error code, close the connection, block, or report a write concern error, a
 * number of times, after skipping some, or until turned off),
 * `failGetMoreAfterCursorCheckout` (fail a getMore once it holds its cursor),
 * `onPrimaryTransactionalWrite` (a retryable write's statement commits and the connection
 * closes, or the statement fails before it commits) and `maxTimeAlwaysTimeOut` /
 * `maxTimeNeverTimeOut` (every operation with a `maxTimeMS` times out, or none does).
 *
 * @module
 */

import { type Doc, isPlainDoc, numericValue } from "../bson_values.ts";
import { CommandError } from "../errors.ts";

/** What a triggered fail point asks the server to do with a command. */
export interface FailCommandAction {
  /** Close the connection without replying. */
  closeConnection: boolean;
  /** Error code to answer with. */
  errorCode?: number;
  /** Error labels to send (overrides the server's own choice when given). */
  errorLabels?: string[];
  /** Block the connection this long before acting. */
  blockTimeMS: number;
  /** Write concern error to add to an otherwise successful reply. */
  writeConcernError?: Doc;
  /** Extra error info. */
  errInfo?: Doc;
}

interface _FailCommand {
  mode: { kind: "alwaysOn" } | { kind: "times"; n: number } | { kind: "skip"; n: number };
  commands: Set<string>;
  appName?: string;
  namespace?: string;
  data: Doc;
}

interface _AfterCheckout {
  mode: _FailCommand["mode"];
  errorCode: number;
}

/** What `onPrimaryTransactionalWrite` does to the retryable write statement that triggers it. */
export interface TransactionalWriteAction {
  /** Close the connection without replying (mongod's default: `closeConnection` absent). */
  closeConnection: boolean;
  /**
   * Fail the statement with this code before it commits (`failBeforeCommitExceptionCode`):
   * the write is not applied. Without it the write is applied, then the connection closes.
   */
  failBeforeCommitCode?: number;
}

/**
 * Thrown by a command that a fail point tells to close the connection once the command ran
 * (`onPrimaryTransactionalWrite`): dispatch answers it by closing the connection, no reply.
 */
export class CloseConnectionSignal extends Error {
  constructor() {
    super("connection closed by the onPrimaryTransactionalWrite fail point");
    this.name = "CloseConnectionSignal";
  }
}

function _parseMode(mode: unknown): _FailCommand["mode"] {
  if (mode === "alwaysOn") return { kind: "alwaysOn" };
  if (isPlainDoc(mode) && mode.times !== undefined) {
    return { kind: "times", n: numericValue(mode.times) ?? 0 };
  }
  if (isPlainDoc(mode) && mode.skip !== undefined) {
    return { kind: "skip", n: numericValue(mode.skip) ?? 0 };
  }
  throw new CommandError(2, `Unsupported fail point mode: ${JSON.stringify(mode)}`);
}

/** Counts one trigger of a fail point; `false` when it skips this one. */
function _trigger(mode: _FailCommand["mode"]): boolean {
  if (mode.kind === "skip" && mode.n > 0) {
    mode.n--;
    return false;
  }
  if (mode.kind === "times") mode.n--;
  return true;
}

/** The fail points configured on one server. */
export class FailPoints {
  #failCommand: _FailCommand | undefined;
  #afterCheckout: _AfterCheckout | undefined;
  #transactionalWrite: { mode: _FailCommand["mode"]; action: TransactionalWriteAction } | undefined;
  #maxTime: { mode: _FailCommand["mode"]; always: boolean } | undefined;

  #configureTransactionalWrite(body: Doc): Doc {
    const data = isPlainDoc(body.data) ? body.data : {};
    if (body.mode === "off") {
      this.#transactionalWrite = undefined;
      return { count: 0 };
    }
    const mode = _parseMode(body.mode);
    const code = numericValue(data.failBeforeCommitExceptionCode);
    const action: TransactionalWriteAction = {
      closeConnection: data.closeConnection === undefined || data.closeConnection === true,
      ...(code !== undefined ? { failBeforeCommitCode: code } : {}),
    };
    this.#transactionalWrite = mode.kind === "times" && mode.n <= 0 ? undefined : { mode, action };
    return { count: 0 };
  }

  #configureMaxTime(body: Doc, always: boolean): Doc {
    if (body.mode === "off") {
      if (this.#maxTime?.always === always) this.#maxTime = undefined;
      return { count: 0 };
    }
    const mode = _parseMode(body.mode);
    this.#maxTime = mode.kind === "times" && mode.n <= 0 ? undefined : { mode, always };
    return { count: 0 };
  }

  /**
   * Checks `onPrimaryTransactionalWrite`, which mongod evaluates when a retryable write's
   * statement is about to commit (once for all the documents of an insert command, once per
   * statement of an update or delete; never for a statement a retry does not execute again).
   *
   * @returns What to do with the statement, or `undefined` to commit it normally.
   */
  onPrimaryTransactionalWrite(): TransactionalWriteAction | undefined {
    const fp = this.#transactionalWrite;
    if (!fp || !_trigger(fp.mode)) return undefined;
    if (fp.mode.kind === "times" && fp.mode.n <= 0) this.#transactionalWrite = undefined;
    return fp.action;
  }

  /**
   * Checks `maxTimeAlwaysTimeOut` / `maxTimeNeverTimeOut` for an operation with a time limit.
   *
   * @returns `"timeOut"` (fail it with MaxTimeMSExpired now), `"never"` (ignore its limit), or
   *   `undefined` (honour its limit).
   */
  maxTimeOverride(): "timeOut" | "never" | undefined {
    const fp = this.#maxTime;
    if (!fp || !_trigger(fp.mode)) return undefined;
    if (fp.mode.kind === "times" && fp.mode.n <= 0) this.#maxTime = undefined;
    return fp.always ? "timeOut" : "never";
  }

  #configureAfterCheckout(body: Doc): Doc {
    const data = isPlainDoc(body.data) ? body.data : {};
    if (body.mode === "off") {
      this.#afterCheckout = undefined;
      return { count: 0 };
    }
    const mode = _parseMode(body.mode);
    const errorCode = numericValue(data.errorCode);
    if (errorCode === undefined) {
      throw new CommandError(2, "failGetMoreAfterCursorCheckout requires 'errorCode'");
    }
    this.#afterCheckout = mode.kind === "times" && mode.n <= 0 ? undefined : { mode, errorCode };
    return { count: 0 };
  }

  /**
   * Checks the `failGetMoreAfterCursorCheckout` fail point, which mongod evaluates once a
   * getMore holds its cursor (so the error is labelled as the cursor's kind asks, e.g.
   * `ResumableChangeStreamError` for a change stream).
   *
   * @returns The error code to fail the getMore with, or `undefined`.
   */
  getMoreAfterCheckout(): number | undefined {
    const fp = this.#afterCheckout;
    if (!fp || !_trigger(fp.mode)) return undefined;
    if (fp.mode.kind === "times" && fp.mode.n <= 0) this.#afterCheckout = undefined;
    return fp.errorCode;
  }

  /**
   * Configures a fail point (`configureFailPoint`).
   *
   * @param body The command body.
   * @returns The reply fields (`count`: times the previous configuration was entered).
   */
  configure(body: Doc): Doc {
    const name = body.configureFailPoint;
    if (name === "failGetMoreAfterCursorCheckout") return this.#configureAfterCheckout(body);
    if (name === "onPrimaryTransactionalWrite") return this.#configureTransactionalWrite(body);
    if (name === "maxTimeAlwaysTimeOut") return this.#configureMaxTime(body, true);
    if (name === "maxTimeNeverTimeOut") return this.#configureMaxTime(body, false);
    if (name !== "failCommand") {
      throw new CommandError(2, `Unknown fail point: ${String(name)}`);
    }
    const mode = body.mode;
    const data = isPlainDoc(body.data) ? body.data : {};
    if (mode === "off") {
      this.#failCommand = undefined;
      return { count: 0 };
    }
    const parsed = _parseMode(mode);
    const commands = Array.isArray(data.failCommands) ? data.failCommands.map(String) : [];
    if (commands.length === 0) {
      throw new CommandError(2, "failCommand fail point requires 'failCommands'");
    }
    this.#failCommand = {
      mode: parsed,
      commands: new Set(commands),
      ...(typeof data.appName === "string" ? { appName: data.appName } : {}),
      ...(typeof data.namespace === "string" ? { namespace: data.namespace } : {}),
      data,
    };
    if (parsed.kind === "times" && parsed.n <= 0) this.#failCommand = undefined;
    return { count: 0 };
  }

  /**
   * Checks whether a command triggers the fail point, counting the trigger.
   *
   * @param commandName The command name.
   * @param appName The client's application name.
   * @param ns The command's namespace (`db.coll`).
   * @returns What to do, or `undefined` to run the command normally.
   */
  check(
    commandName: string,
    appName: string | undefined,
    ns: string,
  ): FailCommandAction | undefined {
    const fp = this.#failCommand;
    if (!fp || !fp.commands.has(commandName)) return undefined;
    if (fp.appName !== undefined && fp.appName !== appName) return undefined;
    if (fp.namespace !== undefined && fp.namespace !== ns) return undefined;
    if (!_trigger(fp.mode)) return undefined;
    if (fp.mode.kind === "times" && fp.mode.n <= 0) this.#failCommand = undefined;
    const data = fp.data;
    const errorCode = numericValue(data.errorCode);
    return {
      closeConnection: data.closeConnection === true,
      ...(errorCode !== undefined ? { errorCode } : {}),
      ...(Array.isArray(data.errorLabels) ? { errorLabels: data.errorLabels.map(String) } : {}),
      blockTimeMS: data.blockConnection === true ? numericValue(data.blockTimeMS) ?? 0 : 0,
      ...(isPlainDoc(data.writeConcernError) ? { writeConcernError: data.writeConcernError } : {}),
      ...(isPlainDoc(data.errInfo) ? { errInfo: data.errInfo } : {}),
    };
  }

  /** Turns every fail point off. */
  clear(): void {
    this.#failCommand = undefined;
    this.#afterCheckout = undefined;
    this.#transactionalWrite = undefined;
    this.#maxTime = undefined;
  }
}

/** Error codes mongod labels `RetryableWriteError` on retryable writes. */
export const RETRYABLE_WRITE_CODES: ReadonlySet<number> = new Set([
  6,
  7,
  89,
  91,
  189,
  262,
  9001,
  10107,
  11600,
  11602,
  13435,
  13436,
]);

/** Error codes mongod labels `ResumableChangeStreamError` on change stream getMores. */
export const RESUMABLE_CHANGE_STREAM_CODES: ReadonlySet<number> = new Set([
  ...RETRYABLE_WRITE_CODES,
  63,
  133,
  150,
  202,
  234,
  13388,
]);
