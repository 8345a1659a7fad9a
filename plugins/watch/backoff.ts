/**
 * The watcher's backoff between failed attempts: exponential with jitter, growing while failures
 * come less than a minute apart (reopening the stream does not reset it), reset by a quiet period.
 *
 * @module
 */

import { backoffDelay, sleep } from "../../core/runtime/retry.ts";

/** Options of {@link Backoff}. */
export interface BackoffOptions {
  /** First delay, in ms. @default 250 */
  baseDelayMs?: number;
  /** Longest delay, in ms. @default 30000 */
  maxDelayMs?: number;
  /** Failures further apart than this start over from the first delay, in ms. @default 60000 */
  resetMs?: number;
  /** The clock (tests). @default Date.now */
  now?: () => number;
  /** The jitter's random source (tests). @default Math.random */
  random?: () => number;
}

/** Waits before the next try, longer while failures keep coming. */
export class Backoff {
  readonly #baseDelayMs: number;
  readonly #maxDelayMs: number;
  readonly #resetMs: number;
  readonly #now: () => number;
  readonly #random: () => number;
  #attempt = 0;
  #lastFailureAt = -Infinity;

  /**
   * A backoff.
   *
   * @param options Delays and the reset period.
   */
  constructor(options: BackoffOptions = {}) {
    this.#baseDelayMs = options.baseDelayMs ?? 250;
    this.#maxDelayMs = options.maxDelayMs ?? 30_000;
    this.#resetMs = options.resetMs ?? 60_000;
    this.#now = options.now ?? Date.now;
    this.#random = options.random ?? Math.random;
  }

  /**
   * Counts a failure and returns the delay before the next try.
   *
   * @returns The delay in ms.
   */
  next(): number {
    const now = this.#now();
    if (now - this.#lastFailureAt > this.#resetMs) this.#attempt = 0;
    this.#lastFailureAt = now;
    return backoffDelay(++this.#attempt, {
      baseDelayMs: this.#baseDelayMs,
      maxDelayMs: this.#maxDelayMs,
      random: this.#random,
    });
  }

  /**
   * Waits a failure's delay (counting the failure unless its delay was taken already).
   *
   * @param signal Ends the wait.
   * @param delayMs The delay {@link next} gave, to say it before waiting. @default next()
   * @returns False when the signal ended the wait (the watcher stops).
   */
  async wait(signal: AbortSignal, delayMs: number = this.next()): Promise<boolean> {
    try {
      await sleep(delayMs, signal);
      return true;
    } catch {
      return false;
    }
  }
}
