/**
 * Runs `archiver batch`: streams delivered orders in the date window with a cursor, archives them
 * batch by batch through the shared core, and reports. Memory stays flat: only one batch of
 * order references and documents is held at a time.
 *
 * @module
 */

import type { Document } from "mongodb";
import { resolve } from "node:path";
import type { ArchivePath } from "../../core/archive/archiver.ts";
import { backfill, type BackfillResult } from "../../core/archive/backfill.ts";
import { ensureArchiveIndex } from "../../core/archive/archive_index.ts";
import { checkWritableFolder } from "../../core/runtime/atomic_file.ts";
import { writeExtendedJson } from "../../core/runtime/extended_json.ts";
import { type ProgressBar, progressBar } from "../../core/runtime/progress.ts";
import { type BatchReport, emptyReport, saveBatchReport } from "../../core/archive/report.ts";
import { collectionNames } from "../../core/archive/collections.ts";
import type { GlobalConfig } from "../../core/runtime/config.ts";
import { parseDateBound } from "../../core/runtime/dates.ts";
import {
  ArchiverError,
  ConfigError,
  ExitCode,
  exitCodeOf,
  UnreachableError,
} from "../../core/runtime/errors.ts";
import { ShutdownRequested } from "../../core/runtime/lifecycle.ts";
import { writeBatchMetrics } from "../../core/archive/batch_metrics.ts";
import { Quarantine } from "../../core/archive/quarantine.ts";
import { recordBatchRun } from "../../core/archive/history.ts";
import { connectMongo } from "../../core/mongo/client.ts";
import { describeError, errorKind } from "../../core/mongo/errors.ts";
import {
  explainRefusal,
  isUnauthorized,
  privilegeTarget,
  requiredPrivileges,
} from "../../core/mongo/privileges.ts";
import { retryTransient } from "../../core/mongo/retry.ts";
import { integer } from "../../core/runtime/parse.ts";
import type { PluginContext } from "../../core/runtime/plugin.ts";
import { formatReport } from "./report_table.ts";

/** The flags of one run. */
export interface BatchFlags {
  dryRun?: boolean;
  dateFrom?: string;
  dateTo?: string;
  limit?: string;
  allowIncomplete?: boolean;
  export?: string;
  json?: boolean;
  metricsFile?: string;
  exportSample: number;
}

/** The batch settings as resolved. */
export interface BatchConfig extends GlobalConfig {
  batchSize: number;
  reportFile: string;
  retryInterval: number;
  metricsFile: string;
  archivePath: ArchivePath;
}

/** What a run will do, checked before anything starts. */
export interface BatchPlan {
  from?: Date;
  to?: Date;
  limit: number;
  exportPath?: string;
}

/**
 * Checks the flags and works out the window, limit and export path, before the command starts
 * (so a bad flag writes nothing, not even a log file).
 *
 * @param flags The command's flags.
 * @param cwd The working folder.
 * @returns The plan.
 * @throws {ConfigError} On a bad date, window, limit or export folder.
 */
export async function planBatch(flags: BatchFlags, cwd: string): Promise<BatchPlan> {
  const bound = (flag: string, raw: string | undefined) => {
    if (raw === undefined) return undefined;
    try {
      return parseDateBound(raw);
    } catch (error) {
      throw new ConfigError(
        `Invalid ${flag} ${JSON.stringify(raw)}: expected ${(error as Error).message}`,
      );
    }
  };
  const from = bound("--date-from", flags.dateFrom)?.start;
  const to = bound("--date-to", flags.dateTo)?.end;
  if (from && to && from >= to) {
    throw new ConfigError(
      `Invalid date window: --date-from ${JSON.stringify(flags.dateFrom)} is not before --date-to ${
        JSON.stringify(flags.dateTo)
      }`,
    );
  }
  let limit = Infinity;
  if (flags.limit !== undefined) {
    try {
      limit = integer({ min: 1 })(flags.limit);
    } catch (error) {
      throw new ConfigError(
        `Invalid --limit ${JSON.stringify(flags.limit)}: expected ${(error as Error).message}`,
      );
    }
  }
  const exportPath = flags.export === undefined ? undefined : resolve(cwd, flags.export);
  if (exportPath) await checkWritableFolder(exportPath, "--export");
  if (flags.metricsFile && flags.metricsFile.trim() !== "off") {
    await checkWritableFolder(resolve(cwd, flags.metricsFile), "--metrics-file", flags.metricsFile);
  }
  return { from, to, limit, exportPath };
}

