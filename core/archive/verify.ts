/**
 * The verification pass: the operator's proof that nothing was lost. An order is its `_id`, and
 * its archive document is the one whose `order_id` is that `_id`. Every delivered order is
 * counted, per delivery day, as archived, quarantined (its `_id` is in the quarantine, by
 * reason), released (its `_id` is in the released collection: the operator accepted it will not
 * be archived) or missing (none of these). An order `archiver purge` deleted from the source is
 * counted by its archive document (`purged_at` set, its order no longer in the source) as
 * `purged`: delivered, archived, and gone on purpose. An archive document of an older version, without
 * `order_id`, stands for the order with its number (counted apart as `archived_by_number`). Then
 * the archive's anomalies: documents whose order is gone, no longer delivered, or now carries
 * another number, and several documents for one `order_id`.
 *
 * Cost: one cursor over the delivered orders (projected to `_id`, number and delivery date) and,
 * per chunk of orders, one `$in` on the archive's `order_id` index; for the orders it does not
 * find, one `$in` on the quarantine's `_id`, one on the archive's unique `numero_commande` (older
 * documents) and one on the released collection's `_id`. Then one cursor over the archive and,
 * per chunk, `$in` on the orders' `_id` (or `numero_commande`) and on the archive's `order_id`
 * (several documents for one order). Never one query per order, never an unindexed join. Memory
 * holds one chunk, the per-day counters, the first few labels of each sample and the ids of the
 * orders found with several archive documents.
 *
 * `archiver health`'s completeness check counts with {@link countDeliveredOrders}, the same
 * function, so both always agree.
 *
 * @module
 */

import type { Collection, Db, Document } from "mongodb";
import type { Logger } from "@logtape/logtape";
import type { OrderRef } from "./archiver.ts";
import type { CollectionNames } from "./collections.ts";
import { describeOrderId, orderIdKey } from "./order_id.ts";
import { emptyReasonCounts, QUARANTINE_REASONS, type QuarantineReason } from "./quarantine.ts";
import { retryTransient } from "../mongo/retry.ts";

/** Orders read, and looked up, per round trip. */
export const VERIFY_CHUNK_SIZE = 1000;

/** How many missing orders a report lists. */
export const MISSING_SAMPLE_SIZE = 20;

/** How many archive documents of each anomaly a report lists. */
export const ANOMALY_SAMPLE_SIZE = 10;

/** The day of orders whose `date_livraison` is missing or not a date. */
export const UNKNOWN_DAY = "unknown";

/** Quarantined orders by reason. */
export type QuarantineCounts = Record<QuarantineReason, number>;

/** What became of the delivered orders of one day (or of all of them). */
export interface VerifyCounts {
  /** Delivered orders. */
  delivered: number;
  /** Of those, the ones with an archive document (`order_id` = their `_id`). */
  archived: number;
  /** Of those, the ones in the quarantine (not archived), by reason. */
  quarantined: QuarantineCounts;
  /** Of those, the ones the operator released (neither archived nor quarantined). */
  released: number;
  /** Of those, the ones neither archived, quarantined nor released: lost unless repaired. */
  missing: number;
  /**
   * Delivered orders purged from the source by `archiver purge`: their archive document records
   * it (`purged_at`) and holds the order as it was. Counted in `delivered` and `archived` too.
   */
  purged: number;
}

/** The figures of one delivery day. */
export interface DayCounts extends VerifyCounts {
  /** The delivery day, `YYYY-MM-DD` in local time, or {@link UNKNOWN_DAY}. */
  day: string;
}

/** What the count of the delivered orders found. */
export interface OrderCountReport {
  /** One entry per delivery day, oldest first, {@link UNKNOWN_DAY} last. */
  days: DayCounts[];
  /** The sums over every day. */
  totals: VerifyCounts;
  /** The first missing orders (at most {@link MISSING_SAMPLE_SIZE}): numbers, or `_id`s. */
  missing_sample: string[];
  /**
   * Of the archived orders, those found only by their number: an archive document of an older
   * version, without `order_id` (if the number was reused, it may be another order's).
   */
  archived_by_number: number;
  /** The `--since` bound as an ISO time, when given: orders without a valid date are left out. */
  since?: string;
  /** The upper bound (exclusive) as an ISO time, when given. */
  until?: string;
}

