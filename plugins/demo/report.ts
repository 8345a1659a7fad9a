/**
 * The demo's report: what each step did, with its figures, and whether the archive holds every
 * complete delivered order exactly once — as a short table for people, or one JSON object on one
 * line with `--json`. The figures come from the real commands' own JSON output and from queries.
 *
 * @module
 */

import type { BatchReport } from "../../core/archive/report.ts";

/** The part of `archiver simulate --json` the demo reads. */
export interface SimulatedFigures {
  /** Orders written. */
  orders: number;
  /** Orders per status. */
  statuses: Record<string, number>;
  /** Orders with a reference to a missing document. */
  incomplete: number;
}

/** What `archiver batch --json` prints: the batch report. */
export type BatchFigures = BatchReport;

/** What the live phase did and what the watcher made of it. */
export interface LiveFigures {
  /** Changes applied by `simulate --live` (creations and status moves). */
  changes: number;
  /** Orders created. */
  created: number;
  /** Orders delivered during the live phase. */
  deliveries: number;
  /** Archive documents written by the watcher. */
  archived_by_watch: number;
  /** Time from the end of the live traffic until the archive was complete, in ms. */
  settled_ms: number;
}

/** How the watcher process ended. */
export interface WatchStop {
  /** Its exit code. */
  exit_code: number;
  /** How long it took to stop after the signal, in ms. */
  stop_ms: number;
  /** Whether it had to be killed. */
  killed: boolean;
}

/** The archive against the orders it should hold. */
export interface ArchiveCheck {
  /** Documents in the archive. */
  total: number;
  /** Distinct order numbers in the archive. */
  distinct: number;
  /** Delivered orders whose every reference resolves. */
  complete_delivered: number;
  /** Complete delivered orders the archive lacks. */
  missing: number;
  /** Archive documents written by batch. */
  by_batch: number;
  /** Archive documents written by watch. */
  by_watch: number;
}

/** A non-OK health check, as `archiver health --json` reports it. */
export interface HealthProblem {
  name: string;
  state: string;
  reason: string;
}

/** The whole demo run. */
export interface DemoReport {
  /** Whether every step succeeded and the archive check holds. */
  ok: boolean;
  /** `sandbox` (in-process) or `uri` (the `--uri` server). */
  server: "sandbox" | "uri";
  /** The database used. */
  database: string;
  /** The seed of the data and traffic. */
  seed: number;
  /** The `simulate` step. */
  simulated: SimulatedFigures;
  /** The `batch --dry-run` step. */
  dry_run: BatchFigures;
  /** The `batch` step. */
  batch: BatchFigures;
  /** The live phase. */
  live: LiveFigures;
  /** How the watcher stopped. */
  watch: WatchStop;
  /** The archive check, and whether it holds. */
  archive: ArchiveCheck & { exactly_once: boolean };
  /** The `health` step. */
  health: { state: string; checks: number; problems: HealthProblem[] };
  /** Where logs, resume token, status and batch report were written. */
  work_dir: string;
  /** Whether that folder was kept. */
  kept: boolean;
  /** Wall time of the demo, in ms. */
  duration_ms: number;
}

/**
 * Whether the archive holds every complete delivered order exactly once: none missing, no order
 * twice, and nothing else.
 *
 * @param check The counts.
 * @returns True when the archive is exactly the complete delivered orders.
 */
export function archivedExactlyOnce(check: ArchiveCheck): boolean {
  return check.missing === 0 && check.distinct === check.total &&
    check.total === check.complete_delivered;
}

/**
 * Renders the report.
 *
 * @param report The figures.
 * @param options `json` for one line of JSON.
 * @returns The text to print.
 */
export function renderDemoReport(report: DemoReport, options: { json?: boolean } = {}): string {
  if (options.json) return JSON.stringify(report);
  const statuses = Object.entries(report.simulated.statuses)
    .map(([status, count]) => `${status} ${count}`)
    .join(", ");
  const { archive, live, watch, health } = report;
  const problems = health.problems.map((p) => `${p.name} ${p.state}: ${p.reason}`).join("; ");
  const rows: Array<[string, string]> = [
    [
      "simulate",
      `${report.simulated.orders} orders (${statuses}), ${report.simulated.incomplete} incomplete`,
    ],
    [
      "batch --dry-run",
      `would archive ${report.dry_run.orders_archived} of ${report.dry_run.orders_found} delivered orders, nothing written`,
    ],
    [
      "batch",
      `archived ${report.batch.orders_archived}, incomplete ${report.batch.orders_incomplete}, errors ${report.batch.orders_errors} (${
        _time(report.batch.batch_duration_ms)
      })`,
    ],
    [
      "watch",
      `${live.changes} live changes, ${live.deliveries} deliveries, ${live.archived_by_watch} archived by watch (archive complete ${
        _time(live.settled_ms)
      } after traffic stopped)`,
    ],
    [
      "archive",
      `${archive.total} documents for ${archive.complete_delivered} complete delivered orders (batch ${archive.by_batch}, watch ${archive.by_watch}): ${
        archive.exactly_once
          ? "each archived exactly once"
          : `NOT exactly once (${archive.missing} missing, ${
            archive.total - archive.distinct
          } twice)`
      }`,
    ],
    ["health", `${health.state} (${health.checks} checks)${problems ? `: ${problems}` : ""}`],
    [
      "stop",
      `watcher exited ${watch.exit_code} ${watch.killed ? "after being killed" : "cleanly"} in ${
        _time(watch.stop_ms)
      }`,
    ],
    [
      "files",
      `${report.work_dir}${report.kept ? "" : " (removed; --keep keeps it)"}`,
    ],
  ];
  const width = Math.max(...rows.map(([name]) => name.length));
  const title = `${report.ok ? "✅" : "❌"} archiver demo: ${
    report.server === "sandbox" ? "in-process sandbox" : "--uri server"
  }, database ${report.database}, seed ${report.seed}, ${_time(report.duration_ms)}`;
  return [title, ...rows.map(([name, text]) => `  ${name.padEnd(width)}  ${text}`)].join("\n");
}

function _time(ms: number): string {
  return ms < 1_000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(1)} s`;
}
