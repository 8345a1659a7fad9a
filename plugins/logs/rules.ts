/**
 * The operators' alert rules over a stream of log lines: any error; more than 3 connection
 * failures in 10 minutes; stream lag over 30 s; more than 10 % of orders incomplete in the last
 * hour. A pure engine with bounded state (a short ring of failure times, per-minute buckets for
 * the hour), fed in time order by `logs check` and live by `logs follow`.
 *
 * @module
 */

import {
  isMonitoringLine,
  type LogEntry,
  type LogSignals,
  ordersSettled,
} from "../../core/log_files/entry.ts";

/** A rule's name. */
export type RuleName = "error" | "connection_errors" | "stream_lag" | "incomplete_rate";

/** How loud an alert is: CRITICAL for the plan's P1 rules, WARNING for P2. */
export type AlertState = "WARNING" | "CRITICAL";

/** An alert raised by a rule. */
export interface Alert {
  /** The rule that fired. */
  rule: RuleName;
  /** Its state. */
  state: AlertState;
  /** ISO time of the line that made it fire. */
  at: string;
  /** One line saying why. */
  message: string;
}

/** The limits of the rules. */
export interface LogRules {
  /** More connection failures than this within the window is CRITICAL. @default 3 */
  maxConnectionErrors: number;
  /** The connection-failure window, in ms. @default 10m */
  connectionWindowMs: number;
  /** Stream lag above this many seconds is a WARNING. @default 30 */
  maxLagSeconds: number;
  /** More incomplete orders than this percent within the window is a WARNING. @default 10 */
  maxIncompletePercent: number;
  /** The incomplete-rate window, in ms. @default 1h */
  incompleteWindowMs: number;
  /**
   * The incomplete rate is judged once the window holds at least this many orders: below it, a
   * few incomplete orders of a quiet hour are a large percent of nothing. @default 50
   */
  incompleteMinOrders: number;
}

/** The plan's limits. */
export const defaultRules = {
  maxConnectionErrors: 3,
  connectionWindowMs: 600_000,
  maxLagSeconds: 30,
  maxIncompletePercent: 10,
  incompleteWindowMs: 3_600_000,
  incompleteMinOrders: 50,
} as const satisfies LogRules;

const _RULE_STATE: Record<RuleName, AlertState> = {
  error: "CRITICAL",
  connection_errors: "CRITICAL",
  stream_lag: "WARNING",
  incomplete_rate: "WARNING",
};

const _BUCKET_MS = 60_000;

/**
 * Evaluates the rules line by line. Window rules fire when their condition becomes true and
 * re-arm once it is false again, so a long outage is one alert, not one per line.
 */
export class RuleEngine {
  readonly #rules: LogRules;
  #latest = -Infinity;
  #failures: number[] = [];
  #connectionActive = false;
  #lagActive = false;
  #buckets: Array<{ start: number; orders: number; incomplete: number }> = [];
  #incompleteActive = false;
  #orders = 0;
  #incomplete = 0;

  /** @param rules The limits. */
  constructor(rules: LogRules = defaultRules) {
    this.#rules = rules;
  }

