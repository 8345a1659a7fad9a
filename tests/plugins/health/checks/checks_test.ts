import assert from "node:assert/strict";
import type { SavedBatchReport } from "../../../../core/archive/report.ts";
import type { WatchStatus } from "../../../../core/stream/watch_status.ts";
import { worstState } from "../../../../plugins/health/state.ts";
import { completenessCheck } from "../../../../plugins/health/checks/archive_completeness.ts";
import { archiveIndexCheck } from "../../../../plugins/health/checks/archive_index.ts";
import { archiveRateCheck } from "../../../../plugins/health/checks/archive_rate.ts";
import { collectionsCheck } from "../../../../plugins/health/checks/collections.ts";
import { connectionErrorsCheck } from "../../../../plugins/health/checks/connection_errors.ts";
import { diskSpaceCheck } from "../../../../plugins/health/checks/disk_space.ts";
import { lastBatchCheck } from "../../../../plugins/health/checks/last_batch.ts";
import {
  logErrorsCheck,
  type LogWindowSeen,
} from "../../../../plugins/health/checks/log_errors.ts";
import { logFolderCheck } from "../../../../plugins/health/checks/log_folder.ts";
import { mongoChecks } from "../../../../plugins/health/checks/mongodb.ts";
import {
  quarantineCheck,
  type QuarantinedOrder,
  type QuarantineSeen,
} from "../../../../plugins/health/checks/quarantine.ts";
import {
  resumeTokenCheck,
  type TokenRead,
} from "../../../../plugins/health/checks/resume_token.ts";
import { streamLagCheck } from "../../../../plugins/health/checks/stream_lag.ts";
import { streamStallThreshold, watcherCheck } from "../../../../plugins/health/checks/watcher.ts";
import { watcherUptimeCheck } from "../../../../plugins/health/checks/watcher_uptime.ts";
import { formatAge } from "../../../../plugins/health/format.ts";
import type { FileRead } from "../../../../plugins/health/read/file_read.ts";
import { defaultThresholds, type HealthThresholds } from "../../../../plugins/health/thresholds.ts";

const NOW = Date.parse("2025-10-16T12:00:00Z");
const limits: HealthThresholds = { ...defaultThresholds };
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
        orders_conflicts: 0,
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
      orders_conflicts: 0,
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
  assert.match(check.reason, /No heartbeat for 5m \(max 15s\)/);
});

