/**
 * The `watch_lease` check of `watch --ha`: judged from the lease document and the server's time
 * read with it, never this host's clock. A standby watcher on this host is healthy; what is
 * CRITICAL is a lease no watcher holds (expired), so nothing archives.
 *
 * @module
 */

import type { LeaseReading } from "../../../core/stream/lease.ts";
import { type CheckResult, result } from "../state.ts";
import { formatAge } from "../format.ts";

/**
 * The `watch_lease` check.
 *
 * @param reading The lease and the server's time of the read.
 * @returns OK while a watcher holds a valid lease, CRITICAL once it expired.
 */
export function watchLeaseCheck(reading: LeaseReading): CheckResult {
  const { lease, serverNow } = reading;
  const expires = lease.expires_at instanceof Date ? lease.expires_at.getTime() : NaN;
  const left = expires - serverNow.getTime();
  const data = {
    holder: lease.holder ?? null,
    epoch: lease.epoch ?? null,
    expires_at: Number.isNaN(expires) ? null : new Date(expires).toISOString(),
    expires_in_seconds: Number.isNaN(left) ? null : Math.round(left / 1000),
  };
  if (Number.isNaN(left)) {
    return result("watch_lease", "CRITICAL", `Lease ${lease._id} has no valid expires_at`, data);
  }
  if (left <= 0) {
    return result(
      "watch_lease",
      "CRITICAL",
      `No watcher holds the lease on ${lease._id}: it expired ${
        formatAge(-left)
      } ago (last holder ${lease.holder}, epoch ${lease.epoch})`,
      data,
    );
  }
  return result(
    "watch_lease",
    "OK",
    `Lease on ${lease._id} held by ${lease.holder} (epoch ${lease.epoch}), ${formatAge(left)} left`,
    data,
  );
}
