/**
 * The quarantine: one document per delivered order that is not archived — incomplete (a
 * reference resolves to nothing), invalid (its own fields are missing or mistyped) or in error
 * (the server refused it for a reason of its own) — so every delivered order is archived or
 * accounted for, never neither. An order leaves the quarantine when it is archived, or when it is
 * no longer delivered. Batch and watch retry what is due: incomplete orders every retry interval
 * (their data may arrive at any time), invalid and failing ones with a backoff per order.
 *
 * Times are the server's (`$$NOW`), so hosts with clocks that disagree share one schedule.
 *
 * @module
 */

import {
  type AnyBulkWriteOperation,
  type Collection,
  type Document,
  MongoBulkWriteError,
} from "mongodb";
import { orderIdKey } from "./order_id.ts";
import { duration, formatDuration } from "../runtime/parse.ts";
import type { Setting } from "../runtime/settings.ts";

/**
 * Why a delivered order is not archived: a reference resolves to nothing (`incomplete`), its own
 * fields are missing or mistyped (`invalid`), its number is already archived for another order
 * (`conflict`), or the server refused it for a reason of its own (`error`).
 */
export type QuarantineReason = "incomplete" | "invalid" | "conflict" | "error";

/** The reasons, in the order health and reports list them. */
export const QUARANTINE_REASONS: readonly QuarantineReason[] = [
  "incomplete",
  "invalid",
  "conflict",
  "error",
];

/**
 * Zero orders for every reason.
 *
 * @returns A count per reason, each 0.
 */
export function emptyReasonCounts(): Record<QuarantineReason, number> {
  return { incomplete: 0, invalid: 0, conflict: 0, error: 0 };
}

/**
 * How often quarantined orders are tried again: incomplete ones at every interval, the others
 * with a backoff that starts at it. Batch and watch share it, so they keep one schedule.
 */
export const retryIntervalSetting: Setting<number> = {
  env: "ARCHIVER_WATCH_RETRY_INTERVAL",
  flag: "--retry-interval <duration>",
  description:
    "How often quarantined orders are retried (invalid and failing ones back off up to 1h)",
  default: 60_000,
  parse: duration({ min: 100 }),
  format: formatDuration,
};

/** An order to put in (or keep in) the quarantine. */
export interface QuarantineEntry {
  /** The order's `_id`: the quarantine document's `_id`. */
  _id: unknown;
  /** The order number, when it has a usable one. */
  numero_commande: string | null;
  /** Why it is not archived. */
  reason: QuarantineReason;
  /** What is missing or wrong, naming the field or reference. */
  detail: string;
  /** For a `conflict`: the `_id` of the other order archived under the same number. */
  conflict_with?: unknown;
}

/** A quarantine document as stored. */
export interface QuarantineDocument extends QuarantineEntry {
  /** When it was first quarantined (server time). */
  first_seen: Date;
  /** When it was last tried (server time). */
  last_attempt: Date;
  /** How many times it was tried. */
  attempts: number;
  /** When it is due for its next try (server time). */
  next_attempt: Date;
}

/**
 * An order the operator released with `archiver quarantine release`: it will not be archived,
 * and says so. One document per order in the released collection (`archiver_released`).
 */
export interface ReleasedRecord {
  /** The order's `_id`. */
  _id: unknown;
  /** Its number, as the quarantine held it. */
  numero_commande: string | null;
  /** Why it was quarantined. */
  reason: QuarantineReason;
  /** What was missing or wrong. */
  detail: string;
  /** For a `conflict`: the other order's `_id`. */
  conflict_with?: unknown;
  /** When it was first quarantined (server time). */
  first_seen: Date;
  /** How many times it was tried. */
  attempts: number;
  /** When it was released (server time). */
  released_at: Date;
  /** Who released it: `user@host`. */
  released_by: string;
  /** The operator's note, when given. */
  note?: string;
}

/** Which quarantined orders: one `_id`, or every order with a number. */
export type OrderSelector = { _id: unknown } | { numero_commande: string };

/** What {@link Quarantine.releaseToRecord} did. */
export interface ReleaseResult {
  /** Orders recorded as released and taken out of the quarantine now. */
  released: ReleasedRecord[];
  /** Orders not in the quarantine but already recorded as released (an earlier run). */
  alreadyReleased: ReleasedRecord[];
  /** Orders neither in the quarantine nor released. */
  notFound: unknown[];
}

