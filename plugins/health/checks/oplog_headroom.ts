/**
 * `oplog_headroom`: how long before the saved token falls out of the oplog, judged once the oplog
 * is full. Pure: a function of what was read, the time and the thresholds.
 *
 * @module
 */

import { type Headroom, headroomLevel } from "../../../core/stream/oplog_window.ts";
import { formatAge, round1, signedAge } from "../format.ts";
import { type CheckResult, result, skipped } from "../state.ts";
import type { HealthThresholds } from "../thresholds.ts";

/** What the oplog headroom check saw: the figures, or why there are none. */
export type OplogHeadroomSeen =
  | { kind: "no-token"; where: string }
  | { kind: "no-token-time"; where: string }
  | { kind: "unreadable-token"; where: string; reason: string }
  | { kind: "unauthorized"; message: string }
  | { kind: "empty" }
  | { kind: "error"; reason: string }
  | { kind: "ok"; headroom: Headroom };

/**
 * The resume headroom: how long before the saved token falls out of the oplog (the oplog window
 * minus the token's age, both from the server's times).
 *
 * @param seen What was read.
 * @param limits The thresholds.
 * @returns The `oplog_headroom` check.
 */
export function oplogHeadroomCheck(seen: OplogHeadroomSeen, limits: HealthThresholds): CheckResult {
  const name = "oplog_headroom";
  switch (seen.kind) {
    case "no-token":
      return skipped(name, `no saved resume token in ${seen.where}`);
    case "no-token-time":
      return skipped(name, `the resume token in ${seen.where} has no cluster time`);
    case "unreadable-token":
      return skipped(name, `the resume token in ${seen.where} is unusable (${seen.reason})`);
    case "unauthorized":
      return result(name, "UNKNOWN", `Oplog headroom ${seen.message}`);
    case "empty":
      return result(name, "UNKNOWN", "The oplog (local.oplog.rs) holds no entry");
    case "error":
      return result(name, "UNKNOWN", `Cannot read the oplog window: ${seen.reason}`);
  }
  const { windowSeconds, headroomSeconds, fill } = seen.headroom;
  const tokenAgeSeconds = seen.headroom.tokenAgeSeconds ?? 0;
  const data = {
    oplog_window_seconds: windowSeconds,
    resume_headroom_seconds: headroomSeconds,
    token_age_seconds: tokenAgeSeconds,
    oplog_fill_percent: round1(fill * 100),
  };
  const token = `token ${formatAge(tokenAgeSeconds * 1000)} old`;
  if (headroomSeconds === null) {
    // Not full: nothing dropped yet, the token stays until the oplog fills (judged from then).
    return result(
      name,
      "OK",
      `Oplog ${
        Math.round(fill * 100)
      }% full: no entry dropped yet, the saved token stays until it fills (${token}; window projected at the rate so far ${
        formatAge(windowSeconds * 1000)
      })`,
      data,
    );
  }
  const text = `Resume headroom ${signedAge(headroomSeconds)} (oplog window ${
    formatAge(windowSeconds * 1000)
  }, ${token})`;
  const level = headroomLevel(headroomSeconds, {
    warningSeconds: limits.oplogHeadroomWarningMs / 1000,
    criticalSeconds: limits.oplogHeadroomCriticalMs / 1000,
  });
  if (level === "critical") {
    return result(
      name,
      "CRITICAL",
      `${text}: under ${formatAge(limits.oplogHeadroomCriticalMs)}`,
      data,
    );
  }
  if (level === "warning") {
    return result(
      name,
      "WARNING",
      `${text}: under ${formatAge(limits.oplogHeadroomWarningMs)}`,
      data,
    );
  }
  return result(name, "OK", text, data);
}
