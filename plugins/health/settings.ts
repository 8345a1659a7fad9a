/**
 * The settings of `archiver health`: the plan's thresholds, the grace period for archive
 * completeness, the deadline, and the shared state files it reads.
 *
 * @module
 */

import {
  boolean,
  decimal,
  duration,
  formatDuration,
  formatSize,
  integer,
  parseSize,
} from "../../core/runtime/parse.ts";
import type { SettingsSpec, SettingValues } from "../../core/runtime/settings.ts";
import {
  reportFileSetting,
  statusFileSetting,
  tokenCollectionSetting,
  tokenFileSetting,
  tokenStoreSetting,
} from "../../core/runtime/state_files.ts";
import { leaseCollectionSetting } from "../../core/stream/lease.ts";
import { parseWatcherUrl } from "./read/watcher_endpoint.ts";
import { archiveExpireAfterSetting } from "../../core/archive/retention.ts";
import { defaultThresholds, type HealthThresholds, MIN_STREAM_STALL_MS } from "./thresholds.ts";

const PERCENT = decimal({ min: 0, max: 100 });

/** Every setting `archiver health` reads. */
export const healthSettings = {
  statusFile: statusFileSetting,
  tokenFile: tokenFileSetting,
  reportFile: reportFileSetting,
  url: {
    env: "ARCHIVER_HEALTH_URL",
    flag: "--url <url>",
    description:
      "Read the watcher's status from its /healthz (watch --metrics-port), e.g. http://127.0.0.1:9464, instead of its status file",
    default: "",
    parse: parseWatcherUrl,
  },
  maxTokenAge: {
    env: "ARCHIVER_HEALTH_MAX_TOKEN_AGE",
    flag: "--max-token-age <duration>",
    description: "Resume token older than this is CRITICAL",
    default: defaultThresholds.maxTokenAgeMs,
    parse: duration({ min: 1_000 }),
    format: formatDuration,
    criticalOf: { warning: "tokenSaveAge", worse: "higher" },
  },
  tokenSaveAge: {
    env: "ARCHIVER_HEALTH_TOKEN_SAVE_AGE",
    description: "Resume token not saved within this is a WARNING",
    default: defaultThresholds.tokenSaveAgeMs,
    parse: duration({ min: 1_000 }),
    format: formatDuration,
  },
  maxHeartbeatAge: {
    env: "ARCHIVER_HEALTH_MAX_HEARTBEAT_AGE",
    flag: "--max-heartbeat-age <duration>",
    description:
      "Watcher heartbeat older than this is CRITICAL (3 heartbeats of 5s; on the watcher's host a process gone is CRITICAL at once)",
    default: defaultThresholds.maxHeartbeatAgeMs,
    parse: duration({ min: 1_000 }),
    format: formatDuration,
  },
  lagWarn: {
    env: "ARCHIVER_HEALTH_LAG_WARN",
    flag: "--lag-warn <duration>",
    description: "Change stream lag above this is a WARNING",
    default: defaultThresholds.lagWarnSeconds * 1000,
    parse: duration(),
    format: formatDuration,
  },
  lagCritical: {
    env: "ARCHIVER_HEALTH_LAG_CRITICAL",
    flag: "--lag-critical <duration>",
    description: "Change stream lag above this is CRITICAL",
    default: defaultThresholds.lagCriticalSeconds * 1000,
    parse: duration(),
    format: formatDuration,
    criticalOf: { warning: "lagWarn", worse: "higher" },
  },
  maxConnectionErrors: {
    env: "ARCHIVER_HEALTH_MAX_CONNECTION_ERRORS",
    description: "More watcher connection errors than this in the last hour is CRITICAL",
    default: defaultThresholds.maxConnectionErrors,
    parse: integer({ min: 0 }),
  },
  archivedMinPercent: {
    env: "ARCHIVER_HEALTH_ARCHIVED_MIN_PERCENT",
    description: "Last batch archiving less than this % of what it found is a WARNING",
    default: defaultThresholds.archivedMinPercent,
    parse: PERCENT,
  },
  duplicatesMaxPercent: {
    env: "ARCHIVER_HEALTH_DUPLICATES_MAX_PERCENT",
    description: "Last batch with more duplicates than this % is a WARNING",
    default: defaultThresholds.duplicatesMaxPercent,
    parse: PERCENT,
  },
  incompleteMaxPercent: {
    env: "ARCHIVER_HEALTH_INCOMPLETE_MAX_PERCENT",
    description: "Last batch with more incomplete orders than this % is a WARNING",
    default: defaultThresholds.incompleteMaxPercent,
    parse: PERCENT,
  },
  rateMinOrders: {
    env: "ARCHIVER_HEALTH_RATE_MIN_ORDERS",
    description: "The last batch's rates are judged only when it found at least this many orders",
    default: defaultThresholds.rateMinOrders,
    parse: integer({ min: 1 }),
  },
  grace: {
    env: "ARCHIVER_HEALTH_GRACE",
    flag: "--grace <duration>",
    description: "Delivered orders older than this must be in the archive",
    default: 600_000,
    parse: duration(),
    format: formatDuration,
  },
  quarantineGrace: {
    env: "ARCHIVER_HEALTH_QUARANTINE_GRACE",
    flag: "--quarantine-grace <duration>",
    description: "Incomplete orders quarantined longer than this (since first seen) are a WARNING",
    default: defaultThresholds.quarantineGraceMs,
    parse: duration(),
    format: formatDuration,
  },
  streamStall: {
    env: "ARCHIVER_HEALTH_STREAM_STALL",
    description:
      "A streaming watcher with no stream read for this long (or 5 await periods, if longer) is CRITICAL; at least 30s",
    default: defaultThresholds.streamStallMs,
    parse: duration({ min: MIN_STREAM_STALL_MS }),
    format: formatDuration,
  },
  minUptime: {
    env: "ARCHIVER_HEALTH_MIN_UPTIME",
    flag: "--min-uptime <duration>",
    description:
      "A running watcher up for less than this (re)started recently: a WARNING; 0 turns it off",
    default: defaultThresholds.minUptimeMs,
    parse: duration(),
    format: formatDuration,
  },
  logWindow: {
    env: "ARCHIVER_HEALTH_LOG_WINDOW",
    description: "How far back the log checks (errors, archive rate) read the log files",
    default: defaultThresholds.logWindowMs,
    parse: duration({ min: 60_000 }),
    format: formatDuration,
  },
  maxLogErrors: {
    env: "ARCHIVER_HEALTH_MAX_LOG_ERRORS",
    description: "More ERROR lines than this in the logs of the window is a WARNING",
    default: defaultThresholds.maxLogErrors,
    parse: integer({ min: 0 }),
  },
  archiveRateMin: {
    env: "ARCHIVER_HEALTH_ARCHIVE_RATE_MIN",
    description: "Less than this % of the orders handled in the window archived is a WARNING",
    default: defaultThresholds.archiveRateMinPercent,
    parse: PERCENT,
  },
  maxLogSize: {
    env: "ARCHIVER_HEALTH_MAX_LOG_SIZE",
    flag: "--max-log-size <size>",
    description: "Log folder larger than this is a WARNING",
    default: defaultThresholds.maxLogDirBytes,
    parse: parseSize,
    format: formatSize,
  },
  minFreeDisk: {
    env: "ARCHIVER_HEALTH_MIN_FREE_DISK",
    flag: "--min-free-disk <percent>",
    description: "Less free space than this % on the log folder's volume is a WARNING",
    default: defaultThresholds.minFreeDiskPercent,
    parse: PERCENT,
  },
  tokenStore: tokenStoreSetting,
  tokenCollection: tokenCollectionSetting,
  leaseCollection: leaseCollectionSetting,
  oplogHeadroomWarning: {
    env: "ARCHIVER_HEALTH_OPLOG_HEADROOM_WARNING",
    description:
      "Resume headroom (oplog window minus the saved token's age) under this is a WARNING",
    default: defaultThresholds.oplogHeadroomWarningMs,
    parse: duration(),
    format: formatDuration,
  },
  oplogHeadroomCritical: {
    env: "ARCHIVER_HEALTH_OPLOG_HEADROOM_CRITICAL",
    description: "Resume headroom under this is CRITICAL",
    default: defaultThresholds.oplogHeadroomCriticalMs,
    parse: duration(),
    format: formatDuration,
    criticalOf: { warning: "oplogHeadroomWarning", worse: "lower" },
  },
  requireWatcher: {
    env: "ARCHIVER_HEALTH_REQUIRE_WATCHER",
    description: "Whether a missing status or token file is CRITICAL (else: not applicable)",
    default: defaultThresholds.requireWatcher as boolean,
    parse: boolean,
  },
  // The purge check compares the archive's expiry index with the operator's setting.
  archiveExpireAfter: archiveExpireAfterSetting,
  timeout: {
    env: "ARCHIVER_HEALTH_TIMEOUT",
    flag: "--timeout <duration>",
    description: "Deadline for all checks; a check still running then is CRITICAL or UNKNOWN",
    default: 30_000,
    parse: duration({ min: 500 }),
    format: formatDuration,
  },
} as const satisfies SettingsSpec;

