import assert from "node:assert/strict";
import { MongoClient } from "mongodb";
import {
  type BatchRunRecord,
  lastSuccessfulRuns,
  localDay,
  recordBatchRun,
  recordRun,
  runsByDay,
  summarizeDays,
  watchDay,
  WatchTotals,
} from "../../../core/archive/history.ts";
import { emptyReport } from "../../../core/archive/report.ts";
import { testDatabase } from "../../support/test_db.ts";

// Wednesday 2026-03-18, mid-afternoon local time.
const NOW = new Date(2026, 2, 18, 15, 0, 0);

function run(daysAgo: number, overrides: Partial<BatchRunRecord> = {}): BatchRunRecord {
  const started = new Date(NOW.getFullYear(), NOW.getMonth(), NOW.getDate() - daysAgo, 2, 0, 0);
  return {
    mode: "batch",
    started_at: started,
    finished_at: new Date(started.getTime() + 60_000),
    host: "host-a",
    pid: 1234,
    dry_run: false,
    exit_code: 0,
    ...emptyReport(),
    orders_found: 100,
    orders_archived: 100,
    batch_duration_ms: 60_000,
    ...overrides,
  };
}

Deno.test("localDay() gives the local calendar day", () => {
  assert.equal(localDay(new Date(2026, 0, 5, 23, 59)), "2026-01-05");
  assert.equal(localDay(new Date(2026, 11, 31, 0, 0)), "2026-12-31");
});

Deno.test("summarizeDays() lists every day of the window oldest first, empty days included", () => {
  const days = summarizeDays([], { days: 7, now: NOW });
  assert.deepEqual(days.map((d) => `${d.weekday} ${d.day}`), [
    "Thu 2026-03-12",
    "Fri 2026-03-13",
    "Sat 2026-03-14",
    "Sun 2026-03-15",
    "Mon 2026-03-16",
    "Tue 2026-03-17",
    "Wed 2026-03-18",
  ]);
  for (const day of days) {
    assert.equal(day.runs, 0);
    assert.equal(day.success_rate, null);
    assert.equal(day.avg_duration_ms, null);
    assert.equal(day.orders_archived, 0);
  }
});

Deno.test("summarizeDays() adds up a day's runs: orders, success rate and mean duration", () => {
  const cases: Array<{
    name: string;
    runs: BatchRunRecord[];
    archived: number;
    rate: number | null;
    duration: number | null;
  }> = [
    { name: "no run", runs: [], archived: 0, rate: null, duration: null },
    { name: "one good run", runs: [run(0)], archived: 100, rate: 1, duration: 60_000 },
    {
      name: "one of two failed",
      runs: [
        run(0, { orders_archived: 30, batch_duration_ms: 10_000 }),
        run(0, { orders_archived: 5, exit_code: 1, orders_errors: 2, batch_duration_ms: 30_000 }),
      ],
      archived: 35,
      rate: 0.5,
      duration: 20_000,
    },
    {
      name: "an interrupted run is not a success",
      runs: [run(0, { exit_code: 130 }), run(0), run(0), run(0)],
      archived: 400,
      rate: 0.75,
      duration: 60_000,
    },
    {
      name: "runs outside the window are ignored",
      runs: [run(7), run(30), run(-1)],
      archived: 0,
      rate: null,
      duration: null,
    },
  ];
  for (const c of cases) {
    const today = summarizeDays(c.runs, { days: 7, now: NOW }).at(-1)!;
    assert.equal(today.orders_archived, c.archived, c.name);
    assert.equal(today.success_rate, c.rate, c.name);
    assert.equal(today.avg_duration_ms, c.duration, c.name);
  }
});

Deno.test("recordRun() and runsByDay() keep every host's runs in one collection", async () => {
  await using t = await testDatabase("history");
  const runs = t.db.collection("archiver_runs");
  await recordRun(runs, run(0, { host: "host-a", orders_archived: 40 }));
  await recordRun(runs, run(0, { host: "host-b", orders_archived: 60, exit_code: 1 }));
  await recordRun(runs, run(2, { orders_archived: 7, batch_duration_ms: 5_000 }));
  await recordRun(runs, run(9, { orders_archived: 1_000 }));
  await runs.insertOne({ _id: "watch:host-a:x", mode: "watch", day: localDay(NOW) } as never);

  const days = await runsByDay(runs, { days: 7, now: NOW });
  assert.equal(days.length, 7);
  const today = days.at(-1)!;
  assert.deepEqual(
    [today.runs, today.orders_archived, today.success_rate],
    [2, 100, 0.5],
  );
  const twoDaysAgo = days.at(-3)!;
  assert.deepEqual(
    [twoDaysAgo.runs, twoDaysAgo.orders_archived, twoDaysAgo.avg_duration_ms],
    [1, 7, 5_000],
  );
  assert.equal(days.reduce((sum, day) => sum + day.runs, 0), 3, "the 9-day-old run is out");

  const stored = await runs.findOne({ host: "host-b" });
  assert.ok(stored?.started_at instanceof Date, "times are BSON dates");
  assert.equal(stored.exit_code, 1);
});

