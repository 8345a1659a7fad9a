/**
 * The operators' live view of the watcher ("Vue en temps réel"): uptime, status, last event,
 * today's figures with percentages, performance, CPU and memory, and the batch history beneath,
 * in one box. A pure function of what the dashboard read, so it is tested without a terminal.
 *
 * @module
 */

import cliBoxes from "cli-boxes";
import stringWidth from "string-width";
import type { BatchDay, WatchDayRecord } from "../../core/archive/history.ts";
import type { WatchStatus } from "../../core/stream/watch_status.ts";
import { formatCount, formatDuration, historyLines } from "../../core/archive/history_view.ts";

/** A heartbeat older than this means the watcher no longer answers. */
export const STALE_AFTER_MS = 30_000;

/** Everything one frame shows. */
export interface DashboardModel {
  /** The time of the frame. */
  now: Date;
  /** Where the status came from: the status file's path or the `/healthz` URL. */
  source: string;
  /** The watcher's status, when it could be read. */
  status?: WatchStatus;
  /** Why it could not be read (no file, not a status file, no answer). */
  statusError?: string;
  /** The watcher's totals for today from the run history, when there are any. */
  today?: WatchDayRecord;
  /** The watcher process: CPU (% of one core) and resident memory; `"gone"` when it exited. */
  process?: { cpuPercent: number | null; rssBytes: number | null } | "gone";
  /** The batch history, oldest day first. */
  days?: BatchDay[];
  /** Days asked for. */
  dayCount: number;
  /** Why the run history could not be read. */
  historyError?: string;
  /** A hint line under the box (`q quits`), if any. */
  footer?: string;
}

const _MIN_WIDTH = 53;

/**
 * Draws one frame.
 *
 * @param model What to show.
 * @returns The frame's lines joined with newlines, no trailing newline.
 */
export function renderDashboard(model: DashboardModel): string {
  const sections: string[][] = [
    ["🔴 MongoDB Order Archiver - LIVE"],
    _watcherLines(model),
    _todayLines(model),
    _performanceLines(model),
    _historyLines(model),
  ];
  const width = Math.max(
    _MIN_WIDTH,
    ...sections.flat().map((line) => stringWidth(line) + 4),
  );
  const box = cliBoxes.single;
  const line = (text: string) => {
    const padding = Math.max(0, width - 2 - stringWidth(text));
    return `${box.left}  ${text}${" ".repeat(padding)}${box.right}`;
  };
  const rule = (left: string, right: string) => `${left}${box.top.repeat(width)}${right}`;
  const out = [rule(box.topLeft, box.topRight)];
  sections.forEach((section, i) => {
    if (i > 0) out.push(rule("├", "┤"));
    out.push(...section.map(line));
  });
  out.push(rule(box.bottomLeft, box.bottomRight));
  if (model.footer) out.push(model.footer);
  return out.join("\n");
}

/**
 * The watcher's state in words, as the Status line shows it.
 *
 * @param model What the dashboard read.
 * @returns E.g. `✅ Running (streaming)`.
 */
export function statusText(model: DashboardModel): string {
  const status = model.status;
  if (!status) return `❌ ${model.statusError ?? "No status"}`;
  if (status.state === "stopped") return "⏹️ Stopped";
  if (model.process === "gone") return `❌ Not running (process ${status.pid} is gone)`;
  const age = model.now.getTime() - Date.parse(status.updated_at);
  if (age > STALE_AFTER_MS) {
    return `❌ Not responding (last heartbeat ${formatDuration(age)} ago, ${status.state})`;
  }
  switch (status.state) {
    case "streaming":
      return "✅ Running (streaming)";
    case "catching-up":
      return "🔄 Catching up on delivered orders";
    case "starting":
      return "⏳ Starting";
    case "reconnecting":
      return "⚠️ Reconnecting to MongoDB";
    case "invalidated":
      return "⚠️ Orders collection gone: waiting for it";
    case "standby":
      return "💤 Standby (another watcher holds the lease)";
    default:
      return `❔ ${status.state}`;
  }
}

