/**
 * A batch run's metrics as a Prometheus textfile: the exposition format node_exporter's and
 * windows_exporter's textfile collectors read from a folder, so a run under cron or Task
 * Scheduler is monitored like a service. Gauges of the last run only: when it ended, when a run
 * last succeeded, its duration, its orders by outcome, its exit code and whether its pass
 * finished. The file is replaced atomically, so a scrape never reads half of one.
 *
 * @module
 */

import { writeFileAtomic } from "../runtime/atomic_file.ts";
import { ExitCode } from "../runtime/errors.ts";
import type { BatchReport } from "./report.ts";
import { countsFromFigures, ORDER_OUTCOMES, outcomeLabels } from "../runtime/outcome.ts";

/**
 * The outcomes of `archiver_batch_orders`, one label value each, in this order: `found`, the
 * orders' outcomes (quarantine reasons count orders quarantined for the first time), and
 * `still_quarantined` (quarantined before the run, tried again, still there).
 */
export const BATCH_OUTCOMES = ["found", ...ORDER_OUTCOMES, "still_quarantined"] as const;

/** One value of the `outcome` label. */
export type BatchOutcome = (typeof BATCH_OUTCOMES)[number];

/** What the textfile says about one run. */
export interface BatchRunMetrics {
  /** When the run ended. */
  finishedAt: Date;
  /** The run's wall time, in seconds. */
  durationSeconds: number;
  /** The exit code the run ends with. */
  exitCode: number;
  /**
   * Whether the pass ran to its end (every delivered order examined, or `--limit` reached):
   * false for an interrupted or failed run, whatever figures it counted before.
   */
  finished: boolean;
  /** The run's report (all zeros when it failed before counting). */
  report: BatchReport;
  /**
   * When a run last succeeded (exit 0), in Unix seconds: this run's end when it succeeded, else
   * the previous file's value; absent when no run succeeded yet.
   */
  lastSuccessSeconds?: number;
}

const _LAST_SUCCESS = "archiver_batch_last_success_timestamp_seconds";

/**
 * The outcome counts of a report, under the `outcome` label values.
 *
 * @param report The run's report.
 * @returns The counts by outcome.
 */
export function batchOutcomeCounts(report: BatchReport): Record<BatchOutcome, number> {
  return {
    found: report.orders_found,
    ...outcomeLabels(countsFromFigures(report)),
    still_quarantined: report.orders_still_quarantined ?? 0,
  };
}

/**
 * Formats a run's metrics in the Prometheus text exposition format, with HELP and TYPE lines.
 *
 * @param run The run.
 * @returns The text, ending with a newline.
 */
export function formatBatchMetrics(run: BatchRunMetrics): string {
  const lines: string[] = [];
  const gauge = (name: string, help: string, samples: Array<[string, number]>) => {
    lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} gauge`);
    for (const [labels, value] of samples) lines.push(`${name}${labels} ${_number(value)}`);
  };
  gauge(
    "archiver_batch_last_run_timestamp_seconds",
    "When the last batch run ended, in Unix seconds",
    [["", run.finishedAt.getTime() / 1000]],
  );
  gauge(
    _LAST_SUCCESS,
    "When the last batch run that exited 0 ended, in Unix seconds",
    run.lastSuccessSeconds === undefined ? [] : [["", run.lastSuccessSeconds]],
  );
  gauge(
    "archiver_batch_duration_seconds",
    "Duration of the last batch run, in seconds",
    [["", run.durationSeconds]],
  );
  const counts = batchOutcomeCounts(run.report);
  gauge(
    "archiver_batch_orders",
    "Orders of the last batch run by outcome (found: delivered and not yet archived; quarantine reasons: first seen)",
    BATCH_OUTCOMES.map((outcome) => [`{outcome="${outcome}"}`, counts[outcome]]),
  );
  gauge("archiver_batch_exit_code", "Exit code of the last batch run (0 ok)", [[
    "",
    run.exitCode,
  ]]);
  gauge(
    "archiver_batch_finished",
    "Whether the last batch run's pass ran to its end (1), or was interrupted or failed (0)",
    [["", run.finished ? 1 : 0]],
  );
  return `${lines.join("\n")}\n`;
}

/**
 * Reads the last success time from a previous textfile.
 *
 * @param text The previous file's content.
 * @returns The value in Unix seconds, or `undefined` when the file has none.
 */
export function parseLastSuccess(text: string): number | undefined {
  const match = new RegExp(`^${_LAST_SUCCESS} (\\S+)$`, "m").exec(text);
  const value = match ? Number(match[1]) : NaN;
  return Number.isFinite(value) && value > 0 ? value : undefined;
}

/**
 * Writes a run's textfile atomically. A run that did not exit 0 keeps the last success time of
 * the file it replaces. The file is made readable by all (the exporter runs as its own user).
 *
 * @param path The `.prom` file.
 * @param run The run; `lastSuccessSeconds` is worked out here.
 */
export async function writeBatchMetrics(
  path: string,
  run: Omit<BatchRunMetrics, "lastSuccessSeconds">,
): Promise<void> {
  let lastSuccessSeconds: number | undefined;
  if (run.exitCode === ExitCode.ok) {
    lastSuccessSeconds = run.finishedAt.getTime() / 1000;
  } else {
    try {
      lastSuccessSeconds = parseLastSuccess(await Deno.readTextFile(path));
    } catch {
      // No previous file (first run) or an unreadable one: no success known.
    }
  }
  // The collector (node_exporter, windows_exporter) usually runs as another user: world-readable.
  await writeFileAtomic(path, formatBatchMetrics({ ...run, lastSuccessSeconds }), { mode: 0o644 });
}

function _number(value: number): string {
  if (Number.isNaN(value)) return "NaN";
  if (!Number.isFinite(value)) return value > 0 ? "+Inf" : "-Inf";
  return String(value);
}
