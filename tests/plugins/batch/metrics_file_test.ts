import assert from "node:assert/strict";
import { join } from "node:path";
import { batch } from "../../../plugins/batch/mod.ts";
import { cli, tempDir } from "../../support/cli.ts";
import { seedOrders } from "../../support/orders.ts";
import { checkMetrics, sampleValue, skipWithoutPromtool } from "../../support/promtool.ts";
import { testDatabase } from "../../support/test_db.ts";

const plugins = [batch()];

function runBatch(
  uri: string,
  db: string,
  dir: string,
  args: string[],
  env: Record<string, string> = {},
) {
  return cli(
    ["--uri", uri, "--db", db, "--log-dir", join(dir, "logs"), "batch", ...args],
    { plugins, cwd: dir, env },
  );
}

async function assertPromtoolAccepts(text: string) {
  const checked = await checkMetrics(text);
  assert.equal(checked.code, 0, checked.output);
  assert.equal(checked.output, "", "no lint problems");
}

Deno.test({
  name:
    "--metrics-file after a run, then after a failed one: promtool accepts both, the failure keeps the last success",
  ignore: skipWithoutPromtool(),
  async fn(t) {
    await using tdb = await testDatabase("batch_metrics_file");
    await using dir = await tempDir();
    await seedOrders(tdb.db, { complete: 3, incomplete: 1, notDelivered: 2 });
    const file = join(dir.path, "archiver_batch.prom");
    let lastSuccess = 0;

    await t.step("a run that exits 0", async () => {
      const before = Date.now() / 1000;
      const { code, stdout, stderr } = await runBatch(tdb.uri, tdb.dbName, dir.path, [
        "--json",
        "--metrics-file",
        file,
      ]);
      assert.equal(code, 0, stderr);
      const report = JSON.parse(stdout);
      const text = await Deno.readTextFile(file);
      await assertPromtoolAccepts(text);
      assert.match(text, /^# HELP archiver_batch_orders .+\n# TYPE archiver_batch_orders gauge$/m);
      const outcomes: Array<[string, number]> = [
        ["found", report.orders_found],
        ["archived", 3],
        ["duplicate", report.orders_duplicates],
        ["incomplete", 1],
        ["invalid", 0],
        ["error", 0],
        ["recovered", 0],
      ];
      for (const [outcome, expected] of outcomes) {
        assert.equal(sampleValue(text, "archiver_batch_orders", { outcome }), expected, outcome);
      }
      assert.equal(report.orders_archived, 3);
      assert.equal(sampleValue(text, "archiver_batch_exit_code"), 0);
      const lastRun = sampleValue(text, "archiver_batch_last_run_timestamp_seconds")!;
      lastSuccess = sampleValue(text, "archiver_batch_last_success_timestamp_seconds")!;
      assert.equal(lastSuccess, lastRun);
      assert.ok(lastRun >= before && lastRun <= Date.now() / 1000, `${lastRun}`);
      const duration = sampleValue(text, "archiver_batch_duration_seconds")!;
      assert.ok(duration > 0 && duration < 60, `${duration}`);
      if (Deno.build.os !== "windows") {
        assert.equal((await Deno.stat(file)).mode! & 0o777, 0o644, "readable by the exporter");
      }
      const leftovers = [...Deno.readDirSync(dir.path)].filter((e) => e.name.endsWith(".tmp"));
      assert.deepEqual(leftovers, [], "no temporary file left");
    });

    await t.step("an unreachable server: exit 3 recorded, last success kept", async () => {
      const { code } = await runBatch("mongodb://127.0.0.1:9", tdb.dbName, dir.path, [], {
        ARCHIVER_CONNECT_TIMEOUT: "1s",
        ARCHIVER_BATCH_METRICS_FILE: file,
      });
      assert.equal(code, 3);
      const text = await Deno.readTextFile(file);
      await assertPromtoolAccepts(text);
      assert.equal(sampleValue(text, "archiver_batch_exit_code"), 3);
      assert.equal(sampleValue(text, "archiver_batch_last_success_timestamp_seconds"), lastSuccess);
      assert.ok(sampleValue(text, "archiver_batch_last_run_timestamp_seconds")! > lastSuccess);
      assert.equal(sampleValue(text, "archiver_batch_orders", { outcome: "archived" }), 0);
    });
  },
});

Deno.test({
  name: "a first run that fails writes its exit code and no last success time",
  ignore: skipWithoutPromtool(),
  async fn() {
    await using dir = await tempDir();
    const file = join(dir.path, "batch.prom");
    const { code } = await runBatch("mongodb://127.0.0.1:9", "x", dir.path, [
      "--metrics-file",
      "batch.prom",
    ], { ARCHIVER_CONNECT_TIMEOUT: "1s" });
    assert.equal(code, 3);
    const text = await Deno.readTextFile(file);
    await assertPromtoolAccepts(text);
    assert.equal(sampleValue(text, "archiver_batch_exit_code"), 3);
    assert.equal(sampleValue(text, "archiver_batch_last_success_timestamp_seconds"), undefined);
  },
});

Deno.test("a bad metrics file stops with one line and exit 2 before connecting", async (t) => {
  const cases: Array<{ args: string[]; env?: Record<string, string>; line: string }> = [
    {
      args: ["--metrics-file", "no/such/folder/batch.prom"],
      line: 'Cannot write --metrics-file "no/such/folder/batch.prom": folder',
    },
    {
      args: [],
      env: { ARCHIVER_BATCH_METRICS_FILE: "no/such/folder/batch.prom" },
      line: 'Cannot write the metrics file "no/such/folder/batch.prom": folder',
    },
    {
      args: ["--metrics-file", "batch.txt"],
      line: 'Invalid --metrics-file "batch.txt": expected a file path ending in .prom',
    },
  ];
  for (const { args, env, line } of cases) {
    await t.step(args.join(" ") || JSON.stringify(env), async () => {
      await using dir = await tempDir();
      const logs = join(dir.path, "logs");
      const { code, stdout, stderr } = await runBatch(
        "mongodb://127.0.0.1:9",
        "x",
        dir.path,
        args,
        env,
      );
      assert.equal(code, 2, stderr);
      assert.equal(stdout, "");
      assert.ok(stderr.includes(line), stderr);
      assert.doesNotMatch(stderr, /Failed to connect/, "stopped before connecting");
      if (!env) await assert.rejects(Deno.stat(logs), Deno.errors.NotFound, "not even a log");
    });
  }
});

Deno.test("--dry-run writes no metrics file", async () => {
  await using tdb = await testDatabase("batch_metrics_dry_run");
  await using dir = await tempDir();
  await seedOrders(tdb.db, { complete: 2, incomplete: 0, notDelivered: 0 });
  const file = join(dir.path, "batch.prom");
  const { code } = await runBatch(tdb.uri, tdb.dbName, dir.path, [
    "--dry-run",
    "--metrics-file",
    file,
  ]);
  assert.equal(code, 0);
  await assert.rejects(Deno.stat(file), Deno.errors.NotFound);
});
