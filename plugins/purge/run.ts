/**
 * Runs `archiver purge`: checks the age is set, connects, settles what an interrupted run left,
 * purges chunk by chunk through the core (`core/archive/purge.ts`) with the throttle between
 * chunks, then reports (table or JSON), records the run and writes its metrics.
 *
 * @module
 */

import { BSON, type Document, type MongoClient } from "mongodb";
import { resolve } from "node:path";
import { collectionNames } from "../../core/archive/collections.ts";
import { recordPurgeRun } from "../../core/archive/history.ts";
import { emptyPurgeCounts, purgeArchived, type PurgeCounts } from "../../core/archive/purge.ts";
import { purgeChunkPipeline, type PurgeCriteria } from "../../core/archive/purge_query.ts";
import {
  emptyPauses,
  type PurgeReport,
  purgeReport,
  writePurgeMetrics,
} from "../../core/archive/purge_report.ts";
import { parseTimeWindow, type StopReason } from "../../core/archive/purge_throttle.ts";
import { ensureTtlIndexes, ttlIndexes } from "../../core/archive/retention.ts";
import { retryTransient } from "../../core/mongo/retry.ts";
import { connectMongo } from "../../core/mongo/client.ts";
import { describeError, passFailure } from "../../core/mongo/errors.ts";
import {
  explainRefusal,
  formatResource,
  isUnauthorized,
  missingPrivileges,
  readConnectionPrivileges,
} from "../../core/mongo/privileges.ts";
import { privilegeTarget, requiredPrivileges } from "../../core/tool_privileges.ts";
import { checkWritableFolder } from "../../core/runtime/atomic_file.ts";
import type { GlobalConfig } from "../../core/runtime/config.ts";
import { ConfigError, ExitCode, exitCodeOf } from "../../core/runtime/errors.ts";
import { ShutdownRequested } from "../../core/runtime/lifecycle.ts";
import { integer } from "../../core/runtime/parse.ts";
import type { PluginContext } from "../../core/runtime/plugin.ts";
import { purgeGate } from "./gate.ts";
import { formatPurgeReport } from "./report_table.ts";

/** The flags of one run. */
export interface PurgeFlags {
  dryRun?: boolean;
  rearchive?: boolean;
  limit?: string;
  json?: boolean;
}

/** The purge settings as resolved. */
export interface PurgeConfig extends GlobalConfig {
  olderThan: number;
  chunk: number;
  exclude: string;
  legalHoldField: string;
  maxLag: number;
  maxRate: number;
  window: string;
  runTime: number;
  archiveExpireAfter: number;
  runsExpireAfter: number;
  metricsFile: string;
}

/** What a run will do, checked before it starts. */
export interface PurgePlan {
  /** Archived orders looked at, at most. */
  limit: number;
}

/**
 * Checks the flags before the command starts.
 *
 * @param flags The command's flags.
 * @returns The plan.
 * @throws {ConfigError} On a bad `--limit`.
 */
export function planPurge(flags: PurgeFlags): PurgePlan {
  if (flags.limit === undefined) return { limit: Infinity };
  try {
    return { limit: integer({ min: 1 })(flags.limit) };
  } catch (error) {
    throw new ConfigError(
      `Invalid --limit ${JSON.stringify(flags.limit)}: expected ${(error as Error).message}`,
    );
  }
}

/**
 * Runs a purge, then writes its metrics whatever its end (not in a dry run).
 *
 * @param ctx The plugin context.
 * @param config The resolved settings.
 * @param flags The command's flags.
 * @param plan What {@link planPurge} worked out.
 * @throws {ConfigError} Without `--older-than`, or without the purge's privileges (exit 2).
 */
export async function runPurge(
  ctx: PluginContext,
  config: PurgeConfig,
  flags: PurgeFlags,
  plan: PurgePlan,
): Promise<void> {
  if (config.olderThan === 0) {
    throw new ConfigError(
      "Nothing is purged until --older-than (ARCHIVER_PURGE_AFTER) says how long after archiving an order may leave the source, such as 365d",
    );
  }
  const metricsPath = config.metricsFile && !flags.dryRun
    ? resolve(ctx.cwd, config.metricsFile)
    : undefined;
  if (metricsPath) await checkWritableFolder(metricsPath, "the metrics file", config.metricsFile);
  const run: { report?: PurgeReport } = {};
  let exitCode: number = ExitCode.ok;
  try {
    await _runPurge(ctx, config, flags, plan, run);
    exitCode = ctx.lifecycle.exitCode;
  } catch (error) {
    exitCode = error instanceof ShutdownRequested ? ExitCode.interrupted : exitCodeOf(error);
    throw error;
  } finally {
    if (metricsPath && run.report) {
      try {
        await writePurgeMetrics(metricsPath, run.report, { finishedAt: new Date(), exitCode });
      } catch (error) {
        ctx.logger.getChild("purge").error(
          `❌ Could not write the metrics file ${metricsPath}: ${describeError(error)}`,
        );
      }
    }
  }
}

