/**
 * A purge run's report — one flat record of figures, printed as a table or JSON, written to the
 * textfile metrics and to the run history — and its Prometheus textfile.
 *
 * @module
 */

import type { MonthFigures, PurgeCounts } from "./purge.ts";
import type { PauseReason, StopReason } from "./purge_throttle.ts";
import { writeFileAtomic } from "../runtime/atomic_file.ts";

/** Pauses by reason: how many, and how long in all. */
export type PauseFigures = Record<PauseReason, { count: number; seconds: number }>;

/** What one purge run reports. */
export interface PurgeReport {
  /** Whether it only counted. */
  dry_run: boolean;
  /** The age bound: archived before this time (ISO). */
  archived_before: string;
  /** Archive documents looked at. */
  orders_examined: number;
  /** Orders deleted from the source with their proof (or that would be, in a dry run). */
  orders_purged: number;
  /** Their size in the source, in bytes. */
  bytes_purged: number;
  /** Orders left because they differ from their archived copy. */
  orders_changed: number;
  /** Of those, the ones that changed between the check and the delete. */
  orders_changed_at_delete: number;
  /** Archive documents without the proof (an older version archived them): never purged. */
  orders_no_proof: number;
  /** Orders on legal hold. */
  orders_held: number;
  /** Orders matched by `--exclude`. */
  orders_excluded: number;
  /** Archive documents whose order was already gone from the source. */
  orders_gone: number;
  /** Orders archived again first (`--rearchive`). */
  orders_rearchived: number;
  /** Orders put back because their archive document vanished during the delete. */
  orders_put_back: number;
  /** Pending marks of an interrupted run settled at the start. */
  pending_reconciled: number;
  /** Chunks done. */
  chunks: number;
  /** Round trips to the server. */
  round_trips: number;
  /** Pauses by reason. */
  pauses: PauseFigures;
  /** The secondaries' lag last measured, in seconds (`null`: not measured). */
  lag_seconds: number | null;
  /** How the lag was measured. */
  lag_measured_by: "replSetGetStatus" | "majority_write" | null;
  /** Orders purged per second of the run. */
  rate_per_second: number;
  /** Why it stopped early, if it did. */
  stopped: StopReason | null;
  /** Per month of delivery: orders purged (or that would be) and bytes. */
  months: Record<string, MonthFigures>;
  /** The index the chunk query uses, from `explain` (dry run). */
  index_used?: string;
  /** Seconds the purge takes at `--max-rate` (dry run; `null` without a rate). */
  seconds_at_rate?: number | null;
  /** The run's wall time, in ms. */
  duration_ms: number;
}

/**
 * Empty pause figures.
 *
 * @returns Every reason at 0.
 */
export function emptyPauses(): PauseFigures {
  return {
    lag: { count: 0, seconds: 0 },
    rate: { count: 0, seconds: 0 },
    window: { count: 0, seconds: 0 },
  };
}

/**
 * The report of a run from its counts.
 *
 * @param counts What the purge did.
 * @param run The run's bound, pauses, lag, stop reason, duration and whether it was a dry run.
 * @returns The report.
 */
export function purgeReport(
  counts: PurgeCounts,
  run: {
    dryRun: boolean;
    archivedBefore: Date;
    pauses: PauseFigures;
    lag?: { seconds: number; how: "replSetGetStatus" | "majority_write" };
    stopped?: StopReason;
    durationMs: number;
  },
): PurgeReport {
  return {
    dry_run: run.dryRun,
    archived_before: run.archivedBefore.toISOString(),
    orders_examined: counts.examined,
    orders_purged: counts.purged,
    bytes_purged: counts.bytes,
    orders_changed: counts.changed,
    orders_changed_at_delete: counts.changedAtDelete,
    orders_no_proof: counts.noProof,
    orders_held: counts.held,
    orders_excluded: counts.excluded,
    orders_gone: counts.gone,
    orders_rearchived: counts.rearchived,
    orders_put_back: counts.putBack,
    pending_reconciled: counts.reconciled,
    chunks: counts.chunks,
    round_trips: counts.roundTrips,
    pauses: run.pauses,
    lag_seconds: run.lag ? run.lag.seconds : null,
    lag_measured_by: run.lag ? run.lag.how : null,
    rate_per_second: run.durationMs > 0
      ? Math.round(counts.purged / (run.durationMs / 1000) * 10) / 10
      : 0,
    stopped: run.stopped ?? null,
    months: counts.months,
    duration_ms: run.durationMs,
  };
}

/**
 * The report's figures in the Prometheus text exposition format (`archiver_purge_*` gauges).
 *
 * @param report The run's report.
 * @param ending When it ended and its exit code.
 * @returns The text, ending with a newline.
 */
export function formatPurgeMetrics(
  report: PurgeReport,
  ending: { finishedAt: Date; exitCode: number },
): string {
  const lines: string[] = [];
  const gauge = (name: string, help: string, samples: Array<[string, number]>) => {
    lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} gauge`);
    for (const [labels, value] of samples) lines.push(`${name}${labels} ${value}`);
  };
  gauge("archiver_purge_last_run_timestamp_seconds", "When the last purge run ended", [[
    "",
    ending.finishedAt.getTime() / 1000,
  ]]);
  gauge("archiver_purge_duration_seconds", "Duration of the last purge run", [[
    "",
    report.duration_ms / 1000,
  ]]);
  const outcomes: Array<[string, number]> = [
    ["purged", report.orders_purged],
    ["changed", report.orders_changed],
    ["no_proof", report.orders_no_proof],
    ["held", report.orders_held],
    ["excluded", report.orders_excluded],
    ["gone", report.orders_gone],
    ["rearchived", report.orders_rearchived],
    ["put_back", report.orders_put_back],
  ];
  gauge(
    "archiver_purge_orders",
    "Orders of the last purge run by outcome",
    outcomes.map(([outcome, value]) => [`{outcome="${outcome}"}`, value]),
  );
  gauge("archiver_purge_bytes", "Bytes purged from the source by the last run", [[
    "",
    report.bytes_purged,
  ]]);
  const reasons = Object.keys(report.pauses) as PauseReason[];
  gauge(
    "archiver_purge_pauses",
    "Pauses of the last purge run by reason (lag, rate, window)",
    reasons.map((r) => [`{reason="${r}"}`, report.pauses[r].count]),
  );
  gauge(
    "archiver_purge_pause_seconds",
    "Seconds the last purge run paused, by reason",
    reasons.map((r) => [`{reason="${r}"}`, report.pauses[r].seconds]),
  );
  gauge(
    "archiver_purge_lag_seconds",
    "Secondaries' lag last measured by the purge",
    report.lag_seconds === null ? [] : [["", report.lag_seconds]],
  );
  gauge("archiver_purge_rate_per_second", "Orders purged per second by the last run", [[
    "",
    report.rate_per_second,
  ]]);
  gauge("archiver_purge_exit_code", "Exit code of the last purge run (0 ok)", [[
    "",
    ending.exitCode,
  ]]);
  return `${lines.join("\n")}\n`;
}

/**
 * Writes the textfile atomically, readable by the exporter's user.
 *
 * @param path The `.prom` file.
 * @param report The run's report.
 * @param ending When it ended and its exit code.
 */
export async function writePurgeMetrics(
  path: string,
  report: PurgeReport,
  ending: { finishedAt: Date; exitCode: number },
): Promise<void> {
  await writeFileAtomic(path, formatPurgeMetrics(report, ending), { mode: 0o644 });
}