/**
 * Runs a batch: connect, select, archive batch by batch, report; then, with `--metrics-file`,
 * writes the run's metrics whatever its end (a thrown error records its exit code too).
 *
 * @param ctx The plugin context.
 * @param config The resolved settings.
 * @param flags The command's flags.
 * @param plan What {@link planBatch} worked out.
 * @throws {ConfigError} On a missing folder for the metrics file, before connecting (exit 2).
 */
export async function runBatch(
  ctx: PluginContext,
  config: BatchConfig,
  flags: BatchFlags,
  plan: BatchPlan,
): Promise<void> {
  // A dry run writes nothing, not even its metrics.
  const metricsPath = config.metricsFile && !flags.dryRun
    ? resolve(ctx.cwd, config.metricsFile)
    : undefined;
  if (metricsPath) {
    await checkWritableFolder(metricsPath, "the metrics file", config.metricsFile);
  }
  const started = Date.now();
  const run: { report?: BatchReport } = {};
  let exitCode: number = ExitCode.ok;
  try {
    await _runBatch(ctx, config, flags, plan, run);
    exitCode = ctx.lifecycle.exitCode;
  } catch (error) {
    exitCode = error instanceof ShutdownRequested ? ExitCode.interrupted : exitCodeOf(error);
    throw error;
  } finally {
    if (metricsPath) {
      try {
        await writeBatchMetrics(metricsPath, {
          finishedAt: new Date(),
          durationSeconds: (Date.now() - started) / 1000,
          exitCode,
          report: run.report ?? emptyReport(),
        });
      } catch (error) {
        ctx.logger.getChild("batch").error(
          `❌ Could not write the metrics file ${metricsPath}: ${describeError(error)}`,
        );
      }
    }
  }
}

