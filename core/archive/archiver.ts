/**
 * The one core both modes run: given orders (from batch's cursor, watch's change events or the
 * quarantine's due list), archive the complete and valid ones that are not archived yet, and put
 * every other one in the quarantine with its reason. One bad order never holds back another:
 * when the server refuses a batch for a reason that may be one order's, the batch is split until
 * the order is isolated.
 *
 * **On the server** (the default): one aggregation selects the orders, drops those already in
 * the archive (an anti-join on its unique `numero_commande`), enriches the rest, keeps the valid
 * and complete ones and ends in `$merge` into the archive (`keepExisting`, so replaying it is
 * harmless and two writers racing on an order leave one document). The archive documents never
 * cross the wire. The counts stay exact through the archive documents' `_id`: the client draws a
 * fresh ObjectId per order and the merge gives it to that order's document, so a second, small
 * read afterwards tells for each order whether this call archived it (its `_id` is ours), someone
 * else did (another `_id`: before this call, or a concurrent writer that won the race), or why it
 * is not archived (`invalid`, `missing`: only for those). Two round trips per batch, whatever its
 * size, plus the quarantine's writes when some order is not archived.
 *
 * **Through the client**: where the server refuses `$merge` (a server older than 4.2, a role
 * without the privilege), the enriched documents come to the client and go back as unordered
 * `$setOnInsert` upserts (see `sink.ts`); said once, then used for the rest of the run.
 *
 * A dry run reads only: the same small read, and the archive documents only when a sample is
 * wanted (only that many).
 *
 * @module
 */

import { type Db, type Document, MongoServerError, ObjectId } from "mongodb";
import type { Logger } from "@logtape/logtape";
import type { CollectionNames } from "./collections.ts";
import { classificationStages, enrichmentPipeline } from "./enrich.ts";
import { ensureArchiveIndex } from "./archive_index.ts";
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
  /**
   * Where the archive documents are built and written: `server` (an aggregation ending in
   * `$merge`; the client path is taken instead, for the rest of the run, once the server refuses
   * `$merge`) or `client` (enriched documents fetched and written back as upserts).
   * @default "server"
   */
  path?: ArchivePath;
  /**
   * How many archive documents the caller still wants in `documents` (a sample for `--export`).
   * None are fetched when it is not given or returns 0: archiving on the server never brings
   * them to the client otherwise.
   */
  wantDocuments?: () => number;
}

/** Where the archive documents are built and written. */
export type ArchivePath = "server" | "client";

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
  /** Up to `wantDocuments()` of the archive documents written (or that would be), for samples. */
  documents: Document[];
}

/**
 * Archives a set of orders. Costs a constant number of round trips however many orders: on the
 * server, the `$merge` aggregation and one small read of what it did; through the client, one
 * read of the archive's keys, one enrichment aggregation and one bulk write; plus one quarantine
 * write when some order is not archived (more only to isolate an order the server refuses).
 *
 * @param orders The orders, with ids and numbers.
 * @param options Database, names, mode and flags.
 * @returns The counts, and the documents wanted for a sample.
 * @throws On transient failures past their retry deadline, and on deployment errors.
 */
export async function archiveOrders(
  orders: readonly OrderRef[],
  options: ArchiveOptions,
): Promise<ArchiveOutcome> {
  const outcome = _emptyOutcome();
  if (orders.length === 0) return outcome;
  const { db, names, log } = options;
  const run: _Run = {
    options,
    quarantine: options.quarantine ??
      new Quarantine(db.collection(names.quarantine), { retryIntervalMs: 60_000 }),
    timeoutMs: options.operationTimeoutMs ?? 30_000,
    retrying: { log, signal: options.signal, onTransientError: options.onTransientError },
  };
  let settlement: _Settlement;
  if (options.dryRun) {
    settlement = await _dryRun(orders, run);
  } else if ((options.path ?? "server") === "server" && !_mergeRefused.has(db)) {
    try {
      settlement = await _onServer(orders, run);
    } catch (error) {
      if (!(error instanceof _MergeRefusedError)) throw error;
      _mergeRefused.add(db);
      log.warn(
        `⚠️ The server refused $merge (${
          describeError(error.cause)
        }): archiving through the client`,
        { error: describeError(error.cause) },
      );
      settlement = await _throughClient(orders, run);
    }
  } else {
    settlement = await _throughClient(orders, run);
  }
  return await _settle(settlement, run);
}

