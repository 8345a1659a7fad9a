/**
 * `resume_token`: the age of the saved resume token, from the store the watcher uses. Pure: a
 * function of what was read, the time and the thresholds.
 *
 * @module
 */

import { capitalize, formatAge } from "../format.ts";
import { absent, type CheckResult, result } from "../state.ts";
import type { HealthThresholds } from "../thresholds.ts";

/** The resume-token file the watcher writes. */
export interface TokenFile {
  /** The resume token, as Extended JSON. */
  token?: unknown;
  /** ISO cluster time of the token, or null. */
  cluster_time?: string | null;
  /** ISO time the token was saved. */
  saved_at?: unknown;
  /** `<db>.<collection>` the stream watches. */
  namespace?: string;
}

/**
 * The watcher's saved resume token as read from its store (`where` names the token file or the
 * Mongo token document): nothing, something unusable, unreadable (the server did not answer),
 * or the token.
 */
export type TokenRead =
  | { kind: "missing"; where: string }
  | { kind: "invalid"; where: string; reason: string }
  | { kind: "unreadable"; where: string; reason: string }
  | { kind: "found"; where: string; value: TokenFile };

/**
 * The resume token's age, from the store the watcher is configured with.
 *
 * @param read The token as read.
 * @param now The current time in ms.
 * @param limits The thresholds.
 * @returns The `resume_token` check.
 */
export function resumeTokenCheck(
  read: TokenRead,
  now: number,
  limits: HealthThresholds,
): CheckResult {
  const name = "resume_token";
  if (read.kind === "missing") return absent(name, `no ${read.where}`, limits);
  if (read.kind === "invalid") {
    return result(name, "CRITICAL", `Cannot parse ${read.where}: ${read.reason}`);
  }
  if (read.kind === "unreadable") {
    return result(name, "UNKNOWN", `Cannot read the ${read.where}: ${read.reason}`);
  }
  const token = read.value;
  const saved = typeof token.saved_at === "string" ? Date.parse(token.saved_at) : NaN;
  if (typeof token !== "object" || token === null || Number.isNaN(saved)) {
    return result(name, "CRITICAL", `${capitalize(read.where)} has no valid saved_at`);
  }
  const age = Math.max(0, now - saved);
  const data = {
    resume_token_age_seconds: Math.round(age / 1000),
    saved_at: token.saved_at,
    namespace: token.namespace ?? null,
  };
  if (age > limits.maxTokenAgeMs) {
    return result(
      name,
      "CRITICAL",
      `Resume token saved ${formatAge(age)} ago (max ${formatAge(limits.maxTokenAgeMs)})`,
      data,
    );
  }
  if (age > limits.tokenSaveAgeMs) {
    return result(
      name,
      "WARNING",
      `Resume token saved ${formatAge(age)} ago, not within the last ${
        formatAge(limits.tokenSaveAgeMs)
      }`,
      data,
    );
  }
  return result(name, "OK", `Resume token saved ${formatAge(age)} ago`, data);
}
