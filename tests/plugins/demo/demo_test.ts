import assert from "node:assert/strict";
import { builtinPlugins } from "../../../cli/registry.ts";
import { cli, pathExists } from "../../support/cli.ts";
import { assertSnapshot } from "../../support/snapshot.ts";
import { testDatabase } from "../../support/test_db.ts";

const plugins = [...builtinPlugins];

function _alive(pid: number): boolean {
  // `kill -0` semantics: signal 0 is not exposed, so look for the process in /proc (Linux).
  try {
    Deno.statSync(`/proc/${pid}`);
    return true;
  } catch {
    return false;
  }
}

Deno.test("archiver demo runs every command, archives each complete delivered order exactly once and cleans up", async () => {
  const { code, stdout, stderr } = await cli(
    ["demo", "--count", "300", "--duration", "3s", "--seed", "7", "--json"],
    { plugins, env: { NO_COLOR: "1" } },
  );
  assert.equal(code, 0, stderr);
  const lines = stdout.trim().split("\n");
  assert.equal(lines.length, 1, "--json prints one line");
  const report = JSON.parse(lines[0]!);

  assert.equal(report.ok, true);
  assert.equal(report.server, "sandbox");
  assert.equal(report.database, "archiver_demo");
  assert.equal(report.simulated.orders, 300);
  const statuses = Object.values(report.simulated.statuses as Record<string, number>);
  assert.equal(statuses.reduce((a, b) => a + b, 0), 300);

  // The dry run and the batch saw the same orders; the dry run wrote nothing.
  assert.ok(report.batch.orders_archived > 0);
  assert.equal(report.dry_run.orders_archived, report.batch.orders_archived);
  assert.equal(report.batch.orders_errors, 0);
  assert.equal(
    report.batch.orders_archived + report.batch.orders_incomplete,
    report.batch.orders_found,
  );

  // Live deliveries were archived by the watcher while they happened.
  assert.ok(report.live.changes > 0);
  assert.ok(report.live.deliveries > 0);
  assert.ok(report.live.archived_by_watch > 0);
  assert.ok(report.live.archived_by_watch <= report.live.deliveries);

  // Every complete delivered order is in the archive exactly once.
  assert.equal(report.archive.exactly_once, true);
  assert.equal(report.archive.missing, 0);
  assert.equal(report.archive.total, report.archive.complete_delivered);
  assert.equal(report.archive.distinct, report.archive.total);
  assert.equal(report.archive.by_batch, report.batch.orders_archived);
  assert.equal(report.archive.by_watch, report.live.archived_by_watch);

  // The checks about the demo's own work are OK; WARNING may only come from this host (a full
  // disk or a large log folder), which the demo does not control.
  assert.ok(["OK", "WARNING"].includes(report.health.state), JSON.stringify(report.health));
  for (const problem of report.health.problems) {
    assert.ok(["disk_space", "log_folder"].includes(problem.name), JSON.stringify(problem));
  }

  // Stopped cleanly: the watcher process exited 0 on SIGTERM and is gone; the folder is removed.
  assert.equal(report.watch.killed, false);
  if (Deno.build.os !== "windows") assert.equal(report.watch.exit_code, 0);
  assert.equal(report.kept, false);
  assert.equal(await pathExists(report.work_dir), false, "the working folder is removed");
  if (Deno.build.os === "linux") {
    const pid = Number(/Watcher \(process (\d+)\)/.exec(stderr)?.[1]);
    assert.ok(pid > 0, "the demo names the watcher's process");
    assert.equal(_alive(pid), false, "no watcher process is left running");
  }

  // The real commands ran and logged through the demo's console.
  assert.match(
    stderr,
    /\[batch\] 🔍 Dry run: would archive \d+ orders \(\d+ not yet archived among \d+ delivered orders\), nothing written/,
  );
  assert.match(stderr, /\[watch\] ✅ Change Stream opened successfully/);
  assert.match(stderr, /\[health\] 🩺 Health/);
  assert.ok(report.duration_ms < 60_000, `took ${report.duration_ms} ms`);
});

Deno.test("archiver demo --uri runs in the named empty database and drops it at the end", async () => {
  await using t = await testDatabase("demo");
  const { code, stdout, stderr } = await cli(
    ["--uri", t.uri, "--db", t.dbName, "demo", "--count", "200", "--duration", "2s", "--json"],
    { plugins, env: { NO_COLOR: "1" } },
  );
  assert.equal(code, 0, stderr);
  const report = JSON.parse(stdout);
  assert.equal(report.server, "uri");
  assert.equal(report.database, t.dbName);
  assert.equal(report.archive.exactly_once, true);
  const left = await t.db.listCollections({}, { nameOnly: true }).toArray();
  assert.deepEqual(left, [], "the demo database is dropped");
});

Deno.test("archiver demo --uri refuses a database that already holds data", async () => {
  await using t = await testDatabase("demo");
  await t.db.collection("Commande").insertOne({ numero_commande: "CMD-000001" });
  const { code, stderr } = await cli(["--uri", t.uri, "--db", t.dbName, "demo"], { plugins });
  assert.equal(code, 2);
  assert.match(
    stderr,
    /Refusing to run the demo in database "demo_\w+" on .*: it already holds 1 collection \(/,
  );
  assert.equal(await t.db.collection("Commande").countDocuments(), 1, "nothing was touched");
});

Deno.test("archiver demo rejects a bad flag before doing anything", async () => {
  const { code, stderr } = await cli(["demo", "--duration", "soon"], { plugins });
  assert.equal(code, 2);
  assert.match(stderr, /Invalid --duration "soon": expected a duration/);
});

Deno.test("archiver demo --help", async () => {
  const { stdout } = await cli(["demo", "--help"], { plugins });
  await assertSnapshot("demo_help", stdout);
});
