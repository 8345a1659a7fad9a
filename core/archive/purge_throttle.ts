/**
 * The purge's throttle as one pure function of the clock and the run's figures: before each
 * chunk it says go, wait (how long, and why: replica lag, rate, outside the time window), or stop
 * (the run time is over, or the window closed). The command sleeps what it says and asks again,
 * so a test feeds it a fake clock and counts what each interval let through.
 *
 * @module
 */

/** A daily time window in local time, `01:00-05:00`; it may span midnight (`22:00-04:00`). */
export interface TimeWindow {
  /** Minutes after midnight when it opens. */
  startMinutes: number;
  /** Minutes after midnight when it closes (before `startMinutes` when it spans midnight). */
  endMinutes: number;
}

/** Why the throttle waits. */
export type PauseReason = "lag" | "rate" | "window";

/** Why the throttle stops the run (at a chunk's end). */
export type StopReason = "run_time" | "window_closed";

/** What the throttle says before a chunk. */
export type ThrottleDecision =
  | { action: "go" }
  | { action: "wait"; ms: number; reason: PauseReason; detail: string }
  | { action: "stop"; reason: StopReason; detail: string };

/** The throttle's limits. */
export interface ThrottleLimits {
  /** Pause while the replica set's secondaries lag by more than this, in ms. @default 10000 */
  maxLagMs: number;
  /**
   * Orders per second at most; 0 for no bound. Each chunk of `n` orders is followed by `n / rate`
   * seconds before the next one, so no interval ever sees more than the rate and one chunk
   * (a pause for lag or the window gives no burst afterwards).
   */
  maxRate: number;
  /** Purge only inside this window, local time; none for any time. */
  window?: TimeWindow;
  /** Stop (at a chunk's end) after this long, in ms; 0 for no bound. */
  runTimeMs: number;
}

/** What the throttle sees before a chunk. */
export interface ThrottleInput {
  /** The clock. */
  now: Date;
  /** When the run started. */
  startedAt: Date;
  /** When the run first found itself inside its window (undefined: not yet). */
  windowEnteredAt?: Date;
  /** The previous chunk: when its deletes were sent and how many orders it purged. */
  lastChunk?: { at: Date; orders: number };
  /** The secondaries' lag as last measured, in ms (undefined: could not be measured). */
  lagMs?: number;
}

// How long a wait for the lag to fall lasts before measuring again.
const _LAG_POLL_MS = 1_000;

/**
 * Parses a window such as `01:00-05:00`.
 *
 * @param raw The text.
 * @returns The window.
 * @throws {TypeError} Naming the expected form.
 */
export function parseTimeWindow(raw: string): TimeWindow {
  const match = /^(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})$/.exec(raw.trim());
  const minutes = (h: string, m: string) => {
    const hours = Number(h);
    const mins = Number(m);
    if (hours > 23 || mins > 59) throw new TypeError("a window such as 01:00-05:00 (local time)");
    return hours * 60 + mins;
  };
  if (!match) throw new TypeError("a window such as 01:00-05:00 (local time)");
  const window = {
    startMinutes: minutes(match[1]!, match[2]!),
    endMinutes: minutes(match[3]!, match[4]!),
  };
  if (window.startMinutes === window.endMinutes) {
    throw new TypeError("a window such as 01:00-05:00 whose end differs from its start");
  }
  return window;
}

/**
 * Writes a window back as `HH:MM-HH:MM`.
 *
 * @param window The window.
 * @returns E.g. `01:00-05:00`.
 */
export function formatTimeWindow(window: TimeWindow): string {
  const hhmm = (m: number) =>
    `${String(Math.floor(m / 60)).padStart(2, "0")}:${String(m % 60).padStart(2, "0")}`;
  return `${hhmm(window.startMinutes)}-${hhmm(window.endMinutes)}`;
}

/**
 * How long until the window opens, in ms: 0 inside it.
 *
 * @param window The window.
 * @param now The clock (its local time).
 * @returns Milliseconds until it opens.
 */
export function untilWindowOpens(window: TimeWindow, now: Date): number {
  const minute = now.getHours() * 60 + now.getMinutes();
  const inside = window.startMinutes < window.endMinutes
    ? minute >= window.startMinutes && minute < window.endMinutes
    : minute >= window.startMinutes || minute < window.endMinutes;
  if (inside) return 0;
  const minutes = (window.startMinutes - minute + 1440) % 1440;
  return minutes * 60_000 - now.getSeconds() * 1000 - now.getMilliseconds();
}

/**
 * What to do before the next chunk: stop when the run time is over or the window closed after
 * the run entered it; wait until the window opens, while the lag exceeds its bound, or until the
 * rate allows the previous chunk's orders; else go.
 *
 * @param input The clock and the run's figures.
 * @param limits The limits.
 * @returns The decision.
 */
export function throttleDecision(input: ThrottleInput, limits: ThrottleLimits): ThrottleDecision {
  const elapsed = input.now.getTime() - input.startedAt.getTime();
  if (limits.runTimeMs > 0 && elapsed >= limits.runTimeMs) {
    return {
      action: "stop",
      reason: "run_time",
      detail: `the run time of ${Math.round(limits.runTimeMs / 1000)}s is over`,
    };
  }
  if (limits.window) {
    const wait = untilWindowOpens(limits.window, input.now);
    if (wait > 0 && input.windowEnteredAt !== undefined) {
      return {
        action: "stop",
        reason: "window_closed",
        detail: `the window ${formatTimeWindow(limits.window)} closed`,
      };
    }
    if (wait > 0) {
      return {
        action: "wait",
        ms: wait,
        reason: "window",
        detail: `outside the window ${formatTimeWindow(limits.window)} (local time)`,
      };
    }
  }
  if (input.lagMs !== undefined && input.lagMs > limits.maxLagMs) {
    return {
      action: "wait",
      ms: _LAG_POLL_MS,
      reason: "lag",
      detail: `the secondaries lag by ${(input.lagMs / 1000).toFixed(1)}s, more than --max-lag ${
        (limits.maxLagMs / 1000).toFixed(0)
      }s`,
    };
  }
  if (limits.maxRate > 0 && input.lastChunk) {
    const allowedAt = input.lastChunk.at.getTime() +
      (input.lastChunk.orders / limits.maxRate) * 1000;
    const wait = allowedAt - input.now.getTime();
    if (wait > 0) {
      return {
        action: "wait",
        ms: Math.ceil(wait),
        reason: "rate",
        detail: `at most ${limits.maxRate} orders per second (--max-rate)`,
      };
    }
  }
  return { action: "go" };
}
