import assert from "node:assert/strict";
import { type BatchRunRecord, recordRun } from "../../../../core/archive/history.ts";
import { emptyReport } from "../../../../core/archive/report.ts";
import type { GlobalConfig } from "../../../../core/runtime/config.ts";
import { globalSettings } from "../../../../core/runtime/config.ts";
import {
  batchDurationCheck,
  median,
  runBatchDurationCheck,
} from "../../../../plugins/health/checks/batch_duration.ts";
import { testDatabase } from "../../../support/test_db.ts";

Deno.test("median() of odd and even counts", () => {
  assert.equal(median([3, 1, 2]), 2);
  assert.equal(median([4, 1, 3, 2]), 2.5);
  assert.equal(median([7]), 7);
});

Deno.test("batchDurationCheck() warns when the latest run took more than twice the median", () => {
  const cases: Array<[string, number[], "OK" | "WARNING", boolean]> = [
    ["no runs", [], "OK", true],
    ["three runs: no baseline yet", [100, 10, 10], "OK", true],
    ["exactly twice the median is fine", [20, 10, 10, 10], "OK", false],
    ["just over twice the median", [21, 10, 10, 10], "WARNING", false],
    [
      "one slow run in the baseline does not move the median",
      [25, 10, 10, 10, 1_000],
      "WARNING",
      false,
    ],
    ["faster than usual", [1, 10, 10, 10], "OK", false],
    [
      "only the ten runs before the latest count",
      [30, ...Array(10).fill(10), 1_000, 1_000],
      "WARNING",
      false,
    ],
  ];
  for (const [name, durations, state, skipped] of cases) {
    const check = batchDurationCheck(durations);
    assert.equal(check.name, "batch_duration", name);
    assert.equal(check.state, state, name);
    assert.equal(check.skipped === true, skipped, name);
  }
  const warning = batchDurationCheck([30 * 60_000, 600_000, 540_000, 660_000]);
  assert.equal(warning.reason, "Last batch took 30m, median of the 3 before 10m (over 2x)");
  assert.deepEqual(warning.data, { latest_ms: 1_800_000, median_ms: 600_000, baseline_runs: 3 });
});

function config(uri: string, db: string): GlobalConfig {
  const defaults = Object.fromEntries(
    Object.entries(globalSettings).map(([key, setting]) => [key, setting.default]),
  ) as GlobalConfig;
  return { ...defaults, uri, db, connectTimeout: 2_000 };
}

function run(minutesAgo: number, durationMs: number, exitCode = 0): BatchRunRecord {
  const started = new Date(Date.now() - minutesAgo * 60_000);
  return {
    mode: "batch",
    started_at: started,
    finished_at: new Date(started.getTime() + durationMs),
    host: "h",
    pid: 1,
    dry_run: false,
    exit_code: exitCode,
    ...emptyReport(),
    batch_duration_ms: durationMs,
  };
}

Deno.test("the batch_duration check reads real run documents: a slow last run is a WARNING", async (t) => {
  await using tdb = await testDatabase("health_duration");
  const runs = tdb.db.collection("archiver_runs");
  const cfg = config(tdb.uri, tdb.dbName);

  await t.step("an empty history does not apply", async () => {
    const check = await runBatchDurationCheck(cfg, { budgetMs: 5_000 });
    assert.equal(check.state, "OK");
    assert.equal(check.skipped, true);
  });

  await t.step("usual durations are OK; failed runs are not the baseline", async () => {
    for (const [ago, ms] of [[500, 60_000], [400, 55_000], [300, 65_000], [200, 58_000]]) {
      await recordRun(runs, run(ago!, ms!));
    }
    await recordRun(runs, run(100, 999_000, 1));
    const check = await runBatchDurationCheck(cfg, { budgetMs: 5_000 });
    assert.equal(check.state, "OK", check.reason);
    assert.equal(check.data?.latest_ms, 58_000);
  });

  await t.step("a last run over twice the median warns", async () => {
    await recordRun(runs, run(10, 130_000));
    const check = await runBatchDurationCheck(cfg, { budgetMs: 5_000 });
    assert.equal(check.state, "WARNING", check.reason);
    assert.equal(check.data?.median_ms, 59_000);
  });
});

Deno.test("the batch_duration check is UNKNOWN when MongoDB cannot be reached", async () => {
  const check = await runBatchDurationCheck(config("mongodb://127.0.0.1:1", "x"), {
    budgetMs: 300,
  });
  assert.equal(check.state, "UNKNOWN");
  assert.match(check.reason, /^Cannot read the run history archiver_runs: /);
});
