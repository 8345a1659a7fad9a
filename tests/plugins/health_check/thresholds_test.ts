import assert from "node:assert/strict";
import type { SavedBatchReport } from "../../../core/archive/report.ts";
import type { WatchStatus } from "../../../core/stream/watch_status.ts";
import { worstState } from "../../../plugins/health_check/state.ts";
import {
  collectionsCheck,
  completenessCheck,
  connectionErrorsCheck,
  defaultThresholds,
  diskSpaceCheck,
  type FileRead,
  formatAge,
  lastBatchCheck,
  logFolderCheck,
  mongoChecks,
  resumeTokenCheck,
  streamLagCheck,
  watcherCheck,
} from "../../../plugins/health_check/thresholds.ts";

const NOW = Date.parse("2025-10-16T12:00:00Z");
const limits = { ...defaultThresholds };
const ago = (ms: number) => new Date(NOW - ms).toISOString();

function status(overrides: Partial<WatchStatus> = {}, metrics = {}): FileRead<WatchStatus> {
  return {
    kind: "found",
    path: "archiver-status.json",
    value: {
      pid: 42,
      state: "streaming",
      started_at: ago(3_600_000),
      updated_at: ago(5_000),
      last_event_at: ago(10_000),
      last_read_at: ago(5_000),
      max_await_ms: 1_000,
      recent_connection_errors: [],
      metrics: {
        events_processed: 10,
        events_archived: 10,
        orders_duplicates: 0,
        orders_incomplete: 0,
        orders_errors: 0,
        orders_invalid: 0,
        orders_recovered: 0,
        stream_lag_seconds: 1.5,
        connection_errors: 0,
        resume_token_age_seconds: 5,
        uptime_seconds: 3_600,
        token_save_errors: 0,
        ...metrics,
      },
      ...overrides,
    },
  };
}

function report(figures: Partial<SavedBatchReport>): FileRead<SavedBatchReport> {
  return {
    kind: "found",
    path: "last-batch.json",
    value: {
      orders_found: 100,
      orders_archived: 100,
      orders_duplicates: 0,
      orders_incomplete: 0,
      orders_errors: 0,
      orders_invalid: 0,
      orders_recovered: 0,
      batch_duration_ms: 1_000,
      started_at: ago(60_000),
      finished_at: ago(59_000),
      dry_run: false,
      ...figures,
    },
  };
}

Deno.test("watcherCheck() is OK for a fresh heartbeat and says the uptime", () => {
  const check = watcherCheck(status(), NOW, limits);
  assert.equal(check.state, "OK");
  assert.match(check.reason, /streaming, up 1h, heartbeat 5s ago/);
});

Deno.test("watcherCheck() is CRITICAL for a stale status file", () => {
  const check = watcherCheck(status({ updated_at: ago(5 * 60_000) }), NOW, limits);
  assert.equal(check.state, "CRITICAL");
  assert.match(check.reason, /No heartbeat for 5m \(max 2m\)/);
});

Deno.test("watcherCheck() is CRITICAL for a stopped watcher and WARNING while reconnecting", () => {
  assert.equal(watcherCheck(status({ state: "stopped" }), NOW, limits).state, "CRITICAL");
  assert.equal(watcherCheck(status({ state: "reconnecting" }), NOW, limits).state, "WARNING");
});

Deno.test("watcher checks say they do not apply when there is no status file", () => {
  const missing: FileRead<WatchStatus> = { kind: "missing", path: "archiver-status.json" };
  for (
    const check of [
      watcherCheck(missing, NOW, limits),
      streamLagCheck(missing, limits),
      connectionErrorsCheck(missing, NOW, limits),
    ]
  ) {
    assert.equal(check.state, "OK");
    assert.equal(check.skipped, true);
    assert.match(check.reason, /^not applicable: no status file/);
  }
  const required = { ...limits, requireWatcher: true };
  assert.equal(watcherCheck(missing, NOW, required).state, "CRITICAL");
});

Deno.test("watcherCheck() is CRITICAL for an unreadable status file", () => {
  const check = watcherCheck(
    { kind: "invalid", path: "s.json", reason: "Unexpected end of JSON input" },
    NOW,
    limits,
  );
  assert.equal(check.state, "CRITICAL");
  assert.equal(check.reason.includes("\n"), false);
});

