/**
 * `archiver health` as a monitoring agent runs it: as the agent's own user (Nagios, Icinga,
 * Zabbix), with read access only to a running watcher's folder; and the verdict on a watcher
 * killed with -9, read from its files or from its `/healthz`.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { MongoClient } from "mongodb";
import { builtinPlugins } from "../../../cli/registry.ts";
import { STATE_EXIT_CODE } from "../../../plugins/health/state.ts";
import { health } from "../../../plugins/health/mod.ts";
import { cli, tempDir } from "../../support/cli.ts";
import { seedOrders } from "../../support/orders.ts";
import { otherUserRunner } from "../../support/other_user.ts";
import { dedicatedSandbox, testDatabase } from "../../support/test_db.ts";
import { eventually, startWatcher, type WatcherProcess } from "../../support/watcher.ts";

interface HealthJson {
  state: "OK" | "WARNING" | "CRITICAL" | "UNKNOWN";
  checks: Array<{ name: string; state: string; reason: string; skipped?: boolean }>;
}

function byName(json: HealthJson): Record<string, HealthJson["checks"][0]> {
  return Object.fromEntries(json.checks.map((check) => [check.name, check]));
}

function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

/** Waits until the watcher streams and has saved a token (one delivery gets it there). */
async function streamingWithToken(
  watcher: WatcherProcess,
  dir: string,
  deliver: () => Promise<void>,
): Promise<void> {
  await watcher.waitFor(/Change Stream opened/, 30_000);
  await deliver();
  await eventually(
    async () => {
      try {
        const status = JSON.parse(await Deno.readTextFile(join(dir, "archiver-status.json")));
        await Deno.stat(join(dir, ".resume_token.json"));
        return status.state === "streaming";
      } catch {
        return false;
      }
    },
    30_000,
    "a streaming status and a saved token",
  );
}

const runner = await otherUserRunner();
const SECRET = `Agent-Otter-${crypto.randomUUID().slice(0, 8)}`;
const STATE_FILES = [
  "archiver-status.json",
  ".resume_token.json",
  "last-batch.json",
  "archiver_batch.prom",
];

Deno.test({
  name:
    `health run as the monitoring agent's own user against a watcher's folder: the verdict root gets, one warning for its own log${
      "skip" in runner ? ` (skipped: ${runner.skip})` : ""
    }`,
  ignore: "skip" in runner,
  async fn() {
    if ("skip" in runner) return;
    await using agent = runner;
    // With credentials (on the sandbox, which checks them) so the state files can be searched
    // for them; a real server is used as the test backend gives it.
    await using sandbox = await dedicatedSandbox({ auth: true });
    await using tdb = sandbox ? undefined : await testDatabase("agent");
    let uri = tdb?.uri ?? "";
    const dbName = tdb?.dbName ?? "agent";
    if (sandbox) {
      const admin = new MongoClient(sandbox.uri);
      try {
        await admin.db("admin").command({ createUser: "agent_app", pwd: SECRET, roles: ["root"] });
      } finally {
        await admin.close();
      }
      uri = sandbox.uri.replace("mongodb://", `mongodb://agent_app:${SECRET}@`);
    }
    const client = new MongoClient(uri);
    await using dir = await tempDir();
    // The service's folder, as an installation leaves it: others may enter and read.
    await Deno.chmod(dir.path, 0o755);
    let watcher: WatcherProcess | undefined;
    try {
      const db = client.db(dbName);
      const seeded = await seedOrders(db, { complete: 5, incomplete: 0, notDelivered: 2 });
      // The last batch report and its textfile, by the batch itself.
      const batch = await cli(
        ["--uri", uri, "--db", dbName, "batch", "--metrics-file", "archiver_batch.prom"],
        { plugins: [...builtinPlugins], cwd: dir.path },
      );
      assert.equal(batch.code, 0, batch.stderr);
      watcher = startWatcher(uri, dbName, dir.path);
      await streamingWithToken(watcher, dir.path, async () => {
        await db.collection("Commande").updateOne(
          { numero_commande: seeded.notDelivered[0] },
          { $set: { status: "livrée", date_livraison: new Date() } },
        );
      });

      for (const file of STATE_FILES) {
        const path = join(dir.path, file);
        assert.equal((await Deno.stat(path)).mode! & 0o777, 0o644, `${file} readable by others`);
        const text = await Deno.readTextFile(path);
        for (const secret of [SECRET, "agent_app", "mongodb://"]) {
          assert.ok(!text.includes(secret), `${file} holds no ${JSON.stringify(secret)}`);
        }
      }

      const args = ["--uri", uri, "--db", dbName, "health", "--json"];
      const asAgent = await agent.run(args, { cwd: dir.path });
      const json = JSON.parse(asAgent.stdout) as HealthJson;
      assert.equal(asAgent.code, STATE_EXIT_CODE[json.state], asAgent.stderr);
      // Its own log folder is the service's: one warning on standard error, then on.
      const lines = asAgent.stderr.trimEnd().split("\n");
      const warnings = lines.filter((line) => /Cannot write logs to/.test(line));
      assert.equal(warnings.length, 1, asAgent.stderr);
      assert.match(warnings[0]!, /\[WARNING\].*: permission denied: logging to the console only$/);
      const checks = byName(json);
      for (const name of ["watcher", "resume_token", "last_batch", "log_errors", "log_folder"]) {
        assert.equal(checks[name]!.state, "OK", `${name}: ${checks[name]!.reason}`);
        assert.ok(!checks[name]!.skipped, `${name} read the watcher's files`);
      }
      // The same verdict, check by check, as the service's own user gets.
      const asRoot = await cli(args, { plugins: [health()], cwd: dir.path });
      const rootChecks = byName(JSON.parse(asRoot.stdout) as HealthJson);
      for (const check of json.checks) {
        assert.equal(check.state, rootChecks[check.name]!.state, `${check.name}: ${check.reason}`);
      }
    } finally {
      await watcher?.stop();
      await client.close();
    }
  },
});