/** The resolved values of {@link healthSettings}. */
export type HealthSettingValues = SettingValues<typeof healthSettings>;

/**
 * The thresholds the settings describe.
 *
 * @param values The resolved settings.
 * @returns The thresholds for the checks.
 */
export function thresholdsFrom(values: HealthSettingValues): HealthThresholds {
  return {
    maxTokenAgeMs: values.maxTokenAge,
    tokenSaveAgeMs: values.tokenSaveAge,
    maxHeartbeatAgeMs: values.maxHeartbeatAge,
    lagWarnSeconds: values.lagWarn / 1000,
    lagCriticalSeconds: values.lagCritical / 1000,
    maxConnectionErrors: values.maxConnectionErrors,
    archivedMinPercent: values.archivedMinPercent,
    duplicatesMaxPercent: values.duplicatesMaxPercent,
    incompleteMaxPercent: values.incompleteMaxPercent,
    rateMinOrders: values.rateMinOrders,
    maxLogDirBytes: values.maxLogSize,
    minFreeDiskPercent: values.minFreeDisk,
    requireWatcher: values.requireWatcher,
    quarantineGraceMs: values.quarantineGrace,
    streamStallMs: values.streamStall,
    minUptimeMs: values.minUptime,
    logWindowMs: values.logWindow,
    maxLogErrors: values.maxLogErrors,
    archiveRateMinPercent: values.archiveRateMin,
    oplogHeadroomWarningMs: values.oplogHeadroomWarning,
    oplogHeadroomCriticalMs: values.oplogHeadroomCritical,
  };
}