Deno.test("streamLagCheck() warns above 10 s and is CRITICAL above 30 s", () => {
  assert.equal(streamLagCheck(status({}, { stream_lag_seconds: 10 }), limits).state, "OK");
  assert.equal(streamLagCheck(status({}, { stream_lag_seconds: 10.5 }), limits).state, "WARNING");
  const critical = streamLagCheck(status({}, { stream_lag_seconds: 31 }), limits);
  assert.equal(critical.state, "CRITICAL");
  assert.equal(critical.reason, "Stream lag 31s (> 30s)");
});

Deno.test("connectionErrorsCheck() counts only the last hour and is CRITICAL above 3", () => {
  const times = [ago(70 * 60_000), ago(50 * 60_000), ago(20 * 60_000), ago(10 * 60_000)];
  const three = connectionErrorsCheck(status({ recent_connection_errors: times }), NOW, limits);
  assert.equal(three.state, "OK");
  assert.equal(three.reason, "3 connection errors in the last hour");
  const four = connectionErrorsCheck(
    status({ recent_connection_errors: [...times, ago(60_000)] }),
    NOW,
    limits,
  );
  assert.equal(four.state, "CRITICAL");
});

Deno.test("resumeTokenCheck() by age: OK, not saved within 10 min, older than 1 h", () => {
  const token = (savedAgo: number): FileRead<{ saved_at: string }> => ({
    kind: "found",
    path: ".resume_token.json",
    value: { saved_at: ago(savedAgo) },
  });
  assert.equal(resumeTokenCheck(token(30_000), NOW, limits).state, "OK");
  const stale = resumeTokenCheck(token(25 * 60_000), NOW, limits);
  assert.equal(stale.state, "WARNING");
  assert.match(stale.reason, /saved 25m ago, not within the last 10m/);
  const old = resumeTokenCheck(token(2 * 3_600_000 + 5 * 60_000), NOW, limits);
  assert.equal(old.state, "CRITICAL");
  assert.equal(old.reason, "Resume token saved 2h 5m ago (max 1h)");
});

Deno.test("resumeTokenCheck() is CRITICAL with one line for an unparsable file", () => {
  const check = resumeTokenCheck(
    { kind: "invalid", path: ".resume_token.json", reason: "Unexpected token 'x'" },
    NOW,
    limits,
  );
  assert.equal(check.state, "CRITICAL");
  assert.equal(check.reason, "Cannot parse token file .resume_token.json: Unexpected token 'x'");
  const noDate = resumeTokenCheck({ kind: "found", path: "t.json", value: {} }, NOW, limits);
  assert.equal(noDate.state, "CRITICAL");
});

