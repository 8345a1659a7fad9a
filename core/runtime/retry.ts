/**
 * Retrying with exponential backoff and full jitter (AWS Architecture Blog, "Exponential Backoff
 * and Jitter"): attempt n waits a random time in [0, min(maxDelay, baseDelay * 2^(n-1))], bounded
 * by a deadline, a number of attempts or an abort signal.
 *
 * @module
 */

/** How a retry loop backs off and when it gives up. */
export interface RetryOptions {
  /** Stops waiting and throws the signal's reason when aborted. */
  signal?: AbortSignal;
  /** Gives up when the next wait would end later than this many ms after the first attempt. @default Infinity */
  deadlineMs?: number;
  /** Gives up after this many attempts. @default Infinity */
  maxAttempts?: number;
  /** The first backoff ceiling. @default 100 */
  baseDelayMs?: number;
  /** The largest backoff ceiling. @default 30000 */
  maxDelayMs?: number;
  /** Whether an error is worth another attempt; others are thrown at once. @default always */
  isRetryable?: (error: unknown) => boolean;
  /** Called before each wait, to log and count. */
  onRetry?: (info: { attempt: number; delayMs: number; error: unknown }) => void;
  /** Random source in [0, 1); for tests. @default Math.random */
  random?: () => number;
  /** Clock in ms; for tests. @default Date.now */
  now?: () => number;
}

/**
 * The wait before the next attempt: full jitter over an exponentially growing ceiling.
 *
 * @param attempt The attempt that just failed, from 1.
 * @param options Base and maximum ceilings, and the random source.
 * @returns A delay in ms, within [0, min(maxDelayMs, baseDelayMs * 2^(attempt-1))].
 */
export function backoffDelay(
  attempt: number,
  options: Pick<RetryOptions, "baseDelayMs" | "maxDelayMs" | "random"> = {},
): number {
  const { baseDelayMs = 100, maxDelayMs = 30_000, random = Math.random } = options;
  const ceiling = Math.min(maxDelayMs, baseDelayMs * 2 ** Math.min(attempt - 1, 52));
  return Math.floor(random() * ceiling);
}

/**
 * Runs `fn` until it succeeds, an error is not retryable, or a bound is reached.
 *
 * @param fn The operation; receives the attempt number, from 1.
 * @param options Bounds and backoff.
 * @returns What `fn` returned.
 * @throws The last error when a bound is reached, or the signal's reason when aborted.
 * @example
 * ```ts
 * const client = await retry(() => connect(uri), { deadlineMs: 30_000, isRetryable: isTransient });
 * ```
 */
export async function retry<T>(
  fn: (attempt: number) => Promise<T>,
  options: RetryOptions = {},
): Promise<T> {
  const {
    signal,
    deadlineMs = Infinity,
    maxAttempts = Infinity,
    isRetryable = () => true,
    now = Date.now,
  } = options;
  const started = now();
  for (let attempt = 1;; attempt++) {
    signal?.throwIfAborted();
    try {
      return await fn(attempt);
    } catch (error) {
      signal?.throwIfAborted();
      if (!isRetryable(error) || attempt >= maxAttempts) throw error;
      const delayMs = backoffDelay(attempt, options);
      if (now() - started + delayMs > deadlineMs) throw error;
      options.onRetry?.({ attempt, delayMs, error });
      await sleep(delayMs, signal);
    }
  }
}

/**
 * Waits, or rejects with the signal's reason as soon as it is aborted.
 *
 * @param ms How long to wait.
 * @param signal Ends the wait early.
 */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal!.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}
