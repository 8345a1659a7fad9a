/**
 * The progress bar long commands show on a terminal (never in logs or pipes).
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

/**
 * Starts a progress bar on standard error, counting orders up to `total`.
 *
 * @param total The number of orders.
 * @param icon What leads the line (`📊` for batch, `🎲` for simulate).
 * @returns The started bar.
 */
export async function progressBar(total: number, icon: string): Promise<ProgressBar> {
  const { default: progress } = await import("cli-progress");
  const bar = new progress.SingleBar(
    { format: `${icon} {bar} {value}/{total} orders | {eta_formatted} left`, hideCursor: true },
    progress.Presets.shades_classic,
  );
  bar.start(total, 0);
  return bar;
}