/**
 * What can be wrong with archive documents: their order is gone (`order_gone`), no longer
 * delivered (`not_delivered`), or now carries another number (`number_mismatch`: renumbered
 * after it was archived; it stays archived once), or one order has several archive documents
 * (`duplicate_order_id`: an archive made by an older version).
 */
export type ArchiveAnomaly =
  | "order_gone"
  | "not_delivered"
  | "number_mismatch"
  | "duplicate_order_id";

/** The anomalies, in the order reports list them. */
export const ARCHIVE_ANOMALIES: readonly ArchiveAnomaly[] = [
  "order_gone",
  "not_delivered",
  "number_mismatch",
  "duplicate_order_id",
];

/** How many archive documents (or orders, for duplicates) show an anomaly, and the first few. */
export interface AnomalyCount {
  /** How many. */
  count: number;
  /** The first few (at most {@link ANOMALY_SAMPLE_SIZE}), as labels. */
  sample: string[];
}

/** What a verification found. */
export interface VerifyReport extends OrderCountReport {
  /** The archive's anomalies, each counted and sampled. */
  anomalies: Record<ArchiveAnomaly, AnomalyCount>;
}

/** What becomes of one delivered order. */
export type OrderFate = "archived" | QuarantineReason | "released" | "missing" | "purged";

/** What a count looks at. */
export interface CountOptions {
  /** The status value that means delivered. */
  deliveredStatus: string;
  /** Only orders delivered at or after this time (and archive documents delivered then). */
  since?: Date;
  /** Only orders delivered before this time (and archive documents delivered then). */
  until?: Date;
  /** Orders per chunk. @default 1000 */
  chunkSize?: number;
  /** Bound of one lookup on the server (`maxTimeMS`), in ms. @default 30000 */
  operationTimeoutMs?: number;
  /** Stops the pass between chunks when aborted. */
  signal?: AbortSignal;
  /**
   * Called with each chunk's missing orders (at most one chunk's worth), before the next chunk is
   * read: `archiver verify --repair` archives them here. It must be idempotent.
   */
  onMissing?: (orders: OrderRef[]) => Promise<void>;
}

/** What a verification looks at and how it reports. */
export interface VerifyOptions extends CountOptions {
  /** Where retries are logged. */
  log: Logger;
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
    quarantined: emptyReasonCounts(),
    released: 0,
    missing: 0,
    purged: 0,
  };
}

/**
 * What became of one delivered order. The archive wins over the quarantine (an archived order
 * still in the quarantine is archived: nothing is lost), the quarantine over a release (the
 * tool is trying again), and an unknown quarantine reason counts as `error`.
 *
 * @param archived Whether it has an archive document.
 * @param quarantineReason The reason of its quarantine document, if it has one.
 * @param released Whether the operator released it.
 * @returns Its fate.
 */
export function orderFate(
  archived: boolean,
  quarantineReason: unknown,
  released = false,
): OrderFate {
  if (archived) return "archived";
  if (quarantineReason !== undefined) {
    return QUARANTINE_REASONS.includes(quarantineReason as QuarantineReason)
      ? quarantineReason as QuarantineReason
      : "error";
  }
  return released ? "released" : "missing";
}

/**
 * What is wrong with an archive document, given the order its `order_id` (or, without one, its
 * number) designates.
 *
 * @param archived The archive document's `numero_commande`, and whether it has an `order_id`.
 * @param order The order's status and number, or `undefined` when no order matched.
 * @param deliveredStatus The status value that means delivered.
 * @returns The anomaly, or `undefined` when the document is sound.
 */
export function archiveAnomaly(
  archived: { numero_commande: unknown; hasOrderId: boolean },
  order: { status?: unknown; numero_commande?: unknown } | undefined,
  deliveredStatus: string,
): Exclude<ArchiveAnomaly, "duplicate_order_id"> | undefined {
  if (!order) return "order_gone";
  if (order.status !== deliveredStatus) return "not_delivered";
  if (archived.hasOrderId && order.numero_commande !== archived.numero_commande) {
    return "number_mismatch";
  }
  return undefined;
}