interface _Run {
  options: ArchiveOptions;
  quarantine: Quarantine;
  timeoutMs: number;
  retrying: { log: Logger; signal?: AbortSignal; onTransientError?: (error: unknown) => void };
}

/** What a path did, before the quarantine is told. */
interface _Settlement {
  outcome: ArchiveOutcome;
  /** Orders not archived, with their reason. */
  entries: QuarantineEntry[];
  /** Orders that need nothing more: archived (by anyone), or no longer delivered. */
  settled: unknown[];
  /** Orders this call archived. */
  archivedIds: unknown[];
}

// Databases whose server refused $merge in this process: the client path for the rest of the run.
const _mergeRefused = new WeakSet<Db>();

/** The server refused the `$merge` stage itself (its version or the role's privileges). */
class _MergeRefusedError extends Error {
  constructor(cause: unknown) {
    super(`The server refused $merge: ${describeError(cause)}`, { cause });
  }
}

const _UNRECOGNIZED_STAGE = 40324;
const _COMMAND_NOT_FOUND = 59;
const _UNAUTHORIZED = 13;
const _ATLAS_ERROR = 8000;
const _NO_UNIQUE_INDEX = 51183;

/** Whether an error of the `$merge` aggregation says the server will never run `$merge`. */
function _refusesMerge(error: unknown): boolean {
  if (!(error instanceof MongoServerError)) return false;
  const code = typeof error.code === "number" ? error.code : undefined;
  if (code === _UNRECOGNIZED_STAGE || code === _COMMAND_NOT_FOUND) return true;
  // A role without insert on the archive: the client path's upserts need the same privilege
  // but say so with their own, precise error (exit 2) instead of a refused aggregation.
  if (code === _UNAUTHORIZED || code === _ATLAS_ERROR) return true;
  return /\$merge/.test(error.message) && /not (supported|allowed)/i.test(error.message);
}

