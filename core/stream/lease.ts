/**
 * The lease the `--ha` watchers share: one document per watched namespace,
 * `{ _id: "<db>.<collection>", holder, epoch, expires_at }`, in `ARCHIVER_LEASE_COLLECTION`. One
 * watcher holds it and archives; the others wait and take it once it expires. Every time is the
 * server's (`$$NOW` in update pipelines, one value per command), never a host's clock: two hosts
 * whose clocks disagree still agree on who holds the lease. The epoch grows with each new holder
 * and fences the token store: a save carries the epoch it was made under, and the store refuses
 * one older than what it holds (core/stream/token_store.ts).
 *
 * @module
 */

import { hostname } from "node:os";
import type { Collection, Document } from "mongodb";
import { text } from "../runtime/parse.ts";
import type { Setting } from "../runtime/settings.ts";

/** The collection of the lease documents, read by `watch --ha` and `health`. */
export const leaseCollectionSetting: Setting<string> = {
  env: "ARCHIVER_LEASE_COLLECTION",
  description: "Collection of the lease the watch --ha watchers share (one document per stream)",
  default: "archiver_leases",
  parse: text({ pattern: /^(?!system\.)[^$\0]{1,120}$/, expected: "a collection name" }),
};

/** A lease document. */
export interface LeaseDocument {
  /** The watched namespace, `<db>.<collection>`. */
  _id: string;
  /** Who holds it: `<host>:<pid>:<random>`. */
  holder: string;
  /** Grows by one with each new holder. */
  epoch: number;
  /** When it ends unless renewed, in the server's time. */
  expires_at: Date;
}

/** How long a lease lasts and how often it is renewed. */
export interface LeaseTimings {
  /** How long a taken or renewed lease lasts, in ms. @default 30000 */
  ttlMs: number;
  /** How often the holder renews it, in ms. @default 10000 */
  renewMs: number;
  /**
   * How long before the lease could end the holder stops reading when it could not renew, in
   * ms. @default 5000
   */
  marginMs: number;
}

/** The timings of issue 15: 30 s, renewed every 10 s, given up 5 s before the end. */
export const leaseDefaults = {
  ttlMs: 30_000,
  renewMs: 10_000,
  marginMs: 5_000,
} satisfies LeaseTimings;

/**
 * The lease timings, with the hidden test overrides `ARCHIVER_LEASE_TTL_MS` and
 * `ARCHIVER_LEASE_RENEW_MS` (the margin is a sixth of the lease when overridden).
 *
 * @param env The environment.
 * @returns The timings.
 * @throws {TypeError} On an override that is not a whole number of ms, or a renewal interval
 *   not under half the lease.
 */
export function leaseTimings(
  env: Readonly<Record<string, string | undefined>> = Deno.env.toObject(),
): LeaseTimings {
  const ttl = env.ARCHIVER_LEASE_TTL_MS;
  const renew = env.ARCHIVER_LEASE_RENEW_MS;
  if (ttl === undefined && renew === undefined) return { ...leaseDefaults };
  const ttlMs = ttl === undefined ? leaseDefaults.ttlMs : _ms("ARCHIVER_LEASE_TTL_MS", ttl);
  const renewMs = renew === undefined
    ? Math.round(ttlMs / 3)
    : _ms("ARCHIVER_LEASE_RENEW_MS", renew);
  if (renewMs * 2 > ttlMs) {
    throw new TypeError(
      `ARCHIVER_LEASE_RENEW_MS "${renewMs}" must be at most half of ARCHIVER_LEASE_TTL_MS "${ttlMs}"`,
    );
  }
  return { ttlMs, renewMs, marginMs: Math.round(ttlMs / 6) };
}

function _ms(name: string, value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || n < 100) {
    throw new TypeError(`Invalid ${name} "${value}": expected a whole number of ms, at least 100`);
  }
  return n;
}

/**
 * A holder name unique to this process: `<host>:<pid>:<random>`.
 *
 * @returns The name.
 */
export function holderName(): string {
  return `${hostname()}:${Deno.pid}:${crypto.randomUUID().slice(0, 8)}`;
}

/** Options of {@link Lease}. */
export interface LeaseOptions {
  /** This process's holder name. @default {@link holderName} */
  holder?: string;
  /** Lease and renewal times. @default {@link leaseDefaults} */
  timings?: LeaseTimings;
  /** How long the majority may take to confirm a write, in ms. @default 10000 */
  writeTimeoutMs?: number;
  /**
   * The lowest epoch the next one must exceed besides the lease's own, e.g. the epoch the token
   * store holds: a wiped lease collection does not start the epochs over.
   */
  epochFloor?: () => Promise<number>;
}

/** A lease as one watcher sees it: take, renew, release. */
export class Lease {
  readonly #collection: Collection<LeaseDocument>;
  readonly #key: string;
  readonly #writeTimeoutMs: number;
  readonly #epochFloor: () => Promise<number>;
  /** This watcher's holder name. */
  readonly holder: string;
  /** The lease timings. */
  readonly timings: LeaseTimings;
  #epoch: number | undefined;

