/**
 * Runs `archiver verify`: counts what became of every delivered order, and with `--repair`
 * archives the missing ones through the shared core, then counts again. Exit 0 when nothing is
 * missing, 1 when some delivered order is neither archived, quarantined nor released (2 stays a
 * bad flag or setting, so a script tells "orders missing" from "verify could not run"). The
 * archive's anomalies are reported, never an error.
 *
 * @module
 */

import type { Collection } from "mongodb";
import { archiveOrders } from "../../core/archive/archiver.ts";
import { collectionNames } from "../../core/archive/collections.ts";
import { ensureArchiveIndex } from "../../core/archive/archive_index.ts";
import {
  ARCHIVE_ANOMALIES,
  verifyArchive,
  type VerifyOptions,
  type VerifyReport,
} from "../../core/archive/verify.ts";
import { QUARANTINE_REASONS } from "../../core/archive/quarantine.ts";
import { connectMongo } from "../../core/mongo/client.ts";
import { describeError, isTransientError } from "../../core/mongo/errors.ts";
import { retryTransient } from "../../core/mongo/retry.ts";
import type { GlobalConfig } from "../../core/runtime/config.ts";
import { parseDateBound } from "../../core/runtime/dates.ts";
import { ConfigError, ExitCode, UnreachableError } from "../../core/runtime/errors.ts";
import type { PluginContext } from "../../core/runtime/plugin.ts";
import { formatVerifyReport, plural, type RepairSummary } from "./table.ts";

/** The flags of one run. */
export interface VerifyFlags {
  since?: string;
  repair?: boolean;
  json?: boolean;
}

/** The verify settings as resolved. */
export interface VerifyConfig extends GlobalConfig {
  /** Orders read and looked up per round trip. */
  chunkSize: number;
}

/** What a run will look at, checked before anything starts. */
export interface VerifyPlan {
  /** Orders delivered at or after this time; every delivered order when absent. */
  since?: Date;
}

/**
 * Checks the flags before the command starts, so a bad one writes nothing, not even a log file.
 *
 * @param flags The command's flags.
 * @returns The plan.
 * @throws {ConfigError} On a bad `--since`.
 */
export function planVerify(flags: VerifyFlags): VerifyPlan {
  if (flags.since === undefined) return {};
  try {
    return { since: parseDateBound(flags.since).start };
  } catch (error) {
    throw new ConfigError(
      `Invalid --since ${JSON.stringify(flags.since)}: expected ${(error as Error).message}`,
      { cause: error },
    );
  }
}

/**
 * Runs a verification: connect, count (repair and count again), print, set the exit code.
 *
 * @param ctx The plugin context.
 * @param config The resolved settings.
 * @param flags The command's flags.
 * @param plan The checked `--since` bound.
 */
