/**
 * Retrying one MongoDB call through transient failures, with backoff, a deadline and a log line
 * per retry.
 *
 * @module
 */

import type { Logger } from "@logtape/logtape";
import { retry } from "../runtime/retry.ts";
import { describeError, isTransientError } from "./errors.ts";

/** How {@link retryTransient} bounds and reports its attempts. */
export interface TransientRetryOptions {
  /** Where each retry is logged, as a warning. */
  log: Logger;
  /** Stops waiting when aborted. */
  signal?: AbortSignal;
  /** Gives up after this long, in ms, and throws the last error. @default 30000 */
  deadlineMs?: number;
  /** Called on each transient failure, to count connection errors. */
  onTransientError?: (error: unknown) => void;
}

/**
 * Runs a MongoDB call, retrying transient failures (network, elections, shutdown) with backoff
 * and full jitter until a deadline; other errors are thrown at once. Each retry is logged as
 * `<what> failed (attempt N), retrying: <reason>`, without credentials.
 *
 * @param what What the call does, for the log (`"Archive write"`).
 * @param fn The call.
 * @param options Logger, abort signal, deadline and error counter.
 * @returns What the call returned.
 */
export function retryTransient<T>(
  what: string,
  fn: () => Promise<T>,
  options: TransientRetryOptions,
): Promise<T> {
  return retry(fn, {
    signal: options.signal,
    deadlineMs: options.deadlineMs ?? 30_000,
    baseDelayMs: 200,
    maxDelayMs: 5_000,
    isRetryable: isTransientError,
    onRetry: ({ error, attempt }) => {
      options.onTransientError?.(error);
      options.log.warn(`${what} failed (attempt ${attempt}), retrying: ${describeError(error)}`);
    },
  });
}