  /**
   * A lease on one watched namespace.
   *
   * @param collection The lease collection.
   * @param key The watched namespace, the document's `_id`.
   * @param options Holder name, timings, write timeout, epoch floor.
   */
  constructor(collection: Collection<Document>, key: string, options: LeaseOptions = {}) {
    this.#collection = collection as unknown as Collection<LeaseDocument>;
    this.#key = key;
    this.holder = options.holder ?? holderName();
    this.timings = options.timings ?? { ...leaseDefaults };
    this.#writeTimeoutMs = options.writeTimeoutMs ?? 10_000;
    this.#epochFloor = options.epochFloor ?? (() => Promise.resolve(0));
  }

  /** The epoch held, or `undefined` while not holding. */
  get epoch(): number | undefined {
    return this.#epoch;
  }

  /**
   * Takes the lease when it is free or expired on the server's clock, bumping the epoch.
   *
   * @returns The lease document now held, or `undefined` when another watcher holds it.
   */
  async acquire(): Promise<LeaseDocument | undefined> {
    const floor = await this.#epochFloor();
    try {
      const taken = await this.#collection.findOneAndUpdate(
        { _id: this.#key, $expr: { $lt: ["$expires_at", "$$NOW"] } },
        [{
          $set: {
            holder: this.holder,
            epoch: { $add: [{ $max: [{ $ifNull: ["$epoch", 0] }, floor] }, 1] },
            expires_at: { $add: ["$$NOW", this.timings.ttlMs] },
          },
        }],
        {
          // A missing document is a free lease: the upsert creates it. A held one makes the
          // upsert collide with its _id (E11000): someone else holds it.
          upsert: true,
          returnDocument: "after",
          writeConcern: this.#writeConcern(),
        },
      );
      if (!taken || taken.holder !== this.holder) return undefined;
      this.#epoch = taken.epoch;
      return taken;
    } catch (error) {
      if ((error as { code?: unknown }).code === 11000) return undefined;
      throw error;
    }
  }

  /**
   * Extends the lease held, on the server's clock; conditional on the holder and epoch.
   *
   * @returns The renewed document, or `undefined` when the lease was lost (taken over, wiped).
   */
  async renew(): Promise<LeaseDocument | undefined> {
    if (this.#epoch === undefined) return undefined;
    const renewed = await this.#collection.findOneAndUpdate(
      { _id: this.#key, holder: this.holder, epoch: this.#epoch },
      [{ $set: { expires_at: { $add: ["$$NOW", this.timings.ttlMs] } } }],
      { returnDocument: "after", writeConcern: this.#writeConcern() },
    );
    if (!renewed) this.#epoch = undefined;
    return renewed ?? undefined;
  }

  /** Gives the lease up at once (a clean stop), so a standby need not wait for it to expire. */
  async release(): Promise<void> {
    if (this.#epoch === undefined) return;
    const epoch = this.#epoch;
    this.#epoch = undefined;
    await this.#collection.updateOne(
      { _id: this.#key, holder: this.holder, epoch },
      [{ $set: { expires_at: "$$NOW" } }],
      { writeConcern: this.#writeConcern() },
    );
  }

  /** Forgets the lease without writing (it was lost). */
  drop(): void {
    this.#epoch = undefined;
  }

  #writeConcern() {
    return { w: "majority" as const, wtimeoutMS: this.#writeTimeoutMs };
  }
}

/** A lease document and the server's time it was read at. */
export interface LeaseReading {
  /** The document. */
  lease: LeaseDocument;
  /** The server's time of the read. */
  serverNow: Date;
}

/**
 * Reads a lease with the server's current time in the same command, so its validity is judged
 * on the server's clock.
 *
 * @param collection The lease collection.
 * @param key The watched namespace.
 * @param options The longest the read may take, in ms (default 10 s).
 * @returns The lease and the server time, or `undefined` when there is no lease document.
 */
export async function readLease(
  collection: Collection<Document>,
  key: string,
  options: { maxTimeMs?: number } = {},
): Promise<LeaseReading | undefined> {
  const [row] = await collection.aggregate([
    { $match: { _id: key } },
    { $set: { server_now: "$$NOW" } },
  ], { maxTimeMS: options.maxTimeMs ?? 10_000 }).toArray();
  if (!row) return undefined;
  const { server_now: serverNow, ...lease } = row;
  return { lease: lease as LeaseDocument, serverNow: serverNow as Date };
}

/**
 * Whether a lease is held at the server's time of reading.
 *
 * @param reading What {@link readLease} returned.
 * @returns True while it has not expired.
 */
export function isLeaseValid(reading: LeaseReading): boolean {
  return reading.lease.expires_at instanceof Date &&
    reading.lease.expires_at.getTime() > reading.serverNow.getTime();
}