export async function runVerify(
  ctx: PluginContext,
  config: VerifyConfig,
  flags: VerifyFlags,
  plan: VerifyPlan,
): Promise<void> {
  const log = ctx.logger.getChild("verify");
  const signal = ctx.lifecycle.signal;
  const client = await connectMongo(config, { signal });
  ctx.lifecycle.onStop(() => client.close());
  const db = client.db(config.db);
  const names = collectionNames(config);
  const options: VerifyOptions = {
    deliveredStatus: config.deliveredStatus,
    since: plan.since,
    chunkSize: config.chunkSize,
    operationTimeoutMs: config.operationTimeout,
    log,
    signal,
  };

  let report: VerifyReport;
  let repaired: RepairSummary | undefined;
  try {
    if (flags.repair) {
      await retryTransient(
        "Creating the archive index",
        () => ensureArchiveIndex(db.collection(names.archive)),
        { log, signal },
      );
      const summary: RepairSummary = { found: 0, archived: 0, quarantined: 0 };
      const before = await verifyArchive(db, names, {
        ...options,
        onMissing: async (refs) => {
          const outcome = await archiveOrders(refs, {
            db,
            names,
            log,
            signal,
            archivedBy: "batch",
            deliveredStatus: config.deliveredStatus,
            operationTimeoutMs: config.operationTimeout,
          });
          summary.found += refs.length;
          summary.archived += outcome.archived;
          summary.quarantined += outcome.incomplete + outcome.invalid + outcome.conflicts +
            outcome.errors;
        },
      });
      repaired = summary;
      log.info(
        `🔧 Repaired ${
          plural(before.totals.missing, "missing order")
        }: ${summary.archived} archived, ` +
          `${summary.quarantined} quarantined`,
        {
          orders_missing: before.totals.missing,
          orders_archived: summary.archived,
          orders_quarantined: summary.quarantined,
        },
      );
    }
    if (!flags.repair) await _warnWithoutOrderIdIndex(db.collection(names.archive), log);
    report = await verifyArchive(db, names, options);
  } catch (error) {
    if (isTransientError(error) && !signal.aborted) {
      throw new UnreachableError(`Lost MongoDB during the verification: ${describeError(error)}`, {
        cause: error,
      });
    }
    throw error;
  }

  _logSummary(log, report);
  ctx.out(
    flags.json
      ? JSON.stringify(repaired ? { ...report, repaired } : report)
      : formatVerifyReport(report, { repaired }),
  );
  // Documented: exit 1, "some delivered orders are missing" (the operator has something to fix),
  // never 2, which is a bad flag or setting.
  if (report.totals.missing > 0) ctx.lifecycle.exitCode = ExitCode.partialFailure;
}

// Without an index on order_id, each chunk's lookup reads the archive whole: say so, once.
async function _warnWithoutOrderIdIndex(
  archive: Collection,
  log: PluginContext["logger"],
): Promise<void> {
  let indexes: Array<{ key: Record<string, unknown> }>;
  try {
    indexes = await archive.indexes();
  } catch {
    return; // No archive yet (or no right to list its indexes): nothing to say.
  }
  if (indexes.some((index) => Object.keys(index.key)[0] === "order_id")) return;
  log.warn(
    `⚠️ The archive ${archive.collectionName} has no index on order_id: each chunk reads it whole; ` +
      "run archiver batch or archiver verify --repair once to create it",
    { archive: archive.collectionName },
  );
}

function _logSummary(log: PluginContext["logger"], report: VerifyReport): void {
  const { totals } = report;
  const quarantined = QUARANTINE_REASONS.reduce((sum, r) => sum + totals.quarantined[r], 0);
  const anomalies = ARCHIVE_ANOMALIES.reduce((sum, a) => sum + report.anomalies[a].count, 0);
  const properties = {
    orders_delivered: totals.delivered,
    orders_archived: totals.archived,
    orders_quarantined: quarantined,
    orders_released: totals.released,
    orders_missing: totals.missing,
    orders_purged: totals.purged,
    archive_anomalies: anomalies,
  };
  log.info(
    `🔍 Verified ${plural(totals.delivered, "delivered order")}: ${totals.archived} archived, ` +
      `${quarantined} quarantined, ${totals.released} released, ${totals.missing} missing` +
      (totals.purged > 0 ? ` (${totals.purged} of the archived purged from the source)` : ""),
    properties,
  );
  if (totals.missing > 0) {
    log.error(
      `❌ ${
        plural(totals.missing, "delivered order")
      } neither archived, quarantined nor released: ${report.missing_sample.join(", ")}${
        totals.missing > report.missing_sample.length ? ", …" : ""
      }`,
      { orders_missing: totals.missing },
    );
  }
  for (const anomaly of ARCHIVE_ANOMALIES) {
    const { count, sample } = report.anomalies[anomaly];
    if (count === 0) continue;
    log.warn(
      `⚠️ Archive anomaly ${anomaly}: ${count} (${sample.join(", ")}${
        count > sample.length ? ", …" : ""
      })`,
      { anomaly, count },
    );
  }
}