/** What {@link Quarantine.record} did. */
export interface RecordResult {
  /** Orders that entered the quarantine now: first seen. */
  added: QuarantineEntry[];
  /** Orders it already held: tried again, still not archived. */
  kept: QuarantineEntry[];
}

/** How the quarantine schedules retries. */
export interface QuarantineOptions {
  /** Wait between retries of an incomplete order, and the first backoff of the others. */
  retryIntervalMs: number;
  /** The longest backoff of an invalid or failing order. @default 3_600_000 (1 h) */
  maxBackoffMs?: number;
  /** How long the majority may take to confirm a write, in ms. @default 30000 */
  writeTimeoutMs?: number;
}

/**
 * The quarantine collection. What it holds is the truth for every process (batch, watchers,
 * verify --repair, the operator's commands): nothing here caches which orders it holds.
 */
export class Quarantine {
  readonly #collection: Collection;
  readonly #retryIntervalMs: number;
  readonly #maxBackoffMs: number;
  readonly #writeConcern: { w: "majority"; wtimeoutMS: number };

  /**
   * Wraps the quarantine collection.
   *
   * @param collection The quarantine collection.
   * @param options Retry interval and backoff bound.
   */
  constructor(collection: Collection, options: QuarantineOptions) {
    this.#collection = collection;
    this.#retryIntervalMs = options.retryIntervalMs;
    this.#maxBackoffMs = options.maxBackoffMs ?? 3_600_000;
    this.#writeConcern = { w: "majority", wtimeoutMS: options.writeTimeoutMs ?? 30_000 };
  }

  /** The collection's name, for messages. */
  get name(): string {
    return this.#collection.collectionName;
  }

