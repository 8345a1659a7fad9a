/**
 * How a batch run says it ended: the one line it logs, the saved report (`exit_code`,
 * `finished`), the textfile metrics. Each signal both ways: a run that succeeded says so; a run
 * the server refused, one that lost the server and one interrupted by Ctrl+C never do.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import type { Db } from "mongodb";
import { batch } from "../../../plugins/batch/mod.ts";
import { spawnSelf } from "../../../core/runtime/child_process.ts";
import { batchArgs, cli, tempDir } from "../../support/cli.ts";
import { seedOrders } from "../../support/orders.ts";
import { sampleValue } from "../../support/promtool.ts";
import { testDatabase } from "../../support/test_db.ts";
import { eventually } from "../../support/watcher.ts";

const plugins = [batch()];

function runBatch(uri: string, db: string, dir: string, ...args: string[]) {
  return cli(batchArgs(uri, db, dir, "--metrics-file", join(dir, "batch.prom"), ...args), {
    plugins,
    cwd: dir,
  });
}

async function saved(dir: string) {
  return JSON.parse(await Deno.readTextFile(join(dir, "last-batch.json")));
}

async function metrics(dir: string) {
  const text = await Deno.readTextFile(join(dir, "batch.prom"));
  return {
    exitCode: sampleValue(text, "archiver_batch_exit_code"),
    finished: sampleValue(text, "archiver_batch_finished"),
  };
}

/** The log file's lines at one level. */
async function logLines(dir: string, level: string): Promise<string[]> {
  const text = await Deno.readTextFile(join(dir, "logs", "batch.jsonl"));
  return text.trim().split("\n").map((line) => JSON.parse(line))
    .filter((record) => String(record["log.level"]).toUpperCase() === level)
    .map((record) => record.message as string);
}

async function failCommand(db: Db, data?: Record<string, unknown>) {
  await db.client.db("admin").command(
    data
      ? { configureFailPoint: "failCommand", mode: "alwaysOn", data }
      : { configureFailPoint: "failCommand", mode: "off" },
  );
}

Deno.test("a batch the server refuses (code 13) prints no success line, logs one ERROR line with the reason, and saves exit 2, unfinished", async (t) => {
  // Where the refusal comes: before the pass (the index), at its count, at its cursor.
  const refusals: Array<[string, string]> = [
    ["createIndexes", "creating the archive index"],
    ["aggregate", "counting delivered orders"],
    ["find", "reading delivered orders"],
  ];
  for (const [command, where] of refusals) {
    await t.step(`refused when ${where} (${command})`, async () => {
      await using tdb = await testDatabase("batch_refused");
      await using dir = await tempDir();
      await seedOrders(tdb.db, { complete: 4, incomplete: 0, notDelivered: 0 });
      await failCommand(tdb.db, { failCommands: [command], errorCode: 13 });
      let result;
      try {
        result = await runBatch(tdb.uri, tdb.dbName, dir.path, "--json");
      } finally {
        await failCommand(tdb.db);
      }
      assert.equal(result.code, 2, result.stderr);
      assert.doesNotMatch(result.stderr, /✅ Archived/);
      const errors = await logLines(dir.path, "ERROR");
      assert.equal(errors.length, 1, errors.join("\n"));
      assert.match(errors[0]!, /^❌ Batch failed \(exit 2\) .*MongoDB refused the batch: .*13/);
      const report = JSON.parse(result.stdout);
      assert.deepEqual([report.exit_code, report.finished, report.orders_archived], [2, false, 0]);
      const file = await saved(dir.path);
      assert.deepEqual([file.exit_code, file.finished, file.dry_run], [2, false, false]);
      assert.deepEqual(await metrics(dir.path), { exitCode: 2, finished: 0 });
    });
  }

  await t.step("the same batch, not refused: ✅, exit 0, finished", async () => {
    await using tdb = await testDatabase("batch_not_refused");
    await using dir = await tempDir();
    await seedOrders(tdb.db, { complete: 4, incomplete: 0, notDelivered: 0 });
    const result = await runBatch(tdb.uri, tdb.dbName, dir.path, "--json");
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stderr, /✅ Archived 4 orders/);
    assert.deepEqual(await logLines(dir.path, "ERROR"), []);
    const file = await saved(dir.path);
    assert.deepEqual([file.exit_code, file.finished, file.orders_archived], [0, true, 4]);
    assert.deepEqual(await metrics(dir.path), { exitCode: 0, finished: 1 });
  });
});

