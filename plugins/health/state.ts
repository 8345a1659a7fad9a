/**
 * Health states in the monitoring-plugin convention (Nagios, Icinga, Zabbix agents): each check
 * ends OK, WARNING, CRITICAL or UNKNOWN with a one-line reason, and the command's exit code is
 * the worst state.
 *
 * @module
 */

import type { HealthThresholds } from "./thresholds.ts";

/** The state of one check, or of the whole run. */
export type HealthState = "OK" | "WARNING" | "CRITICAL" | "UNKNOWN";

/** The exit code of each state (monitoring-plugin convention). */
export const STATE_EXIT_CODE: Readonly<Record<HealthState, number>> = {
  OK: 0,
  WARNING: 1,
  CRITICAL: 2,
  UNKNOWN: 3,
};

// An UNKNOWN (say, free disk space on a host without `df`) must never hide a CRITICAL, so it
// ranks between WARNING and CRITICAL.
const _SEVERITY: Readonly<Record<HealthState, number>> = {
  OK: 0,
  WARNING: 1,
  UNKNOWN: 2,
  CRITICAL: 3,
};

/** The outcome of one check. */
export interface CheckResult {
  /** The check's name, such as `resume_token`. */
  name: string;
  /** Its state. */
  state: HealthState;
  /** One line saying why. */
  reason: string;
  /** Whether the check does not apply here (no watcher, no batch report): then it is OK. */
  skipped?: boolean;
  /** The figures behind the state, for `--json`. */
  data?: Record<string, unknown>;
}

/**
 * The worst of several states: CRITICAL, then UNKNOWN, then WARNING, then OK.
 *
 * @param states The states to combine.
 * @returns The worst one, or OK when there is none.
 */
export function worstState(states: Iterable<HealthState>): HealthState {
  let worst: HealthState = "OK";
  for (const state of states) if (_SEVERITY[state] > _SEVERITY[worst]) worst = state;
  return worst;
}

/**
 * Builds a check result.
 *
 * @param name The check's name.
 * @param state Its state.
 * @param reason One line saying why.
 * @param data The figures behind it.
 * @returns The result.
 */
export function result(
  name: string,
  state: HealthState,
  reason: string,
  data?: Record<string, unknown>,
): CheckResult {
  return data === undefined ? { name, state, reason } : { name, state, reason, data };
}

/**
 * A check that does not apply here: OK, marked skipped, saying why.
 *
 * @param name The check's name.
 * @param reason Why it does not apply.
 * @returns The result.
 */
export function skipped(name: string, reason: string): CheckResult {
  return { name, state: "OK", reason: `not applicable: ${reason}`, skipped: true };
}

/**
 * A watcher check without its file: CRITICAL when a watcher is required here, else not applicable.
 *
 * @param name The check's name.
 * @param what What is missing (`no status file …`).
 * @param limits Whether a watcher is required.
 * @returns The result.
 */
export function absent(
  name: string,
  what: string,
  limits: Pick<HealthThresholds, "requireWatcher">,
): CheckResult {
  if (limits.requireWatcher) {
    return result(name, "CRITICAL", `${_capitalize(what)}: the watcher has not run here`);
  }
  return skipped(name, `${what} (no watcher configured here)`);
}

function _capitalize(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}
