import assert from "node:assert/strict";
import { join } from "node:path";
import { type BatchRunRecord, recordRun, summarizeDays } from "../../../core/archive/history.ts";
import { emptyReport } from "../../../core/archive/report.ts";
import { batch } from "../../../plugins/batch/mod.ts";
import { history } from "../../../plugins/history/mod.ts";
import { formatDuration, historyJson, historyLines } from "../../../core/archive/history_view.ts";
import { cli, tempDir } from "../../support/cli.ts";
import { seedOrders } from "../../support/orders.ts";
import { assertSnapshot } from "../../support/snapshot.ts";
import { testDatabase } from "../../support/test_db.ts";

const plugins = [batch(), history()];
const NOW = new Date(2026, 2, 18, 15, 0, 0);

function run(daysAgo: number, overrides: Partial<BatchRunRecord> = {}): BatchRunRecord {
  const started = new Date(NOW.getFullYear(), NOW.getMonth(), NOW.getDate() - daysAgo, 2);
  return {
    mode: "batch",
    started_at: started,
    finished_at: started,
    host: "h",
    pid: 1,
    dry_run: false,
    exit_code: 0,
    ...emptyReport(),
    ...overrides,
  };
}

Deno.test("formatDuration() writes durations the way the plan does", () => {
  const cases: Array<[number | null, string]> = [
    [null, "-"],
    [800, "0.8s"],
    [42_000, "42s"],
    [754_000, "12m 34s"],
    [3 * 3600_000 + 5 * 60_000, "3h 05m"],
  ];
  for (const [ms, text] of cases) assert.equal(formatDuration(ms), text);
});

Deno.test("historyLines() draws a bar scaled to the busiest day, rate and mean duration, empty days empty", () => {
  const days = summarizeDays([
    run(6, { orders_archived: 1_234, batch_duration_ms: 754_000 }),
    run(5, { orders_archived: 617, batch_duration_ms: 30_000 }),
    run(5, { orders_archived: 0, exit_code: 1, orders_errors: 3, batch_duration_ms: 10_000 }),
  ], { days: 7, now: NOW });
  const lines = historyLines(days);
  assert.deepEqual(lines, [
    "Thu 2026-03-12  ████████████████████ 1,234 orders  100.0% ok  avg 12m 34s  (1 run)",
    "Fri 2026-03-13  ██████████             617 orders  50.0% ok  avg 20s  (2 runs)",
    "Sat 2026-03-14                       no runs",
    "Sun 2026-03-15                       no runs",
    "Mon 2026-03-16                       no runs",
    "Tue 2026-03-17                       no runs",
    "Wed 2026-03-18                       no runs",
    "Success rate: 66.7% (2/3 runs)",
    "Avg duration: 4m 25s",
  ]);
  const json = JSON.parse(historyJson(days));
  assert.equal(json.runs, 3);
  assert.equal(json.days.length, 7);
  assert.deepEqual(
    Object.keys(json.days[0]).sort(),
    [
      "avg_duration_ms",
      "day",
      "orders_archived",
      "orders_duplicates",
      "orders_errors",
      "orders_found",
      "orders_incomplete",
      "orders_invalid",
      "orders_recovered",
      "runs",
      "succeeded",
      "success_rate",
      "weekday",
    ],
  );
});

Deno.test("batch records its run in archiver_runs and history shows it; dry runs are not recorded", async (t) => {
  await using tdb = await testDatabase("history");
  await using dir = await tempDir();
  await seedOrders(tdb.db, { complete: 6, incomplete: 1, notDelivered: 2 });
  const base = ["--uri", tdb.uri, "--db", tdb.dbName, "--log-dir", join(dir.path, "logs")];
  const batchArgs = ["batch", "--report-file", join(dir.path, "last-batch.json"), "--json"];

  await t.step("a dry run writes no run", async () => {
    const { code, stderr } = await cli([...base, ...batchArgs, "--dry-run"], {
      plugins,
      cwd: dir.path,
    });
    assert.equal(code, 0, stderr);
    assert.equal(await tdb.db.collection("archiver_runs").countDocuments(), 0);
  });

  await t.step("a real run is recorded under the report's names", async () => {
    const { code, stdout, stderr } = await cli([...base, ...batchArgs], {
      plugins,
      cwd: dir.path,
    });
    assert.equal(code, 0, stderr);
    const report = JSON.parse(stdout.trim());
    const runs = await tdb.db.collection("archiver_runs").find().toArray();
    assert.equal(runs.length, 1);
    const recorded = runs[0]!;
    assert.equal(recorded.mode, "batch");
    assert.equal(recorded.exit_code, 0);
    assert.equal(recorded.dry_run, false);
    assert.equal(recorded.host, Deno.hostname());
    assert.ok(recorded.started_at instanceof Date && recorded.finished_at >= recorded.started_at);
    for (const [name, value] of Object.entries(report)) {
      assert.equal(recorded[name], value, `${name} as --json prints it`);
    }
    assert.equal(recorded.orders_archived, 6);
    assert.equal(recorded.orders_incomplete, 1);
  });

  await t.step("history --json has today's run", async () => {
    const { code, stdout, stderr } = await cli([...base, "history", "--json"], {
      plugins,
      cwd: dir.path,
    });
    assert.equal(code, 0, stderr);
    const lines = stdout.trim().split("\n");
    assert.equal(lines.length, 1);
    const json = JSON.parse(lines[0]!);
    assert.equal(json.days.length, 7);
    const today = json.days.at(-1);
    assert.equal(today.runs, 1);
    assert.equal(today.orders_archived, 6);
    assert.equal(today.success_rate, 1);
    assert.equal(json.success_rate, 1);
  });

  await t.step("history --days 3 prints three day lines with the bar", async () => {
    const { code, stdout, stderr } = await cli([...base, "history", "--days", "3"], {
      plugins,
      cwd: dir.path,
    });
    assert.equal(code, 0, stderr);
    const lines = stdout.trimEnd().split("\n");
    assert.equal(lines[0], "📦 Batch Archiving - Last 3 days");
    assert.equal(lines.length, 1 + 3 + 2);
    assert.match(lines[3]!, /^\w{3} \d{4}-\d\d-\d\d {2}█{20} 6 orders {2}100\.0% ok {2}avg /);
    assert.match(lines[1]!, /no runs$/);
    assert.equal(lines[4], "Success rate: 100.0% (1/1 runs)");
  });
});

Deno.test("history and days of another host count alike", async () => {
  await using tdb = await testDatabase("history");
  await using dir = await tempDir();
  const runs = tdb.db.collection("archiver_runs");
  const today = new Date();
  await recordRun(runs, { ...run(0, { host: "a", orders_archived: 3 }), started_at: today });
  await recordRun(runs, { ...run(0, { host: "b", orders_archived: 4 }), started_at: today });
  const { stdout } = await cli(
    ["--uri", tdb.uri, "--db", tdb.dbName, "history", "--days", "1", "--json"],
    { plugins, cwd: dir.path },
  );
  assert.equal(JSON.parse(stdout).orders_archived, 7);
});

Deno.test("history rejects a bad --days with exit 2", async () => {
  const { code, stderr } = await cli(["history", "--days", "0"], { plugins });
  assert.equal(code, 2);
  assert.match(stderr, /Invalid --days "0": expected an integer/);
});

Deno.test("archiver history --help", async () => {
  const { stdout } = await cli(["history", "--help"], { plugins });
  await assertSnapshot("history_help", stdout);
});
