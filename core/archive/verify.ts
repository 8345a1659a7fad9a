/**
 * The verification pass: the operator's proof that nothing was lost. Every delivered order is
 * counted, per delivery day, as archived (its number is in the archive), quarantined (its `_id`
 * is in the quarantine, by reason) or missing (neither); archive documents whose order no longer
 * exists or is no longer delivered are counted as orphans.
 *
 * Cost: one cursor over the delivered orders (projected to `_id`, number and delivery date) and,
 * per chunk of orders, one `$in` on the archive's unique `numero_commande` index and one on the
 * quarantine's `_id`; then one cursor over the archive and, per chunk, `$in` on the orders' `_id`
 * (or `numero_commande`). Never one query per order, never an unindexed join. Memory holds one
 * chunk, the per-day counters and the first few numbers of each sample.
 *
 * @module
 */

import type { Db, Document } from "mongodb";
import type { Logger } from "@logtape/logtape";
import type { OrderRef } from "./archiver.ts";
import type { CollectionNames } from "./collections.ts";
import { QUARANTINE_REASONS, type QuarantineReason } from "./quarantine.ts";
import { retryTransient } from "../mongo/retry.ts";

/** Orders read, and looked up, per round trip. */
export const VERIFY_CHUNK_SIZE = 1000;

/** How many missing order numbers a report lists. */
export const MISSING_SAMPLE_SIZE = 20;

/** How many orphan order numbers a report lists. */
export const ORPHANS_SAMPLE_SIZE = 10;

/** The day of orders whose `date_livraison` is missing or not a date. */
export const UNKNOWN_DAY = "unknown";

/** Quarantined orders by reason. */
export type QuarantineCounts = Record<QuarantineReason, number>;

/** What became of the delivered orders of one day (or of all of them). */
export interface VerifyCounts {
  /** Delivered orders. */
  delivered: number;
  /** Of those, the ones whose number is in the archive. */
  archived: number;
  /** Of those, the ones in the quarantine (not archived), by reason. */
  quarantined: QuarantineCounts;
  /** Of those, the ones neither archived nor quarantined: lost unless repaired. */
  missing: number;
}

/** The figures of one delivery day. */
export interface DayCounts extends VerifyCounts {
  /** The delivery day, `YYYY-MM-DD` in local time, or {@link UNKNOWN_DAY}. */
  day: string;
}

/** What a verification found. */
export interface VerifyReport {
  /** One entry per delivery day, oldest first, {@link UNKNOWN_DAY} last. */
  days: DayCounts[];
  /** The sums over every day. */
  totals: VerifyCounts;
  /** The first missing orders' numbers (at most {@link MISSING_SAMPLE_SIZE}). */
  missing_sample: string[];
  /** Archive documents whose order no longer exists or is no longer delivered. */
  orphans: number;
  /** The first orphans' numbers (at most {@link ORPHANS_SAMPLE_SIZE}). */
  orphans_sample: string[];
  /** The `--since` bound as an ISO time, when given: orders without a valid date are left out. */
  since?: string;
}

/** What becomes of one delivered order. */
export type OrderFate = "archived" | QuarantineReason | "missing";

/** What a verification looks at and how it reports. */
export interface VerifyOptions {
  /** The status value that means delivered. */
  deliveredStatus: string;
  /** Only orders delivered at or after this time (and archive documents delivered then). */
  since?: Date;
  /** Orders per chunk. @default 1000 */
  chunkSize?: number;
  /** Bound of one lookup on the server (`maxTimeMS`), in ms. @default 30000 */
  operationTimeoutMs?: number;
  /** Where retries are logged. */
  log: Logger;
  /** Stops the pass between chunks when aborted. */
  signal?: AbortSignal;
  /**
   * Called with each chunk's missing orders (at most one chunk's worth), before the next chunk is
   * read: `archiver verify --repair` archives them here.
   */
  onMissing?: (orders: OrderRef[]) => Promise<void>;
}

/**
 * The delivery day of a `date_livraison` value, in the machine's local time (as `--date-from`
 * days are).
 *
 * @param value The order's `date_livraison`.
 * @returns `YYYY-MM-DD`, or {@link UNKNOWN_DAY} when the value is missing or not a valid date.
 */
export function deliveryDay(value: unknown): string {
  if (!(value instanceof Date) || Number.isNaN(value.getTime())) return UNKNOWN_DAY;
  const pad = (n: number, width = 2) => String(n).padStart(width, "0");
  return `${pad(value.getFullYear(), 4)}-${pad(value.getMonth() + 1)}-${pad(value.getDate())}`;
}

/**
 * Zero counts.
 *
 * @returns Counts with every figure at 0.
 */
export function emptyCounts(): VerifyCounts {
  return {
    delivered: 0,
    archived: 0,
    quarantined: { incomplete: 0, invalid: 0, conflict: 0, error: 0 },
    missing: 0,
  };
}