async function _runPurge(
  ctx: PluginContext,
  config: PurgeConfig,
  flags: PurgeFlags,
  plan: PurgePlan,
  run: { report?: PurgeReport },
): Promise<void> {
  const log = ctx.logger.getChild("purge");
  const signal = ctx.lifecycle.signal;
  const startedAt = new Date();
  const criteria: PurgeCriteria = {
    archivedBefore: new Date(startedAt.getTime() - config.olderThan),
    legalHoldField: config.legalHoldField,
    exclude: config.exclude === ""
      ? undefined
      : BSON.EJSON.parse(config.exclude, { relaxed: false }),
  };
  const client = await connectMongo(config, { signal });
  ctx.lifecycle.onStop(() => client.close());
  const db = client.db(config.db);
  const names = collectionNames(config);
  const runId = `${_host()}:${Deno.pid}:${startedAt.toISOString()}`;
  const gate = purgeGate({
    admin: client.db("admin"),
    probe: db.collection(config.runsCollection),
    log,
    signal,
    startedAt,
    limits: {
      maxLagMs: config.maxLag,
      maxRate: config.maxRate,
      window: config.window === "" ? undefined : parseTimeWindow(config.window),
      runTimeMs: config.runTime,
    },
  });
  let counts: PurgeCounts = emptyPurgeCounts();
  let failure: unknown;
  let indexUsed: string | undefined;
  if (!flags.dryRun) await _checkPrivileges(client, config);
  try {
    if (!flags.dryRun) {
      // Retention of what the tool keeps: the run history, and purged orders' archive documents
      // when ARCHIVER_ARCHIVE_EXPIRE_AFTER is set.
      await retryTransient(
        "Creating the TTL indexes",
        () =>
          ensureTtlIndexes(
            { runs: db.collection(config.runsCollection), archive: db.collection(names.archive) },
            ttlIndexes({
              runsExpireAfterMs: config.runsExpireAfter,
              archiveExpireAfterMs: config.archiveExpireAfter,
              legalHoldField: config.legalHoldField,
            }),
          ),
        { log, signal },
      );
    }
    log.info(
      `🧹 ${
        flags.dryRun ? "Dry run: counting" : "Purging"
      } orders archived before ${criteria.archivedBefore.toISOString()}`,
      { archived_before: criteria.archivedBefore.toISOString(), dry_run: flags.dryRun === true },
    );
    counts = await purgeArchived({
      db,
      names,
      log,
      signal,
      criteria,
      runId,
      chunkSize: config.maxRate > 0 ? Math.min(config.chunk, config.maxRate) : config.chunk,
      dryRun: flags.dryRun,
      rearchive: flags.rearchive,
      timeoutMs: config.operationTimeout,
      limit: plan.limit,
      gate: gate.decide,
      onChunk: (c) => {
        log.info(`📊 Purge: ${c.purged} purged, ${c.changed} changed, ${c.examined} examined`, {
          orders_purged: c.purged,
          orders_changed: c.changed,
          orders_examined: c.examined,
        });
      },
    });
    if (flags.dryRun) indexUsed = await _indexUsed(db, criteria, names, config.chunk);
  } catch (error) {
    failure = error;
  }
  const report = purgeReport(counts, {
    dryRun: flags.dryRun === true,
    archivedBefore: criteria.archivedBefore,
    pauses: gate.pauses ?? emptyPauses(),
    lag: gate.lastLag,
    stopped: gate.stopped as StopReason | undefined,
    durationMs: Date.now() - startedAt.getTime(),
  });
  if (flags.dryRun) {
    report.index_used = indexUsed;
    report.seconds_at_rate = config.maxRate > 0
      ? Math.ceil(report.orders_purged / config.maxRate)
      : null;
  }
  run.report = report;
  ctx.out(flags.json ? JSON.stringify(report) : formatPurgeReport(report));

  const lacking = failure !== undefined && isUnauthorized(failure)
    ? await explainRefusal(
      client.db("admin"),
      requiredPrivileges(privilegeTarget(config), { command: "purge" }),
    )
    : undefined;
  const error = failure === undefined ? undefined : isUnauthorized(failure)
    ? new ConfigError(
      `MongoDB refused the purge: ${
        lacking ?? describeError(failure)
      } (Unauthorized, code 13); archiver setup role --purge prints the purge role`,
      { cause: failure },
    )
    : passFailure(failure, "the purge");
  const interrupted = signal.aborted;
  const exitCode = error !== undefined
    ? exitCodeOf(error)
    : interrupted
    ? ExitCode.interrupted
    : report.orders_changed > 0
    ? ExitCode.partialFailure
    : ExitCode.ok;
  if (!flags.dryRun) {
    await recordPurgeRun(db.collection(config.runsCollection), {
      action: "purge",
      run_id: runId,
      started_at: startedAt,
      finished_at: new Date(),
      exit_code: exitCode,
      ...report,
    }, { log, timeoutMs: config.operationTimeout });
  }
  if (error !== undefined) throw error;
  _logSummary(log, report);
  ctx.lifecycle.exitCode = exitCode;
}