Deno.test("watcherCheck(): a process gone on the watcher's host is CRITICAL at once; elsewhere a heartbeat older than 3 status intervals", () => {
  const cases: Array<{
    name: string;
    heartbeatAgo: number;
    process?: "running" | "gone";
    interval?: number;
    state: string;
    reason: RegExp;
  }> = [
    {
      name: "killed -9, fresh heartbeat, on its host",
      heartbeatAgo: 2_000,
      process: "gone",
      state: "CRITICAL",
      reason: /^Not running: process 42 is gone \(last heartbeat 2s ago\)$/,
    },
    {
      name: "running on its host",
      heartbeatAgo: 2_000,
      process: "running",
      state: "OK",
      reason: /heartbeat 2s ago$/,
    },
    {
      name: "another host, 2 heartbeats late",
      heartbeatAgo: 10_000,
      state: "OK",
      reason: /heartbeat 10s ago$/,
    },
    {
      name: "another host, just within 3 heartbeats",
      heartbeatAgo: 15_000,
      state: "OK",
      reason: /heartbeat 15s ago$/,
    },
    {
      name: "another host, past 3 heartbeats",
      heartbeatAgo: 16_000,
      state: "CRITICAL",
      reason: /^No heartbeat for 16s \(max 15s\)/,
    },
    {
      name: "a status file declaring a 10 s interval: 25 s is within 3",
      heartbeatAgo: 25_000,
      interval: 10_000,
      state: "OK",
      reason: /heartbeat 25s ago$/,
    },
    {
      name: "a status file declaring a 10 s interval: 31 s is past 3",
      heartbeatAgo: 31_000,
      interval: 10_000,
      state: "CRITICAL",
      reason: /max 30s/,
    },
  ];
  for (const item of cases) {
    const overrides = {
      updated_at: ago(item.heartbeatAgo),
      last_read_at: ago(item.heartbeatAgo),
      ...(item.interval ? { status_interval_ms: item.interval } : {}),
    } as Partial<WatchStatus>;
    const check = watcherCheck(status(overrides), NOW, limits, item.process);
    assert.equal(check.state, item.state, `${item.name}: ${check.reason}`);
    assert.match(check.reason, item.reason, item.name);
  }
  // The default is 3 heartbeats of the watcher's 5 s status interval.
  assert.equal(defaultThresholds.maxHeartbeatAgeMs, 15_000);
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

const FILE = "token file .resume_token.json";
const MONGO = 'token document "food_delivery.Commande" in archiver_resume_tokens';

Deno.test("resumeTokenCheck() by age, from the file or the Mongo store: OK, not saved within 10 min, older than 1 h", () => {
  for (const where of [FILE, MONGO]) {
    const token = (savedAgo: number): TokenRead => ({
      kind: "found",
      where,
      value: { saved_at: ago(savedAgo), namespace: "food_delivery.Commande" },
    });
    const fresh = resumeTokenCheck(token(30_000), NOW, limits);
    assert.equal(fresh.state, "OK", where);
    assert.equal(fresh.reason, "Resume token saved 30s ago");
    const stale = resumeTokenCheck(token(25 * 60_000), NOW, limits);
    assert.equal(stale.state, "WARNING");
    assert.match(stale.reason, /saved 25m ago, not within the last 10m/);
    const old = resumeTokenCheck(token(2 * 3_600_000 + 5 * 60_000), NOW, limits);
    assert.equal(old.state, "CRITICAL");
    assert.equal(old.reason, "Resume token saved 2h 5m ago (max 1h)");
  }
});

Deno.test("resumeTokenCheck() names the store when there is no token, an unusable one, or no answer", () => {
  const required = { ...limits, requireWatcher: true };
  const cases: Array<[string, TokenRead, HealthThresholds, string, string]> = [
    [
      "no file",
      { kind: "missing", where: FILE },
      limits,
      "OK",
      `not applicable: no ${FILE} (no watcher configured here)`,
    ],
    [
      "no file, watcher required",
      { kind: "missing", where: FILE },
      required,
      "CRITICAL",
      `No ${FILE}: the watcher has not run here`,
    ],
    [
      "no Mongo token, watcher required",
      { kind: "missing", where: MONGO },
      required,
      "CRITICAL",
      `No ${MONGO}: the watcher has not run here`,
    ],
    [
      "unparsable file",
      { kind: "invalid", where: FILE, reason: "Unexpected token 'x'" },
      limits,
      "CRITICAL",
      `Cannot parse ${FILE}: Unexpected token 'x'`,
    ],
    [
      "Mongo document without a token",
      { kind: "invalid", where: MONGO, reason: "does not hold a resume token" },
      limits,
      "CRITICAL",
      `Cannot parse ${MONGO}: does not hold a resume token`,
    ],
    [
      "no saved_at",
      { kind: "found", where: MONGO, value: {} },
      limits,
      "CRITICAL",
      `Token document "food_delivery.Commande" in archiver_resume_tokens has no valid saved_at`,
    ],
    [
      "server unreachable",
      { kind: "unreadable", where: MONGO, reason: "connect ECONNREFUSED" },
      limits,
      "UNKNOWN",
      `Cannot read the ${MONGO}: connect ECONNREFUSED`,
    ],
  ];
  for (const [name, read, thresholds, state, reason] of cases) {
    const check = resumeTokenCheck(read, NOW, thresholds);
    assert.equal(check.state, state, name);
    assert.equal(check.reason, reason, name);
  }
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
  await t.step("rates need enough orders: 3 incomplete of 10 found is no alarm", () => {
    const small = report({ orders_found: 10, orders_archived: 7, orders_incomplete: 3 });
    assert.equal(lastBatchCheck(small, limits).state, "OK");
  });
  await t.step("how the run ended decides before its figures", async (t) => {
    // [name, the report's end, state, reason]
    const cases: Array<[string, Record<string, unknown>, string, RegExp]> = [
      ["a clean run", { exit_code: 0, finished: true, orders_archived: 100 }, "OK", /^Last batch:/],
      [
        "refused by the server (code 13): zeros counted, exit 2",
        { exit_code: 2, finished: false, orders_found: 0, orders_archived: 0 },
        "CRITICAL",
        /^Last batch failed with exit code 2 \(refused by MongoDB or misconfigured\), stopped/,
      ],
      [
        "unreachable",
        { exit_code: 3, finished: false },
        "CRITICAL",
        /exit code 3 \(MongoDB unreachable\)/,
      ],
      [
        "Ctrl+C at 9,000 of 27,000",
        {
          exit_code: 130,
          finished: false,
          orders_examined: 9_000,
          orders_delivered: 27_000,
          orders_found: 9_000,
          orders_archived: 9_000,
        },
        "WARNING",
        /^Last batch was interrupted after 9000 of 27000 delivered orders \(exit 130\)$/,
      ],
      [
        "an invalid order still quarantined: exit 1, errors 0",
        {
          exit_code: 1,
          finished: true,
          orders_failed: 1,
          orders_invalid: 0,
          orders_still_quarantined: 1,
          orders_archived: 100,
        },
        "CRITICAL",
        /^Last batch could not archive 1 order \(invalid 0, conflicts 0, errors 0, still quarantined 1\)/,
      ],
    ];
    for (const [name, end, state, reason] of cases) {
      await t.step(name, () => {
        const check = lastBatchCheck(report(end as never), limits);
        assert.equal(check.state, state);
        assert.match(check.reason, reason);
      });
    }
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

Deno.test("collectionsCheck() wants the sources and leaves the archive's index to archive_index", () => {
  const base = {
    orders: "Commande",
    references: ["Client", "Livreur", "Restaurants", "Menu"],
    archive: "Historique",
  };
  const all = ["Commande", "Client", "Livreur", "Restaurants", "Menu", "Historique"];
  const cases: Array<[string, string[], string, RegExp]> = [
    [
      "everything present",
      all,
      "OK",
      /^Commande, Client, Livreur, Restaurants, Menu and Historique present$/,
    ],
    ["no orders", all.slice(1), "CRITICAL", /^Missing collections: Commande$/],
    ["no menu", all.filter((c) => c !== "Menu"), "WARNING", /^Missing collections: Menu$/],
    ["no archive yet", all.slice(0, -1), "WARNING", /does not exist yet \(nothing archived\)$/],
  ];
  for (const [name, present, state, reason] of cases) {
    const check = collectionsCheck({ ...base, present });
    assert.equal(check.state, state, name);
    assert.match(check.reason, reason, name);
    assert.equal(check.reason.includes("index"), false, `${name}: says nothing of the index`);
  }
});

Deno.test("archiveIndexCheck() is CRITICAL on any problem and names the accepted index", () => {
  const ok = archiveIndexCheck("Historique", {
    ok: true,
    name: "order_id_unique, numero_commande_1",
  });
  assert.equal(ok.state, "OK");
  assert.equal(
    ok.reason,
    'Archive Historique has its unique indexes on order_id and numero_commande ("order_id_unique", "numero_commande_1")',
  );
  const problem =
    'The archive Historique has index "numero_commande_1" on numero_commande that is not unique: drop it';
  const bad = archiveIndexCheck("Historique", { ok: false, problem });
  assert.equal(bad.state, "CRITICAL");
  assert.equal(bad.reason, problem);
});

const completeness = (missing: number, sample: string[] = []) => ({
  delivered: 20 + missing,
  archived: 15,
  quarantined: 3,
  released: 2,
  missing,
  sample,
});

Deno.test("completenessCheck() is CRITICAL for any missing order, listing up to 5, with verify's counts", () => {
  const ok = completenessCheck(completeness(0), { graceMs: 600_000 });
  assert.equal(ok.state, "OK");
  assert.equal(
    ok.reason,
    "Every delivered order older than 10m is archived, quarantined or released (15 of 20 archived)",
  );
  assert.deepEqual(ok.data, {
    missing_orders: 0,
    delivered_orders: 20,
    archived_orders: 15,
    quarantined_orders: 3,
    released_orders: 2,
  });
  const cases: Array<[number, string[], string]> = [
    [
      1,
      ["CMD-000001"],
      "1 delivered order older than 10m neither archived, quarantined nor released: CMD-000001",
    ],
    [
      7,
      Array.from({ length: 7 }, (_, i) => `CMD-00000${i}`),
      "7 delivered orders older than 10m neither archived, quarantined nor released: CMD-000000, CMD-000001, CMD-000002, CMD-000003, CMD-000004, …",
    ],
    [
      40,
      ["CMD-1", "CMD-2"],
      "40 delivered orders older than 10m neither archived, quarantined nor released: CMD-1, CMD-2, …",
    ],
    [
      1,
      ["(no number, _id { shop: 3, n: 12 })"],
      "1 delivered order older than 10m neither archived, quarantined nor released: (no number, _id { shop: 3, n: 12 })",
    ],
  ];
  for (const [missing, sample, reason] of cases) {
    const check = completenessCheck(completeness(missing, sample), { graceMs: 600_000 });
    assert.equal(check.state, "CRITICAL");
    assert.equal(check.reason, reason);
    assert.equal(check.data?.missing_orders, missing);
  }
});

Deno.test("completenessCheck() no longer says the archive is fine when its index is missing or wrong", () => {
  const cases: Array<
    [string, Parameters<typeof completenessCheck>[1]["archiveIndex"], number, string]
  > = [
    ["sound index, nothing missing", { ok: true, name: "numero_commande_unique" }, 0, "OK"],
    ["index unknown, nothing missing", undefined, 0, "OK"],
    ["index missing, nothing missing", { ok: false, problem: "no index" }, 0, "WARNING"],
    ["index missing, an order missing", { ok: false, problem: "no index" }, 1, "CRITICAL"],
  ];
  for (const [name, archiveIndex, missing, state] of cases) {
    const check = completenessCheck(completeness(missing, ["CMD-1"]), {
      graceMs: 600_000,
      archiveIndex,
    });
    assert.equal(check.state, state, name);
    if (state === "WARNING") {
      assert.equal(
        check.reason,
        "Every delivered order older than 10m is archived, quarantined or released (15 of 20 archived), but without sound unique indexes on order_id and numero_commande some may be there twice (see archive_index)",
      );
    }
  }
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

Deno.test("watcherCheck() by state and by the age of the last stream read", () => {
  const cases: Array<{
    name: string;
    status: Partial<WatchStatus>;
    limits?: Partial<HealthThresholds>;
    state: string;
    reason: RegExp;
  }> = [
    {
      name: "streaming, read 5 s ago",
      status: {},
      state: "OK",
      reason: /^streaming, up 1h, heartbeat 5s ago$/,
    },
    {
      name: "invalidated",
      status: { state: "invalidated" },
      state: "CRITICAL",
      reason:
        /^Watcher invalidated: the orders collection was dropped or renamed; waiting for it to exist again$/,
    },
    {
      name: "streaming, no read for 40 s before the heartbeat (threshold 30 s)",
      status: { last_read_at: ago(45_000) },
      state: "CRITICAL",
      reason: /^Watcher stalled: no stream read for 40s \(max 30s\), heartbeat 5s ago$/,
    },
    {
      name: "streaming, read 30 s before the heartbeat",
      status: { last_read_at: ago(35_000) },
      state: "OK",
      reason: /^streaming/,
    },
    {
      name: "a long await period raises the threshold to 5 periods (50 s)",
      status: { last_read_at: ago(45_000), max_await_ms: 10_000 },
      state: "OK",
      reason: /^streaming/,
    },
    {
      name: "past 5 long await periods",
      status: { last_read_at: ago(60_000), max_await_ms: 10_000 },
      state: "CRITICAL",
      reason: /no stream read for 55s \(max 50s\)/,
    },
    {
      name: "the stall setting raised to 2 min",
      status: { last_read_at: ago(90_000) },
      limits: { streamStallMs: 120_000 },
      state: "OK",
      reason: /^streaming/,
    },
    {
      name: "an older status file without last_read_at",
      status: { last_read_at: undefined },
      state: "OK",
      reason: /^streaming/,
    },
    {
      name: "no read yet (null)",
      status: { last_read_at: null },
      state: "OK",
      reason: /^streaming/,
    },
    {
      name: "catching up: reads are not judged",
      status: { state: "catching-up", last_read_at: ago(10 * 60_000) },
      state: "OK",
      reason: /^catching-up/,
    },
    {
      name: "a stale heartbeat outranks a stall",
      status: { updated_at: ago(5 * 60_000), last_read_at: ago(5 * 60_000) },
      state: "CRITICAL",
      reason: /^No heartbeat for 5m/,
    },
  ];
  for (const c of cases) {
    const read = status(c.status);
    if (
      read.kind === "found" && "last_read_at" in c.status && c.status.last_read_at === undefined
    ) {
      delete (read.value as Partial<WatchStatus>).last_read_at;
    }
    const check = watcherCheck(read, NOW, { ...limits, ...c.limits });
    assert.equal(check.state, c.state, c.name);
    assert.match(check.reason, c.reason, c.name);
  }
});

Deno.test("streamStallThreshold() is a few await periods, never below 30 s", () => {
  const cases: Array<[unknown, number, number]> = [
    [1_000, 30_000, 30_000],
    [10_000, 30_000, 50_000],
    [1_000, 120_000, 120_000],
    [undefined, 30_000, 30_000],
    ["1000", 30_000, 30_000],
    [1_000, 5_000, 30_000],
  ];
  for (const [maxAwait, setting, expected] of cases) {
    assert.equal(
      streamStallThreshold(maxAwait, { ...limits, streamStallMs: setting }),
      expected,
      `max_await_ms ${maxAwait}, setting ${setting}`,
    );
  }
});

function quarantined(
  numero: string | null,
  reason: QuarantinedOrder["reason"],
  firstSeenAgo: number,
): QuarantinedOrder {
  return {
    numero_commande: numero,
    id: `id-${numero ?? "none"}`,
    reason,
    detail: `${reason} detail`,
    first_seen: NOW - firstSeenAgo,
  };
}

function seen(
  orders: QuarantinedOrder[],
  counts?: Partial<QuarantineSeen["counts"]>,
): QuarantineSeen {
  const sorted = [...orders].sort((a, b) => a.first_seen - b.first_seen);
  const count = (reason: string) => orders.filter((o) => o.reason === reason).length;
  return {
    collection: "archiver_quarantine",
    counts: {
      incomplete: count("incomplete"),
      invalid: count("invalid"),
      conflict: count("conflict"),
      error: count("error"),
      ...counts,
    },
    incompleteOverdue:
      orders.filter((o) =>
        o.reason === "incomplete" && NOW - o.first_seen > limits.quarantineGraceMs
      ).length,
    failing: sorted.filter((o) => o.reason !== "incomplete").slice(0, 5),
    incomplete: sorted.filter((o) => o.reason === "incomplete").slice(0, 5),
  };
}

Deno.test("quarantineCheck(): empty OK, young incomplete OK, overdue incomplete WARNING, invalid or error CRITICAL", () => {
  const H = 3_600_000;
  const cases: Array<{ name: string; seen: QuarantineSeen; state: string; reason: string }> = [
    {
      name: "empty",
      seen: seen([]),
      state: "OK",
      reason: "The quarantine archiver_quarantine is empty",
    },
    {
      name: "incomplete within the grace",
      seen: seen([quarantined("CMD-1", "incomplete", 10 * 60_000)]),
      state: "OK",
      reason: "1 incomplete order quarantined for less than 1h: waiting for their references",
    },
    {
      name: "incomplete past the grace, one young",
      seen: seen([
        quarantined("CMD-1", "incomplete", 3 * H),
        quarantined("CMD-2", "incomplete", 2 * H),
        quarantined("CMD-3", "incomplete", 60_000),
      ]),
      state: "WARNING",
      reason:
        "2 incomplete orders quarantined for more than 1h: CMD-1 (incomplete, 3h), CMD-2 (incomplete, 2h); 1 incomplete within the 1h grace",
    },
    {
      name: "an invalid order, even a young one",
      seen: seen([quarantined("CMD-9", "invalid", 60_000)]),
      state: "CRITICAL",
      reason:
        "1 order quarantined as invalid, conflict or in error (1 invalid): CMD-9 (invalid, 1m)",
    },
    {
      name: "an error without a number shows its _id",
      seen: seen([quarantined(null, "error", 2 * 60_000)]),
      state: "CRITICAL",
      reason:
        "1 order quarantined as invalid, conflict or in error (1 error): _id id-none (error, 2m)",
    },
    {
      name: "invalid, error and overdue incomplete: five listed, failing first",
      seen: seen([
        quarantined("CMD-1", "invalid", 5 * H),
        quarantined("CMD-2", "error", 4 * H),
        quarantined("CMD-3", "invalid", 30 * 60_000),
        quarantined("CMD-4", "incomplete", 6 * H),
        quarantined("CMD-5", "incomplete", 2 * H),
        quarantined("CMD-6", "incomplete", 90 * 60_000),
        quarantined("CMD-7", "incomplete", 60_000),
      ]),
      state: "CRITICAL",
      reason:
        "3 orders quarantined as invalid, conflict or in error (2 invalid, 1 error): CMD-1 (invalid, 5h), CMD-2 (error, 4h), CMD-3 (invalid, 30m), CMD-4 (incomplete, 6h), CMD-5 (incomplete, 2h), …; 3 incomplete for more than 1h; 1 incomplete within the 1h grace",
    },
    {
      name: "more failing orders than the examples read",
      seen: seen([quarantined("CMD-1", "error", H)], { error: 40 }),
      state: "CRITICAL",
      reason:
        "40 orders quarantined as invalid, conflict or in error (40 error): CMD-1 (error, 1h), …",
    },
  ];
  for (const c of cases) {
    const check = quarantineCheck(c.seen, NOW, limits);
    assert.equal(check.state, c.state, c.name);
    assert.equal(check.reason, c.reason, c.name);
    assert.deepEqual(
      (check.data as { by_reason: unknown }).by_reason,
      c.seen.counts,
      `${c.name}: counts by reason`,
    );
  }
});

Deno.test("quarantineCheck() grace comes from the thresholds", () => {
  const one = seen([quarantined("CMD-1", "incomplete", 2 * 3_600_000)]);
  assert.equal(quarantineCheck(one, NOW, limits).state, "WARNING");
  const longer = { ...limits, quarantineGraceMs: 3 * 3_600_000 };
  assert.equal(quarantineCheck({ ...one, incompleteOverdue: 0 }, NOW, longer).state, "OK");
});

Deno.test("watcherUptimeCheck() warns for a watcher (re)started within the minimum uptime", () => {
  const cases: Array<[string, FileRead<WatchStatus>, Partial<HealthThresholds>, string, RegExp]> = [
    [
      "up 1h, below 23h",
      status({ started_at: ago(3_600_000) }),
      {},
      "WARNING",
      /^Watcher up 1h: \(re\)started within the last 23h$/,
    ],
    [
      "up 2 days",
      status({ started_at: ago(2 * 86_400_000) }),
      {},
      "OK",
      /^Watcher up 2d \(> 23h\)$/,
    ],
    [
      "the check turned off",
      status({ started_at: ago(60_000) }),
      { minUptimeMs: 0 },
      "OK",
      /not applicable/,
    ],
    [
      "a stopped watcher",
      status({ state: "stopped" }),
      {},
      "OK",
      /not applicable: the watcher is stopped/,
    ],
    [
      "a stale heartbeat",
      status({ updated_at: ago(600_000) }),
      {},
      "OK",
      /not applicable: no recent heartbeat/,
    ],
    [
      "no started_at: the reported uptime",
      status({ started_at: "?" }, { uptime_seconds: 90_000 }),
      {},
      "OK",
      /^Watcher up 1d 1h/,
    ],
    ["no status file", { kind: "missing", path: "s.json" }, {}, "OK", /not applicable/],
    [
      "no status file, watcher required",
      { kind: "missing", path: "s.json" },
      { requireWatcher: true },
      "CRITICAL",
      /the watcher has not run here/,
    ],
  ];
  for (const [name, read, overrides, state, reason] of cases) {
    const check = watcherUptimeCheck(read, NOW, { ...limits, ...overrides });
    assert.equal(check.state, state, name);
    assert.match(check.reason, reason, name);
  }
});

const window = (seen: Partial<LogWindowSeen> = {}): LogWindowSeen => ({
  dir: "logs",
  lines: 100,
  errors: 0,
  archived: 0,
  incomplete: 0,
  failed: 0,
  ...seen,
});

Deno.test("logErrorsCheck() warns for any error in the logs of the window", () => {
  const cases: Array<
    [
      string,
      LogWindowSeen | { dir: string; error: string },
      Partial<HealthThresholds>,
      string,
      RegExp,
    ]
  > = [
    ["no error", window(), {}, "OK", /^0 errors in the logs of the last 1d \(100 lines\)$/],
    [
      "one error",
      window({
        errors: 1,
        lastError: {
          at: NOW,
          logger: "archiver.watch",
          message: "❌ Change Stream error: x\nstack",
        },
      }),
      {},
      "WARNING",
      /^1 error in the logs of the last 1d \(max 0\), last archiver\.watch: ❌ Change Stream error: x; see archiver logs check$/,
    ],
    ["within the allowed", window({ errors: 2 }), { maxLogErrors: 2 }, "OK", /^2 errors/],
    [
      "unreadable folder",
      { dir: "logs", error: "permission denied" },
      {},
      "UNKNOWN",
      /^Cannot read logs: permission denied$/,
    ],
  ];
  for (const [name, seen, overrides, state, reason] of cases) {
    const check = logErrorsCheck(seen, { ...limits, ...overrides });
    assert.equal(check.state, state, name);
    assert.match(check.reason, reason, name);
  }
});

Deno.test("archiveRateCheck() warns below 99 % archived among the orders written, incomplete ones aside", () => {
  const cases: Array<
    [string, LogWindowSeen, Partial<HealthThresholds>, string, RegExp, number | null]
  > = [
    ["no order", window(), {}, "OK", /^No order handled in the last 1d$/, null],
    ["all archived", window({ archived: 500 }), {}, "OK", /^100% of 500 orders archived/, 100],
    ["99.5 %", window({ archived: 199, failed: 1 }), {}, "OK", /^99\.5% of 200/, 99.5],
    [
      "incomplete orders wait for their data: not a failure",
      window({ archived: 90, incomplete: 10 }),
      {},
      "OK",
      /^100% of 90 orders .*\(invalid or in error 0; 10 incomplete left out\)$/,
      100,
    ],
    [
      "98 %",
      window({ archived: 98, incomplete: 1, failed: 2 }),
      {},
      "WARNING",
      /^98% of 100 orders .*\(invalid or in error 2; 1 incomplete left out\) \(< 99%\)$/,
      98,
    ],
    [
      "a lower minimum",
      window({ archived: 98, failed: 2 }),
      { archiveRateMinPercent: 95 },
      "OK",
      /^98%/,
      98,
    ],
  ];
  for (const [name, seen, overrides, state, reason, rate] of cases) {
    const check = archiveRateCheck(seen, { ...limits, ...overrides });
    assert.equal(check.state, state, name);
    assert.match(check.reason, reason, name);
    assert.equal(check.data?.archive_rate_percent, rate, name);
  }
});
