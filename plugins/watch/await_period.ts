/**
 * How long one read of the change stream waits on the server (`maxAwaitTimeMS`). An idle
 * watcher's reads are what it asks of the server: each one returns the stream's newest resume
 * token, and after each one the watcher saves that token when a save is due and retries the
 * quarantine when a round is due. So an idle watcher reads as seldom as those two timers allow:
 * a third of the shorter one (20 s with the defaults, three reads a minute), and a due save or
 * round waits at most one read. A delivery does not wait for the read to end: the server answers
 * as soon as an event arrives. With `--batch-wait-ms`, the reads that fill a micro-batch must
 * end within its wait, so the read waits that long (at most 1 s), as before.
 *
 * @module
 */

/** The longest wait of an idle read, in ms: three reads a minute. */
export const MAX_IDLE_AWAIT_MS = 20_000;

/** The shortest wait of a read, in ms. */
export const MIN_AWAIT_MS = 50;

/** What the read's wait depends on. */
export interface AwaitPeriodOptions {
  /** `--batch-wait-ms` (0: a micro-batch is what the stream has ready). */
  batchWaitMs: number;
  /** How often an idle watcher saves its token, in ms. */
  idleTokenSaveMs: number;
  /** `--retry-interval`: how often the quarantine is retried, in ms. */
  retryIntervalMs: number;
}

/**
 * The wait of each change-stream read.
 *
 * @param options The micro-batch wait and the two timers an idle watcher serves.
 * @returns The wait, in ms.
 * @example
 * ```ts
 * streamAwaitMs({ batchWaitMs: 0, idleTokenSaveMs: 60_000, retryIntervalMs: 60_000 }); // 20000
 * streamAwaitMs({ batchWaitMs: 50, idleTokenSaveMs: 60_000, retryIntervalMs: 60_000 }); // 50
 * ```
 */
export function streamAwaitMs(options: AwaitPeriodOptions): number {
  const wait = options.batchWaitMs > 0
    ? Math.min(1_000, options.batchWaitMs)
    : Math.min(MAX_IDLE_AWAIT_MS, Math.min(options.idleTokenSaveMs, options.retryIntervalMs) / 3);
  return Math.max(MIN_AWAIT_MS, Math.floor(wait));
}
