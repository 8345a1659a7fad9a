/**
 * The cluster clock and the bounded, in-memory oplog change streams read from.
 *
 * @module
 */

import { Timestamp, type UUID } from "bson";
import type { Doc } from "../bson_values.ts";

/** What an oplog entry records. */
export type OplogOperation =
  | "insert"
  | "update"
  | "replace"
  | "delete"
  | "drop"
  | "rename"
  | "dropDatabase"
  | "create"
  | "createIndexes"
  | "dropIndexes"
  | "modify";

/** A namespace, as change events carry it. */
export interface Namespace {
  /** Database name. */
  db: string;
  /** Collection name. */
  coll: string;
}

/** One write, as change streams see it. */
export interface OplogEntry {
  /** Position in the oplog since the server started (never reused). */
  seq: number;
  /** Cluster time of the write. */
  ts: Timestamp;
  /** Wall clock time of the write. */
  wall: Date;
  /** The kind of write. */
  op: OplogOperation;
  /** Database name. */
  db: string;
  /** Collection name (absent for `dropDatabase`). */
  coll?: string;
  /** `{ _id }` of the written document. */
  documentKey?: Doc;
  /** The document after the write (insert, replace, update). */
  after?: Doc;
  /** The document before the write (update, replace, delete). */
  before?: Doc;
  /** What an update changed. */
  updateDescription?: Doc;
  /** The new namespace of a renamed collection (`db` and `coll` hold the old one). */
  to?: Namespace;
  /** The UUID of the collection a rename replaced (`dropTarget`), if any. */
  dropTarget?: UUID;
  /** The UUID of the collection written (change events show it with `showExpandedEvents`). */
  uuid?: UUID;
  /**
   * Whether the collection recorded pre- and post-images for this write
   * (`changeStreamPreAndPostImages`), so `fullDocumentBeforeChange` and `fullDocument:
   * "whenAvailable"` may show `before` and `after`.
   */
  images?: boolean;
  /** What a DDL event (create, createIndexes, dropIndexes, modify, rename) describes. */
  operationDescription?: Doc;
  /** A modify event's options before the change. */
  stateBeforeChange?: Doc;
}

/** Hands out strictly increasing cluster times: seconds from the wall clock, then a counter. */
export class ClusterClock {
  #t = 0;
  #i = 0;

  /**
   * Returns a new cluster time, later than every one before.
   *
   * @returns The timestamp.
   */
  tick(): Timestamp {
    const now = Math.floor(Date.now() / 1000);
    if (now > this.#t) {
      this.#t = now;
      this.#i = 1;
    } else {
      this.#i++;
    }
    return new Timestamp({ t: this.#t, i: this.#i });
  }

  /**
   * Returns the latest cluster time handed out (or the current second when none yet).
   *
   * @returns The timestamp.
   */
  now(): Timestamp {
    if (this.#t === 0) return new Timestamp({ t: Math.floor(Date.now() / 1000), i: 0 });
    return new Timestamp({ t: this.#t, i: this.#i });
  }
}

/**
 * Compares two timestamps.
 *
 * @param a A timestamp.
 * @param b Another.
 * @returns Negative, zero or positive.
 */
export function compareTimestamps(a: Timestamp, b: Timestamp): number {
  return a.t !== b.t ? a.t - b.t : a.i - b.i;
}

/** A bounded ring of oplog entries, with waiters woken on every append. */
export class Oplog {
  /** Maximum number of entries kept. */
  readonly capacity: number;
  /** The cluster clock writes take their time from. */
  readonly clock: ClusterClock = new ClusterClock();
  #entries: OplogEntry[] = [];
  #start = 0;
  #nextSeq = 0;
  #lastDropped: Timestamp | undefined;
  #waiters = new Set<() => void>();

  /**
   * @param capacity Maximum number of entries kept (older ones are dropped).
   */
  constructor(capacity: number) {
    this.capacity = Math.max(1, capacity);
  }

  /**
   * Appends a write, stamping it with a new cluster time.
   *
   * @param entry The write, without `seq`, `ts` and `wall`.
   * @returns The stamped entry.
   */
  append(entry: Omit<OplogEntry, "seq" | "ts" | "wall">): OplogEntry {
    const full = { ...entry, seq: this.#nextSeq++, ts: this.clock.tick(), wall: new Date() };
    this.#entries.push(full);
    if (this.#entries.length - this.#start > this.capacity) {
      this.#lastDropped = this.#entries[this.#start]!.ts;
      this.#start++;
      if (this.#start > 4096 && this.#start * 2 > this.#entries.length) {
        this.#entries = this.#entries.slice(this.#start);
        this.#start = 0;
      }
    }
    if (this.#waiters.size > 0) {
      const waiters = [...this.#waiters];
      this.#waiters.clear();
      for (const wake of waiters) wake();
    }
    return full;
  }

  /** The sequence number the next entry will get. */
  get nextSeq(): number {
    return this.#nextSeq;
  }

  /** The oldest entry still held, if any. */
  get oldest(): OplogEntry | undefined {
    return this.#entries[this.#start];
  }

  /** Cluster time of the newest entry dropped to respect the capacity, if any. */
  get lastDropped(): Timestamp | undefined {
    return this.#lastDropped;
  }

  /**
   * Returns the entry with a sequence number, if still held.
   *
   * @param seq The sequence number.
   * @returns The entry.
   */
  at(seq: number): OplogEntry | undefined {
    const oldest = this.oldest;
    if (!oldest || seq < oldest.seq) return undefined;
    return this.#entries[this.#start + (seq - oldest.seq)];
  }

  /**
   * Returns the sequence number of the first entry after a cluster time.
   *
   * @param ts The cluster time.
   * @param inclusive Whether an entry at exactly `ts` counts.
   * @returns A sequence number (possibly `nextSeq`).
   */
  seqAfter(ts: Timestamp, inclusive: boolean): number {
    let lo = this.#start;
    let hi = this.#entries.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const c = compareTimestamps(this.#entries[mid]!.ts, ts);
      if (c < 0 || (c === 0 && !inclusive)) lo = mid + 1;
      else hi = mid;
    }
    const entry = this.#entries[lo];
    return entry ? entry.seq : this.#nextSeq;
  }

  /**
   * Waits until an entry is appended, the time runs out, or the signal aborts.
   *
   * @param ms Maximum wait in milliseconds.
   * @param signal Aborts the wait (e.g. on server stop).
   * @returns Once woken.
   */
  waitForAppend(ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      if (signal?.aborted) return resolve();
      const done = () => {
        clearTimeout(timer);
        this.#waiters.delete(done);
        signal?.removeEventListener("abort", done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.#waiters.add(done);
      signal?.addEventListener("abort", done, { once: true });
    });
  }
}
