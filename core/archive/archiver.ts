/**
 * The one core both modes run: given orders (from batch's cursor, watch's change events or the
 * quarantine's due list), archive the complete and valid ones not yet archived, and put every
 * other one in the quarantine with its reason. By default on the server (one `$merge`
 * aggregation and one small outcome aggregation, `server_archive.ts`), so the archive documents
 * never cross the wire; through the client (enrichment read, idempotent upserts, `sink.ts`) for
 * dry runs and for servers that refuse `$merge` — said once per database, then kept. One bad
 * order never holds back another: when the server refuses a batch for a reason that may be one
 * order's, the batch is split until the order is isolated.
 *
 * @module
 */

import type { Collection, Db, Document } from "mongodb";
import type { Logger } from "@logtape/logtape";
import type { CollectionNames } from "./collections.ts";
import { enrichmentPipeline } from "./enrich.ts";
import { isolating } from "./isolate.ts";
import { retryTransient } from "../mongo/retry.ts";
import {
  emptyReasonCounts,
  Quarantine,
  type QuarantineEntry,
  type QuarantineReason,
} from "./quarantine.ts";
import { ensureArchiveIndex } from "./archive_index.ts";
import {
  ArchiveIndexMissingError,
  archiveOnServer,
  conflictEntry,
  describeMissing,
  emptyPathResult,
  MergeRefusedError,
  type OrderRef,
  type PathResult,
} from "./server_archive.ts";
import { writeArchive } from "./sink.ts";
import { emptyOutcomeCounts, type OutcomeCounts } from "../runtime/outcome.ts";
import { compareOrderIds, describeOrderId, orderIdKey as idKey } from "./order_id.ts";
import { ConfigError } from "../runtime/errors.ts";
import { oneOf } from "../runtime/parse.ts";
import type { Setting } from "../runtime/settings.ts";

export type { OrderRef } from "./server_archive.ts";

/** Where the archive documents are built and written. */
export type ArchivePath = "server" | "client";

/**
 * Where batch and watch archive: on the server (`$merge`, the default), or through the client —
 * the way for a server where `$merge` is refused is found by itself; this is the operator's
 * choice, e.g. to compare the two.
 */
export const archivePathSetting: Setting<ArchivePath> = {
  env: "ARCHIVER_ARCHIVE_PATH",
  flag: "--archive-path <path>",
  description:
    "Where archive documents are built: server ($merge, never sent to the client) or client",
  default: "server",
  parse: oneOf(["server", "client"] as const),
};

// Databases whose server refused $merge: the client path is used for them from then on, and the
// refusal was logged once.
const _refused = new WeakMap<Db, string>();

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
  /**
   * No longer read: each quarantined order is logged once when it enters the quarantine (what
   * {@link Quarantine.record} says is new) and once when it leaves, never at a retry. Accepted so
   * callers that still pass it compile.
   *
   * @deprecated Not needed; remove from callers.
   */
  reportedIncomplete?: Set<string>;
  /**
   * Where to archive: on the server through `$merge` (the default), or through the client. Dry
   * runs always use the client. @default "server"
   */
  path?: ArchivePath;
  /** How many archive documents the caller wants to see (samples, exports). @default 0 */
  documentsWanted?: () => number;
}

/** What archiving a set of orders did: the counts, and the documents when asked for. */
export interface ArchiveOutcome extends OutcomeCounts {
  /**
   * Archive documents written (or that would be): all of them on the client path, at most
   * `documentsWanted()` read back on the server path.
   */
  documents: Document[];
  /** The path that archived them. */
  path: ArchivePath;
  /**
   * Orders the quarantine already held that this call tried again and left there, by reason.
   * They are not counted again under `incomplete`, `invalid`, `conflicts` or `errors`, which
   * count orders quarantined for the first time: each order once, when first seen.
   */
  stillQuarantined: Record<QuarantineReason, number>;
}

