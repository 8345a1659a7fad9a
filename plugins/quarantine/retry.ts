/**
 * Runs `archiver quarantine retry`: archives now, through the shared core, the quarantined orders
 * named (or all, or those of one reason), then says what is still not archived and why. Exit 0
 * when every retried order left the quarantine, 1 when some remain or were not found.
 *
 * @module
 */

import { archiveOrders, type ArchivePath } from "../../core/archive/archiver.ts";
import { ensureArchiveIndex } from "../../core/archive/archive_index.ts";
import {
  emptyReasonCounts,
  QUARANTINE_REASONS,
  type QuarantineDocument,
  type QuarantineReason,
} from "../../core/archive/quarantine.ts";
import { retryTransient } from "../../core/mongo/retry.ts";
import { ConfigError, ExitCode } from "../../core/runtime/errors.ts";
import type { PluginContext } from "../../core/runtime/plugin.ts";
import { formatEntryTable } from "./entry_view.ts";
import { reasonFlag } from "./flags.ts";
import { describeSelector, type OrderArgument, parseOrderArguments } from "./order_argument.ts";
import {
  openSession,
  operatorName,
  type QuarantineConfig,
  type QuarantineSession,
  runRecordedAction,
} from "./session.ts";

/** The flags of `retry`. */
export interface RetryFlags {
  all?: boolean;
  reason?: string;
}

/** The settings `retry` reads. */
export interface RetryConfig extends QuarantineConfig {
  retryInterval: number;
  archivePath: ArchivePath;
}

/** Which orders a retry takes, checked before it starts. */
export interface RetryPlan {
  /** The orders named, when named. */
  orders?: OrderArgument[];
  /** Every order of this reason (with or without `--all`). */
  reason?: QuarantineReason;
}

/** What a retry did. */
export interface RetrySummary {
  /** Orders handed to the archiving core. */
  retried: number;
  /** Written to the archive now. */
  archived: number;
  /** Found archived already (by another process), and released. */
  alreadyArchived: number;
  /** No longer delivered or gone from the source, and released. */
  gone: number;
  /** Still in the quarantine, by reason. */
  still: Record<QuarantineReason, number>;
  /** The first of those still there (at most 100). */
  stillSample: QuarantineDocument[];
  /** Arguments the quarantine held no order for. */
  notFound: OrderArgument[];
}

const _CHUNK = 1000;
const _SAMPLE = 100;

/**
 * Checks the arguments: orders named, or `--all`, or `--reason`.
 *
 * @param ids The arguments.
 * @param flags The flags.
 * @returns The plan.
 * @throws {ConfigError} When none or both are given, or an argument parses to nothing.
 */
export function planRetry(ids: readonly string[], flags: RetryFlags): RetryPlan {
  const reason = reasonFlag(flags.reason);
  if (ids.length > 0 && (flags.all || reason)) {
    throw new ConfigError(
      `Give orders to retry, or --all / --reason, not both (${ids.length} named with ${
        flags.all ? "--all" : "--reason"
      })`,
    );
  }
  if (ids.length === 0 && !flags.all && !reason) {
    throw new ConfigError(
      "Say which orders to retry: their _ids or numbers, --all, or --reason <reason>",
    );
  }
  return ids.length > 0 ? { orders: parseOrderArguments(ids) } : { reason };
}

/**
 * Retries the orders of the plan, prints what became of them, records the action.
 *
 * @param ctx The plugin context.
 * @param config The resolved settings.
 * @param plan What to retry.
 */
export async function runRetry(
  ctx: PluginContext,
  config: RetryConfig,
  plan: RetryPlan,
): Promise<void> {
  const session = await openSession(ctx, config);
  await runRecordedAction(ctx, session, {
    name: "retry",
    user: operatorName(ctx.env),
    runsCollection: config.runsCollection,
    timeoutMs: config.operationTimeout,
    work: () => _retry(session, config, plan, ctx.lifecycle.signal),
    exitCode: (summary) => {
      const still = Object.values(summary.still).reduce((a, b) => a + b, 0);
      return still > 0 || summary.notFound.length > 0 ? ExitCode.partialFailure : ExitCode.ok;
    },
    report: (summary) => _report(ctx, session, summary),
    figures: (summary) => ({
      orders_requested: summary?.retried ?? 0,
      orders_archived: summary?.archived ?? 0,
      orders_released: 0,
      orders_still_quarantined: summary?.still ?? emptyReasonCounts(),
      orders_not_found: summary?.notFound.length ?? 0,
    }),
  });
}

