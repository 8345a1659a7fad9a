/**
 * Runs every health check concurrently under one deadline. Each check reports as soon as it
 * knows; a check still running at the deadline ends CRITICAL (MongoDB: no answer is an outage)
 * or UNKNOWN (anything else), so the command always ends in bounded time.
 *
 * @module
 */

import type { Logger } from "@logtape/logtape";
import { resolve } from "node:path";
import { loadBatchReport, type SavedBatchReport } from "../../core/archive/report.ts";
import type { GlobalConfig } from "../../core/runtime/config.ts";
import { describeError } from "../../core/mongo/errors.ts";
import { readWatchStatus } from "../../core/stream/watch_status.ts";
import { BATCH_DURATION_CHECK, runBatchDurationCheck } from "./batch_duration_check.ts";
import { folderSize, freeDiskSpace } from "./disk.ts";
import { readLogWindow } from "./log_window.ts";
import { MONGO_CHECK_NAMES, runMongoChecks } from "./mongo_checks.ts";
import { readOplogHeadroom } from "./oplog_headroom.ts";
import { PRIVILEGES_CHECK, runPrivilegesCheck } from "./privileges_check.ts";
import { readResumeToken } from "./resume_token.ts";
import { type CheckResult, type HealthState, result, worstState } from "./state.ts";
import {
  archiveRateCheck,
  connectionErrorsCheck,
  diskSpaceCheck,
  type FileRead,
  formatAge,
  type HealthThresholds,
  lastBatchCheck,
  logErrorsCheck,
  logFolderCheck,
  type LogWindowSeen,
  oplogHeadroomCheck,
  resumeTokenCheck,
  streamLagCheck,
  watcherCheck,
  watcherUptimeCheck,
} from "./thresholds.ts";

/** Every check, in the order they are shown. */
export const CHECK_NAMES = [
  ...MONGO_CHECK_NAMES,
  PRIVILEGES_CHECK,
  "watcher",
  "watcher_uptime",
  "stream_lag",
  "connection_errors",
  "resume_token",
  "oplog_headroom",
  "last_batch",
  BATCH_DURATION_CHECK,
  "log_errors",
  "archive_rate",
  "log_folder",
  "disk_space",
] as const;

/** The outcome of a health run: every check and the worst state. */
export interface HealthReport {
  /** The worst state of all checks. */
  state: HealthState;
  /** ISO time the run started. */
  checked_at: string;
  /** Wall time of the run. */
  duration_ms: number;
  /** Every check, in a fixed order. */
  checks: CheckResult[];
}

/** What a health run needs besides the global configuration. */
export interface HealthRunOptions {
  /** The thresholds. */
  thresholds: HealthThresholds;
  /** The watcher's status file. */
  statusFile: string;
  /** The watcher's resume-token file (read with the file store). */
  tokenFile: string;
  /** Where the watcher keeps its token: the token file, or the Mongo token store. @default "file" */
  tokenStore?: "file" | "mongo";
  /** The Mongo token store's collection (with `tokenStore: "mongo"`). */
  tokenCollection?: string;
  /** The last batch report. */
  reportFile: string;
  /** The grace period before a delivered order must be archived, in ms. */
  graceMs: number;
  /** The overall deadline, in ms. */
  timeoutMs: number;
  /** The folder relative paths are resolved against. */
  cwd: string;
  /** Stops early (Ctrl+C). */
  signal?: AbortSignal;
  /** Where failures to reach MongoDB are logged. */
  log?: Logger;
  /** The clock, for tests. @default Date.now */
  now?: () => number;
}

/**
 * Runs every check concurrently and collects them, within the deadline.
 *
 * @param config The global configuration (connection, collections, log folder).
 * @param options Thresholds, file paths, grace period and deadline.
 * @returns The report.
 */