/**
 * Archives a set of orders. Costs a constant number of round trips however many orders: on the
 * server, one merge and one outcome aggregation; through the client, one read of the archive's
 * keys, one enrichment aggregation and one bulk write; then one quarantine write when some order
 * is not archived (more only to isolate an order the server refuses).
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
    ...emptyOutcomeCounts(),
    documents: [],
    stillQuarantined: emptyReasonCounts(),
    path: options.dryRun || options.path === "client" || _refused.has(options.db)
      ? "client"
      : "server",
  };
  if (orders.length === 0) return outcome;
  const { db, names, log } = options;
  const quarantine = options.quarantine ??
    new Quarantine(db.collection(names.quarantine), { retryIntervalMs: 60_000 });
  const timeoutMs = options.operationTimeoutMs ?? 30_000;
  const retrying = { log, signal: options.signal, onTransientError: options.onTransientError };

  let result: PathResult | undefined;
  for (let attempt = 1; outcome.path === "server" && !result; attempt++) {
    try {
      result = await archiveOnServer(orders, {
        db,
        names,
        archivedBy: options.archivedBy,
        deliveredStatus: options.deliveredStatus,
        allowIncomplete: options.allowIncomplete === true,
        timeoutMs,
        retrying,
        documentsWanted: options.documentsWanted?.() ?? 0,
      });
    } catch (error) {
      if (error instanceof ArchiveIndexMissingError && attempt === 1) {
        log.warn(
          "⚠️ The archive lost its unique indexes (dropped, or restored without its indexes?): creating them again",
        );
        await retryTransient(
          "Creating the archive index",
          () => ensureArchiveIndex(db.collection(names.archive)),
          retrying,
        );
        continue;
      }
      if (error instanceof ArchiveIndexMissingError) {
        // Made again, and still not usable: something keeps removing it. Not a defect of ours.
        throw new ConfigError(
          `The archive ${names.archive} has no unique index on order_id for $merge, even after creating it: check what drops it (code 51183)`,
          { cause: error },
        );
      }
      if (!(error instanceof MergeRefusedError)) throw error;
      _refused.set(db, error.why);
      log.warn(
        `⚠️ The server refused to archive on its side (code ${error.cause.code}, ${error.why}): archiving through the client from now on`,
        { error_code: error.cause.code, error_message: error.cause.message },
      );
      outcome.path = "client";
    }
  }
  result ??= await _archiveOnClient(orders, options, timeoutMs, retrying);

  outcome.alreadyArchived = result.alreadyArchived;
  outcome.duplicates = result.duplicates;
  outcome.archived = result.archived;
  outcome.documents = result.documents;
  const entries = result.entries;
  // New to the quarantine, or tried again: the quarantine says (a dry run only reads it).
  const recorded = options.dryRun
    ? await _splitHeld(entries, quarantine, retrying)
    : await retryTransient("Recording the quarantine", () => quarantine.record(entries), retrying);
  for (const entry of recorded.added) outcome[_counter[entry.reason]]++;
  for (const entry of recorded.kept) outcome.stillQuarantined[entry.reason]++;
  _logProblems(recorded.added, options);
  if (options.dryRun) return outcome;

  // The quarantine is shared: another process may have put any of these orders there. The
  // server path read which in its outcome aggregation; the client path asks.
  const done = [...result.settled, ...result.written];
  const held = new Set(
    (result.quarantined ??
      await retryTransient("Reading the quarantine", () => quarantine.held(done), retrying))
      .map(idKey),
  );
  if (held.size > 0) {
    outcome.recovered = result.written.filter((id) => held.has(idKey(id))).length;
    const leaving = done.filter((id) => held.has(idKey(id)));
    await retryTransient(
      "Releasing archived orders from the quarantine",
      () => quarantine.release(leaving),
      retrying,
    );
    _logReleased(leaving, { orders, written: result.written, log });
  }
  return outcome;
}

/** A dry run's split of the entries: those the quarantine holds already, and the others. */
async function _splitHeld(
  entries: readonly QuarantineEntry[],
  quarantine: Quarantine,
  retrying: Parameters<typeof retryTransient>[2],
): Promise<{ added: QuarantineEntry[]; kept: QuarantineEntry[] }> {
  if (entries.length === 0) return { added: [], kept: [] };
  const held = new Set(
    (await retryTransient(
      "Reading the quarantine",
      () => quarantine.held(entries.map((e) => e._id)),
      retrying,
    )).map(idKey),
  );
  return {
    added: entries.filter((e) => !held.has(idKey(e._id))),
    kept: entries.filter((e) => held.has(idKey(e._id))),
  };
}

