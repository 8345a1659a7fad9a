/**
 * The one core both modes run: given orders (from batch's cursor, watch's change events or the
 * quarantine's due list), skip those already archived, enrich the rest in one aggregation, write
 * the complete and valid ones through the idempotent sink, and put every other one in the
 * quarantine with its reason. One bad order never holds back another: when the server refuses a
 * batch for a reason that may be one order's, the batch is split until the order is isolated.
 *
 * @module
 */

import type { Db, Document } from "mongodb";
import type { Logger } from "@logtape/logtape";
import type { CollectionNames } from "./collections.ts";
import { enrichmentPipeline } from "./enrich.ts";
import { describeError, errorKind } from "../mongo/errors.ts";
import { retryTransient } from "../mongo/retry.ts";
import { Quarantine, type QuarantineEntry } from "./quarantine.ts";
import { writeArchive } from "./sink.ts";

/** An order as the modes hand it over: its id and, when it has one, its number. */
export interface OrderRef {
  /** The order's `_id`. */
  _id: unknown;
  /** Its number, the archive's key (anything the document holds: it is checked here). */
  numero_commande?: unknown;
}

/** What archiving needs to know. */
export interface ArchiveOptions {
  /** The database. */
  db: Db;
  /** Collection names. */
  names: CollectionNames;
  /** Where to log. */
  log: Logger;
  /** Who archives: stored in `archived_by`. */
  archivedBy: "batch" | "watch";
  /** Only orders that still have this status are archived, when given (the delivered value). */
  deliveredStatus?: string;
  /** The quarantine; one on `names.quarantine` retrying every minute when not given. */
  quarantine?: Quarantine;
  /** Archive incomplete orders too, marked `complete: false`. @default false */
  allowIncomplete?: boolean;
  /** Do everything but write (neither the archive nor the quarantine). @default false */
  dryRun?: boolean;
  /** Stops retries when aborted. */
  signal?: AbortSignal;
  /** Called on each transient failure, to count connection errors. */
  onTransientError?: (error: unknown) => void;
  /** Bound of one server wait (aggregation time, majority confirmation), in ms. @default 30000 */
  operationTimeoutMs?: number;
  /** Order numbers (or ids) already reported in this run, so each problem is logged once. */
  reportedIncomplete?: Set<string>;
}

/** What archiving a set of orders did. */
export interface ArchiveOutcome {
  /** Orders that were already in the archive before enrichment. */
  alreadyArchived: number;
  /** Orders enriched (the rest, still delivered). */
  enriched: number;
  /** Orders written (or, in a dry run, that would be). */
  archived: number;
  /** Orders found in the archive when written. */
  duplicates: number;
  /** Incomplete orders (quarantined unless allowed). */
  incomplete: number;
  /** Invalid orders: no usable number, or a field the archive needs missing or mistyped. */
  invalid: number;
  /** Orders the server refused for a reason of their own (quarantined as `error`). */
  errors: number;
  /** Orders archived that were in the quarantine. */
  recovered: number;
  /** The archive documents written (or that would be), for samples. */
  documents: Document[];
}

/**
 * Archives a set of orders. Costs a constant number of round trips however many orders: one
 * read of the archive's keys, one enrichment aggregation, one bulk write, and one quarantine
 * write when some order is not archived (more only to isolate an order the server refuses).
 *
 * @param orders The orders, with ids and numbers.
 * @param options Database, names, mode and flags.
 * @returns The counts and the documents.
 * @throws On transient failures past their retry deadline, and on deployment errors.
 */