/**
 * What became of one delivered order: the archive wins over the quarantine (an archived order
 * still in the quarantine is archived: nothing is lost), and an unknown quarantine reason counts
 * as `error`.
 *
 * @param archived Whether its number is in the archive.
 * @param quarantineReason The reason of its quarantine document, if it has one.
 * @returns Its fate.
 */
export function orderFate(archived: boolean, quarantineReason: unknown): OrderFate {
  if (archived) return "archived";
  if (quarantineReason === undefined) return "missing";
  return QUARANTINE_REASONS.includes(quarantineReason as QuarantineReason)
    ? quarantineReason as QuarantineReason
    : "error";
}

/**
 * Whether an archive document is an orphan: its order is gone, or no longer delivered.
 *
 * @param orderStatus The status of its order, or `undefined` when no order matched.
 * @param deliveredStatus The status value that means delivered.
 * @returns `true` for an orphan.
 */
export function isOrphan(orderStatus: unknown, deliveredStatus: string): boolean {
  return orderStatus !== deliveredStatus;
}

/**
 * The running figures of a verification: counters per day and the first few numbers of each
 * sample. Its memory grows with the number of days, never with the number of orders.
 */
export class VerifyTally {
  readonly #days = new Map<string, VerifyCounts>();
  readonly #missing: string[] = [];
  readonly #orphans: string[] = [];
  #orphanCount = 0;

