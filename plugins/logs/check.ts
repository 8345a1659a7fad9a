/**
 * `archiver logs check`: one streaming pass over the log folder within a window, counting lines by
 * level and by the operators' patterns and applying the alert rules.
 *
 * @module
 */

import { classify, isMonitoringLine } from "../../core/log_files/entry.ts";
import { listLogFiles } from "../../core/log_files/files.ts";
import { type ReadCounts, readEntries } from "../../core/log_files/reader.ts";
import {
  alertsState,
  type AlertState,
  type AlertSummary,
  type LogRules,
  RuleEngine,
  type RuleName,
  summarizeAlert,
} from "./rules.ts";

/** The operators' patterns, counted. */
export interface PatternCounts {
  /** Orders archived. */
  archived: number;
  /** Incomplete orders. */
  incomplete: number;
  /** Duplicates. */
  duplicate: number;
  /** Orders quarantined as invalid. */
  invalid: number;
  /** Orders that failed for a reason of their own. */
  error: number;
  /** Delivered orders found by batches. */
  found: number;
  /** Summary lines of dry runs, whose orders are not counted. */
  dry_run: number;
  /** `❌ Failed to connect to MongoDB`. */
  connection_failure: number;
  /** `❌ Change Stream error`. */
  change_stream_error: number;
  /** `❌ Error enriching order`. */
  enrich_error: number;
  /** `✅ Change Stream opened successfully`. */
  change_stream_opened: number;
  /** `✅ Connected to database`. */
  connected: number;
  /** `⚠️ Could not load resume token`. */
  resume_token_not_loaded: number;
}

/** The outcome of `logs check`. */
export interface LogCheckReport {
  /** OK, WARNING or CRITICAL: the worst alert. */
  state: "OK" | AlertState;
  /** ISO start of the window. */
  since: string;
  /** ISO time of the check. */
  checked_at: string;
  /** The log files in the folder, read or not. */
  files: Array<{ name: string; bytes: number; read: boolean }>;
  /** Lines within the window. */
  lines: number;
  /** Lines that are not log records, skipped. */
  invalid_lines: number;
  /** Lines the monitoring commands (`health`, `logs`) wrote: read, never judged. */
  monitoring_lines: number;
  /** Lines by level. */
  levels: Record<string, number>;
  /** Lines by pattern. */
  patterns: PatternCounts;
  /** The largest stream lag seen, in seconds, or null. */
  max_stream_lag_seconds: number | null;
  /** Alerts by rule. */
  alerts: AlertSummary[];
}

/**
 * Checks the log folder over a window.
 *
 * @param dir The log folder.
 * @param options Window start, rules, clock and abort signal.
 * @returns The counts and alerts.
 */
export async function checkLogs(
  dir: string,
  options: { since: number; rules: LogRules; now: number; signal?: AbortSignal },
): Promise<LogCheckReport> {
  const files = await listLogFiles(dir);
  const counts: ReadCounts = { lines: 0, invalid: 0, filesRead: 0 };
  const levels: Record<string, number> = { DEBUG: 0, INFO: 0, WARN: 0, ERROR: 0, FATAL: 0 };
  const patterns: PatternCounts = {
    archived: 0,
    incomplete: 0,
    duplicate: 0,
    invalid: 0,
    error: 0,
    found: 0,
    dry_run: 0,
    connection_failure: 0,
    change_stream_error: 0,
    enrich_error: 0,
    change_stream_opened: 0,
    connected: 0,
    resume_token_not_loaded: 0,
  };
  let maxLag: number | null = null;
  const engine = new RuleEngine(options.rules);
  const alerts = new Map<RuleName, AlertSummary>();
  const entries = readEntries(files, { since: options.since, counts, signal: options.signal });
  let monitoring = 0;
  for await (const entry of entries) {
    // health and logs report what they found: their ERROR is a verdict, not the service's error.
    if (isMonitoringLine(entry)) {
      monitoring++;
      continue;
    }
    levels[entry.level] = (levels[entry.level] ?? 0) + 1;
    const signals = classify(entry);
    patterns.archived += signals.archived;
    patterns.incomplete += signals.incomplete;
    patterns.duplicate += signals.duplicates;
    patterns.invalid += signals.invalid;
    patterns.error += signals.errors;
    patterns.found += signals.found;
    if (signals.dryRun) patterns.dry_run++;
    if (signals.connectionFailure) patterns.connection_failure++;
    if (signals.changeStreamError) patterns.change_stream_error++;
    if (signals.enrichError) patterns.enrich_error++;
    if (signals.changeStreamOpened) patterns.change_stream_opened++;
    if (signals.connected) patterns.connected++;
    if (signals.tokenNotLoaded) patterns.resume_token_not_loaded++;
    if (signals.lagSeconds !== undefined) maxLag = Math.max(maxLag ?? 0, signals.lagSeconds);
    for (const alert of engine.push(entry, signals)) summarizeAlert(alerts, alert);
  }
  const summaries = [...alerts.values()];
  const read = new Set(files.filter((file) => file.mtime >= options.since).map((f) => f.path));
  return {
    state: alertsState(summaries.map((alert) => alert.state)).state,
    since: new Date(options.since).toISOString(),
    checked_at: new Date(options.now).toISOString(),
    files: files.map((file) => ({ name: file.name, bytes: file.size, read: read.has(file.path) })),
    lines: counts.lines,
    invalid_lines: counts.invalid,
    monitoring_lines: monitoring,
    levels,
    patterns,
    max_stream_lag_seconds: maxLag,
    alerts: summaries,
  };
}