/**
 * The running figures of a verification: counters per day and the first few labels of each
 * sample. Its memory grows with the number of days, never with the number of orders.
 */
export class VerifyTally {
  readonly #days = new Map<string, VerifyCounts>();
  readonly #missing: string[] = [];
  readonly #anomalies = _emptyAnomalies();
  #archivedByNumber = 0;

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
    else if (fate === "purged") {
      counts.archived++;
      counts.purged++;
    } else if (fate === "released") counts.released++;
    else if (fate === "missing") {
      counts.missing++;
      if (this.#missing.length < MISSING_SAMPLE_SIZE) this.#missing.push(label);
    } else counts.quarantined[fate]++;
  }

  /** Counts one archived order found by its number only (an archive document without `order_id`). */
  archivedByNumber(): void {
    this.#archivedByNumber++;
  }

  /**
   * Counts one archive anomaly.
   *
   * @param anomaly What is wrong.
   * @param label What to show for it, kept for the sample.
   */
  anomaly(anomaly: ArchiveAnomaly, label: string): void {
    const seen = this.#anomalies[anomaly];
    seen.count++;
    if (seen.sample.length < ANOMALY_SAMPLE_SIZE) seen.sample.push(label);
  }

  /**
   * The report: days oldest first ({@link UNKNOWN_DAY} last), then the totals and anomalies.
   *
   * @param bounds The `since` and `until` bounds, when given.
   * @returns The figures.
   */
  report(bounds: { since?: Date; until?: Date } = {}): VerifyReport {
    const days = [...this.#days.entries()]
      .sort(([a], [b]) => _dayOrder(a, b))
      .map(([day, counts]) => ({ day, ...structuredClone(counts) }));
    const totals = emptyCounts();
    for (const counts of days) addCounts(totals, counts);
    const report: VerifyReport = {
      days,
      totals,
      missing_sample: [...this.#missing],
      archived_by_number: this.#archivedByNumber,
      anomalies: structuredClone(this.#anomalies),
    };
    if (bounds.since) report.since = bounds.since.toISOString();
    if (bounds.until) report.until = bounds.until.toISOString();
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
  into.released += from.released;
  into.missing += from.missing;
  into.purged += from.purged;
  for (const reason of QUARANTINE_REASONS) into.quarantined[reason] += from.quarantined[reason];
  return into;
}

/**
 * Counts every delivered order per delivery day as archived, quarantined, released or missing,
 * and the archive's anomalies. A transient failure restarts the pass (it only reads, and
 * `onMissing` must be idempotent), within the usual retry deadline.
 *
 * @param db The database.
 * @param names The collection names.
 * @param options Delivered status, bounds, chunk size, logger, signal and repair hook.
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
    await _countAnomalies(db, names, options, tally);
    return tally.report(options);
  }, { log: options.log, signal: options.signal });
}

/**
 * Counts every delivered order per delivery day as archived, quarantined, released or missing,
 * as {@link verifyArchive} does, without the archive's anomalies and without retrying: what
 * `archiver health` judges the archive's completeness by.
 *
 * @param db The database.
 * @param names The collection names.
 * @param options Delivered status, bounds, chunk size, server time bound and signal.
 * @returns The figures.
 * @throws The signal's reason when aborted; driver errors as they come.
 */
export async function countDeliveredOrders(
  db: Db,
  names: CollectionNames,
  options: CountOptions,
): Promise<OrderCountReport> {
  const tally = new VerifyTally();
  await _countOrders(db, names, options, tally);
  const { anomalies: _, ...report } = tally.report(options);
  return report;
}

async function _countOrders(
  db: Db,
  names: CollectionNames,
  options: CountOptions,
  tally: VerifyTally,
): Promise<void> {
  const filter: Document = { status: options.deliveredStatus };
  const window = _window(options);
  if (window) filter.date_livraison = window;
  const cursor = db.collection(names.orders).find(filter, {
    projection: { _id: 1, numero_commande: 1, date_livraison: 1 },
    batchSize: options.chunkSize ?? VERIFY_CHUNK_SIZE,
  });
  const archive = db.collection(names.archive);
  await _inChunks(cursor, options, async (orders) => {
    const archived = _keys(
      await _find(archive, { order_id: { $in: orders.map((o) => o._id) } }, {
        order_id: 1,
      }, options),
      "order_id",
    );
    // Only the orders not archived by their _id are looked up further: usually none.
    const rest = orders.filter((o) => !archived.has(orderIdKey(o._id)));
    const numbers = rest.map((o) => o.numero_commande).filter(_isNumber);
    const byNumber = new Set<unknown>(
      numbers.length === 0 ? [] : (await _find(
        archive,
        {
          numero_commande: { $in: numbers },
          order_id: null,
        },
        { numero_commande: 1 },
        options,
      )).map((d) => d.numero_commande),
    );
    const unsettled = rest.filter((o) => !byNumber.has(o.numero_commande)).map((o) => o._id);
    const reasons = new Map<string, unknown>(
      (unsettled.length === 0
        ? []
        : await _find(db.collection(names.quarantine), { _id: { $in: unsettled } }, {
          _id: 1,
          reason: 1,
        }, options)).map((d) => [orderIdKey(d._id), d.reason]),
    );
    const unquarantined = unsettled.filter((id) => !reasons.has(orderIdKey(id)));
    const released = _keys(
      unquarantined.length === 0
        ? []
        : await _find(db.collection(names.released), { _id: { $in: unquarantined } }, {
          _id: 1,
        }, options),
      "_id",
    );
    const missing: OrderRef[] = [];
    for (const order of orders) {
      const key = orderIdKey(order._id);
      const number = order.numero_commande;
      const byItsNumber = !archived.has(key) && _isNumber(number) && byNumber.has(number);
      if (byItsNumber) tally.archivedByNumber();
      const fate = orderFate(
        archived.has(key) || byItsNumber,
        reasons.get(key),
        released.has(key),
      );
      tally.count(deliveryDay(order.date_livraison), fate, _orderLabel(order));
      // As read: the archiving core checks the number itself (and quarantines a bad one).
      if (fate === "missing") missing.push({ _id: order._id, numero_commande: number });
    }
    if (missing.length > 0) await options.onMissing?.(missing);
  });
  await _countPurged(db, names, options, tally);
}

// The orders purged from the source, counted by their archive documents (those whose order is
// back in the source — restored, or a delete the majority undid — were counted above).
async function _countPurged(
  db: Db,
  names: CollectionNames,
  options: CountOptions,
  tally: VerifyTally,
): Promise<void> {
  const filter: Document = { purged_at: { $exists: true } };
  const window = _window(options);
  if (window) filter.date_livraison = window;
  const cursor = db.collection(names.archive).find(filter, {
    projection: { _id: 0, order_id: 1, numero_commande: 1, date_livraison: 1 },
    batchSize: options.chunkSize ?? VERIFY_CHUNK_SIZE,
  });
  await _inChunks(cursor, options, async (documents) => {
    const present = _keys(
      await _find(
        db.collection(names.orders),
        {
          _id: { $in: documents.map((d) => d.order_id) },
        },
        { _id: 1 },
        options,
      ),
      "_id",
    );
    for (const document of documents) {
      if (present.has(orderIdKey(document.order_id))) continue;
      tally.count(deliveryDay(document.date_livraison), "purged", _orderLabel(document));
    }
  });
}

async function _countAnomalies(
  db: Db,
  names: CollectionNames,
  options: CountOptions,
  tally: VerifyTally,
): Promise<void> {
  const window = _window(options);
  const archive = db.collection(names.archive);
  const cursor = archive.find(window ? { date_livraison: window } : {}, {
    projection: { _id: 1, order_id: 1, numero_commande: 1, purged_at: 1 },
    batchSize: options.chunkSize ?? VERIFY_CHUNK_SIZE,
  });
  const orders = db.collection(names.orders);
  // The orders already reported with several archive documents: they may span chunks.
  const duplicated = new Set<string>();
  await _inChunks(cursor, options, async (documents) => {
    const ids = documents.filter((d) => d.order_id != null).map((d) => d.order_id);
    const numbers = documents.filter((d) => d.order_id == null).map((d) => d.numero_commande)
      .filter(_isNumber);
    const byId = new Map<string, Document>();
    if (ids.length > 0) {
      for (
        const order of await _find(orders, { _id: { $in: ids } }, {
          _id: 1,
          status: 1,
          numero_commande: 1,
        }, options)
      ) byId.set(orderIdKey(order._id), order);
    }
    const byNumber = new Map<string, Document>();
    if (numbers.length > 0) {
      for (
        const order of await _find(orders, { numero_commande: { $in: numbers } }, {
          _id: 0,
          numero_commande: 1,
          status: 1,
        }, options)
      ) byNumber.set(String(order.numero_commande), order);
    }
    for (const document of documents) {
      const hasOrderId = document.order_id != null;
      const order = hasOrderId
        ? byId.get(orderIdKey(document.order_id))
        : _isNumber(document.numero_commande)
        ? byNumber.get(document.numero_commande)
        : undefined;
      const anomaly = archiveAnomaly(
        { numero_commande: document.numero_commande, hasOrderId },
        order,
        options.deliveredStatus,
      );
      // An order purged on purpose is gone with its record: no anomaly.
      if (anomaly === "order_gone" && document.purged_at != null) continue;
      if (anomaly) tally.anomaly(anomaly, _anomalyLabel(anomaly, document, order));
    }
    if (ids.length > 0) await _countDuplicates(archive, ids, { options, tally, duplicated });
  });
}

async function _countDuplicates(
  archive: Collection,
  ids: unknown[],
  context: { options: CountOptions; tally: VerifyTally; duplicated: Set<string> },
): Promise<void> {
  const groups = new Map<string, { id: unknown; numbers: unknown[] }>();
  for (
    const document of await _find(archive, { order_id: { $in: ids } }, {
      _id: 0,
      order_id: 1,
      numero_commande: 1,
    }, context.options)
  ) {
    const key = orderIdKey(document.order_id);
    const group = groups.get(key) ?? { id: document.order_id, numbers: [] as unknown[] };
    group.numbers.push(document.numero_commande);
    groups.set(key, group);
  }
  for (const [key, group] of groups) {
    if (group.numbers.length < 2 || context.duplicated.has(key)) continue;
    context.duplicated.add(key);
    context.tally.anomaly(
      "duplicate_order_id",
      `${describeOrderId(group.id)}: ${group.numbers.map(_numberText).sort().join(", ")}`,
    );
  }
}

function _find(
  collection: Collection,
  filter: Document,
  projection: Document,
  options: CountOptions,
): Promise<Document[]> {
  // One round trip: every filter here is one `$in`, and its answer is about as long.
  const asked = Object.values(filter).find((value) => Array.isArray(value?.$in))?.$in.length ?? 0;
  return collection.find(filter, {
    projection,
    batchSize: asked + 1,
    maxTimeMS: options.operationTimeoutMs ?? 30_000,
  }).toArray();
}

function _keys(documents: Document[], field: string): Set<string> {
  return new Set(documents.map((d) => orderIdKey(d[field])));
}

function _window(options: CountOptions): Document | undefined {
  if (!options.since && !options.until) return undefined;
  const window: Document = {};
  if (options.since) window.$gte = options.since;
  if (options.until) window.$lt = options.until;
  return window;
}

async function _inChunks(
  cursor: AsyncIterable<Document> & { close(): Promise<void> },
  options: CountOptions,
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

function _emptyAnomalies(): Record<ArchiveAnomaly, AnomalyCount> {
  return Object.fromEntries(
    ARCHIVE_ANOMALIES.map((anomaly) => [anomaly, { count: 0, sample: [] }]),
  ) as unknown as Record<ArchiveAnomaly, AnomalyCount>;
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

function _numberText(value: unknown): string {
  return _isNumber(value) ? value : "(no number)";
}

function _orderLabel(order: Document): string {
  return _isNumber(order.numero_commande)
    ? order.numero_commande
    : `(no number, _id ${describeOrderId(order._id)})`;
}

function _anomalyLabel(
  anomaly: ArchiveAnomaly,
  document: Document,
  order: Document | undefined,
): string {
  const number = _numberText(document.numero_commande);
  if (anomaly === "number_mismatch") {
    return `${number} → ${_numberText(order?.numero_commande)} (order ${
      describeOrderId(document.order_id)
    })`;
  }
  return document.order_id != null
    ? `${number} (order ${describeOrderId(document.order_id)})`
    : `${number} (no order_id)`;
}
