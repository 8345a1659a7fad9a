/**
 * One watcher per resume token. Two watchers on one token (two services started from one folder,
 * or two hosts on one Mongo token without `--ha`) would both archive and each move the other's
 * resume point, so the second one refuses to start, naming the first's host and PID.
 *
 * The lock sits beside the token: a file created exclusively next to the token file
 * (`<token file>.lock`), or a document `lock:<db>.<collection>` in the token collection claimed
 * with one conditional update. Either holds `host`, `pid`, `started_at` and a `heartbeat_at`
 * the watcher refreshes with its status heartbeat. A watcher that died without cleaning up
 * (kill -9, a crash, a host lost) never blocks the next: its lock is stale when its PID is gone
 * on this host, or when its heartbeat is older than a few heartbeats. `watch --ha` takes no lock:
 * the lease decides which watcher archives.
 *
 * @module
 */

import { hostname } from "node:os";
import type { Collection, Document } from "mongodb";
import { writeFileAtomic } from "../runtime/atomic_file.ts";
import { processLiveness } from "../runtime/proc.ts";

/** Who holds a token. */
export interface LockHolder {
  /** The holder's host name. */
  host: string;
  /** Its process id. */
  pid: number;
  /** When it started (ISO). */
  started_at: string;
  /** Its last heartbeat (ISO). */
  heartbeat_at: string;
}

/** Another live watcher holds the token. */
export class TokenLockedError extends Error {
  /** The other watcher. */
  readonly holder: LockHolder;

  /**
   * Creates the error.
   *
   * @param where The token, for the message.
   * @param holder The other watcher.
   */
  constructor(where: string, holder: LockHolder) {
    super(
      `Another watcher already uses ${where}: host ${holder.host}, PID ${holder.pid}, started ${holder.started_at}; stop it first, or run both with --ha`,
    );
    this.name = "TokenLockedError";
    this.holder = holder;
  }
}

/** A lock on one resume token. */
export interface TokenLock {
  /** Where the lock lives, for messages. */
  readonly description: string;
  /**
   * Takes the lock, replacing a stale one.
   *
   * @throws {TokenLockedError} When a live watcher holds it.
   */
  acquire(): Promise<void>;
  /** Refreshes the heartbeat (called with the status heartbeat). */
  heartbeat(): Promise<void>;
  /** Gives the lock up on a clean stop. */
  release(): Promise<void>;
}

/** What decides whether a holder is gone. */
export interface StaleCheck {
  /** This host's name. */
  host: string;
  /** Now. */
  now: Date;
  /** A heartbeat older than this is stale, in ms. */
  staleMs: number;
  /** Whether a PID runs on this host (`undefined`: cannot tell). */
  alive(pid: number): boolean | undefined;
}

/**
 * Whether a lock's holder is gone: its PID is not running on this host, or its heartbeat is
 * older than `staleMs` (another host, or a PID reused).
 *
 * @param holder The lock's holder.
 * @param check This host, the time and the bound.
 * @returns True when the lock can be taken over.
 */
export function isStaleHolder(holder: LockHolder, check: StaleCheck): boolean {
  if (holder.host === check.host && check.alive(holder.pid) === false) return true;
  const beat = Date.parse(holder.heartbeat_at);
  if (!Number.isFinite(beat)) return true;
  return check.now.getTime() - beat > check.staleMs;
}

/**
 * Whether a process runs on this host, from `/proc` (Linux), read through the core's process
 * runner (`core/runtime/proc.ts`): Deno refuses any direct access to `/proc` without
 * `--allow-all`, which the tool never asks for, so a plain `stat` would say nothing.
 * `undefined` elsewhere, where only the heartbeat tells.
 *
 * @param pid The process id.
 * @returns True, false, or `undefined` when it cannot be told.
 */
export async function processAlive(pid: number): Promise<boolean | undefined> {
  if (Deno.build.os !== "linux") return undefined;
  const liveness = await processLiveness(pid);
  return liveness === undefined ? undefined : liveness === "running";
}

/** Options of the locks. */
export interface TokenLockOptions {
  /** A heartbeat older than this is stale, in ms. */
  staleMs: number;
  /** This host's name. @default os.hostname() */
  host?: string;
  /** This process's id. @default Deno.pid */
  pid?: number;
  /** Whether a PID runs on this host. @default {@link processAlive} */
  alive?: (pid: number) => boolean | undefined | Promise<boolean | undefined>;
}