  /**
   * Which of some orders the quarantine holds now, as the server says.
   *
   * @param ids The orders' `_id`s.
   * @returns The `_id`s of those it holds.
   */
  async held(ids: readonly unknown[]): Promise<unknown[]> {
    if (ids.length === 0) return [];
    const documents = await this.#collection.find({ _id: { $in: [...ids] } } as Document, {
      projection: { _id: 1 },
      batchSize: ids.length + 1,
    }).toArray();
    return documents.map((d) => d._id);
  }

  /**
   * Puts orders in the quarantine, or updates them there: reason, detail, one more attempt, and
   * the next one scheduled. One round trip for the whole list. Says which orders entered the
   * quarantine with this call (the server upserted them) and which were already there (a retry),
   * so each order is counted and logged once, when it is first seen.
   *
   * @param entries The orders and why.
   * @returns The entries new to the quarantine, and those it already held, in the given order.
   */
  async record(entries: readonly QuarantineEntry[]): Promise<RecordResult> {
    if (entries.length === 0) return { added: [], kept: [] };
    const operations: AnyBulkWriteOperation[] = entries.map((entry) => ({
      updateOne: {
        filter: { _id: entry._id } as Document,
        update: this.#recordPipeline(entry),
        upsert: true,
      },
    }));
    const result = await this.#collection.bulkWrite(operations, {
      ordered: false,
      writeConcern: this.#writeConcern,
    });
    // Keys are the operations' indexes: the entries the server inserted.
    const upserted = new Set(Object.keys(result.upsertedIds ?? {}).map(Number));
    return {
      added: entries.filter((_, i) => upserted.has(i)),
      kept: entries.filter((_, i) => !upserted.has(i)),
    };
  }

  /**
   * Takes orders out of the quarantine (archived, or no longer delivered), whichever process put
   * them there.
   *
   * @param ids The orders' `_id`s.
   * @returns How many were removed.
   */
  async release(ids: readonly unknown[]): Promise<number> {
    if (ids.length === 0) return 0;
    const result = await this.#collection.deleteMany({ _id: { $in: [...ids] } } as Document, {
      writeConcern: this.#writeConcern,
    });
    return result.deletedCount;
  }

  /**
   * The orders due for another try, the longest-waiting first.
   *
   * @param limit How many at most.
   * @returns Their ids and numbers.
   */
  async due(limit: number): Promise<Array<{ _id: unknown; numero_commande: string | null }>> {
    const documents = await this.#collection.find(
      { $expr: { $lte: ["$next_attempt", "$$NOW"] } },
      { projection: { _id: 1, numero_commande: 1 }, sort: { next_attempt: 1 }, limit },
    ).toArray();
    return documents.map((d) => ({ _id: d._id, numero_commande: d.numero_commande ?? null }));
  }

  /**
   * How many orders the quarantine holds, by reason.
   *
   * @returns A count per reason (0 when none).
   */
  async counts(): Promise<Record<QuarantineReason, number>> {
    const counts = emptyReasonCounts();
    const groups = await this.#collection.aggregate([
      { $group: { _id: "$reason", n: { $sum: 1 } } },
    ]).toArray();
    for (const group of groups) {
      if (group._id in counts) counts[group._id as QuarantineReason] = group.n;
    }
    return counts;
  }

  /**
   * The quarantined orders, oldest first (by `first_seen`, then `_id`), and how many there are.
   *
   * @param options Only one reason; how many entries at most.
   * @returns The entries (at most `limit`) and the count of all that match.
   */
  async list(
    options: { reason?: QuarantineReason; limit?: number } = {},
  ): Promise<{ total: number; entries: QuarantineDocument[] }> {
    const filter: Document = options.reason ? { reason: options.reason } : {};
    const limit = options.limit ?? 100;
    const [total, entries] = await Promise.all([
      this.#collection.countDocuments(filter),
      limit === 0 ? Promise.resolve([]) : this.#collection.find(filter, {
        sort: { first_seen: 1, _id: 1 },
        limit,
        batchSize: limit + 1,
      }).toArray(),
    ]);
    return { total, entries: entries as unknown as QuarantineDocument[] };
  }

  /**
   * The entries of one order (by `_id`), or of every order holding a number (two orders sharing
   * a number may both be here).
   *
   * @param selector An `_id` or an order number.
   * @returns The entries, oldest first; empty when the quarantine holds none.
   */
  async find(selector: OrderSelector): Promise<QuarantineDocument[]> {
    const filter = "_id" in selector
      ? { _id: selector._id }
      : { numero_commande: selector.numero_commande };
    const found = await this.#collection.find(filter as Document, {
      sort: { first_seen: 1, _id: 1 },
    }).toArray();
    return found as unknown as QuarantineDocument[];
  }

  /**
   * The entries of some orders, as stored now.
   *
   * @param ids The orders' `_id`s.
   * @returns The entries of those the quarantine holds.
   */
  async entries(ids: readonly unknown[]): Promise<QuarantineDocument[]> {
    if (ids.length === 0) return [];
    const found = await this.#collection.find({ _id: { $in: [...ids] } } as Document, {
      batchSize: ids.length + 1,
    }).toArray();
    return found as unknown as QuarantineDocument[];
  }

  /**
   * Every quarantined order (or those of one reason), in chunks, for a retry of them all. Ordered
   * by `_id`, which archiving them does not change, so a chunk's orders leaving the quarantine
   * neither skips nor repeats another.
   *
   * @param options Only one reason; orders per chunk.
   * @yields The orders' ids and numbers, `chunkSize` at most at a time.
   */
  async *chunks(
    options: { reason?: QuarantineReason; chunkSize: number },
  ): AsyncGenerator<Array<{ _id: unknown; numero_commande: string | null }>> {
    const cursor = this.#collection.find(options.reason ? { reason: options.reason } : {}, {
      projection: { _id: 1, numero_commande: 1 },
      sort: { _id: 1 },
      batchSize: options.chunkSize,
    });
    let chunk: Array<{ _id: unknown; numero_commande: string | null }> = [];
    try {
      for await (const document of cursor) {
        chunk.push({ _id: document._id, numero_commande: document.numero_commande ?? null });
        if (chunk.length >= options.chunkSize) {
          yield chunk;
          chunk = [];
        }
      }
      if (chunk.length > 0) yield chunk;
    } finally {
      await cursor.close();
    }
  }

  /**
   * The operator's release: records each order in the released collection (with the server's
   * time, who and why), then takes it out of the quarantine — in that order, so an order is never
   * in neither. Run again after a crash between the two, it finds the record there, keeps it, and
   * finishes the delete; run again after it finished, it reports the orders already released.
   * Needs `insert` (and `find`) on the released collection, `find` and `remove` on the quarantine.
   *
   * @param ids The orders' `_id`s.
   * @param options The released collection, who releases (`user@host`), an optional note.
   * @returns What was released now, what was released before, what is in neither.
   */
  async releaseToRecord(
    ids: readonly unknown[],
    options: { into: Collection; by: string; note?: string },
  ): Promise<ReleaseResult> {
    const unique = [...new Map(ids.map((id) => [orderIdKey(id), id])).values()];
    const result: ReleaseResult = { released: [], alreadyReleased: [], notFound: [] };
    if (unique.length === 0) return result;
    // $$NOW from the server, read with the entries: no write needed to learn the server's time.
    const held = await this.#collection.aggregate([
      { $match: { _id: { $in: unique } } },
      {
        $project: {
          _id: 1,
          numero_commande: 1,
          reason: 1,
          detail: 1,
          conflict_with: 1,
          first_seen: 1,
          attempts: 1,
          released_at: "$$NOW",
        },
      },
    ]).toArray();
    const records = held.map((entry) =>
      ({
        ...entry,
        numero_commande: entry.numero_commande ?? null,
        released_by: options.by,
        ...(options.note ? { note: options.note } : {}),
      }) as ReleasedRecord
    );
    if (records.length > 0) {
      await _insertKeepingExisting(options.into, records, this.#writeConcern);
      await this.#collection.deleteMany(
        { _id: { $in: records.map((r) => r._id) } } as Document,
        { writeConcern: this.#writeConcern },
      );
    }
    result.released = records;
    const heldKeys = new Set(records.map((r) => orderIdKey(r._id)));
    const rest = unique.filter((id) => !heldKeys.has(orderIdKey(id)));
    if (rest.length > 0) {
      const before = await options.into.find({ _id: { $in: rest } } as Document, {
        batchSize: rest.length + 1,
      }).toArray() as unknown as ReleasedRecord[];
      const beforeKeys = new Set(before.map((r) => orderIdKey(r._id)));
      result.alreadyReleased = before;
      result.notFound = rest.filter((id) => !beforeKeys.has(orderIdKey(id)));
    }
    return result;
  }

  #recordPipeline(entry: QuarantineEntry): Document[] {
    const interval = this.#retryIntervalMs;
    // Incomplete orders wait for data that may come at any moment: every interval. The others
    // failed on their own content: interval × 2^(attempts − 1), up to the bound.
    const backoff = entry.reason === "incomplete" ? interval : {
      $min: [
        { $multiply: [interval, { $pow: [2, { $min: [{ $subtract: ["$attempts", 1] }, 30] }] }] },
        this.#maxBackoffMs,
      ],
    };
    return [
      {
        $set: {
          numero_commande: entry.numero_commande,
          reason: entry.reason,
          detail: entry.detail,
          conflict_with: entry.reason === "conflict"
            ? { $literal: entry.conflict_with }
            : "$$REMOVE",
          first_seen: { $ifNull: ["$first_seen", "$$NOW"] },
          last_attempt: "$$NOW",
          attempts: { $add: [{ $ifNull: ["$attempts", 0] }, 1] },
        },
      },
      { $set: { next_attempt: { $add: ["$$NOW", { $toLong: backoff }] } } },
    ];
  }
}

// Inserts the records; one already there (a release that stopped before its delete, or an order
// released before) is kept as it is: the first release is the one on record.
async function _insertKeepingExisting(
  into: Collection,
  records: readonly ReleasedRecord[],
  writeConcern: { w: "majority"; wtimeoutMS: number },
): Promise<void> {
  try {
    await into.insertMany(records.map((r) => ({ ...r }) as Document), {
      ordered: false,
      writeConcern,
    });
  } catch (error) {
    const duplicatesOnly = error instanceof MongoBulkWriteError &&
      error.writeErrors !== undefined &&
      (Array.isArray(error.writeErrors) ? error.writeErrors : [error.writeErrors]).every((e) =>
        e.code === 11000
      ) &&
      error.result?.getWriteConcernError?.() === undefined;
    if (!duplicatesOnly) throw error;
  }
}