async function _runBatch(
  ctx: PluginContext,
  config: BatchConfig,
  flags: BatchFlags,
  plan: BatchPlan,
  run: { report?: BatchReport },
): Promise<void> {
  const reportPath = resolve(ctx.cwd, config.reportFile);
  if (!flags.dryRun) await checkWritableFolder(reportPath, "the report file");

  const log = ctx.logger.getChild("batch");
  const signal = ctx.lifecycle.signal;
  const startedAt = new Date();
  const client = await connectMongo(config, { signal });
  ctx.lifecycle.onStop(() => client.close());
  const db = client.db(config.db);
  const names = collectionNames(config);
  const sample: Document[] = [];
  let progress: ProgressBar | undefined;
  let result: BackfillResult | undefined;
  let failure: unknown;
  try {
    if (!flags.dryRun) {
      await retryTransient(
        "Creating the archive index",
        () => ensureArchiveIndex(db.collection(names.archive)),
        { log, signal },
      );
    }
    const quarantine = new Quarantine(db.collection(names.quarantine), {
      retryIntervalMs: config.retryInterval,
      writeTimeoutMs: config.operationTimeout,
    });
    result = await backfill({
      db,
      names,
      log,
      signal,
      quarantine,
      operationTimeoutMs: config.operationTimeout,
      retryDeadlineMs: config.operationTimeout,
      archivedBy: "batch",
      path: config.archivePath,
      allowIncomplete: flags.allowIncomplete,
      dryRun: flags.dryRun,
      deliveredStatus: config.deliveredStatus,
      from: plan.from,
      to: plan.to,
      batchSize: config.batchSize,
      limit: plan.limit,
      onStart: async (total) => {
        log.info(`📦 Found ${total} delivered orders${_windowText(plan)}`, {
          orders_delivered: total,
        });
        if (ctx.interactive && total > 0) progress = await progressBar(total, "📊");
      },
      onProgress: (processed, total) => {
        progress?.update(processed);
        log.info(`📊 Progress: ${processed}/${total} processed`, { processed, total });
      },
      // On the server path the archive documents stay there: only the export's are read back.
      documentsWanted: () => plan.exportPath ? Math.max(0, flags.exportSample - sample.length) : 0,
      onDocuments: (documents) => {
        for (const document of documents) {
          if (sample.length >= flags.exportSample) break;
          sample.push(document);
        }
      },
    });
  } catch (error) {
    failure = error;
  } finally {
    progress?.stop();
  }
  const report = result?.report ?? emptyReport();
  const interrupted = result?.interrupted ?? signal.aborted;
  report.batch_duration_ms = Date.now() - startedAt.getTime();
  run.report = report;
  _logSummary(log, report, flags.dryRun === true);
  ctx.out(flags.json ? JSON.stringify(report) : formatReport(report, { dryRun: flags.dryRun }));
  if (!flags.dryRun) {
    await saveBatchReport(reportPath, {
      ...report,
      started_at: startedAt.toISOString(),
      finished_at: new Date().toISOString(),
      dry_run: false,
    });
  }
  if (plan.exportPath) {
    await writeExtendedJson(plan.exportPath, sample);
    log.info(`Wrote ${sample.length} sample documents to ${plan.exportPath}`);
  }

  // A missing privilege: name it (from connectionStatus), never only "not authorized".
  const lacking = failure !== undefined && isUnauthorized(failure)
    ? await explainRefusal(
      client.db("admin"),
      requiredPrivileges(privilegeTarget(config), { command: "batch" }),
    )
    : undefined;
  const error = failure === undefined ? undefined : lacking
    ? new ConfigError(
      `MongoDB refused the batch: ${lacking} (Unauthorized, code 13); archiver setup role grants what the tool needs`,
      { cause: failure },
    )
    : _batchError(failure);
  // Orders the operator must look at: their own data or a number another order holds.
  const failed = report.orders_invalid + report.orders_conflicts + report.orders_errors;
  const exitCode = error !== undefined
    ? exitCodeOf(error)
    : interrupted
    ? ExitCode.interrupted
    : failed > 0
    ? ExitCode.partialFailure
    : ExitCode.ok;
  if (!flags.dryRun) {
    await recordBatchRun(db.collection(config.runsCollection), report, {
      startedAt,
      exitCode,
      log,
      timeoutMs: config.operationTimeout,
    });
  }
  if (error !== undefined) throw error;
  if (interrupted) log.warn("Batch interrupted: run it again to archive the rest");
  else if (failed > 0) {
    log.error(
      `❌ ${failed} orders could not be archived (invalid ${report.orders_invalid}, conflicts ${report.orders_conflicts}, errors ${report.orders_errors}): see archiver quarantine list`,
    );
  }
  ctx.lifecycle.exitCode = exitCode;
}

/** What a failed pass ends with: its own error when it has a code, else what it means. */
function _batchError(failure: unknown): unknown {
  if (failure instanceof ArchiverError) return failure;
  const kind = errorKind(failure);
  if (kind === "transient") {
    return new UnreachableError(`Lost MongoDB during the batch: ${describeError(failure)}`, {
      cause: failure,
    });
  }
  if (kind === "deployment") {
    return new ConfigError(`MongoDB refused the batch: ${describeError(failure)}`, {
      cause: failure,
    });
  }
  return failure;
}

function _logSummary(log: PluginContext["logger"], report: BatchReport, dryRun: boolean) {
  const properties = { ...report, dry_run: dryRun };
  if (dryRun) {
    log.info(
      `🔍 Dry run: would archive ${report.orders_archived} orders, nothing written`,
      properties,
    );
  } else {
    log.info(`✅ Archived ${report.orders_archived} orders`, properties);
  }
}

function _windowText(plan: BatchPlan): string {
  if (!plan.from && !plan.to) return "";
  const from = plan.from ? ` from ${plan.from.toISOString()}` : "";
  const to = plan.to ? ` before ${plan.to.toISOString()}` : "";
  return ` delivered${from}${to}`;
}