/**
 * The client path: read which orders are archived (by `order_id`), enrich the rest, read which of
 * their numbers other orders hold in the archive (conflicts), write the complete and valid ones as
 * idempotent upserts on `order_id` (or, in a dry run, only say what would be written).
 */
async function _archiveOnClient(
  orders: readonly OrderRef[],
  options: ArchiveOptions,
  timeoutMs: number,
  retrying: { log: Logger; signal?: AbortSignal; onTransientError?: (error: unknown) => void },
): Promise<PathResult> {
  const { db, names } = options;
  const archive = db.collection(names.archive);
  const result = emptyPathResult();
  const archived = new Set(
    (await retryTransient(
      "Reading archived orders",
      () =>
        archive.find({ order_id: { $in: orders.map((o) => o._id) } }, {
          projection: { _id: 0, order_id: 1 },
          batchSize: orders.length + 1,
          maxTimeMS: timeoutMs,
        }).toArray(),
      retrying,
    )).map((doc) => idKey(doc.order_id)),
  );
  const toEnrich: OrderRef[] = [];
  for (const order of orders) {
    if (archived.has(idKey(order._id))) result.settled.push(order._id);
    else toEnrich.push(order);
  }
  result.alreadyArchived = result.settled.length;

  const enrichment = await isolating(toEnrich, (some) =>
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
  const failed = new Set(enrichment.refused.map(({ item }) => idKey(item._id)));
  const seen = new Set(enriched.map((d) => idKey(d.order_id)));
  for (const order of toEnrich) {
    // Not returned: deleted, or no longer delivered. Nothing to archive; nothing to keep.
    const key = idKey(order._id);
    if (!seen.has(key) && !failed.has(key)) result.settled.push(order._id);
  }

  const entries = result.entries;
  for (const { item, reason } of enrichment.refused) {
    entries.push({
      _id: item._id,
      numero_commande: _isNumber(item.numero_commande) ? item.numero_commande : null,
      reason: "error",
      detail: reason,
    });
  }
  // Numbers other orders hold in the archive; of orders sharing one in this batch, the lowest
  // _id is written (as on the server path) and the others are conflicts.
  const takenBy = await _numberHolders(
    archive,
    enriched.map((d) => d.numero_commande).filter(_isNumber),
    { timeoutMs, retrying },
  );
  const archivedAt = new Date();
  const toWrite: Document[] = [];
  for (const document of _lowestIdFirst(enriched)) {
    const invalid = document.invalid as string[];
    const entry = {
      _id: document.order_id,
      numero_commande: _isNumber(document.numero_commande) ? document.numero_commande : null,
    };
    const holder = entry.numero_commande === null ? undefined : takenBy.get(entry.numero_commande);
    if (invalid.length > 0) {
      entries.push({ ...entry, reason: "invalid", detail: invalid.join("; ") });
    } else if (holder !== undefined && idKey(holder) === idKey(entry._id)) {
      // Archived by another writer since the first read: a duplicate, settled.
      result.settled.push(entry._id);
      result.duplicates++;
    } else if (holder !== undefined) {
      entries.push(conflictEntry(entry, holder));
    } else if (!document.complete && !options.allowIncomplete) {
      entries.push({
        ...entry,
        reason: "incomplete",
        detail: `missing ${describeMissing(document)}`,
      });
    } else {
      const { invalid: _, ...archiveDocument } = document;
      toWrite.push({
        ...archiveDocument,
        archived_at: archivedAt,
        archived_by: options.archivedBy,
      });
      takenBy.set(entry.numero_commande as string, document.order_id);
    }
  }

  if (options.dryRun) {
    result.archived = toWrite.length;
    result.written = toWrite.map((d) => d.order_id);
    result.documents = toWrite;
    return result;
  }
  if (toWrite.length === 0) return result;
  const sinkOptions = { ...retrying, writeTimeoutMs: timeoutMs };
  const writes = await isolating(toWrite, async (some) => [
    await writeArchive(archive, some, sinkOptions),
  ]);
  const failures = [
    ...writes.results.flatMap((r) => r.failed),
    ...writes.refused.map(({ item, reason }) => ({ document: item, reason })),
  ];
  const conflicts = writes.results.flatMap((r) => r.conflicts);
  for (const write of writes.results) {
    result.archived += write.archived;
    result.duplicates += write.duplicates;
  }
  const refused = new Set([...failures.map((f) => f.document), ...conflicts]);
  const written = toWrite.filter((d) => !refused.has(d));
  result.written = written.map((d) => d.order_id);
  result.documents = written;
  for (const { document, reason } of failures) {
    entries.push({
      _id: document.order_id,
      numero_commande: document.numero_commande,
      reason: "error",
      detail: reason,
    });
  }
  if (conflicts.length > 0) {
    // Numbers taken between the read and the write (a concurrent writer): name the holder.
    const holders = await _numberHolders(
      archive,
      conflicts.map((d) => d.numero_commande as string),
      { timeoutMs, retrying },
    );
    for (const document of conflicts) {
      const ref = { _id: document.order_id, numero_commande: document.numero_commande };
      entries.push(conflictEntry(ref, holders.get(document.numero_commande as string)));
    }
  }
  return result;
}

/** The archive's order ids by number, for the given numbers. */
async function _numberHolders(
  archive: Collection,
  numbers: readonly string[],
  options: { timeoutMs: number; retrying: Parameters<typeof retryTransient>[2] },
): Promise<Map<string, unknown>> {
  const unique = [...new Set(numbers)];
  if (unique.length === 0) return new Map();
  const documents = await retryTransient(
    "Reading archived order numbers",
    () =>
      archive.find({ numero_commande: { $in: unique } }, {
        projection: { _id: 0, numero_commande: 1, order_id: 1 },
        batchSize: unique.length + 1,
        maxTimeMS: options.timeoutMs,
      }).toArray(),
    options.retrying,
  );
  return new Map(documents.map((d) => [d.numero_commande as string, d.order_id]));
}

/** Enriched orders sorted by `_id` as MongoDB sorts them, so the lowest of a shared number wins. */
function _lowestIdFirst(documents: readonly Document[]): Document[] {
  return [...documents].sort((a, b) => compareOrderIds(a.order_id, b.order_id));
}

const _counter = {
  incomplete: "incomplete",
  invalid: "invalid",
  conflict: "conflicts",
  error: "errors",
} as const;

function _isNumber(value: unknown): value is string {
  return typeof value === "string" && value.length > 0;
}
/**
 * One line per order entering the quarantine (first seen): a retry that leaves it there logs
 * nothing, so 20 stuck orders retried every minute write no line until they leave.
 */
function _logProblems(entries: readonly QuarantineEntry[], options: ArchiveOptions): void {
  for (const entry of entries) {
    const name = entry.numero_commande ?? `with _id ${describeOrderId(entry._id)}`;
    const properties = {
      numero_commande: entry.numero_commande,
      order_id: describeOrderId(entry._id),
      reason: entry.reason,
      detail: entry.detail,
    };
    if (entry.reason === "incomplete") {
      options.log.warn(`⚠️ Order ${name} is incomplete: ${entry.detail}`, properties);
    } else if (entry.reason === "invalid") {
      options.log.error(`❌ Order ${name} is invalid: ${entry.detail}`, properties);
    } else if (entry.reason === "conflict") {
      options.log.error(`❌ Order ${name} conflicts: ${entry.detail}`, properties);
    } else {
      options.log.error(`❌ Error archiving order ${name}: ${entry.detail}`, properties);
    }
  }
}

/** One INFO line per order leaving the quarantine: archived now, or settled (see below). */
function _logReleased(
  ids: readonly unknown[],
  context: { orders: readonly OrderRef[]; written: readonly unknown[]; log: Logger },
): void {
  const numbers = new Map(context.orders.map((o) => [idKey(o._id), o.numero_commande]));
  const written = new Set(context.written.map(idKey));
  for (const id of ids) {
    const key = idKey(id);
    const number = numbers.get(key);
    const name = typeof number === "string" && number.length > 0
      ? number
      : `with _id ${describeOrderId(id)}`;
    const archived = written.has(key);
    // Not written by this call: found archived (another writer's), or no longer delivered.
    const why = archived ? "archived" : "already archived or no longer delivered";
    context.log.info(`✅ Order ${name} left the quarantine: ${why}`, {
      numero_commande: typeof number === "string" ? number : null,
      order_id: describeOrderId(id),
      quarantine: archived ? "archived" : "settled",
    });
  }
}
