/**
 * The watcher's first connection: tried until it succeeds or the watcher stops, with exponential
 * backoff and jitter. Each failed attempt is counted (`connection_errors`) and said in one ERROR
 * line naming the attempt and the next try's delay
 * (`❌ Failed to connect to MongoDB at … (attempt 3): …; retrying in 4 s`); after the first few
 * attempts, one line a minute says how many failed since the last line, so a server down for a
 * night writes a few hundred lines, not thousands. Refused credentials are not retried.
 *
 * @module
 */

import type { Logger } from "@logtape/logtape";
import type { MongoClient } from "mongodb";
import { createMongoClient } from "../../core/mongo/client.ts";
import { describeError, isAuthError } from "../../core/mongo/errors.ts";
import type { GlobalConfig } from "../../core/runtime/config.ts";
import { ConfigError } from "../../core/runtime/errors.ts";
import { maskUri } from "../../core/runtime/mask.ts";
import { backoffDelay, sleep } from "../../core/runtime/retry.ts";

/** Options of {@link FailureLines}. */
export interface FailureLinesOptions {
  /** Attempts logged one by one before the lines thin out. @default 5 */
  everyAttempt?: number;
  /** Then, at most one line per this many ms. @default 60000 */
  thenEveryMs?: number;
  /** The clock (tests). @default Date.now */
  now?: () => number;
}

/** Decides which failed attempts get a line: the first few, then one a minute. */
export class FailureLines {
  readonly #everyAttempt: number;
  readonly #thenEveryMs: number;
  readonly #now: () => number;
  #lastLineAt = -Infinity;
  #unsaid = 0;

  /**
   * A gate over failed attempts.
   *
   * @param options How many attempts are said one by one, and how often after.
   */
  constructor(options: FailureLinesOptions = {}) {
    this.#everyAttempt = options.everyAttempt ?? 5;
    this.#thenEveryMs = options.thenEveryMs ?? 60_000;
    this.#now = options.now ?? Date.now;
  }

  /**
   * A failed attempt.
   *
   * @param attempt Its number, from 1.
   * @returns `undefined` when it gets no line; else how many attempts failed unsaid since the
   *   last line.
   */
  failed(attempt: number): { unsaid: number } | undefined {
    const now = this.#now();
    if (attempt > this.#everyAttempt && now - this.#lastLineAt < this.#thenEveryMs) {
      this.#unsaid++;
      return undefined;
    }
    const unsaid = this.#unsaid;
    this.#unsaid = 0;
    this.#lastLineAt = now;
    return { unsaid };
  }

  /** Whether lines are now one a minute (said once, on the last line logged one by one). */
  thinsAfter(attempt: number): boolean {
    return attempt === this.#everyAttempt;
  }
}

/**
 * The line of a failed connection attempt.
 *
 * @param where The server, masked.
 * @param options The attempt, the error, the delay before the next try, attempts unsaid since the
 *   last line, and whether lines thin out from now on.
 * @returns E.g. `❌ Failed to connect to MongoDB at mongodb://h:27017 (attempt 3): …; retrying in
 *   4 s`.
 */
export function failureLine(
  where: string,
  options: { attempt: number; error: unknown; delayMs: number; unsaid: number; thinning: boolean },
): string {
  const { attempt, unsaid } = options;
  const since = unsaid > 0 ? `, ${unsaid} more failed since the last line` : "";
  const thinning = options.thinning ? " (from now on, one line a minute)" : "";
  return `❌ Failed to connect to MongoDB at ${where} (attempt ${attempt}${since}): ${
    describeError(options.error)
  }; retrying in ${formatDelay(options.delayMs)}${thinning}`;
}

/**
 * A retry delay in words: tenths of a second under 10 s, else whole seconds.
 *
 * @param ms The delay.
 * @returns E.g. `0.4 s`, `12 s`.
 */
export function formatDelay(ms: number): string {
  const seconds = ms / 1000;
  return seconds < 10 ? `${seconds.toFixed(1)} s` : `${Math.round(seconds)} s`;
}

/** Options of {@link connectForever}. */
export interface ConnectOptions {
  /** Stops the attempts. */
  signal: AbortSignal;
  /** Counts a failed attempt; returns `connection_errors` since start. */
  count(): number;
  /** Where the lines go. */
  log: Logger;
  /** Which failed attempts get a line. @default first 5, then one a minute */
  lines?: FailureLines;
  /** The first and largest backoff ceilings, in ms. @default 500 and 30000 */
  baseDelayMs?: number;
  /** @default 30000 */
  maxDelayMs?: number;
}

/**
 * Connects, retrying until it succeeds or the signal is aborted.
 *
 * @param config The connection settings.
 * @param options The signal, the counter and the logger.
 * @returns The connected client, or `undefined` when stopped first.
 * @throws {ConfigError} When MongoDB refuses the credentials (exit 2): no retry can fix them.
 */
export async function connectForever(
  config: GlobalConfig,
  options: ConnectOptions,
): Promise<MongoClient | undefined> {
  const where = maskUri(config.uri);
  const lines = options.lines ?? new FailureLines();
  for (let attempt = 1; !options.signal.aborted; attempt++) {
    const client = createMongoClient(config);
    try {
      await client.connect();
      options.log.info(`✅ Connected to database at ${where}`);
      return client;
    } catch (error) {
      await client.close().catch(() => {});
      if (isAuthError(error)) {
        throw new ConfigError(
          `Authentication to MongoDB at ${where} failed: ${describeError(error)}`,
          { cause: error },
        );
      }
      const errors = options.count();
      const delayMs = backoffDelay(attempt, {
        baseDelayMs: options.baseDelayMs ?? 500,
        maxDelayMs: options.maxDelayMs ?? 30_000,
      });
      const said = lines.failed(attempt);
      if (said) {
        options.log.error(
          failureLine(where, {
            attempt,
            error,
            delayMs,
            unsaid: said.unsaid,
            thinning: lines.thinsAfter(attempt),
          }),
          { attempt, retry_in_ms: delayMs, connection_errors: errors },
        );
      }
      try {
        await sleep(delayMs, options.signal);
      } catch {
        return undefined;
      }
    }
  }
  return undefined;
}
