/**
 * The operators' "Batch Archiving — Last 7 days" view: one line per day with a bar scaled to the
 * busiest day, its orders archived, success rate and mean duration, then the totals. Pure
 * functions of the days, shared by `archiver history` and the dashboard's lower panel.
 *
 * @module
 */

import type { BatchDay } from "./history.ts";

/** The width of the busiest day's bar, in characters. */
export const BAR_WIDTH = 20;

/** The totals of a history window. */
export interface HistoryTotals {
  /** Batch runs in the window. */
  runs: number;
  /** Runs that exited 0. */
  succeeded: number;
  /** Runs that exited 0 ÷ runs; null without runs. */
  success_rate: number | null;
  /** Mean duration of the runs, in ms; null without runs. */
  avg_duration_ms: number | null;
  /** Orders archived in the window. */
  orders_archived: number;
}

/**
 * Adds up the days of a window.
 *
 * @param days The days.
 * @returns The totals.
 */
export function historyTotals(days: readonly BatchDay[]): HistoryTotals {
  let runs = 0, succeeded = 0, duration = 0, archived = 0;
  for (const day of days) {
    runs += day.runs;
    succeeded += day.succeeded;
    duration += (day.avg_duration_ms ?? 0) * day.runs;
    archived += day.orders_archived;
  }
  return {
    runs,
    succeeded,
    success_rate: runs > 0 ? succeeded / runs : null,
    avg_duration_ms: runs > 0 ? Math.round(duration / runs) : null,
    orders_archived: archived,
  };
}

/**
 * The lines of the view, without a frame: a title, one line per day, the totals.
 *
 * @param days The days, oldest first.
 * @returns The lines.
 * @example
 * ```text
 * Mon 2026-03-16  ████████████████████ 1,234 orders  100.0% ok  avg 12m 34s  (2 runs)
 * Tue 2026-03-17                       no runs
 * ```
 */
export function historyLines(days: readonly BatchDay[]): string[] {
  const most = Math.max(0, ...days.map((day) => day.orders_archived));
  const countWidth = Math.max(1, ...days.map((day) => formatCount(day.orders_archived).length));
  const lines = days.map((day) => {
    const label = `${day.weekday} ${day.day}`;
    if (day.runs === 0) return `${label}  ${"".padEnd(BAR_WIDTH)} no runs`;
    const length = most > 0
      ? Math.max(
        day.orders_archived > 0 ? 1 : 0,
        Math.round(day.orders_archived / most * BAR_WIDTH),
      )
      : 0;
    const bar = "█".repeat(length).padEnd(BAR_WIDTH);
    const count = formatCount(day.orders_archived).padStart(countWidth);
    const runs = day.runs === 1 ? "1 run" : `${day.runs} runs`;
    return `${label}  ${bar} ${count} orders  ${formatRate(day.success_rate)} ok  avg ${
      formatDuration(day.avg_duration_ms)
    }  (${runs})`;
  });
  const totals = historyTotals(days);
  const rate = totals.runs > 0
    ? `${formatRate(totals.success_rate)} (${totals.succeeded}/${totals.runs} runs)`
    : "no runs";
  return [
    ...lines,
    `Success rate: ${rate}`,
    `Avg duration: ${formatDuration(totals.avg_duration_ms)}`,
  ];
}

/**
 * The `--json` form: one object with the days and the totals.
 *
 * @param days The days, oldest first.
 * @returns One line of JSON.
 */
export function historyJson(days: readonly BatchDay[]): string {
  return JSON.stringify({ ...historyTotals(days), days });
}

/**
 * A count with thousands separators: `1,234`.
 *
 * @param value The count.
 * @returns Its text.
 */
export function formatCount(value: number): string {
  return Math.round(value).toLocaleString("en-US");
}

/**
 * A rate as a percentage with one decimal: `99.8%`, or `-` when there is none.
 *
 * @param rate A fraction from 0 to 1, or null.
 * @returns Its text.
 */
export function formatRate(rate: number | null): string {
  return rate === null ? "-" : `${(rate * 100).toFixed(1)}%`;
}

/**
 * A duration the way the plan writes it: `0.8s`, `42s`, `12m 34s`, `3h 05m`, or `-`.
 *
 * @param ms Milliseconds, or null.
 * @returns Its text.
 */
export function formatDuration(ms: number | null): string {
  if (ms === null || !Number.isFinite(ms)) return "-";
  const seconds = ms / 1000;
  if (seconds < 10) return `${seconds.toFixed(1)}s`;
  if (seconds < 60) return `${Math.round(seconds)}s`;
  const total = Math.round(seconds);
  if (total < 3600) return `${Math.floor(total / 60)}m ${String(total % 60).padStart(2, "0")}s`;
  const minutes = Math.floor(total / 60);
  return `${Math.floor(minutes / 60)}h ${String(minutes % 60).padStart(2, "0")}m`;
}