function _logSummary(log: PluginContext["logger"], report: PurgeReport): void {
  if (report.dry_run) {
    log.info(
      `🔍 Dry run: would purge ${report.orders_purged} orders (${report.bytes_purged} bytes), nothing deleted`,
      { ...report },
    );
  } else {
    log.info(`✅ Purged ${report.orders_purged} orders (${report.bytes_purged} bytes)`, {
      ...report,
    });
  }
  if (report.orders_changed > 0) {
    log.warn(
      `⚠️ ${report.orders_changed} orders changed since archived were left in the source: archiver purge --rearchive archives them again first`,
      { orders_changed: report.orders_changed },
    );
  }
  if (report.orders_no_proof > 0) {
    log.warn(
      `⚠️ ${report.orders_no_proof} archive documents have no proof (archived by an older version): never purged, unless --rearchive archives them again`,
      { orders_no_proof: report.orders_no_proof },
    );
  }
}

// The index the chunk query walks, from the aggregation's query plan.
async function _indexUsed(
  db: import("mongodb").Db,
  criteria: PurgeCriteria,
  names: ReturnType<typeof collectionNames>,
  size: number,
): Promise<string | undefined> {
  try {
    const plan = await db.collection(names.archive).aggregate(
      purgeChunkPipeline(criteria, names, { size }),
    ).explain("queryPlanner");
    return _findIndexName(plan);
  } catch {
    return undefined;
  }
}

function _findIndexName(value: unknown): string | undefined {
  if (Array.isArray(value)) {
    for (const item of value) {
      const found = _findIndexName(item);
      if (found) return found;
    }
    return undefined;
  }
  if (value === null || typeof value !== "object") return undefined;
  const document = value as Document;
  if (typeof document.indexName === "string") return document.indexName;
  for (const key of ["queryPlanner", "winningPlan", "inputStage", "inputStages", "stages"]) {
    if (key in document) {
      const found = _findIndexName(document[key]);
      if (found) return found;
    }
  }
  for (const [key, inner] of Object.entries(document)) {
    if (key.startsWith("$") || key === "queryPlan") {
      const found = _findIndexName(inner);
      if (found) return found;
    }
  }
  return undefined;
}

// Before anything is marked or deleted: a user without the purge's privileges (the tool's
// ordinary role has no remove on the orders) stops here with one line. Without authentication
// (no user), nothing to check.
async function _checkPrivileges(client: MongoClient, config: PurgeConfig): Promise<void> {
  let status;
  try {
    status = await readConnectionPrivileges(client.db("admin"), { maxTimeMs: 5_000 });
  } catch {
    return;
  }
  if (status.users.length === 0) return;
  const missing = missingPrivileges(
    requiredPrivileges(privilegeTarget(config), { command: "purge" }),
    status.privileges,
  );
  if (missing.length === 0) return;
  const what = missing.map((m) => `${m.actions.join(", ")} on ${formatResource(m.resource)}`);
  throw new ConfigError(
    `The user ${status.users.join(", ")} may not purge: it lacks ${
      what.join("; ")
    }; archiver setup role --purge prints the purge's role`,
  );
}

function _host(): string {
  try {
    return Deno.hostname();
  } catch {
    return "unknown";
  }
}
