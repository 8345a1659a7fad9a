/**
 * Numbers that come back: the README's "start over" (the source dropped and simulated again with
 * the archive kept) restarts numbers at CMD-000001 under new ids. Two batch processes then run at
 * once on the shared quarantine. Every delivered order must end archived once by its `_id` or
 * quarantined with its reason — the new orders as `conflict`, naming the old ones — and the
 * quarantine holds each once, whichever process wrote it.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { spawnSelf } from "../../core/runtime/child_process.ts";
import { orderIdKey } from "../../core/archive/order_id.ts";
import { builtinPlugins } from "../../cli/registry.ts";
import { batchArgs, cli, tempDir } from "../support/cli.ts";
import { assertArchivedOrQuarantined } from "../support/faults.ts";
import { testDatabase } from "../support/test_db.ts";

const plugins = [...builtinPlugins];

Deno.test("start over with the archive kept: reused numbers are conflicts, never lost, from two batches at once", async () => {
  await using tdb = await testDatabase("fault_identity");
  await using dir = await tempDir();
  const base = ["--uri", tdb.uri, "--db", tdb.dbName, "--log-dir", join(dir.path, "logs")];
  const simulate = (...args: string[]) =>
    cli([...base, "simulate", "--count", "60", "--p-delivered", "1", ...args], {
      plugins,
      cwd: dir.path,
    });

  let result = await simulate("--seed", "1");
  assert.equal(result.code, 0, result.stderr);
  result = await cli(batchArgs(tdb.uri, tdb.dbName, dir.path, "--json"), {
    plugins,
    cwd: dir.path,
  });
  assert.ok(result.code === 0 || result.code === 1, result.stderr);
  const first = await assertArchivedOrQuarantined(tdb.db);
  assert.ok(first.archived > 0);
  const old = new Map(
    (await tdb.db.collection("Historique").find().toArray()).map((d) => [
      d.numero_commande,
      d.order_id,
    ]),
  );

  result = await simulate("--seed", "2", "--drop", "--yes");
  assert.equal(result.code, 0, result.stderr);
  // Two batch processes at once, as two schedulers would start them.
  const runBatch = async (i: number) => {
    await using batch = spawnSelf(
      [
        ...batchArgs(tdb.uri, tdb.dbName, dir.path, "--json", "--batch-size", "7"),
        "--report-file",
        join(dir.path, `b${i}.json`),
      ],
      { cwd: dir.path, env: { NO_COLOR: "1" }, stdout: "piped", permissions: ["--allow-all"] },
    );
    return { code: await batch.exited, stdout: batch.stdout(), stderr: batch.stderr() };
  };
  const runs = await Promise.all([runBatch(1), runBatch(2)]);
  for (const run of runs) assert.equal(run.code, 1, `conflicts exit 1: ${run.stderr}`);

  const after = await assertArchivedOrQuarantined(tdb.db);
  assert.equal(after.lost, 0);
  const quarantine = await tdb.db.collection("archiver_quarantine").find({ reason: "conflict" })
    .toArray();
  const delivered = await tdb.db.collection("Commande").countDocuments({ status: "livrée" });
  // Every new delivered order whose number the old archive holds is a conflict, once.
  const clashing = (await tdb.db.collection("Commande").find({ status: "livrée" }).toArray())
    .filter((o) => old.has(o.numero_commande));
  assert.ok(clashing.length > 0 && clashing.length <= delivered);
  assert.equal(quarantine.length, clashing.length);
  assert.equal(new Set(quarantine.map((q) => orderIdKey(q._id))).size, quarantine.length);
  for (const entry of quarantine) {
    assert.equal(orderIdKey(entry.conflict_with), orderIdKey(old.get(entry.numero_commande)));
  }
  // What the two runs reported adds up to what happened: each conflict is new to exactly one run
  // (the quarantine's upsert decides which), the other saw it already quarantined.
  const reports = runs.map((r) => JSON.parse(r.stdout.trim().split("\n").at(-1)!));
  assert.ok(reports.every((r) => r.orders_archived === 0));
  assert.equal(
    reports.reduce((sum, r) => sum + r.orders_conflicts, 0),
    quarantine.length,
    "each conflict counted once, by the run that first saw it",
  );
});
