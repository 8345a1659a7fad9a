/**
 * The one core both modes run: given orders (from batch's cursor or watch's change events), skip
 * those already archived, enrich the rest in one aggregation, set incomplete ones aside, and write
 * the others through the idempotent sink.
 *
 * @module
 */

import type { Db, Document, ObjectId } from "mongodb";
import type { Logger } from "@logtape/logtape";
import type { CollectionNames } from "./collections.ts";
import { enrichmentPipeline } from "./enrich.ts";
import { retryTransient } from "../mongo/retry.ts";
import { writeArchive } from "./sink.ts";

/** An order as the modes hand it over: its id and number. */
export interface OrderRef {
  /** The order's `_id`. */
  _id: ObjectId;
  /** Its unique number, the archive's key. */
  numero_commande: string;
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
  /** Archive incomplete orders too, marked `complete: false`. @default false */
  allowIncomplete?: boolean;
  /** Do everything but write. @default false */
  dryRun?: boolean;
  /** Stops retries when aborted. */
  signal?: AbortSignal;
  /** Called on each transient failure, to count connection errors. */
  onTransientError?: (error: unknown) => void;
  /** Order numbers already reported incomplete in this run, so each is logged once. */
  reportedIncomplete?: Set<string>;
}

/** What archiving a set of orders did. */
export interface ArchiveOutcome {
  /** Orders that were already in the archive before enrichment. */
  alreadyArchived: number;
  /** Orders enriched (the rest). */
  enriched: number;
  /** Orders written (or, in a dry run, that would be). */
  archived: number;
  /** Orders found in the archive when written. */
  duplicates: number;
  /** Incomplete orders (not written unless allowed). */
  incomplete: number;
  /** Orders that could not be written. */
  errors: number;
  /** The archive documents written (or that would be), for samples. */
  documents: Document[];
}

/**
 * Archives a set of orders. Costs at most three round trips however many orders: one read of the
 * archive's keys, one enrichment aggregation, one bulk write.
 *
 * @param orders The orders, with ids and numbers.
 * @param options Database, names, mode and flags.
 * @returns The counts and the documents.
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
    errors: 0,
    documents: [],
  };
  if (orders.length === 0) return outcome;
  const { db, names, log } = options;
  const archive = db.collection(names.archive);
  const retrying = { log, signal: options.signal, onTransientError: options.onTransientError };
  const numbers = orders.map((order) => order.numero_commande);
  const archived = new Set(
    (await retryTransient(
      "Reading archived order numbers",
      () =>
        archive.find({ numero_commande: { $in: numbers } }, {
          projection: { _id: 0, numero_commande: 1 },
          batchSize: numbers.length + 1,
        }).toArray(),
      retrying,
    )).map((doc) => doc.numero_commande as string),
  );
  outcome.alreadyArchived = archived.size;
  const ids = orders.filter((order) => !archived.has(order.numero_commande)).map((o) => o._id);
  if (ids.length === 0) return outcome;

  const enriched = await retryTransient("Enriching orders", () =>
    db.collection(names.orders)
      .aggregate(enrichmentPipeline({ ids }, names), { batchSize: ids.length + 1 })
      .toArray(), retrying);
  outcome.enriched = enriched.length;
  const archivedAt = new Date();
  const toWrite: Document[] = [];
  for (const document of enriched) {
    if (!document.complete) {
      outcome.incomplete++;
      const number = String(document.numero_commande);
      if (!options.reportedIncomplete?.has(number)) {
        options.reportedIncomplete?.add(number);
        log.warn(`⚠️ Order ${number} is incomplete: missing ${_describeMissing(document)}`, {
          numero_commande: number,
          missing: document.missing,
        });
      }
      if (!options.allowIncomplete) continue;
    }
    toWrite.push({ ...document, archived_at: archivedAt, archived_by: options.archivedBy });
  }
  outcome.documents = toWrite;
  if (options.dryRun) {
    outcome.archived = toWrite.length;
    return outcome;
  }
  const result = await writeArchive(archive, toWrite, {
    log,
    signal: options.signal,
    onTransientError: options.onTransientError,
  });
  outcome.archived = result.archived;
  outcome.duplicates = result.duplicates;
  outcome.errors = result.failed.length;
  return outcome;
}

function _describeMissing(document: Document): string {
  const missing = (document.missing as string[]).filter((name) => name !== "menu");
  const menuIds = (document.missing_menu_ids as unknown[] | undefined) ?? [];
  if (menuIds.length > 0) {
    missing.push(`menu item${menuIds.length > 1 ? "s" : ""} ${menuIds.map(String).join(", ")}`);
  }
  return missing.join(", ");
}
