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

import type { AnyBulkWriteOperation, Collection, Document } from "mongodb";
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
   * the next one scheduled. One round trip for the whole list.
   *
   * @param entries The orders and why.
   */
  async record(entries: readonly QuarantineEntry[]): Promise<void> {
    if (entries.length === 0) return;
    const operations: AnyBulkWriteOperation[] = entries.map((entry) => ({
      updateOne: {
        filter: { _id: entry._id } as Document,
        update: this.#recordPipeline(entry),
        upsert: true,
      },
    }));
    await this.#collection.bulkWrite(operations, {
      ordered: false,
      writeConcern: this.#writeConcern,
    });
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