  /**
   * Feeds one line and returns the alerts it raises.
   *
   * @param entry The parsed line.
   * @param signals What it says.
   * @returns The alerts raised by this line, usually none.
   */
  push(entry: LogEntry, signals: LogSignals): Alert[] {
    const rules = this.#rules;
    // The monitoring commands' own lines report what they judged: never judged again.
    if (isMonitoringLine(entry)) return [];
    // Windows slide on the latest time seen, so a slightly out-of-order line cannot rewind them.
    this.#latest = Math.max(this.#latest, entry.time);
    const now = this.#latest;
    const at = new Date(entry.time).toISOString();
    const alerts: Alert[] = [];
    const raise = (rule: RuleName, message: string) =>
      alerts.push({ rule, state: _RULE_STATE[rule], at, message });

    if (entry.level === "ERROR" || entry.level === "FATAL") {
      raise("error", `${entry.level} ${entry.logger}: ${_oneLine(entry.message)}`);
    }

    if (signals.connectionFailure) {
      this.#failures.push(entry.time);
      // Only the last max+1 failures can decide the rule: the ring stays small.
      if (this.#failures.length > rules.maxConnectionErrors + 1) this.#failures.shift();
    }
    while (this.#failures.length > 0 && this.#failures[0]! <= now - rules.connectionWindowMs) {
      this.#failures.shift();
    }
    const failing = this.#failures.length > rules.maxConnectionErrors;
    if (failing && !this.#connectionActive) {
      raise(
        "connection_errors",
        `${this.#failures.length} connection failures within ${
          _minutes(rules.connectionWindowMs)
        } (max ${rules.maxConnectionErrors})`,
      );
    }
    this.#connectionActive = failing;

    if (signals.lagSeconds !== undefined) {
      const lagging = signals.lagSeconds > rules.maxLagSeconds;
      if (lagging && !this.#lagActive) {
        raise(
          "stream_lag",
          `Stream lag ${signals.lagSeconds}s (max ${rules.maxLagSeconds}s) in ${entry.logger}`,
        );
      }
      this.#lagActive = lagging;
    }

    // Each order once, from its run's summary line (per-order warnings carry no count).
    const orders = ordersSettled(signals);
    if (orders > 0) {
      const start = Math.floor(entry.time / _BUCKET_MS) * _BUCKET_MS;
      let bucket = this.#buckets.at(-1);
      if (bucket?.start !== start) bucket = this.#buckets.find((b) => b.start === start);
      if (!bucket) {
        bucket = { start, orders: 0, incomplete: 0 };
        this.#buckets.push(bucket);
        // Kept oldest first, so expiry only looks at the head.
        if (this.#buckets.length > 1 && this.#buckets.at(-2)!.start > start) {
          this.#buckets.sort((a, b) => a.start - b.start);
        }
      }
      bucket.orders += orders;
      bucket.incomplete += signals.incomplete;
      this.#orders += orders;
      this.#incomplete += signals.incomplete;
    }
    const expired = now - rules.incompleteWindowMs;
    while (this.#buckets.length > 0 && this.#buckets[0]!.start <= expired) {
      const old = this.#buckets.shift()!;
      this.#orders -= old.orders;
      this.#incomplete -= old.incomplete;
    }
    const windowOrders = this.#orders;
    const windowIncomplete = this.#incomplete;
    const percent = windowOrders > 0 ? (windowIncomplete / windowOrders) * 100 : 0;
    const high = windowOrders >= rules.incompleteMinOrders &&
      percent > rules.maxIncompletePercent;
    if (high && !this.#incompleteActive) {
      raise(
        "incomplete_rate",
        `${Math.round(percent * 10) / 10}% of orders incomplete within ${
          _minutes(rules.incompleteWindowMs)
        } (${windowIncomplete} of ${windowOrders}, max ${rules.maxIncompletePercent}%)`,
      );
    }
    this.#incompleteActive = high;
    return alerts;
  }
}

/** Alerts of one rule, summed over a run. */
export interface AlertSummary {
  /** The rule. */
  rule: RuleName;
  /** Its state. */
  state: AlertState;
  /** How many times it fired. */
  count: number;
  /** ISO time of the first firing. */
  first_at: string;
  /** ISO time of the last firing. */
  last_at: string;
  /** The last firing's message. */
  last_message: string;
}

/**
 * Adds an alert to per-rule summaries (bounded: one entry per rule).
 *
 * @param summaries The summaries so far, keyed by rule.
 * @param alert The alert.
 */
export function summarizeAlert(summaries: Map<RuleName, AlertSummary>, alert: Alert): void {
  const seen = summaries.get(alert.rule);
  if (!seen) {
    summaries.set(alert.rule, {
      rule: alert.rule,
      state: alert.state,
      count: 1,
      first_at: alert.at,
      last_at: alert.at,
      last_message: alert.message,
    });
    return;
  }
  seen.count++;
  seen.last_at = alert.at;
  seen.last_message = alert.message;
}

/**
 * The state and exit code of a set of alerts: CRITICAL (2), WARNING (1) or OK (0).
 *
 * @param states The states of the alerts raised.
 * @returns The worst state and its exit code.
 */
export function alertsState(
  states: Iterable<AlertState>,
): { state: "OK" | AlertState; exitCode: 0 | 1 | 2 } {
  let worst: "OK" | AlertState = "OK";
  for (const state of states) {
    if (state === "CRITICAL") return { state, exitCode: 2 };
    worst = "WARNING";
  }
  return worst === "WARNING" ? { state: worst, exitCode: 1 } : { state: "OK", exitCode: 0 };
}

function _oneLine(text: string): string {
  const line = text.split("\n")[0] ?? "";
  return line.length > 200 ? `${line.slice(0, 200)}…` : line;
}

function _minutes(ms: number): string {
  return ms % 3_600_000 === 0 ? `${ms / 3_600_000}h` : `${Math.round(ms / 60_000)}m`;
}
