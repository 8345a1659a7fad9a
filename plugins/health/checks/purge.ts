/**
 * `purge`: how the last `archiver purge` ended, what it left, and whether the archive's expiry is
 * what the operator set. Not applicable where the purge never ran. Pure: a function of what was
 * read.
 *
 * @module
 */

import { type CheckResult, result, skipped } from "../state.ts";
import { formatAge } from "../format.ts";

/** What health reads for the `purge` check. */
export interface PurgeSeen {
  /** The newest purge run of the run history (`mode: "purge"`, `action: "purge"`), if any. */
  last?: {
    finished_at: Date;
    exit_code: number;
    orders_purged?: number;
    orders_changed?: number;
    pauses?: Record<string, { count: number; seconds: number }>;
    lag_seconds?: number | null;
    stopped?: string | null;
  };
  /** Archive documents still marked `purge_pending` longer than an hour (a crashed run). */
  stalePending: number;
  /** `ARCHIVER_ARCHIVE_EXPIRE_AFTER` in seconds, 0 when unset. */
  expirySetting: number;
  /** The archive's TTL index's `expireAfterSeconds`, or `undefined` when it has none. */
  expiryIndex?: number;
}

const _EXIT_MEANINGS: Record<number, string> = {
  2: "refused by MongoDB or misconfigured",
  3: "MongoDB unreachable",
  70: "internal error",
  130: "interrupted",
};

/**
 * The `purge` check.
 *
 * @param seen What was read.
 * @param now The current time in ms.
 * @returns Not applicable without a purge run and without an expiry; CRITICAL for a failed run;
 *   WARNING for orders left as changed, marks a crash left, an interrupted run, or an expiry index
 *   that disagrees with the setting; OK otherwise, saying any pause for lag.
 */
export function purgeCheck(seen: PurgeSeen, now: number): CheckResult {
  const name = "purge";
  const last = seen.last;
  const problems: string[] = [];
  if (seen.expirySetting !== (seen.expiryIndex ?? 0)) {
    problems.push(
      seen.expiryIndex === undefined
        ? `ARCHIVER_ARCHIVE_EXPIRE_AFTER is ${
          _days(seen.expirySetting)
        } but the archive has no expiry index: the next archiver purge makes it`
        : seen.expirySetting === 0
        ? `the archive expires purged orders after ${
          _days(seen.expiryIndex)
        } (index archiver_archive_expiry) but ARCHIVER_ARCHIVE_EXPIRE_AFTER is not set: drop the index or set it`
        : `the archive expires purged orders after ${
          _days(seen.expiryIndex)
        }, ARCHIVER_ARCHIVE_EXPIRE_AFTER says ${_days(seen.expirySetting)}`,
    );
  }
  if (seen.stalePending > 0) {
    problems.push(
      `${seen.stalePending} archive document${
        seen.stalePending === 1 ? "" : "s"
      } still marked purge_pending (a run stopped mid-chunk): run archiver purge again to settle them`,
    );
  }
  if (!last && problems.length === 0) return skipped(name, "archiver purge has not run");
  const data = {
    finished_at: last?.finished_at.toISOString() ?? null,
    exit_code: last?.exit_code ?? null,
    orders_purged: last?.orders_purged ?? null,
    orders_changed: last?.orders_changed ?? null,
    lag_seconds: last?.lag_seconds ?? null,
    stale_pending: seen.stalePending,
  };
  const when = last ? ` ${formatAge(Math.max(0, now - last.finished_at.getTime()))} ago` : "";
  if (last && last.exit_code !== 0 && last.exit_code !== 1 && last.exit_code !== 130) {
    return result(
      name,
      "CRITICAL",
      `Last purge${when} failed with exit code ${last.exit_code} (${
        _EXIT_MEANINGS[last.exit_code] ?? "see its log"
      })${problems.length > 0 ? `; ${problems.join("; ")}` : ""}`,
      data,
    );
  }
  if (last?.exit_code === 130) problems.unshift(`last purge${when} was interrupted`);
  if (last && (last.orders_changed ?? 0) > 0) {
    problems.unshift(
      `last purge${when} left ${last.orders_changed} order${
        last.orders_changed === 1 ? "" : "s"
      } changed since archived (archiver purge --rearchive archives the new version first)`,
    );
  }
  const lagPauses = last?.pauses?.lag;
  const paused = lagPauses && lagPauses.count > 0
    ? `, paused ${lagPauses.count} time${lagPauses.count === 1 ? "" : "s"} (${
      Math.round(lagPauses.seconds)
    } s) for replica lag`
    : "";
  if (problems.length > 0) {
    return result(name, "WARNING", `${_capital(problems.join("; "))}${paused}`, data);
  }
  return result(
    name,
    "OK",
    `Last purge${when}: ${last?.orders_purged ?? 0} orders purged${paused}${
      last?.stopped ? `, stopped at ${last.stopped.replace("_", " ")}` : ""
    }`,
    data,
  );
}

function _days(seconds: number): string {
  return seconds % 86_400 === 0 ? `${seconds / 86_400}d` : `${seconds}s`;
}

function _capital(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}
