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
import { type ProgressBar, progressBar, progressLogger } from "../../core/runtime/progress.ts";
import { counted } from "../../core/runtime/plural.ts";
import { type BatchReport, emptyReport, saveBatchReport } from "../../core/archive/report.ts";
import { collectionNames } from "../../core/archive/collections.ts";
import type { GlobalConfig } from "../../core/runtime/config.ts";
import { parseDateBound } from "../../core/runtime/dates.ts";
import { ArchiverError, ConfigError, ExitCode, exitCodeOf } from "../../core/runtime/errors.ts";
import { ShutdownRequested } from "../../core/runtime/lifecycle.ts";
import { writeBatchMetrics } from "../../core/archive/batch_metrics.ts";
import { Quarantine } from "../../core/archive/quarantine.ts";
import { recordBatchRun } from "../../core/archive/history.ts";
import { connectMongo } from "../../core/mongo/client.ts";
import { describeError, passFailure } from "../../core/mongo/errors.ts";
import { explainRefusal, isUnauthorized } from "../../core/mongo/privileges.ts";
import { privilegeTarget, requiredPrivileges } from "../../core/tool_privileges.ts";
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

/** What a run leaves for the report file and the metrics, whatever its end. */
interface _RunEnd {
  /** The figures so far (all zeros when it failed before counting). */
  report?: BatchReport;
  /** The exit code, once the run decided it. */
  exitCode?: number;
  /** Whether the pass ran to its end. */
  finished?: boolean;
  /** When the run started (after connecting). */
  startedAt?: Date;
  /** The report file, once its folder was checked. */
  reportPath?: string;
}

/**
 * Runs a batch: connect, select, archive batch by batch, report; then, whatever its end (a thrown
 * error or an interruption records its exit code too), saves the report with its exit code and
 * whether it finished, and with `--metrics-file` writes the run's metrics. A dry run saves
 * neither.
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
  const run: _RunEnd = {};
  let exitCode: number = ExitCode.ok;
  try {
    await _runBatch(ctx, config, flags, plan, run);
    exitCode = run.exitCode ?? ctx.lifecycle.exitCode;
  } catch (error) {
    exitCode = error instanceof ShutdownRequested ? ExitCode.interrupted : exitCodeOf(error);
    throw error;
  } finally {
    const log = ctx.logger.getChild("batch");
    const report = run.report ?? emptyReport();
    // Finished only as the run itself decided: an error after that (the export) ends it too.
    const finished = run.finished === true && exitCode === run.exitCode;
    if (run.reportPath && !flags.dryRun) {
      try {
        await saveBatchReport(run.reportPath, {
          ...report,
          started_at: (run.startedAt ?? new Date(started)).toISOString(),
          finished_at: new Date().toISOString(),
          dry_run: false,
          finished,
          exit_code: exitCode,
        });
      } catch (error) {
        log.error(
          `❌ Could not write the report file ${run.reportPath}: ${describeError(error)}`,
        );
      }
    }
    if (metricsPath) {
      try {
        await writeBatchMetrics(metricsPath, {
          finishedAt: new Date(),
          durationSeconds: (Date.now() - started) / 1000,
          exitCode,
          finished,
          report,
        });
      } catch (error) {
        log.error(`❌ Could not write the metrics file ${metricsPath}: ${describeError(error)}`);
      }
    }
  }
}

async function _runBatch(
  ctx: PluginContext,
  config: BatchConfig,
  flags: BatchFlags,
  plan: BatchPlan,
  run: _RunEnd,
): Promise<void> {
  const reportPath = resolve(ctx.cwd, config.reportFile);
  if (!flags.dryRun) await checkWritableFolder(reportPath, "the report file");
  run.reportPath = reportPath;

  const log = ctx.logger.getChild("batch");
  const signal = ctx.lifecycle.signal;
  const startedAt = new Date();
  run.startedAt = startedAt;
  const client = await connectMongo(config, { signal });
  ctx.lifecycle.onStop(() => client.close());
  const db = client.db(config.db);
  const names = collectionNames(config);
  const sample: Document[] = [];
  let progress: ProgressBar | undefined;
  let logProgress: ((processed: number, total: number) => void) | undefined;
  let result: BackfillResult | undefined;
  // The figures so far, kept when the pass fails part-way (what was archived stays archived).
  let partial: Readonly<BatchReport> | undefined;
  let delivered = 0;
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
        delivered = total;
        // Delivered orders, archived or not: the report's orders_found says how many were not.
        log.info(`📦 ${_deliveredText(total, plan)} to examine, archived or not`, {
          orders_delivered: total,
        });
        if (ctx.interactive && total > 0) progress = await progressBar(total, "📊");
        logProgress = progressLogger(log);
      },
      onProgress: (processed, total, report) => {
        partial = report;
        progress?.update(processed);
        logProgress?.(processed, total);
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
  const report: BatchReport = result?.report ??
    { ...emptyReport(), ...partial, orders_delivered: delivered };
  const interrupted = result?.interrupted ?? signal.aborted;
  report.batch_duration_ms = Date.now() - startedAt.getTime();
  run.report = report;

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
    : passFailure(failure, "the batch");
  // Orders the operator must look at: their own data or a number another order holds.
  const exitCode = error !== undefined
    ? exitCodeOf(error)
    : interrupted
    ? ExitCode.interrupted
    : report.orders_failed > 0
    ? ExitCode.partialFailure
    : ExitCode.ok;
  const finished = error === undefined && !interrupted;
  run.exitCode = exitCode;
  run.finished = finished;
  const status = { dry_run: flags.dryRun === true, finished, exit_code: exitCode };
  // One line says how the run ended: a success line only for a run that succeeded.
  const logged = _logOutcome(log, report, { ...status, error });
  ctx.out(
    flags.json
      ? JSON.stringify({ ...report, ...status })
      : formatReport(report, { dryRun: flags.dryRun, exitCode, finished }),
  );
  if (plan.exportPath) {
    await writeExtendedJson(plan.exportPath, sample);
    log.info(`Wrote ${counted(sample.length, "sample document")} to ${plan.exportPath}`);
  }
  if (!flags.dryRun) {
    // The run history holds what --json prints, whether the pass finished included.
    const recorded: BatchReport & { finished: boolean } = { ...report, finished };
    await recordBatchRun(db.collection(config.runsCollection), recorded, {
      startedAt,
      exitCode,
      log,
      timeoutMs: config.operationTimeout,
    });
  }
  if (error !== undefined) throw logged ? _alreadyLogged(error) : error;
  ctx.lifecycle.exitCode = exitCode;
}

/**
 * Logs the one line that says how a run ended, with its figures (which `logs check` counts):
 * `✅` only for a run that finished without a failed order; `❌` (ERROR) with the reason for one
 * that failed or left orders for the operator; `⚠️` for an interrupted one. An internal error is
 * left to the CLI, which logs it once.
 *
 * @returns Whether the run's error (if any) was logged here.
 */
