/**
 * The settings of `archiver logs`: the window of `check`, the retention of `prune`, and the alert
 * rules' limits (from the operators' monitoring plan).
 *
 * @module
 */

import { decimal, duration, formatDuration, integer } from "../../core/runtime/parse.ts";
import type { SettingsSpec, SettingValues } from "../../core/runtime/settings.ts";
import { defaultRules, type LogRules } from "./rules.ts";

/** The settings of `logs check` and `logs follow`: the window and the rules. */
export const logCheckSettings = {
  since: {
    env: "ARCHIVER_LOGS_SINCE",
    flag: "--since <duration>",
    description: "How far back logs check reads",
    default: 86_400_000,
    parse: duration({ min: 1_000 }),
    format: formatDuration,
  },
  alertConnectionErrors: {
    env: "ARCHIVER_LOGS_MAX_CONNECTION_ERRORS",
    description: "More connection failures than this within the window is CRITICAL",
    default: defaultRules.maxConnectionErrors,
    parse: integer({ min: 0 }),
  },
  alertConnectionWindow: {
    env: "ARCHIVER_LOGS_CONNECTION_WINDOW",
    description: "Window of the connection-failure rule",
    default: defaultRules.connectionWindowMs,
    parse: duration({ min: 1_000 }),
    format: formatDuration,
  },
  alertLag: {
    env: "ARCHIVER_LOGS_MAX_LAG",
    description: "Stream lag above this is a WARNING",
    default: defaultRules.maxLagSeconds * 1000,
    parse: duration(),
    format: formatDuration,
  },
  alertIncompletePercent: {
    env: "ARCHIVER_LOGS_MAX_INCOMPLETE_PERCENT",
    description: "More incomplete orders than this % within the window is a WARNING",
    default: defaultRules.maxIncompletePercent,
    parse: decimal({ min: 0, max: 100 }),
  },
  alertIncompleteWindow: {
    env: "ARCHIVER_LOGS_INCOMPLETE_WINDOW",
    description: "Window of the incomplete-rate rule",
    default: defaultRules.incompleteWindowMs,
    parse: duration({ min: 60_000 }),
    format: formatDuration,
  },
  alertIncompleteMinOrders: {
    env: "ARCHIVER_LOGS_INCOMPLETE_MIN_ORDERS",
    description:
      "Orders the window must hold before the incomplete rate is judged (a few incomplete orders of a quiet hour are no trend)",
    default: defaultRules.incompleteMinOrders,
    parse: integer({ min: 1 }),
  },
  pollInterval: {
    env: "ARCHIVER_LOGS_POLL_INTERVAL",
    description: "How often logs follow looks for new lines",
    default: 250,
    parse: duration({ min: 10 }),
    format: formatDuration,
  },
} as const satisfies SettingsSpec;

/** The settings of `logs prune`. */
export const logPruneSettings = {
  olderThan: {
    env: "ARCHIVER_LOGS_RETENTION",
    flag: "--older-than <duration>",
    description: "Rotated log files last written before this are deleted",
    default: 30 * 86_400_000,
    parse: duration({ min: 60_000 }),
    format: formatDuration,
  },
} as const satisfies SettingsSpec;

/** Every setting of the `logs` plugin. */
export const logMonitorSettings = {
  ...logCheckSettings,
  ...logPruneSettings,
} as const satisfies SettingsSpec;

/**
 * The rules the settings describe.
 *
 * @param values The resolved settings.
 * @returns The rule limits.
 */
export function rulesFrom(values: SettingValues<typeof logCheckSettings>): LogRules {
  return {
    maxConnectionErrors: values.alertConnectionErrors,
    connectionWindowMs: values.alertConnectionWindow,
    maxLagSeconds: values.alertLag / 1000,
    maxIncompletePercent: values.alertIncompletePercent,
    incompleteWindowMs: values.alertIncompleteWindow,
    incompleteMinOrders: values.alertIncompleteMinOrders,
  };
}