  /**
   * Counts one delivered order.
   *
   * @param day Its delivery day ({@link deliveryDay}).
   * @param fate What became of it.
   * @param label Its number (or id), kept for the sample when it is missing.
   */
  count(day: string, fate: OrderFate, label: string): void {
    let counts = this.#days.get(day);
    if (!counts) this.#days.set(day, counts = emptyCounts());
    counts.delivered++;
    if (fate === "archived") counts.archived++;
    else if (fate === "missing") {
      counts.missing++;
      if (this.#missing.length < MISSING_SAMPLE_SIZE) this.#missing.push(label);
    } else counts.quarantined[fate]++;
  }

  /**
   * Counts one orphan archive document.
   *
   * @param label Its order number, kept for the sample.
   */
  orphan(label: string): void {
    this.#orphanCount++;
    if (this.#orphans.length < ORPHANS_SAMPLE_SIZE) this.#orphans.push(label);
  }

  /**
   * The report: days oldest first ({@link UNKNOWN_DAY} last), then the totals.
   *
   * @param since The `--since` bound, when given.
   * @returns The figures.
   */
  report(since?: Date): VerifyReport {
    const days = [...this.#days.entries()]
      .sort(([a], [b]) => _dayOrder(a, b))
      .map(([day, counts]) => ({ day, ...structuredClone(counts) }));
    const totals = emptyCounts();
    for (const counts of days) addCounts(totals, counts);
    const report: VerifyReport = {
      days,
      totals,
      missing_sample: [...this.#missing],
      orphans: this.#orphanCount,
      orphans_sample: [...this.#orphans],
    };
    if (since) report.since = since.toISOString();
    return report;
  }
}

/**
 * Adds counts to others.
 *
 * @param into The counts added to (changed).
 * @param from The counts to add.
 * @returns `into`.
 */
export function addCounts(into: VerifyCounts, from: VerifyCounts): VerifyCounts {
  into.delivered += from.delivered;
  into.archived += from.archived;
  into.missing += from.missing;
  for (const reason of QUARANTINE_REASONS) into.quarantined[reason] += from.quarantined[reason];
  return into;
}

/**
 * Counts every delivered order per delivery day as archived, quarantined or missing, and the
 * archive's orphans. A transient failure restarts the pass (it only reads, and `onMissing` must
 * be idempotent), within the usual retry deadline.
 *
 * @param db The database.
 * @param names The collection names.
 * @param options Delivered status, `since` bound, chunk size, logger, signal and repair hook.
 * @returns The figures.
 * @throws The signal's reason when aborted; driver errors past their retry deadline.
 * @example
 * ```ts
 * const report = await verifyArchive(db, collectionNames(config), {
 *   deliveredStatus: config.deliveredStatus,
 *   log,
 * });
 * if (report.totals.missing > 0) console.log(report.missing_sample);
 * ```
 */
export function verifyArchive(
  db: Db,
  names: CollectionNames,
  options: VerifyOptions,
): Promise<VerifyReport> {
  return retryTransient("Verifying the archive", async () => {
    const tally = new VerifyTally();
    await _countOrders(db, names, options, tally);
    await _countOrphans(db, names, options, tally);
    return tally.report(options.since);
  }, { log: options.log, signal: options.signal });
}

async function _countOrders(
  db: Db,
  names: CollectionNames,
  options: VerifyOptions,
  tally: VerifyTally,
): Promise<void> {
  const filter: Document = { status: options.deliveredStatus };
  if (options.since) filter.date_livraison = { $gte: options.since };
  const maxTimeMS = options.operationTimeoutMs ?? 30_000;
  const cursor = db.collection(names.orders).find(filter, {
    projection: { _id: 1, numero_commande: 1, date_livraison: 1 },
    batchSize: options.chunkSize ?? VERIFY_CHUNK_SIZE,
  });
  await _inChunks(cursor, options, async (orders) => {
    const numbers = orders.map((o) => o.numero_commande).filter(_isNumber);
    const archived = new Set<unknown>(
      numbers.length === 0 ? [] : (await db.collection(names.archive)
        .find({ numero_commande: { $in: numbers } }, {
          projection: { _id: 0, numero_commande: 1 },
          batchSize: numbers.length + 1,
          maxTimeMS,
        })
        .toArray()).map((d) => d.numero_commande),
    );
    const reasons = new Map<string, unknown>(
      (await db.collection(names.quarantine)
        .find({ _id: { $in: orders.map((o) => o._id) } }, {
          projection: { _id: 1, reason: 1 },
          batchSize: orders.length + 1,
          maxTimeMS,
        })
        .toArray()).map((d) => [_key(d._id), d.reason]),
    );
    const missing: OrderRef[] = [];
    for (const order of orders) {
      const number = order.numero_commande;
      const fate = orderFate(
        _isNumber(number) && archived.has(number),
        reasons.get(_key(order._id)),
      );
      tally.count(deliveryDay(order.date_livraison), fate, _label(order));
      // As read: the archiving core checks the number itself (and quarantines a bad one).
      if (fate === "missing") missing.push({ _id: order._id, numero_commande: number });
    }
    if (missing.length > 0) await options.onMissing?.(missing);
  });
}

async function _countOrphans(
  db: Db,
  names: CollectionNames,
  options: VerifyOptions,
  tally: VerifyTally,
): Promise<void> {
  const filter: Document = options.since ? { date_livraison: { $gte: options.since } } : {};
  const maxTimeMS = options.operationTimeoutMs ?? 30_000;
  const cursor = db.collection(names.archive).find(filter, {
    projection: { _id: 0, order_id: 1, numero_commande: 1 },
    batchSize: options.chunkSize ?? VERIFY_CHUNK_SIZE,
  });
  const orders = db.collection(names.orders);
  await _inChunks(cursor, options, async (archived) => {
    const ids = archived.filter((d) => d.order_id != null).map((d) => d.order_id);
    const numbers = archived.filter((d) => d.order_id == null).map((d) => d.numero_commande)
      .filter(_isNumber);
    const byId = new Map<string, unknown>();
    const byNumber = new Map<string, unknown>();
    if (ids.length > 0) {
      for (
        const order of await orders.find({ _id: { $in: ids } }, {
          projection: { _id: 1, status: 1 },
          batchSize: ids.length + 1,
          maxTimeMS,
        }).toArray()
      ) byId.set(_key(order._id), order.status);
    }
    if (numbers.length > 0) {
      for (
        const order of await orders.find({ numero_commande: { $in: numbers } }, {
          projection: { _id: 0, numero_commande: 1, status: 1 },
          batchSize: numbers.length + 1,
          maxTimeMS,
        }).toArray()
      ) byNumber.set(String(order.numero_commande), order.status);
    }
    for (const document of archived) {
      const status = document.order_id != null
        ? byId.get(_key(document.order_id))
        : _isNumber(document.numero_commande)
        ? byNumber.get(document.numero_commande)
        : undefined;
      if (isOrphan(status, options.deliveredStatus)) tally.orphan(_label(document));
    }
  });
}

async function _inChunks(
  cursor: AsyncIterable<Document> & { close(): Promise<void> },
  options: VerifyOptions,
  handle: (chunk: Document[]) => Promise<void>,
): Promise<void> {
  const size = options.chunkSize ?? VERIFY_CHUNK_SIZE;
  try {
    let chunk: Document[] = [];
    for await (const document of cursor) {
      chunk.push(document);
      if (chunk.length >= size) {
        options.signal?.throwIfAborted();
        await handle(chunk);
        chunk = [];
      }
    }
    options.signal?.throwIfAborted();
    if (chunk.length > 0) await handle(chunk);
  } finally {
    await cursor.close().catch(() => {});
  }
}

function _dayOrder(a: string, b: string): number {
  if (a === b) return 0;
  if (a === UNKNOWN_DAY) return 1;
  if (b === UNKNOWN_DAY) return -1;
  return a < b ? -1 : 1;
}

function _isNumber(value: unknown): value is string {
  return typeof value === "string" && value.length > 0;
}

function _label(document: Document): string {
  return _isNumber(document.numero_commande)
    ? document.numero_commande
    : `(no number, _id ${String(document._id ?? document.order_id)})`;
}

function _key(id: unknown): string {
  // ObjectIds, strings and numbers as ids: their string form with the type, so "1" ≠ 1.
  return `${typeof id}:${String(id)}`;
}