export async function archiveOrders(
  orders: readonly OrderRef[],
  options: ArchiveOptions,
): Promise<ArchiveOutcome> {
  const outcome: ArchiveOutcome = {
    alreadyArchived: 0,
    enriched: 0,
    archived: 0,
    duplicates: 0,
    incomplete: 0,
    invalid: 0,
    errors: 0,
    recovered: 0,
    documents: [],
  };
  if (orders.length === 0) return outcome;
  const { db, names, log } = options;
  const quarantine = options.quarantine ??
    new Quarantine(db.collection(names.quarantine), { retryIntervalMs: 60_000 });
  const timeoutMs = options.operationTimeoutMs ?? 30_000;
  const retrying = { log, signal: options.signal, onTransientError: options.onTransientError };
  const archive = db.collection(names.archive);

  const numbers = orders.map((o) => o.numero_commande).filter(_isNumber);
  const archived = numbers.length === 0 ? new Set<string>() : new Set(
    (await retryTransient(
      "Reading archived order numbers",
      () =>
        archive.find({ numero_commande: { $in: numbers } }, {
          projection: { _id: 0, numero_commande: 1 },
          batchSize: numbers.length + 1,
          maxTimeMS: timeoutMs,
        }).toArray(),
      retrying,
    )).map((doc) => doc.numero_commande as string),
  );
  const settled: unknown[] = [];
  const toEnrich: OrderRef[] = [];
  for (const order of orders) {
    if (_isNumber(order.numero_commande) && archived.has(order.numero_commande)) {
      settled.push(order._id);
    } else toEnrich.push(order);
  }
  outcome.alreadyArchived = settled.length;

  const enrichment = await _isolating(toEnrich, (some) =>
    retryTransient(
      "Enriching orders",
      () =>
        db.collection(names.orders).aggregate(
          enrichmentPipeline(
            { ids: some.map((o) => o._id), status: options.deliveredStatus },
            names,
          ),
          { batchSize: some.length + 1, maxTimeMS: timeoutMs },
        ).toArray(),
      retrying,
    ));
  const enriched = enrichment.results;
  const failed = enrichment.refused.map(({ item, reason }) => ({ order: item, reason }));
  outcome.enriched = enriched.length;
  const seen = new Set(enriched.map((d) => String(d.order_id)));
  for (const order of toEnrich) {
    // Not returned: deleted, or no longer delivered. Nothing to archive; nothing to keep.
    if (!seen.has(String(order._id)) && !failed.some((f) => f.order === order)) {
      settled.push(order._id);
    }
  }

  const entries: QuarantineEntry[] = failed.map(({ order, reason }) => ({
    _id: order._id,
    numero_commande: _isNumber(order.numero_commande) ? order.numero_commande : null,
    reason: "error" as const,
    detail: reason,
  }));
  const archivedAt = new Date();
  const toWrite: Document[] = [];
  for (const document of enriched) {
    const invalid = document.invalid as string[];
    const entry = {
      _id: document.order_id,
      numero_commande: _isNumber(document.numero_commande) ? document.numero_commande : null,
    };
    if (invalid.length > 0) {
      entries.push({ ...entry, reason: "invalid", detail: invalid.join("; ") });
    } else if (!document.complete && !options.allowIncomplete) {
      entries.push({
        ...entry,
        reason: "incomplete",
        detail: `missing ${_describeMissing(document)}`,
      });
    } else {
      const { invalid: _, ...archiveDocument } = document;
      toWrite.push({
        ...archiveDocument,
        archived_at: archivedAt,
        archived_by: options.archivedBy,
      });
    }
  }

  let written: Document[] = toWrite;
  if (options.dryRun) {
    outcome.archived = toWrite.length;
  } else if (toWrite.length > 0) {
    const sinkOptions = { ...retrying, writeTimeoutMs: timeoutMs };
    const writes = await _isolating(toWrite, async (some) => [
      await writeArchive(archive, some, sinkOptions),
    ]);
    const failures = [
      ...writes.results.flatMap((r) => r.failed),
      ...writes.refused.map(({ item, reason }) => ({ document: item, reason })),
    ];
    for (const result of writes.results) {
      outcome.archived += result.archived;
      outcome.duplicates += result.duplicates;
    }
    const refused = new Set(failures.map((f) => f.document));
    written = toWrite.filter((d) => !refused.has(d));
    for (const { document, reason } of failures) {
      entries.push({
        _id: document.order_id,
        numero_commande: document.numero_commande,
        reason: "error",
        detail: reason,
      });
    }
  }
  outcome.documents = written;
  for (const entry of entries) outcome[_counter[entry.reason]]++;
  _logProblems(entries, options);
  if (options.dryRun) return outcome;

  const done = [...settled, ...written.map((d) => d.order_id)];
  outcome.recovered = written.filter((d) => quarantine.mayHold(d.order_id)).length;
  await retryTransient("Recording the quarantine", () => quarantine.record(entries), retrying);
  const released = await retryTransient(
    "Releasing archived orders from the quarantine",
    () => quarantine.release(done),
    retrying,
  );
  outcome.recovered = Math.min(outcome.recovered, released);
  return outcome;
}

const _counter = { incomplete: "incomplete", invalid: "invalid", error: "errors" } as const;

function _isNumber(value: unknown): value is string {
  return typeof value === "string" && value.length > 0;
}

/**
 * Runs `work` on all the items at once; when the server refuses it for a reason that may be one
 * item's data, splits the items in halves until each refusing item is alone, and returns those
 * with the server's reason. Costs one call when nothing is refused, about 2·log2(n) per refusing
 * item otherwise.
 */
async function _isolating<T, R>(
  items: readonly T[],
  work: (items: readonly T[]) => Promise<R[]>,
): Promise<{ results: R[]; refused: Array<{ item: T; reason: string }> }> {
  if (items.length === 0) return { results: [], refused: [] };
  try {
    return { results: await work(items), refused: [] };
  } catch (error) {
    if (errorKind(error) !== "data") throw error;
    if (items.length === 1) {
      return { results: [], refused: [{ item: items[0]!, reason: describeError(error) }] };
    }
    const half = Math.ceil(items.length / 2);
    const first = await _isolating(items.slice(0, half), work);
    const second = await _isolating(items.slice(half), work);
    return {
      results: [...first.results, ...second.results],
      refused: [...first.refused, ...second.refused],
    };
  }
}

function _logProblems(entries: readonly QuarantineEntry[], options: ArchiveOptions): void {
  for (const entry of entries) {
    const name = entry.numero_commande ?? `with _id ${String(entry._id)}`;
    const key = `${entry.reason}:${entry.numero_commande ?? String(entry._id)}`;
    if (options.reportedIncomplete?.has(key)) continue;
    options.reportedIncomplete?.add(key);
    const properties = {
      numero_commande: entry.numero_commande,
      order_id: String(entry._id),
      reason: entry.reason,
      detail: entry.detail,
    };
    if (entry.reason === "incomplete") {
      options.log.warn(`⚠️ Order ${name} is incomplete: ${entry.detail}`, properties);
    } else if (entry.reason === "invalid") {
      options.log.error(`❌ Order ${name} is invalid: ${entry.detail}`, properties);
    } else {
      options.log.error(`❌ Error archiving order ${name}: ${entry.detail}`, properties);
    }
  }
}

function _describeMissing(document: Document): string {
  const missing = (document.missing as string[]).filter((name) => name !== "menu");
  const menuIds = (document.missing_menu_ids as unknown[] | undefined) ?? [];
  if (menuIds.length > 0) {
    missing.push(`menu item${menuIds.length > 1 ? "s" : ""} ${menuIds.map(String).join(", ")}`);
  }
  return missing.join(", ");
}