async function _retry(
  session: QuarantineSession,
  config: RetryConfig,
  plan: RetryPlan,
  signal: AbortSignal,
): Promise<RetrySummary> {
  const { db, names, log, quarantine } = session;
  const summary: RetrySummary = {
    retried: 0,
    archived: 0,
    alreadyArchived: 0,
    gone: 0,
    still: emptyReasonCounts(),
    stillSample: [],
    notFound: [],
  };
  await retryTransient(
    "Creating the archive index",
    () => ensureArchiveIndex(db.collection(names.archive)),
    { log, signal },
  );
  for await (const chunk of _chunks(session, plan, summary)) {
    if (signal.aborted) break;
    const outcome = await archiveOrders(chunk, {
      db,
      names,
      log,
      signal,
      quarantine,
      archivedBy: "batch",
      deliveredStatus: config.deliveredStatus,
      operationTimeoutMs: config.operationTimeout,
      path: config.archivePath,
    });
    // What is still there, as the server says: the core released what left.
    const still = await quarantine.entries(chunk.map((order) => order._id));
    summary.retried += chunk.length;
    summary.archived += outcome.archived;
    summary.alreadyArchived += outcome.alreadyArchived + outcome.duplicates;
    summary.gone += chunk.length - outcome.archived - outcome.alreadyArchived -
      outcome.duplicates - still.length;
    for (const entry of still) {
      if (entry.reason in summary.still) summary.still[entry.reason]++;
      if (summary.stillSample.length < _SAMPLE) summary.stillSample.push(entry);
    }
  }
  summary.gone = Math.max(0, summary.gone);
  return summary;
}

async function* _chunks(
  session: QuarantineSession,
  plan: RetryPlan,
  summary: RetrySummary,
): AsyncGenerator<Array<{ _id: unknown; numero_commande: string | null }>> {
  if (!plan.orders) {
    yield* session.quarantine.chunks({ reason: plan.reason, chunkSize: _CHUNK });
    return;
  }
  const found: Array<{ _id: unknown; numero_commande: string | null }> = [];
  for (const order of plan.orders) {
    const entries = await session.quarantine.find(order.selector);
    if (entries.length === 0) summary.notFound.push(order);
    for (const entry of entries) {
      found.push({ _id: entry._id, numero_commande: entry.numero_commande ?? null });
    }
  }
  for (let at = 0; at < found.length; at += _CHUNK) yield found.slice(at, at + _CHUNK);
}

function _report(ctx: PluginContext, session: QuarantineSession, summary: RetrySummary): void {
  const still = Object.values(summary.still).reduce((a, b) => a + b, 0);
  const byReason = QUARANTINE_REASONS.filter((r) => summary.still[r] > 0)
    .map((r) => `${r} ${summary.still[r]}`).join(", ");
  const line = `Retried ${summary.retried} quarantined ${
    summary.retried === 1 ? "order" : "orders"
  }: ${summary.archived} archived, ${summary.alreadyArchived} already archived, ${summary.gone} no longer delivered, ${still} still quarantined${
    byReason ? ` (${byReason})` : ""
  }`;
  const properties = {
    orders_retried: summary.retried,
    orders_archived: summary.archived,
    orders_already_archived: summary.alreadyArchived,
    orders_gone: summary.gone,
    orders_still_quarantined: still,
    orders_not_found: summary.notFound.length,
  };
  if (still > 0) session.log.warn(`⚠️ ${line}`, properties);
  else session.log.info(`✅ ${line}`, properties);
  for (const order of summary.notFound) {
    session.log.error(
      `❌ No order with ${
        describeSelector(order.selector)
      } is in the quarantine ${session.names.quarantine}: not retried`,
    );
  }
  const lines = [line];
  if (still > 0) {
    lines.push(
      "",
      formatEntryTable(summary.stillSample, {
        total: still,
        title: still > summary.stillSample.length
          ? `Still quarantined, the first ${summary.stillSample.length} of ${still}:`
          : "Still quarantined:",
      }),
    );
  }
  if (summary.notFound.length > 0) {
    lines.push(
      "",
      "Not in the quarantine:",
      ...summary.notFound.map((order) => `  ${describeSelector(order.selector)}`),
    );
  }
  ctx.out(lines.join("\n"));
}
