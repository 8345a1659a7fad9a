/**
 * The progress bar long commands show on standard error when it is a terminal (never in logs,
 * pipes or files). Log lines share that terminal: while a bar is shown, the console logger
 * writes through {@link besideProgressBar}, which clears the bar's line, writes the log line and
 * draws the bar again beneath it, so neither garbles the other.
 *
 * @module
 */

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