Deno.test("health after kill -9 of the watcher: CRITICAL at once on its host, from the status file or its /healthz", async (t) => {
  await using tdb = await testDatabase("killed");
  const seeded = await seedOrders(tdb.db, { complete: 2, incomplete: 0, notDelivered: 4 });
  let next = 0;
  const deliver = async () => {
    await tdb.db.collection("Commande").updateOne(
      { numero_commande: seeded.notDelivered[next++] },
      { $set: { status: "livrée", date_livraison: new Date() } },
    );
  };
  const runHealth = async (cwd: string, ...args: string[]) => {
    const { code, stdout, stderr } = await cli(
      ["--uri", tdb.uri, "--db", tdb.dbName, "health", "--json", ...args],
      { plugins: [health()], cwd },
    );
    const json = JSON.parse(stdout) as HealthJson;
    return { code, json, watcher: byName(json).watcher!, stderr };
  };

  await t.step("the status file: gone is CRITICAL while the heartbeat is still fresh", async () => {
    await using dir = await tempDir();
    const watcher = startWatcher(tdb.uri, tdb.dbName, dir.path);
    try {
      await streamingWithToken(watcher, dir.path, deliver);
      const running = await runHealth(dir.path);
      assert.equal(running.watcher.state, "OK", running.watcher.reason);
      watcher.kill("SIGKILL");
      await watcher.exited;
      const killed = await runHealth(dir.path);
      assert.equal(killed.watcher.state, "CRITICAL", killed.watcher.reason);
      assert.match(
        killed.watcher.reason,
        new RegExp(`^Not running: process ${watcher.pid} is gone \\(last heartbeat \\d+s ago\\)$`),
      );
      assert.equal(killed.code, 2);
    } finally {
      await watcher.stop().catch(() => {});
    }
  });

  await t.step("--url: the /healthz instead of the files, no answer is CRITICAL", async () => {
    await using dir = await tempDir();
    await using elsewhere = await tempDir();
    const port = freePort();
    const watcher = startWatcher(tdb.uri, tdb.dbName, dir.path, ["--metrics-port", `${port}`]);
    try {
      await streamingWithToken(watcher, dir.path, deliver);
      const url = `http://127.0.0.1:${port}`;
      // Run from a folder without the watcher's files: what it says comes from the endpoint.
      const running = await runHealth(elsewhere.path, "--url", url);
      assert.equal(running.watcher.state, "OK", running.watcher.reason);
      assert.match(running.watcher.reason, /^streaming, up /);
      const token = byName(running.json).resume_token!;
      assert.equal(token.state, "OK", token.reason);
      assert.ok(!token.skipped, token.reason);
      watcher.kill("SIGKILL");
      await watcher.exited;
      const killed = await runHealth(elsewhere.path, "--url", url);
      assert.equal(killed.watcher.state, "CRITICAL", killed.watcher.reason);
      assert.match(
        killed.watcher.reason,
        /^No answer from http:\/\/127\.0\.0\.1:\d+\/healthz: connection refused$/,
      );
    } finally {
      await watcher.stop().catch(() => {});
    }
  });
});