function _emptyOutcome(): ArchiveOutcome {
  return {
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
}

/** The state of one order after the merge, as the outcome read reports it. */
type _State = "ours" | "before" | "duplicate" | "gone" | "open";

interface _Row {
  _id: unknown;
  s: _State;
  numero_commande?: unknown;
  invalid?: string[];
  missing?: string[];
  missing_menu_ids?: unknown[];
}

// An order that was complete and valid for the merge's read, yet is neither archived nor gone
// at the outcome's read, changed in between (it became delivered, or its data was fixed): it is
// archived again, this many times at most, then quarantined to be retried later.
const _RACE_ROUNDS = 2;

async function _onServer(orders: readonly OrderRef[], run: _Run, round = 1): Promise<_Settlement> {
  const { db, names } = run.options;
  const settlement: _Settlement = {
    outcome: _emptyOutcome(),
    entries: [],
    settled: [],
    archivedIds: [],
  };
  const archive = db.collection(names.archive);
  const ours = new Map<OrderRef, ObjectId>(orders.map((order) => [order, new ObjectId()]));
  let indexChecked = false;
  const merge = async (some: readonly OrderRef[]) => {
    const pipeline = mergePipeline(
      some.map((order) => ({ _id: order._id, archiveId: ours.get(order)! })),
      names,
      {
        archivedBy: run.options.archivedBy,
        deliveredStatus: run.options.deliveredStatus,
        allowIncomplete: run.options.allowIncomplete,
      },
    );
    const once = () =>
      db.collection(names.orders).aggregate(pipeline, {
        maxTimeMS: run.timeoutMs,
        writeConcern: { w: "majority", wtimeoutMS: run.timeoutMs },
      }).toArray();
    try {
      // Retrying is harmless: keepExisting leaves what a failed or unconfirmed attempt wrote,
      // and its documents carry this call's ids, so they still count as archived by it.
      await retryTransient("Archive write", once, run.retrying);
    } catch (error) {
      if (_refusesMerge(error)) throw new _MergeRefusedError(error);
      const code = (error as { code?: unknown }).code;
      if (code !== _NO_UNIQUE_INDEX || indexChecked) throw error;
      // $merge needs the archive's unique index on numero_commande; batch and watch create it
      // at start, a direct caller may not have: create it (or say why it cannot be), once.
      indexChecked = true;
      await retryTransient(
        "Creating the archive index",
        () => ensureArchiveIndex(archive),
        run.retrying,
      );
      await retryTransient("Archive write", once, run.retrying);
    }
    return [] as never[];
  };
  const startedAt = performance.now();
  const { refused } = await _isolating(orders, merge);
  // Server time when the merge began, as `$$NOW − elapsed` at the outcome read: an archive
  // document of another writer from before it was there before this call; one from after it was
  // written by a writer that won the race between the merge's anti-join and its write.
  const elapsedMs = Math.ceil(performance.now() - startedAt);
  const rows = await retryTransient(
    "Reading what the archiving did",
    () =>
      db.collection(names.orders).aggregate<_Row>(
        outcomePipeline(
          orders.map((order) => order._id),
          names,
          {
            archiveIds: [...ours.values()],
            sinceMs: elapsedMs,
            deliveredStatus: run.options.deliveredStatus,
          },
        ),
        { batchSize: orders.length + 1, maxTimeMS: run.timeoutMs },
      ).toArray(),
    run.retrying,
  );
  const refusedReason = new Map(refused.map(({ item, reason }) => [String(item._id), reason]));
  const byId = new Map(orders.map((order) => [_key(order._id), order]));
  const seen = new Set<string>();
  const again: OrderRef[] = [];
  let gone = 0;
  const { outcome } = settlement;
  for (const row of rows) {
    const order = byId.get(_key(row._id));
    if (!order) continue;
    seen.add(_key(row._id));
    switch (row.s) {
      case "ours":
        outcome.archived++;
        settlement.archivedIds.push(order._id);
        settlement.settled.push(order._id);
        break;
      case "before":
        outcome.alreadyArchived++;
        settlement.settled.push(order._id);
        break;
      case "duplicate":
        outcome.duplicates++;
        settlement.settled.push(order._id);
        break;
      case "gone":
        gone++;
        settlement.settled.push(order._id);
        break;
      default: {
        const entry = _problemOf(row, run.options);
        const reason = refusedReason.get(String(order._id));
        if (entry) settlement.entries.push(entry);
        else if (reason !== undefined) {
          settlement.entries.push({
            _id: order._id,
            numero_commande: _numberOf(order.numero_commande),
            reason: "error",
            detail: reason,
          });
        } else again.push(order);
      }
    }
  }
  // Orders the outcome read did not find were deleted meanwhile: nothing to archive, unless the
  // merge archived them before they went (their document then carries this call's id).
  const vanished = orders.filter((order) => !seen.has(_key(order._id)));
  if (vanished.length > 0) {
    const found = await retryTransient(
      "Reading archived orders",
      () =>
        archive.find({ _id: { $in: vanished.map((order) => ours.get(order)!) } }, {
          projection: { _id: 0, order_id: 1 },
          maxTimeMS: run.timeoutMs,
        }).toArray(),
      run.retrying,
    );
    const archivedVanished = new Set(found.map((doc) => _key(doc.order_id)));
    for (const order of vanished) {
      if (archivedVanished.has(_key(order._id))) {
        outcome.archived++;
        settlement.archivedIds.push(order._id);
      } else gone++;
      settlement.settled.push(order._id);
    }
  }
  if (again.length > 0) {
    if (round < _RACE_ROUNDS) {
      _merge(settlement, await _onServer(again, run, round + 1));
    } else {
      for (const order of again) {
        settlement.entries.push({
          _id: order._id,
          numero_commande: _numberOf(order.numero_commande),
          reason: "error",
          detail: "changed while it was being archived; retried later",
        });
      }
    }
  }
  outcome.enriched = orders.length - outcome.alreadyArchived - gone;
  const wanted = Math.min(run.options.wantDocuments?.() ?? 0, settlement.archivedIds.length);
  if (wanted > 0) {
    const sampleIds = settlement.archivedIds.slice(0, wanted).flatMap((id) => {
      const order = byId.get(_key(id));
      return order ? [ours.get(order)!] : [];
    });
    outcome.documents = await retryTransient(
      "Reading archived documents for the sample",
      () => archive.find({ _id: { $in: sampleIds } }, { maxTimeMS: run.timeoutMs }).toArray(),
      run.retrying,
    );
  }
  return settlement;
}

function _merge(into: _Settlement, more: _Settlement): void {
  for (const key of Object.keys(into.outcome) as Array<keyof ArchiveOutcome>) {
    if (key === "documents") into.outcome.documents.push(...more.outcome.documents);
    else into.outcome[key] += more.outcome[key];
  }
  into.entries.push(...more.entries);
  into.settled.push(...more.settled);
  into.archivedIds.push(...more.archivedIds);
}

/** The quarantine entry of an order the outcome read reports not archived, if it has a problem. */
function _problemOf(row: _Row, options: ArchiveOptions): QuarantineEntry | undefined {
  const entry = { _id: row._id, numero_commande: _numberOf(row.numero_commande) };
  const invalid = row.invalid ?? [];
  if (invalid.length > 0) return { ...entry, reason: "invalid", detail: invalid.join("; ") };
  if ((row.missing ?? []).length > 0 && !options.allowIncomplete) {
    return { ...entry, reason: "incomplete", detail: `missing ${_describeMissing(row)}` };
  }
  return undefined;
}

/**
 * A dry run: the outcome read alone (no merge, so every archived order was there before), and
 * the would-be archive documents only when a sample is wanted, only that many.
 */
async function _dryRun(orders: readonly OrderRef[], run: _Run): Promise<_Settlement> {
  const { db, names } = run.options;
  const settlement: _Settlement = {
    outcome: _emptyOutcome(),
    entries: [],
    settled: [],
    archivedIds: [],
  };
  const { outcome } = settlement;
  const rows = await retryTransient(
    "Reading delivered orders",
    () =>
      db.collection(names.orders).aggregate<_Row>(
        outcomePipeline(orders.map((order) => order._id), names, {
          archiveIds: [],
          sinceMs: 0,
          deliveredStatus: run.options.deliveredStatus,
        }),
        { batchSize: orders.length + 1, maxTimeMS: run.timeoutMs },
      ).toArray(),
    run.retrying,
  );
  const wouldArchive: unknown[] = [];
  for (const row of rows) {
    if (row.s === "before") outcome.alreadyArchived++;
    if (row.s !== "open") continue;
    outcome.enriched++;
    const entry = _problemOf(row, run.options);
    if (entry) settlement.entries.push(entry);
    else wouldArchive.push(row._id);
  }
  outcome.archived = wouldArchive.length;
  const wanted = Math.min(run.options.wantDocuments?.() ?? 0, wouldArchive.length);
  if (wanted > 0) {
    const documents = await retryTransient(
      "Enriching orders for the sample",
      () =>
        db.collection(names.orders).aggregate(
          enrichmentPipeline(
            { ids: wouldArchive.slice(0, wanted), status: run.options.deliveredStatus },
            names,
          ),
          { batchSize: wanted + 1, maxTimeMS: run.timeoutMs },
        ).toArray(),
      run.retrying,
    );
    const archivedAt = new Date();
    outcome.documents = documents.map(({ invalid: _, ...document }) => ({
      ...document,
      archived_at: archivedAt,
      archived_by: run.options.archivedBy,
    }));
  }
  return settlement;
}

/**
 * The client path, for servers that refuse `$merge`: read which numbers are archived, enrich
 * the rest to the client, write the complete and valid ones as unordered `$setOnInsert` upserts.
 */
async function _throughClient(orders: readonly OrderRef[], run: _Run): Promise<_Settlement> {
  const { db, names } = run.options;
  const options = run.options;
  const { timeoutMs, retrying } = run;
  const outcome = _emptyOutcome();
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
    numero_commande: _numberOf(order.numero_commande),
    reason: "error" as const,
    detail: reason,
  }));
  const archivedAt = new Date();
  const toWrite: Document[] = [];
  for (const document of enriched) {
    const entry = _problemOf({ ...document, _id: document.order_id, s: "open" } as _Row, options);
    if (entry) {
      entries.push(entry);
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
  if (toWrite.length > 0) {
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
  outcome.documents = written.slice(0, Math.max(0, options.wantDocuments?.() ?? 0));
  const writtenIds = written.map((d) => d.order_id);
  return {
    outcome,
    entries,
    settled: [...settled, ...writtenIds],
    // Duplicates among them too: the sink counts but does not name them; `recovered` is bounded
    // by what the quarantine actually released.
    archivedIds: writtenIds,
  };
}

/** Counts and logs the problems, then records and releases the quarantine (not in a dry run). */
async function _settle(settlement: _Settlement, run: _Run): Promise<ArchiveOutcome> {
  const { outcome, entries } = settlement;
  for (const entry of entries) outcome[_counter[entry.reason]]++;
  _logProblems(entries, run.options);
  if (run.options.dryRun) return outcome;
  const { quarantine, retrying } = run;
  outcome.recovered = settlement.archivedIds.filter((id) => quarantine.mayHold(id)).length;
  await retryTransient("Recording the quarantine", () => quarantine.record(entries), retrying);
  const released = await retryTransient(
    "Releasing archived orders from the quarantine",
    () => quarantine.release(settlement.settled),
    retrying,
  );
  outcome.recovered = Math.min(outcome.recovered, released);
  return outcome;
}

/** How the merge aggregation archives. */
export interface MergeOptions {
  /** Stored in `archived_by`. */
  archivedBy: "batch" | "watch";
  /** Only orders that still have this status, when given. */
  deliveredStatus?: string;
  /** Archive incomplete orders too (`complete: false`). @default false */
  allowIncomplete?: boolean;
}

/**
 * The aggregation that archives orders on the server: the orders by id (and status), an
 * anti-join against the archive on `numero_commande` (so the enrichment reads nothing for orders
 * already archived), the enrichment, only the valid and complete orders (or incomplete too, when
 * allowed), each archive document given the `_id` the client drew for its order and
 * `archived_at` from the server's clock, then `$merge` into the archive: matched on the unique
 * `numero_commande`, existing documents kept, missing ones inserted. It returns nothing; the
 * documents keep the archive's schema exactly (no field beyond what the client path writes).
 * Pure.
 *
 * @param orders Each order's `_id` and the archive `_id` drawn for it.
 * @param names The collection names.
 * @param options Who archives, the delivered status, incomplete orders.
 * @returns The pipeline, to run on the orders collection.
 */
export function mergePipeline(
  orders: ReadonlyArray<{ _id: unknown; archiveId: ObjectId }>,
  names: CollectionNames,
  options: MergeOptions,
): Document[] {
  const ids = orders.map((order) => order._id);
  const [select, ...enrich] = enrichmentPipeline(
    { ids, status: options.deliveredStatus },
    names,
  );
  const archivable: Document = { invalid: { $size: 0 } };
  if (!options.allowIncomplete) archivable.complete = true;
  return [
    select!,
    ..._antiJoin(names),
    { $match: { _archived: { $size: 0 } } },
    ...enrich,
    { $match: archivable },
    { $project: { invalid: 0 } },
    {
      $addFields: {
        _id: {
          $arrayElemAt: [
            { $literal: orders.map((order) => order.archiveId) },
            { $indexOfArray: [{ $literal: ids }, "$order_id"] },
          ],
        },
        archived_at: "$$NOW",
        archived_by: options.archivedBy,
      },
    },
    {
      $merge: {
        into: names.archive,
        on: "numero_commande",
        whenMatched: "keepExisting",
        whenNotMatched: "insert",
      },
    },
  ];
}

function _antiJoin(names: CollectionNames): Document[] {
  return [{
    $lookup: {
      from: names.archive,
      localField: "numero_commande",
      foreignField: "numero_commande",
      as: "_archived",
    },
  }];
}

/** What the outcome read compares against. */
export interface OutcomeOptions {
  /** The archive `_id`s drawn for this call's orders (empty in a dry run). */
  archiveIds: readonly ObjectId[];
  /** How long ago, in ms, the merge began: older archive documents were there before it. */
  sinceMs: number;
  /** The delivered status, when orders of another status are to be left alone. */
  deliveredStatus?: string;
}

/**
 * The small read that tells what became of each order: `s` is `ours` (archived by this call:
 * its archive document's `_id` is one drawn for it), `before` (archived by someone else before
 * this call), `duplicate` (by a concurrent writer that won the race), `gone` (no longer
 * delivered) or `open` (not archived: then with `numero_commande`, `invalid`, `missing` and
 * `missing_menu_ids`, the enrichment's own verdict). The joins into the references run only for
 * open orders. A few dozen bytes per order. Pure.
 *
 * @param ids The orders' `_id`s.
 * @param names The collection names.
 * @param options Our archive ids, the merge's start, the delivered status.
 * @returns The pipeline, to run on the orders collection.
 */
export function outcomePipeline(
  ids: readonly unknown[],
  names: CollectionNames,
  options: OutcomeOptions,
): Document[] {
  const archived = { $gt: [{ $size: "$_archived" }, 0] };
  const branches: Document[] = [
    { case: { $in: ["$_a._id", { $literal: [...options.archiveIds] }] }, then: "ours" },
    {
      case: archived,
      then: {
        $cond: [
          { $lt: ["$_a.archived_at", { $subtract: ["$$NOW", options.sinceMs] }] },
          "before",
          "duplicate",
        ],
      },
    },
  ];
  if (options.deliveredStatus !== undefined) {
    branches.push({ case: { $ne: ["$status", options.deliveredStatus] }, then: "gone" });
  }
  const open = { $eq: ["$_s", "open"] };
  const ifOpen = (value: unknown) => ({ $cond: [open, value, "$$REMOVE"] });
  return [
    { $match: { _id: { $in: [...ids] } } },
    ..._antiJoin(names),
    { $addFields: { _a: { $arrayElemAt: ["$_archived", 0] } } },
    { $addFields: { _s: { $switch: { branches, default: "open" } } } },
    // No references, nothing to join: the lookups skip the orders already settled.
    {
      $project: {
        _s: 1,
        numero_commande: 1,
        status: 1,
        date_commande: 1,
        date_livraison: 1,
        client_id: ifOpen("$client_id"),
        livreur_id: ifOpen("$livreur_id"),
        restaurant_id: ifOpen("$restaurant_id"),
        items: ifOpen("$items"),
      },
    },
    ...classificationStages(names, { _s: 1 }),
    {
      $project: {
        _id: 1,
        s: "$_s",
        numero_commande: ifOpen("$numero_commande"),
        invalid: ifOpen("$invalid"),
        missing: ifOpen("$missing"),
        missing_menu_ids: ifOpen("$missing_menu_ids"),
      },
    },
  ];
}

const _counter = { incomplete: "incomplete", invalid: "invalid", error: "errors" } as const;

function _isNumber(value: unknown): value is string {
  return typeof value === "string" && value.length > 0;
}

function _numberOf(value: unknown): string | null {
  return _isNumber(value) ? value : null;
}

function _key(id: unknown): string {
  // ObjectIds, strings and numbers as ids: their string form with the type, so "1" ≠ 1.
  return `${typeof id}:${String(id)}`;
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

function _describeMissing(document: { missing?: unknown; missing_menu_ids?: unknown }): string {
  const missing = (document.missing as string[]).filter((name) => name !== "menu");
  const menuIds = (document.missing_menu_ids as unknown[] | undefined) ?? [];
  if (menuIds.length > 0) {
    missing.push(`menu item${menuIds.length > 1 ? "s" : ""} ${menuIds.map(String).join(", ")}`);
  }
  return missing.join(", ");
}