export async function runHealthChecks(
  config: GlobalConfig,
  options: HealthRunOptions,
): Promise<HealthReport> {
  const clock = options.now ?? Date.now;
  const started = clock();
  const startedAt = performance.now();
  const results = new Map<string, CheckResult>();
  const report = (check: CheckResult) => {
    if (!results.has(check.name)) results.set(check.name, check);
  };
  const deadline = new AbortController();
  const timer = setTimeout(
    () => deadline.abort(new Error("deadline reached")),
    options.timeoutMs,
  );
  const onAbort = () => deadline.abort(options.signal?.reason);
  options.signal?.addEventListener("abort", onAbort, { once: true });
  const t = options.thresholds;
  const path = (file: string) => resolve(options.cwd, file);
  const logDir = resolve(options.cwd, config.logDir);

  const tasks: Array<[readonly string[], () => Promise<void>]> = [
    [MONGO_CHECK_NAMES, () =>
      runMongoChecks(config, {
        graceMs: options.graceMs,
        thresholds: t,
        // Leave a margin so the MongoDB checks report their own reason before the deadline.
        budgetMs: Math.max(200, options.timeoutMs - 1_000),
        now: started,
        report,
        log: options.log,
      })],
    [[PRIVILEGES_CHECK], async () =>
      report(
        await runPrivilegesCheck({ ...config, tokenCollection: options.tokenCollection }, {
          budgetMs: Math.max(200, options.timeoutMs - 1_000),
        }),
      )],
    [["watcher", "watcher_uptime", "stream_lag", "connection_errors"], async () => {
      const read = await _readFile(options.statusFile, path(options.statusFile), readWatchStatus);
      report(watcherCheck(read, clock(), t));
      report(watcherUptimeCheck(read, clock(), t));
      report(streamLagCheck(read, t));
      report(connectionErrorsCheck(read, clock(), t));
    }],
    [["resume_token"], async () => {
      const read = await readResumeToken(config, {
        tokenStore: options.tokenStore ?? "file",
        tokenFile: options.tokenFile,
        tokenPath: path(options.tokenFile),
        tokenCollection: options.tokenCollection ?? "archiver_resume_tokens",
        budgetMs: Math.max(200, options.timeoutMs - 1_000),
      });
      report(resumeTokenCheck(read, clock(), t));
    }],
    [["oplog_headroom"], async () => {
      report(
        oplogHeadroomCheck(
          await readOplogHeadroom(config, {
            tokenStore: options.tokenStore ?? "file",
            tokenFile: path(options.tokenFile),
            tokenCollection: options.tokenCollection ?? "archiver_resume_tokens",
            budgetMs: Math.max(200, options.timeoutMs - 1_000),
          }),
          t,
        ),
      );
    }],
    [["last_batch"], async () => {
      const read = await _readFile<SavedBatchReport>(
        options.reportFile,
        path(options.reportFile),
        loadBatchReport,
      );
      report(lastBatchCheck(read, t));
    }],
    [[BATCH_DURATION_CHECK], async () =>
      report(
        await runBatchDurationCheck(config, { budgetMs: Math.max(200, options.timeoutMs - 1_000) }),
      )],
    [["log_errors", "archive_rate"], async () => {
      let seen: LogWindowSeen | { dir: string; error: string };
      try {
        const read = await readLogWindow(logDir, {
          since: clock() - t.logWindowMs,
          signal: deadline.signal,
        });
        seen = { ...read, dir: config.logDir };
      } catch (error) {
        seen = { dir: config.logDir, error: describeError(error) };
      }
      report(logErrorsCheck(seen, t));
      report(archiveRateCheck(seen, t));
    }],
    [["log_folder"], async () => {
      try {
        report(logFolderCheck({ dir: config.logDir, ...(await folderSize(logDir)) }, t));
      } catch (error) {
        report(logFolderCheck({ dir: config.logDir, error: describeError(error) }, t));
      }
    }],
    [["disk_space"], async () => {
      try {
        report(diskSpaceCheck(await freeDiskSpace(logDir, { signal: deadline.signal }), t));
      } catch (error) {
        report(diskSpaceCheck({ error: _commandError(error) }, t));
      }
    }],
  ];

  const running = tasks.map(async ([names, run]) => {
    try {
      await run();
    } catch (error) {
      for (const name of names) {
        report(result(name, "UNKNOWN", `Check failed: ${describeError(error)}`));
      }
    }
  });
  const expired = new Promise<void>((done) => {
    if (deadline.signal.aborted) done();
    deadline.signal.addEventListener("abort", () => done(), { once: true });
  });
  try {
    await Promise.race([Promise.all(running), expired]);
  } finally {
    clearTimeout(timer);
    options.signal?.removeEventListener("abort", onAbort);
  }
  const waited = formatAge(options.timeoutMs);
  const checks = CHECK_NAMES.map((name) =>
    results.get(name) ??
      (name === "mongodb"
        ? result(name, "CRITICAL", `MongoDB did not answer within ${waited}`)
        : result(name, "UNKNOWN", `Check did not finish within ${waited}`))
  );
  return {
    state: worstState(checks.map((check) => check.state)),
    checked_at: new Date(started).toISOString(),
    duration_ms: Math.round(performance.now() - startedAt),
    checks,
  };
}

async function _readFile<T>(
  path: string,
  resolved: string,
  read: (path: string) => Promise<T | undefined>,
): Promise<FileRead<T>> {
  try {
    const value = await read(resolved);
    return value === undefined ? { kind: "missing", path } : { kind: "found", path, value };
  } catch (error) {
    const reason = error instanceof Error ? error.message.split("\n")[0]! : String(error);
    return { kind: "invalid", path, reason };
  }
}

function _commandError(error: unknown): string {
  if (error instanceof Deno.errors.NotFound) return "no df or PowerShell command on this host";
  if (error instanceof Deno.errors.NotCapable || error instanceof Deno.errors.PermissionDenied) {
    return "running df or PowerShell is not permitted (--allow-run)";
  }
  return describeError(error);
}