function _watcherLines(model: DashboardModel): string[] {
  const status = model.status;
  const uptime = status ? _uptime(status, model.now) : "-";
  const lastEvent = status?.last_event_at ? _clock(new Date(status.last_event_at)) : "-";
  return [`Uptime: ${uptime}`, `Status: ${statusText(model)}`, `Last event: ${lastEvent}`];
}

function _todayLines(model: DashboardModel): string[] {
  const today = model.today;
  const metrics = model.status?.metrics;
  const figures = today
    ? {
      title: "📊 Today's Statistics",
      archived: today.events_archived,
      duplicates: today.orders_duplicates,
      incomplete: today.orders_incomplete,
      errors: today.orders_errors + today.orders_invalid,
    }
    : metrics
    ? {
      title: "📊 Statistics since start",
      archived: metrics.events_archived,
      duplicates: metrics.orders_duplicates,
      incomplete: metrics.orders_incomplete,
      errors: metrics.orders_errors + metrics.orders_invalid,
    }
    : undefined;
  if (!figures) return ["📊 Today's Statistics", "  -"];
  const handled = figures.archived + figures.duplicates + figures.incomplete + figures.errors;
  const share = (n: number) => handled > 0 ? ` (${(n / handled * 100).toFixed(1)}%)` : "";
  return [
    figures.title,
    `  Archived: ${formatCount(figures.archived)} orders`,
    `  Duplicates: ${formatCount(figures.duplicates)}${share(figures.duplicates)}`,
    `  Incomplete: ${formatCount(figures.incomplete)}${share(figures.incomplete)}`,
    `  Errors: ${formatCount(figures.errors)}${share(figures.errors)}`,
  ];
}

function _performanceLines(model: DashboardModel): string[] {
  const today = model.today;
  const average = today && today.micro_batches > 0
    ? formatDuration(today.processing_seconds / today.micro_batches * 1000)
    : "-";
  const lag = model.status ? formatDuration(model.status.metrics.stream_lag_seconds * 1000) : "-";
  const process = model.process;
  const cpu = process && process !== "gone" && process.cpuPercent !== null
    ? `${Math.round(process.cpuPercent)}%`
    : "-";
  const ram = process && process !== "gone" && process.rssBytes !== null
    ? `${Math.round(process.rssBytes / 1024 / 1024)} MB`
    : "-";
  return [
    "⚡ Performance",
    `  Avg processing time: ${average}`,
    `  Stream lag: ${lag}`,
    `  CPU: ${cpu} | RAM: ${ram}`,
  ];
}

function _historyLines(model: DashboardModel): string[] {
  const title = `📦 Batch Archiving - Last ${model.dayCount} ${
    model.dayCount === 1 ? "day" : "days"
  }`;
  if (model.days) return [title, ...historyLines(model.days)];
  return [title, model.historyError ? `History unavailable: ${model.historyError}` : "…"];
}

function _uptime(status: WatchStatus, now: Date): string {
  const seconds = status.state === "stopped"
    ? status.metrics.uptime_seconds
    : Math.max(0, (now.getTime() - Date.parse(status.started_at)) / 1000);
  const minutes = Math.floor(seconds / 60);
  if (minutes < 1) return `${Math.floor(seconds)}s`;
  if (minutes < 60) return `${minutes}m ${String(Math.floor(seconds % 60)).padStart(2, "0")}s`;
  const hours = Math.floor(minutes / 60);
  if (hours < 48) return `${hours}h ${String(minutes % 60).padStart(2, "0")}m`;
  return `${Math.floor(hours / 24)}d ${hours % 24}h`;
}

function _clock(time: Date): string {
  const pad = (n: number) => String(n).padStart(2, "0");
  return `${pad(time.getHours())}:${pad(time.getMinutes())}:${pad(time.getSeconds())}`;
}
