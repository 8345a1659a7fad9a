/**
 * The progress bar long commands show on standard error when it is a terminal (never in logs,
 * pipes or files). Log lines share that terminal: while a bar is shown, the console logger
 * writes through {@link besideProgressBar}, which clears the bar's line, writes the log line and
 * draws the bar again beneath it, so neither garbles the other.
 *
 * @module
 */

import type { Logger } from "@logtape/logtape";
import { counted } from "./plural.ts";

/**
 * The shortest time between two progress lines in the logs, in ms: a log line each five seconds
 * tells a person or a collector the run is alive, where a line per batch of a fast run (5,400
 * lines for `batch --limit 5` once, 5 MB of log, ten times the run's time) drowned the log.
 */
export const PROGRESS_LOG_PERIOD_MS = 5_000;

/** Options of {@link progressLogger}. */
export interface ProgressLoggerOptions {
  /** The shortest time between two lines, in ms. @default PROGRESS_LOG_PERIOD_MS */
  periodMs?: number;
  /** What leads the line. @default "📊" */
  icon?: string;
  /** The clock, in ms (tests). @default Date.now */
  now?: () => number;
}

/**
 * A progress reporter for the logs that writes at most one line per period: the first once a
 * period has passed since it was made, so a run shorter than the period logs no progress at all
 * (its summary line says the rest).
 *
 * @param log The logger to write to.
 * @param options The period, icon and clock.
 * @returns A function to call with each step's counts; it logs only when a period has passed.
 * @example
 * ```ts
 * const progress = progressLogger(log);
 * onProgress: (processed, total) => progress(processed, total),
 * // 📊 Progress: 9000/27000 orders processed   (at most every 5 s)
 * ```
 */
export function progressLogger(
  log: Pick<Logger, "info">,
  options: ProgressLoggerOptions = {},
): (processed: number, total: number) => void {
  const { periodMs = PROGRESS_LOG_PERIOD_MS, icon = "📊", now = Date.now } = options;
  let last = now();
  return (processed, total) => {
    const at = now();
    if (at - last < periodMs) return;
    last = at;
    log.info(progressMessage(processed, total, icon), { processed, total });
  };
}

/**
 * The progress line's text.
 *
 * @param processed Orders done.
 * @param total Orders to do.
 * @param icon What leads the line. @default "📊"
 * @returns `📊 Progress: 1/1 order processed`, `📊 Progress: 200/27000 orders processed`.
 */
export function progressMessage(processed: number, total: number, icon = "📊"): string {
  return `${icon} Progress: ${processed}/${counted(total, "order")} processed`;
}

/** A started progress bar. */
export interface ProgressBar {
  /** Moves the bar to `value`. */
  update(value: number): void;
  /** Stops drawing. */
  stop(): void;
}

/** Options of {@link progressBar}. */
export interface ProgressBarOptions {
  /** Whether standard error is a terminal. @default Deno.stderr.isTerminal() */
  terminal?: boolean;
}

interface _Shown {
  clear(): void;
  redraw(): void;
}

// The bar on screen, if any: one at a time, on standard error.
let _shown: _Shown | undefined;

const _encoder = new TextEncoder();

/**
 * Starts a progress bar on standard error, counting orders up to `total`. When standard error is
 * not a terminal, the bar is a no-op: nothing is written.
 *
 * @param total The number of orders.
 * @param icon What leads the line (`📊` for batch, `🎲` for simulate).
 * @param options Whether standard error is a terminal.
 * @returns The started bar.
 */
export async function progressBar(
  total: number,
  icon: string,
  options: ProgressBarOptions = {},
): Promise<ProgressBar> {
  if (!(options.terminal ?? _stderrIsTerminal())) return { update() {}, stop() {} };
  const [{ default: progress }, { default: process }] = await Promise.all([
    import("cli-progress"),
    import("node:process"),
  ]);
  const bar = new progress.SingleBar(
    {
      format: `${icon} {bar} {value}/{total} orders | {eta_formatted} left`,
      hideCursor: true,
      stream: process.stderr,
      // Never wider than the terminal: a wrapped bar could not be cleared by one line erase.
      linewrap: false,
    },
    progress.Presets.shades_classic,
  );
  bar.start(total, 0);
  const forced = bar as unknown as { lastDrawnString: string | null; render(): void };
  const shown: _Shown = {
    // Back to the line's start and erase it: the log line takes the bar's place.
    clear: () => _writeStderr("\r\x1b[2K"),
    redraw: () => {
      // cli-progress saved the cursor where the bar began and restores it on stop: the bar now
      // begins here, below the line just written, so save this place instead (ESC 7).
      _writeStderr("\x1b7");
      forced.lastDrawnString = null;
      forced.render();
    },
  };
  _shown = shown;
  return {
    update: (value) => bar.update(value),
    stop: () => {
      if (_shown === shown) _shown = undefined;
      bar.stop();
    },
  };
}

/**
 * Writes beside the progress bar on screen, if any: clears its line first, draws it again after.
 *
 * @param write Writes whole lines to standard error.
 * @returns What `write` returned.
 */
export function besideProgressBar<T>(write: () => T): T {
  const shown = _shown;
  if (!shown) return write();
  shown.clear();
  try {
    return write();
  } finally {
    shown.redraw();
  }
}

/**
 * Whether a progress bar is on screen.
 *
 * @returns `true` between a shown bar's start and stop.
 */
export function progressBarShown(): boolean {
  return _shown !== undefined;
}

function _writeStderr(text: string): void {
  const bytes = _encoder.encode(text);
  for (let written = 0; written < bytes.length;) {
    written += Deno.stderr.writeSync(bytes.subarray(written));
  }
}

function _stderrIsTerminal(): boolean {
  try {
    return Deno.stderr.isTerminal();
  } catch {
    return false;
  }
}
