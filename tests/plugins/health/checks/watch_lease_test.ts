/**
 * `archiver health` with `watch --ha`: a standby watcher is healthy, and the `watch_lease` check
 * is CRITICAL only when no watcher holds a valid lease, judged on the server's time.
 */

import assert from "node:assert/strict";
import { Lease, readLease } from "../../../../core/stream/lease.ts";
import type { WatchStatus } from "../../../../core/stream/watch_status.ts";
import { watchLeaseCheck } from "../../../../plugins/health/checks/watch_lease.ts";
import { watcherCheck } from "../../../../plugins/health/checks/watcher.ts";
import { defaultThresholds } from "../../../../plugins/health/thresholds.ts";
import { testDatabase } from "../../../support/test_db.ts";

const NOW = Date.parse("2026-01-10T12:00:00Z");

Deno.test("watch_lease is OK while held and CRITICAL once expired, on the server's time", () => {
  const cases = [
    { name: "held, 20 s left", expiresIn: 20_000, state: "OK", match: /held by h:1:x .*epoch 3/ },
    { name: "expired 5 s ago", expiresIn: -5_000, state: "CRITICAL", match: /No watcher holds/ },
    { name: "expiring now", expiresIn: 0, state: "CRITICAL", match: /expired/ },
  ] as const;
  for (const c of cases) {
    const check = watchLeaseCheck({
      lease: {
        _id: "shop.Commande",
        holder: "h:1:x",
        epoch: 3,
        expires_at: new Date(NOW + c.expiresIn),
      },
      serverNow: new Date(NOW),
    });
    assert.equal(check.state, c.state, c.name);
    assert.match(check.reason, c.match, c.name);
    assert.equal(check.data?.epoch, 3);
  }
});

Deno.test("watcherCheck() is OK for a standby watcher and says its role", () => {
  const value = {
    pid: 7,
    state: "standby",
    role: "standby",
    lease_epoch: null,
    started_at: new Date(NOW - 3_600_000).toISOString(),
    updated_at: new Date(NOW - 2_000).toISOString(),
    last_event_at: null,
    last_read_at: null,
    max_await_ms: 1_000,
    recent_connection_errors: [],
    metrics: { uptime_seconds: 3_600 },
  } as unknown as WatchStatus;
  const check = watcherCheck({ kind: "found", path: "s.json", value }, NOW, defaultThresholds);
  assert.equal(check.state, "OK");
  assert.match(check.reason, /Standby/);
  assert.equal(check.data?.role, "standby");
});

Deno.test("readLease() reads the lease with the server's time; a stopped holder's lease reads expired", async () => {
  await using tdb = await testDatabase("health_lease");
  const leases = tdb.db.collection("archiver_leases");
  assert.equal(await readLease(leases, "x.Commande"), undefined);
  const lease = new Lease(leases, "x.Commande", {
    timings: { ttlMs: 30_000, renewMs: 10_000, marginMs: 5_000 },
  });
  await lease.acquire();
  const held = await readLease(leases, "x.Commande");
  assert.equal(watchLeaseCheck(held!).state, "OK");
  await lease.release();
  const released = await readLease(leases, "x.Commande");
  assert.equal(watchLeaseCheck(released!).state, "CRITICAL");
});