Deno.test("lastBatchCheck() applies the plan's rates", async (t) => {
  await t.step("errors > 0 is CRITICAL", () => {
    const check = lastBatchCheck(report({ orders_errors: 1, orders_archived: 99 }), limits);
    assert.equal(check.state, "CRITICAL");
    assert.match(check.reason, /^Last batch had 1 error \(found 100/);
  });
  await t.step("archived < 95 % of found is a WARNING", () => {
    const check = lastBatchCheck(report({ orders_archived: 94, orders_incomplete: 6 }), limits);
    assert.equal(check.state, "WARNING");
    assert.match(check.reason, /archived 94% < 95%/);
    assert.match(check.reason, /incomplete 6% > 5%/);
  });
  await t.step("duplicates > 10 % is a WARNING", () => {
    const check = lastBatchCheck(report({ orders_archived: 95, orders_duplicates: 11 }), limits);
    assert.equal(check.state, "WARNING");
    assert.match(check.reason, /duplicates 11% > 10%/);
  });
  await t.step("within every rate is OK, and a run that found nothing too", () => {
    assert.equal(lastBatchCheck(report({ orders_archived: 96 }), limits).state, "OK");
    const none = report({ orders_found: 0, orders_archived: 0 });
    assert.equal(lastBatchCheck(none, limits).state, "OK");
  });
  await t.step("no report does not apply; an unreadable one is CRITICAL", () => {
    const missing = lastBatchCheck({ kind: "missing", path: "last-batch.json" }, limits);
    assert.equal(missing.skipped, true);
    const bad = { kind: "invalid", path: "last-batch.json", reason: "not a batch report" } as const;
    assert.equal(lastBatchCheck(bad, limits).state, "CRITICAL");
  });
});

Deno.test("logFolderCheck() warns above 1 GB; diskSpaceCheck() below 20 % free", () => {
  assert.equal(logFolderCheck({ dir: "logs", bytes: 1024 ** 3, files: 3 }, limits).state, "OK");
  const big = logFolderCheck({ dir: "logs", bytes: 1024 ** 3 + 1, files: 3 }, limits);
  assert.equal(big.state, "WARNING");
  assert.match(big.reason, /1\.0 GB in 3 files \(> 1\.0 GB\)/);
  assert.equal(diskSpaceCheck({ freeBytes: 25, totalBytes: 100 }, limits).state, "OK");
  const low = diskSpaceCheck({ freeBytes: 19, totalBytes: 100 }, limits);
  assert.equal(low.state, "WARNING");
  assert.match(low.reason, /^19% free .* \(< 20%\)$/);
  const unknown = diskSpaceCheck({ error: "no df" }, limits);
  assert.equal(unknown.state, "UNKNOWN");
});

Deno.test("mongoChecks(): unreachable is CRITICAL, standalone cannot stream", () => {
  const [down, streams] = mongoChecks({ ok: false, reason: "connect ECONNREFUSED 127.0.0.1:1" });
  assert.equal(down.state, "CRITICAL");
  assert.equal(streams.state, "UNKNOWN");
  const [up, standalone] = mongoChecks({ ok: true, pingMs: 2, topology: "standalone" });
  assert.equal(up.state, "OK");
  assert.equal(standalone.state, "CRITICAL");
  const [, replica] = mongoChecks({ ok: true, pingMs: 2, topology: "replicaSet", setName: "rs0" });
  assert.equal(replica.state, "OK");
});

Deno.test("collectionsCheck() wants the sources and a unique index on the archive", () => {
  const base = {
    orders: "Commande",
    references: ["Client", "Livreur", "Restaurants", "Menu"],
    archive: "Historique",
    quarantine: "archiver_quarantine",
  };
  const all = ["Commande", "Client", "Livreur", "Restaurants", "Menu", "Historique"];
  const indexed = [{ key: { _id: 1 } }, { key: { numero_commande: 1 }, unique: true }];
  assert.equal(collectionsCheck({ ...base, present: all, archiveIndexes: indexed }).state, "OK");
  const noIndex = collectionsCheck({
    ...base,
    present: all,
    archiveIndexes: [{ key: { _id: 1 } }],
  });
  assert.equal(noIndex.state, "CRITICAL");
  const noOrders = collectionsCheck({ ...base, present: all.slice(1), archiveIndexes: indexed });
  assert.equal(noOrders.state, "CRITICAL");
  const noMenu = collectionsCheck({
    ...base,
    present: all.filter((c) => c !== "Menu"),
    archiveIndexes: indexed,
  });
  assert.equal(noMenu.state, "WARNING");
});

Deno.test("completenessCheck() is CRITICAL for any missing order, listing up to 5", () => {
  assert.equal(completenessCheck([], { graceMs: 600_000, limit: 100 }).state, "OK");
  const numbers = Array.from({ length: 7 }, (_, i) => `CMD-00000${i}`);
  const check = completenessCheck(numbers, { graceMs: 600_000, limit: 100 });
  assert.equal(check.state, "CRITICAL");
  assert.equal(
    check.reason,
    "7 delivered orders older than 10m not archived: CMD-000000, CMD-000001, CMD-000002, CMD-000003, CMD-000004, …",
  );
  const capped = completenessCheck(numbers, { graceMs: 600_000, limit: 7 });
  assert.match(capped.reason, /^7\+ delivered orders/);
});

Deno.test("worstState() ranks CRITICAL over UNKNOWN over WARNING over OK", () => {
  assert.equal(worstState([]), "OK");
  assert.equal(worstState(["OK", "WARNING"]), "WARNING");
  assert.equal(worstState(["WARNING", "UNKNOWN"]), "UNKNOWN");
  assert.equal(worstState(["UNKNOWN", "CRITICAL", "OK"]), "CRITICAL");
});

Deno.test("formatAge() shows the two largest units", () => {
  assert.equal(formatAge(5_000), "5s");
  assert.equal(formatAge(3_600_000), "1h");
  assert.equal(formatAge(3_660_000), "1h 1m");
  assert.equal(formatAge(90_061_000), "1d 1h");
});
