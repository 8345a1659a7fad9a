/**
 * Runs every health check concurrently under one deadline. Each check reports as soon as it
 * knows; a check still running at the deadline ends CRITICAL (MongoDB: no answer is an outage)
 * or UNKNOWN (anything else), so the command always ends in bounded time.
 *
 * @module
 */

import type { Logger } from "@logtape/logtape";
import { hostname } from "node:os";
import { resolve } from "node:path";
import { loadBatchReport, type SavedBatchReport } from "../../core/archive/report.ts";
import type { GlobalConfig } from "../../core/runtime/config.ts";
import { describeError } from "../../core/mongo/errors.ts";
import { processLiveness } from "../../core/runtime/proc.ts";
import { readWatchStatus, type WatchStatus } from "../../core/stream/watch_status.ts";
import { BATCH_DURATION_CHECK, runBatchDurationCheck } from "./checks/batch_duration.ts";
import { folderSize, freeDiskSpace } from "./read/disk.ts";
import { readLogWindow } from "./read/log_window.ts";
import { MONGO_CHECK_NAMES, runMongoChecks } from "./read/mongo.ts";
import { readOplogHeadroom } from "./read/oplog_headroom.ts";
import { PRIVILEGES_CHECK, runPrivilegesCheck } from "./checks/privileges.ts";
import { readResumeToken } from "./read/resume_token.ts";
import { type CheckResult, type HealthState, result, skipped, worstState } from "./state.ts";
import { readWatcherEndpoint } from "./read/watcher_endpoint.ts";
import { archiveRateCheck } from "./checks/archive_rate.ts";
import { connectionErrorsCheck } from "./checks/connection_errors.ts";
import { diskSpaceCheck } from "./checks/disk_space.ts";
import { lastBatchCheck } from "./checks/last_batch.ts";
import { logErrorsCheck, type LogWindowSeen } from "./checks/log_errors.ts";
import { logFolderCheck } from "./checks/log_folder.ts";
import { oplogHeadroomCheck } from "./checks/oplog_headroom.ts";
import { resumeTokenCheck, type TokenRead } from "./checks/resume_token.ts";
import { streamLagCheck } from "./checks/stream_lag.ts";
import { watcherCheck } from "./checks/watcher.ts";
import { watcherUptimeCheck } from "./checks/watcher_uptime.ts";
import { formatAge } from "./format.ts";
import type { FileRead } from "./read/file_read.ts";
import type { HealthThresholds } from "./thresholds.ts";

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
  /**
   * The watcher's `/healthz`, read instead of its status file (and, with the file token store,
   * of its token file). @default none: the files
   */
  url?: string;
  /** The grace period before a delivered order must be archived, in ms. */
  graceMs: number;
  /** `ARCHIVER_ARCHIVE_EXPIRE_AFTER` in ms (0: unset), for the `purge` check. @default 0 */
  archiveExpireAfterMs?: number;
  /** The overall deadline, in ms. */
  timeoutMs: number;
  /** The folder relative paths are resolved against. */
  cwd: string;
  /** The checks to run (`--only`, `--skip`), by name. @default every one of {@link CHECK_NAMES} */
  checks?: readonly string[];
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

  // One read of the watcher's status (file or /healthz) serves its checks and, with --url, the
  // token's age.
  const statusRead: Promise<FileRead<WatchStatus>> = options.url
    ? _readEndpoint(options.url, Math.max(200, options.timeoutMs - 1_000))
    : _readFile(options.statusFile, path(options.statusFile), readWatchStatus);

  const tasks: Array<[readonly string[], () => Promise<void>]> = [
    [MONGO_CHECK_NAMES, () =>
      runMongoChecks(config, {
        graceMs: options.graceMs,
        archiveExpireAfterMs: options.archiveExpireAfterMs,
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
      const read = await statusRead;
      const process = read.kind === "found" && _onThisHost(read.value, options.url)
        ? await processLiveness(read.value.pid)
        : undefined;
      report(watcherCheck(read, clock(), t, process));
      report(watcherUptimeCheck(read, clock(), t));
      report(streamLagCheck(read, t));
      report(connectionErrorsCheck(read, clock(), t));
    }],
    [["resume_token"], async () => {
      if (options.url && (options.tokenStore ?? "file") === "file") {
        report(resumeTokenCheck(_tokenFromStatus(await statusRead), clock(), t));
        return;
      }
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
      if (options.url && (options.tokenStore ?? "file") === "file") {
        report(skipped(
          "oplog_headroom",
          "the token file is on the watcher's host (--url): its archiver_resume_headroom_seconds says it",
        ));
        return;
      }
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

  const selected = new Set<string>(options.checks ?? CHECK_NAMES);
  // A task runs when one of its checks is asked for (--only watcher reads no MongoDB).
  const wanted = tasks.filter(([names]) => names.some((name) => selected.has(name)));
  const running = wanted.map(async ([names, run]) => {
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
  const checks = CHECK_NAMES.filter((name) => selected.has(name)).map((name) =>
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

async function _readEndpoint(url: string, timeoutMs: number): Promise<FileRead<WatchStatus>> {
  try {
    return { kind: "found", path: url, value: await readWatcherEndpoint(url, { timeoutMs }) };
  } catch (error) {
    return { kind: "invalid", path: url, reason: describeError(error).split("\n")[0]! };
  }
}

// The watcher's process is ours to look for on its host: the status file's `host` when it has
// one, else a status file read here, or an endpoint on loopback.
function _onThisHost(status: WatchStatus, url: string | undefined): boolean {
  const host = (status as { host?: unknown }).host;
  if (typeof host === "string" && host !== "") return host === hostname();
  if (!url) return true;
  return ["127.0.0.1", "localhost", "[::1]", "::1"].includes(new URL(url).hostname);
}

// With --url and the file store the token file is the watcher's; its /healthz says the token's
// age (`resume_token_age_seconds`, at the time of the answer).
function _tokenFromStatus(read: FileRead<WatchStatus>): TokenRead {
  if (read.kind !== "found") {
    return {
      kind: "unreadable",
      where: `watcher endpoint ${read.path}`,
      reason: read.kind === "invalid" ? read.reason : "no answer",
    };
  }
  const age = read.value.metrics?.resume_token_age_seconds;
  const at = Date.parse(read.value.updated_at);
  if (typeof age !== "number" || !Number.isFinite(age) || Number.isNaN(at)) {
    return { kind: "missing", where: `resume token age at ${read.path}` };
  }
  return {
    kind: "found",
    where: `watcher endpoint ${read.path}`,
    value: { saved_at: new Date(at - age * 1000).toISOString() },
  };
}

function _commandError(error: unknown): string {
  if (error instanceof Deno.errors.NotFound) return "no df or PowerShell command on this host";
  if (error instanceof Deno.errors.NotCapable || error instanceof Deno.errors.PermissionDenied) {
    return "running df or PowerShell is not permitted (--allow-run)";
  }
  return describeError(error);
}