Deno.test("lastSuccessfulRuns() returns the newest successful runs first", async () => {
  await using t = await testDatabase("history");
  const runs = t.db.collection("archiver_runs");
  for (let i = 0; i < 12; i++) {
    await recordRun(runs, run(i, { batch_duration_ms: 1_000 * (i + 1) }));
  }
  await recordRun(runs, run(0, { exit_code: 1, batch_duration_ms: 999_999 }));
  const last = await lastSuccessfulRuns(runs, { limit: 10 });
  assert.deepEqual(
    last.map((r) => r.batch_duration_ms),
    [1, 2, 3, 4, 5, 6, 7, 8, 9, 10].map((n) => n * 1_000),
  );
});

Deno.test("recordBatchRun() records a run with its exit code, dry-run false, host and pid", async () => {
  await using t = await testDatabase("history");
  const runs = t.db.collection("archiver_runs");
  const startedAt = new Date(Date.now() - 5_000);
  const report = { ...emptyReport(), orders_found: 3, orders_archived: 2, orders_errors: 1 };
  assert.equal(await recordBatchRun(runs, report, { startedAt, exitCode: 1 }), true);
  const [stored] = await runs.find().toArray();
  assert.ok(stored);
  const { _id, finished_at, ...rest } = stored;
  assert.ok(finished_at instanceof Date && finished_at >= startedAt);
  assert.deepEqual(rest, {
    mode: "batch",
    started_at: startedAt,
    host: Deno.hostname(),
    pid: Deno.pid,
    dry_run: false,
    exit_code: 1,
    ...report,
  });
});

Deno.test("recordBatchRun() warns instead of throwing when the database cannot take the run", async () => {
  await using t = await testDatabase("history");
  const client = new MongoClient(t.uri);
  await client.connect();
  const runs = client.db(t.dbName).collection("archiver_runs");
  await client.close();
  const warnings: string[] = [];
  const log = { warn: (message: string) => warnings.push(message) } as never;
  const recorded = await recordBatchRun(runs, emptyReport(), {
    startedAt: new Date(),
    exitCode: 0,
    log,
    timeoutMs: 500,
  });
  assert.equal(recorded, false);
  assert.equal(warnings.length, 1);
  assert.match(warnings[0]!, /^⚠️ Could not record the run in archiver_runs: /);
});

Deno.test("WatchTotals adds micro-batches in memory and upserts one document per day with $inc", async (t) => {
  await using tdb = await testDatabase("history");
  const runs = tdb.db.collection("archiver_runs");
  let now = new Date(2026, 2, 18, 23, 59, 0);
  const totals = new WatchTotals(runs, {
    host: "watch-host",
    flushIntervalMs: 3_600_000,
    now: () => now,
  });

  await t.step("nothing is written before a flush", async () => {
    totals.add({ events_processed: 3, events_archived: 2, orders_duplicates: 1, micro_batches: 1 });
    totals.add({ events_processed: 5, events_archived: 5, micro_batches: 1 });
    assert.equal(await runs.countDocuments(), 0);
  });

  await t.step("a flush writes the day's sums", async () => {
    await totals.flush();
    const day = await watchDay(runs, { host: "watch-host", day: "2026-03-18" });
    assert.ok(day);
    assert.deepEqual(
      {
        mode: day.mode,
        day: day.day,
        host: day.host,
        processed: day.events_processed,
        archived: day.events_archived,
        duplicates: day.orders_duplicates,
        batches: day.micro_batches,
        incomplete: day.orders_incomplete,
      },
      {
        mode: "watch",
        day: "2026-03-18",
        host: "watch-host",
        processed: 8,
        archived: 7,
        duplicates: 1,
        batches: 2,
        incomplete: 0,
      },
    );
  });

  await t.step("later flushes add to the same document; a new day starts a new one", async () => {
    totals.add({ events_processed: 2, events_archived: 2 });
    now = new Date(2026, 2, 19, 0, 1, 0);
    totals.add({ events_processed: 4, events_archived: 4 });
    await totals.stop();
    const docs = await runs.find({ mode: "watch" }).sort({ day: 1 }).toArray();
    assert.deepEqual(docs.map((d) => [d._id, d.events_processed, d.events_archived]), [
      ["watch:watch-host:2026-03-18", 10, 9],
      ["watch:watch-host:2026-03-19", 4, 4],
    ]);
  });
});

Deno.test("WatchTotals flushes on its timer, at most once per interval", async () => {
  await using tdb = await testDatabase("history");
  const runs = tdb.db.collection("archiver_runs");
  const totals = new WatchTotals(runs, { host: "h", flushIntervalMs: 200 });
  totals.add({ events_archived: 1 });
  totals.add({ events_archived: 1 });
  assert.equal(await runs.countDocuments(), 0);
  const deadline = Date.now() + 5_000;
  while (Date.now() < deadline && (await runs.countDocuments()) === 0) {
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  const [doc] = await runs.find().toArray();
  assert.equal(doc?.events_archived, 2);
  await totals.stop();
});