/**
 * A holder on this host whose process cannot be checked (Windows): it is live only if its
 * heartbeat moves. Waits until its heartbeat would be stale, reading it again.
 *
 * @returns True when the heartbeat did not move (the holder is gone).
 */
async function _heartbeatStopped(
  holder: LockHolder,
  options: Required<TokenLockOptions> & { known: boolean | undefined },
  read: () => Promise<LockHolder | undefined>,
): Promise<boolean> {
  if (holder.host !== options.host || options.known !== undefined) return false;
  const beat = Date.parse(holder.heartbeat_at);
  const wait = Math.max(0, beat + options.staleMs - Date.now()) + 100;
  await new Promise((resolve) => setTimeout(resolve, Math.min(wait, options.staleMs + 100)));
  const now = await read();
  return !now || now.heartbeat_at === holder.heartbeat_at;
}

/** The lock file beside a token file, created exclusively. */
export class FileTokenLock implements TokenLock {
  readonly #path: string;
  readonly #options: Required<TokenLockOptions>;
  readonly #startedAt = new Date().toISOString();
  #held = false;

  /**
   * A lock on a token file.
   *
   * @param tokenPath The token file; the lock is `<tokenPath>.lock`.
   * @param options Staleness bound, host and PID.
   */
  constructor(tokenPath: string, options: TokenLockOptions) {
    this.#path = `${tokenPath}.lock`;
    this.#options = { host: hostname(), pid: Deno.pid, alive: processAlive, ...options };
  }

  /** The lock file. */
  get description(): string {
    return `lock file ${JSON.stringify(this.#path)}`;
  }