Deno.test("a batch that cannot reach MongoDB saves exit 3, unfinished, so the last report is not an older success", async () => {
  await using dir = await tempDir();
  await Deno.writeTextFile(
    join(dir.path, "last-batch.json"),
    JSON.stringify({ orders_found: 5, orders_archived: 5, exit_code: 0, finished: true }),
  );
  const { code, stderr } = await cli(
    [
      "--uri",
      "mongodb://127.0.0.1:9/?serverSelectionTimeoutMS=200",
      "--log-dir",
      join(dir.path, "logs"),
      "batch",
      "--report-file",
      join(dir.path, "last-batch.json"),
    ],
    { plugins, cwd: dir.path, env: { ARCHIVER_CONNECT_TIMEOUT: "200ms" } },
  );
  assert.equal(code, 3);
  assert.doesNotMatch(stderr, /✅/);
  const file = await saved(dir.path);
  assert.deepEqual([file.exit_code, file.finished, file.orders_archived], [3, false, 0]);
});

Deno.test({
  name:
    "Ctrl+C in the middle of a batch: exit 130, no success line, the report says unfinished with what was done; the next run finishes",
  // The child's driver and the sandbox's sockets outlive the test by a tick.
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    await using tdb = await testDatabase("batch_interrupted");
    await using dir = await tempDir();
    const seeded = await seedOrders(tdb.db, { complete: 40, incomplete: 0, notDelivered: 0 });
    // Each aggregation on the orders waits 250 ms: the pass takes seconds, so the signal lands
    // in its middle whatever the machine's speed.
    await failCommand(tdb.db, {
      failCommands: ["aggregate"],
      namespace: `${tdb.dbName}.Commande`,
      blockConnection: true,
      blockTimeMS: 250,
    });
    const archive = tdb.db.collection("Historique");
    let code: number;
    let stderr: string;
    try {
      await using child = spawnSelf(
        [
          ...batchArgs(tdb.uri, tdb.dbName, dir.path, "--batch-size", "2"),
          "--metrics-file",
          join(dir.path, "batch.prom"),
        ],
        { cwd: dir.path, env: { NO_COLOR: "1" }, permissions: ["--allow-all"] },
      );
      await eventually(async () => await archive.countDocuments() >= 2, 30_000, "a first batch");
      child.kill("SIGINT");
      code = await child.exited;
      stderr = child.stderr();
    } finally {
      await failCommand(tdb.db);
    }
    assert.equal(code, 130, stderr);
    assert.doesNotMatch(stderr, /✅ Archived/);
    assert.match(stderr, /⚠️ Batch interrupted after examining \d+ of 40 delivered orders/);
    const file = await saved(dir.path);
    assert.deepEqual([file.exit_code, file.finished], [130, false]);
    assert.ok(file.orders_examined >= 2 && file.orders_examined < 40, `${file.orders_examined}`);
    assert.equal(file.orders_delivered, 40);
    assert.equal(file.orders_archived, await archive.countDocuments(), "what was done is counted");
    assert.deepEqual(await metrics(dir.path), { exitCode: 130, finished: 0 });

    const rest = await runBatch(tdb.uri, tdb.dbName, dir.path, "--json");
    assert.equal(rest.code, 0, rest.stderr);
    assert.match(rest.stderr, /✅ Archived/);
    const again = await saved(dir.path);
    assert.deepEqual([again.exit_code, again.finished], [0, true]);
    assert.equal(file.orders_archived + again.orders_archived, 40);
    assert.deepEqual(
      (await archive.distinct("numero_commande")).sort(),
      [...seeded.complete].sort(),
    );
  },
});

Deno.test("progress is logged at most every 5 s, and counts read as people write them", async () => {
  await using tdb = await testDatabase("batch_progress");
  await using dir = await tempDir();
  await seedOrders(tdb.db, { complete: 31, incomplete: 0, notDelivered: 0 });
  const one = await runBatch(tdb.uri, tdb.dbName, dir.path, "--limit", "1");
  assert.equal(one.code, 0, one.stderr);
  assert.match(one.stderr, /✅ Archived 1 order \(1 not yet archived among 31 delivered orders\)/);

  const rest = await runBatch(tdb.uri, tdb.dbName, dir.path, "--batch-size", "1", "--json");
  assert.equal(rest.code, 0, rest.stderr);
  // Everything archived, then --limit 5 reads the pass five orders at a time (once, a line each).
  const limited = await runBatch(tdb.uri, tdb.dbName, dir.path, "--limit", "5", "--json");
  assert.equal(limited.code, 0, limited.stderr);
  for (const run of [rest, limited]) {
    const duration = JSON.parse(run.stdout).batch_duration_ms as number;
    const lines = run.stderr.split("\n").filter((line) => line.includes("📊 Progress"));
    assert.ok(lines.length <= Math.floor(duration / 5_000), `${lines.length} in ${duration} ms`);
  }
  assert.deepEqual(
    [JSON.parse(limited.stdout).orders_found, JSON.parse(limited.stdout).orders_examined],
    [0, 31],
  );
});
