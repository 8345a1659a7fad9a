/**
 * A watcher whose user lacks a privilege it needs stops at once with exit 2 and one line naming
 * that privilege, never retrying: no backoff can grant it. Run on a server that enforces
 * authentication (tests/support/auth_server.ts).
 */

import assert from "node:assert/strict";
import { authTest, type Privileges } from "../support/auth_server.ts";
import { batchArgs, cli, tempDir } from "../support/cli.ts";
import { batch } from "../../plugins/batch/mod.ts";
import { seedOrders } from "../support/orders.ts";
import { startWatcher } from "../support/watcher.ts";

const PASSWORD = "Watcher-Pass-77";

const cases: Array<[string, (privileges: Privileges) => unknown[], RegExp]> = [
  [
    "every privilege but changeStream",
    (all) =>
      all.map((p) =>
        "collection" in p.resource && p.resource.collection === "Commande"
          ? { ...p, actions: ["find"] }
          : p
      ),
    /lacks changeStream on lp_\w+\.Commande/,
  ],
  [
    "only find on the orders",
    (all) => [{ resource: all[0]!.resource, actions: ["find"] }],
    /lacks changeStream on lp_\w+\.Commande/,
  ],
];

for (const [name, grant, named] of cases) {
  authTest(
    `watch as a user with ${name} exits 2 within seconds, one line naming the privilege`,
    async (server) => {
      await using dir = await tempDir();
      await server.toolUser(PASSWORD, grant);
      await seedOrders(server.admin.db(server.dbName));
      const started = performance.now();
      await using watcher = startWatcher(
        server.userUri(server.user, PASSWORD),
        server.dbName,
        dir.path,
      );
      const code = await watcher.exited;
      const seconds = (performance.now() - started) / 1000;
      const stderr = watcher.stderr();
      const errors = stderr.trimEnd().split("\n").filter((line) => /\[ERROR\]|^error:/.test(line));
      assert.equal(code, 2, stderr);
      assert.ok(seconds < 15, `stopped after ${seconds.toFixed(1)} s`);
      assert.equal(errors.length, 1, stderr);
      assert.match(errors[0]!, named);
      assert.doesNotMatch(stderr, /Reconnecting|retry/i);
      assert.ok(!stderr.includes(PASSWORD), "the user's password is never printed");
      assert.ok(!stderr.includes(server.adminPassword));
    },
  );
}

// batch: a user that may read everything but not write the archive. The merge is refused
// (said once), the client path is refused too, and the run stops naming what is missing.
authTest(
  "batch as a user without insert and update on the archive exits 2, naming the privilege",
  async (server) => {
    await using dir = await tempDir();
    await server.toolUser(
      PASSWORD,
      (all) =>
        all.map((p) =>
          "collection" in p.resource && p.resource.collection === "Historique"
            ? { ...p, actions: p.actions.filter((a) => a !== "insert" && a !== "update") }
            : p
        ),
    );
    await seedOrders(server.admin.db(server.dbName));
    const result = await cli(
      batchArgs(server.userUri(server.user, PASSWORD), server.dbName, dir.path),
      { plugins: [batch()], cwd: dir.path },
    );
    const errors = result.stderr.trimEnd().split("\n").filter((line) =>
      /\[ERROR\]|^error:/.test(line)
    );
    assert.equal(result.code, 2, result.stderr);
    assert.equal(errors.length, 1, result.stderr);
    assert.match(errors[0]!, /lacks insert, update on lp_\w+\.Historique/);
    assert.match(errors[0]!, /archiver setup role/);
    assert.equal(await server.admin.db(server.dbName).collection("Historique").countDocuments(), 0);
    assert.ok(!result.stderr.includes(PASSWORD), "the user's password is never printed");
  },
);