  /**
   * Creates the lock file; a stale one is replaced once.
   *
   * @throws {TokenLockedError} When a live watcher holds it.
   * @throws When the folder cannot be written (the caller decides whether to go on).
   */
  async acquire(): Promise<void> {
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        const file = await Deno.open(this.#path, { createNew: true, write: true });
        try {
          await file.write(new TextEncoder().encode(`${JSON.stringify(this.#holder())}\n`));
        } finally {
          file.close();
        }
        this.#held = true;
        return;
      } catch (error) {
        if (!(error instanceof Deno.errors.AlreadyExists)) throw error;
      }
      const holder = await this.#read();
      const known = holder ? await this.#options.alive(holder.pid) : undefined;
      if (
        holder && !isStaleHolder(holder, this.#check(known)) &&
        !(await _heartbeatStopped(holder, { ...this.#options, known }, () => this.#read()))
      ) {
        throw new TokenLockedError(`the token beside ${this.description}`, holder);
      }
      await Deno.remove(this.#path).catch(() => {});
    }
    const holder = await this.#read();
    throw new TokenLockedError(`the token beside ${this.description}`, holder ?? this.#holder());
  }

  /** Rewrites the lock file with a new heartbeat. */
  async heartbeat(): Promise<void> {
    if (!this.#held) return;
    // Rewritten every status interval; an empty file left by a power loss reads as stale.
    await writeFileAtomic(this.#path, `${JSON.stringify(this.#holder())}\n`, { durable: false });
  }

  /** Removes the lock file when it is still ours. */
  async release(): Promise<void> {
    if (!this.#held) return;
    this.#held = false;
    const holder = await this.#read();
    if (holder?.pid === this.#options.pid && holder.host === this.#options.host) {
      await Deno.remove(this.#path).catch(() => {});
    }
  }

  async #read(): Promise<LockHolder | undefined> {
    try {
      const value = JSON.parse(await Deno.readTextFile(this.#path));
      return typeof value?.pid === "number" ? value as LockHolder : undefined;
    } catch {
      return undefined; // gone, or half-written by a process that died: stale either way
    }
  }

  #holder(): LockHolder {
    return {
      host: this.#options.host,
      pid: this.#options.pid,
      started_at: this.#startedAt,
      heartbeat_at: new Date().toISOString(),
    };
  }

  #check(known: boolean | undefined): StaleCheck {
    return {
      host: this.#options.host,
      now: new Date(),
      staleMs: this.#options.staleMs,
      alive: () => known,
    };
  }
}

/**
 * The lock document of a Mongo token, in the token collection: `{ _id: "lock:<namespace>",
 * holder, host, pid, started_at, heartbeat_at }`, `holder` null once released. Heartbeats are the
 * server's time (`$$NOW`), so hosts whose clocks disagree still agree on staleness.
 */
export class MongoTokenLock implements TokenLock {
  readonly #collection: Collection;
  readonly #key: string;
  readonly #options: Required<TokenLockOptions>;
  readonly #holder: string;
  readonly #startedAt = new Date().toISOString();
  #held = false;

  /**
   * A lock on a Mongo token.
   *
   * @param collection The token collection.
   * @param namespace The watched namespace (the token's key).
   * @param options Staleness bound, host and PID.
   */
  constructor(collection: Collection, namespace: string, options: TokenLockOptions) {
    this.#collection = collection;
    this.#key = `lock:${namespace}`;
    this.#options = { host: hostname(), pid: Deno.pid, alive: processAlive, ...options };
    this.#holder = `${this.#options.host}:${this.#options.pid}:${crypto.randomUUID().slice(0, 8)}`;
  }

  /** The lock document. */
  get description(): string {
    return `lock document "${this.#key}" in ${this.#collection.collectionName}`;
  }

  /**
   * Claims the lock document: free, absent, or stale; one conditional update decides a race.
   *
   * @throws {TokenLockedError} When a live watcher holds it.
   */
  async acquire(): Promise<void> {
    const [row] = await this.#collection.aggregate([
      { $match: { _id: this.#key } },
      { $set: { server_now: "$$NOW" } },
    ]).toArray();
    const current = row && typeof row.holder === "string" ? _holderOf(row) : undefined;
    if (current) {
      const known = await this.#options.alive(current.pid);
      const check: StaleCheck = {
        host: this.#options.host,
        now: row!.server_now as Date,
        staleMs: this.#options.staleMs,
        alive: () => known,
      };
      const read = async () => {
        const [again] = await this.#collection.find({ _id: this.#key } as Document).toArray();
        return again && typeof again.holder === "string" ? _holderOf(again) : undefined;
      };
      if (
        !isStaleHolder(current, check) &&
        !(await _heartbeatStopped(current, { ...this.#options, known }, read))
      ) {
        throw new TokenLockedError(`the token of ${this.#key.slice(5)}`, current);
      }
    }
    // Whoever changed the document since it was read wins: the filter names what was read.
    const filter: Document = row
      ? { _id: this.#key, holder: row.holder ?? null, heartbeat_at: row.heartbeat_at ?? null }
      : { _id: this.#key };
    try {
      const result = await this.#collection.updateOne(filter, [{
        $set: {
          holder: this.#holder,
          host: this.#options.host,
          pid: this.#options.pid,
          started_at: this.#startedAt,
          heartbeat_at: "$$NOW",
        },
      }], { upsert: true, writeConcern: { w: "majority" } });
      if (result.matchedCount + result.upsertedCount === 1) {
        this.#held = true;
        return;
      }
    } catch (error) {
      if ((error as { code?: unknown }).code !== 11000) throw error;
    }
    const [now] = await this.#collection.find({ _id: this.#key } as Document).toArray();
    throw new TokenLockedError(
      `the token of ${this.#key.slice(5)}`,
      now ? _holderOf(now) : { host: "?", pid: 0, started_at: "?", heartbeat_at: "?" },
    );
  }

  /** Refreshes the heartbeat while the lock is ours. */
  async heartbeat(): Promise<void> {
    if (!this.#held) return;
    await this.#collection.updateOne(
      { _id: this.#key, holder: this.#holder } as Document,
      [{ $set: { heartbeat_at: "$$NOW" } }],
    );
  }

  /** Frees the lock document while it is ours (never deleted: the role has no delete). */
  async release(): Promise<void> {
    if (!this.#held) return;
    this.#held = false;
    await this.#collection.updateOne(
      { _id: this.#key, holder: this.#holder } as Document,
      { $set: { holder: null } },
    );
  }
}

function _holderOf(document: Document): LockHolder {
  const beat = document.heartbeat_at;
  return {
    host: String(document.host),
    pid: Number(document.pid),
    started_at: String(document.started_at),
    heartbeat_at: beat instanceof Date ? beat.toISOString() : String(beat),
  };
}