function _logOutcome(
  log: PluginContext["logger"],
  report: BatchReport,
  status: { dry_run: boolean; finished: boolean; exit_code: number; error?: unknown },
): boolean {
  const { error, ...fields } = status;
  const properties = { ...report, ...fields };
  const archived = counted(report.orders_archived, "order");
  const dry = status.dry_run ? "Dry run" : "Batch";
  if (error !== undefined) {
    if (!(error instanceof ArchiverError)) return false;
    const done = status.dry_run ? `would have archived ${archived}` : `archived ${archived}`;
    log.error(
      `❌ ${dry} failed (exit ${status.exit_code}) after examining ${report.orders_examined} of ${
        counted(report.orders_delivered, "delivered order")
      } (${done}): ${error.message}`,
      properties,
    );
    return true;
  }
  if (!status.finished) {
    log.warn(
      `⚠️ ${dry} interrupted after examining ${report.orders_examined} of ${
        counted(report.orders_delivered, "delivered order")
      } (${status.dry_run ? "would archive" : "archived"} ${archived}): run it again for the rest`,
      properties,
    );
    return false;
  }
  const found = `${report.orders_found} not yet archived among ${
    counted(report.orders_delivered, "delivered order")
  }${
    report.orders_still_quarantined > 0
      ? `, ${report.orders_still_quarantined} still quarantined from before`
      : ""
  }`;
  if (report.orders_failed > 0) {
    const failed = `${
      counted(report.orders_failed, "order")
    } could not be archived (invalid ${report.orders_invalid}, conflicts ${report.orders_conflicts}, errors ${report.orders_errors}${
      report.orders_failed > report.orders_invalid + report.orders_conflicts + report.orders_errors
        ? `, still quarantined ${
          report.orders_failed - report.orders_invalid - report.orders_conflicts -
          report.orders_errors
        }`
        : ""
    }): see archiver quarantine list`;
    if (status.dry_run) {
      log.warn(
        `🔍 Dry run: would archive ${archived} (${found}); ${failed}; nothing written`,
        properties,
      );
    } else log.error(`❌ Archived ${archived} (${found}); ${failed}`, properties);
    return false;
  }
  if (status.dry_run) {
    log.info(`🔍 Dry run: would archive ${archived} (${found}), nothing written`, properties);
  } else log.info(`✅ Archived ${archived} (${found})`, properties);
  return false;
}

/** The same error, marked as logged so the CLI does not write it a second time. */
function _alreadyLogged(error: unknown): unknown {
  if (!(error instanceof ArchiverError) || error.logged) return error;
  return new ArchiverError(error.message, error.exitCode, { cause: error, logged: true });
}

/** `1957 delivered orders`, or `1957 orders delivered from … before …` in a window. */
function _deliveredText(total: number, plan: BatchPlan): string {
  if (!plan.from && !plan.to) return counted(total, "delivered order");
  const from = plan.from ? ` from ${plan.from.toISOString()}` : "";
  const to = plan.to ? ` before ${plan.to.toISOString()}` : "";
  return `${counted(total, "order")} delivered${from}${to}`;
}
