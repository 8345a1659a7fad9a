/**
 * Least privilege for the purge: only its own role may remove orders, and a purge run as the
 * tool's ordinary role stops with one line naming what it lacks, exit 2, nothing deleted.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { getLogger } from "@logtape/logtape";
import {
  privilegeTarget,
  requiredPrivileges,
  ROLE_COMMANDS,
} from "../../../core/tool_privileges.ts";
import { archiveOrders } from "../../../core/archive/archiver.ts";
import { ensureArchiveIndex } from "../../../core/archive/archive_index.ts";
import { DEFAULT_COLLECTION_NAMES as names } from "../../../core/archive/collections.ts";
import { purge } from "../../../plugins/purge/mod.ts";
import { setup } from "../../../plugins/setup/mod.ts";
import { authTest, defaultConfig } from "../../support/auth_server.ts";
import { cli, tempDir } from "../../support/cli.ts";
import { seedOrders } from "../../support/orders.ts";
import { assertSnapshot } from "../../support/snapshot.ts";

const PASSWORD = "Purge-Pass-31";
const log = getLogger(["archiver", "test"]);

function _actionsOn(rows: ReturnType<typeof requiredPrivileges>, collection: string): string[] {
  return rows.find((r) => r.resource.collection === collection)?.actions ?? [];
}

Deno.test("the role of batch, watch and health never removes an order; only the purge's does", () => {
  const target = privilegeTarget(defaultConfig("food_delivery"));
  assert.ok(!_actionsOn(requiredPrivileges(target), "Commande").includes("remove"));
  for (const command of ROLE_COMMANDS) {
    assert.ok(
      !_actionsOn(requiredPrivileges(target, { command }), "Commande").includes("remove"),
      command,
    );
  }
  const purgeRows = requiredPrivileges(target, { command: "purge" });
  assert.deepEqual(_actionsOn(purgeRows, "Commande"), ["find", "insert", "remove"]);
  assert.deepEqual(_actionsOn(purgeRows, "Historique"), [
    "find",
    "update",
    "createIndex",
    "collMod",
  ]);
  assert.deepEqual(_actionsOn(purgeRows, "archiver_runs"), [
    "insert",
    "update",
    "createIndex",
    "collMod",
  ]);
  for (const command of ROLE_COMMANDS) {
    for (const row of requiredPrivileges(target, { command })) {
      assert.ok(!row.actions.includes("collMod"), `${command} needs no collMod`);
    }
  }
  assert.ok(!purgeRows.some((r) => r.resource.db === "local"), "no oplog");
});

Deno.test("setup role --purge --print prints the purge's role apart", async () => {
  const { code, stdout } = await cli(["setup", "role", "--purge", "--print"], {
    plugins: [setup()],
  });
  assert.equal(code, 0);
  assert.match(stdout, /admin\.createRole\(\{ role: "archiver_purge"/);
  await assertSnapshot("setup_role_purge_print", stdout);
});

authTest(
  "purge as the tool's ordinary role exits 2 with one line naming remove on the orders, nothing deleted",
  async (server) => {
    await using dir = await tempDir();
    await server.toolUser(PASSWORD);
    const db = server.admin.db(server.dbName);
    await seedOrders(db, { complete: 3, incomplete: 0, notDelivered: 0 });
    await ensureArchiveIndex(db.collection("Historique"));
    await archiveOrders(await db.collection("Commande").find().toArray(), {
      db,
      names,
      log,
      archivedBy: "batch",
    });
    await db.collection("Historique").updateMany({}, { $set: { archived_at: new Date(0) } });
    const result = await cli([
      "--uri",
      server.userUri(server.user, PASSWORD),
      "--db",
      server.dbName,
      "--log-dir",
      join(dir.path, "logs"),
      "purge",
      "--older-than",
      "1d",
    ], { plugins: [purge()], cwd: dir.path });
    const errors = result.stderr.trimEnd().split("\n").filter((l) => /\[ERROR\]|^error:/.test(l));
    assert.equal(result.code, 2, result.stderr);
    assert.equal(errors.length, 1, result.stderr);
    assert.match(errors[0]!, /lacks insert, remove on \w+\.Commande/);
    assert.equal(await db.collection("Commande").countDocuments(), 3);
    assert.equal(
      await db.collection("Historique").countDocuments({ purge_pending: { $exists: true } }),
      0,
    );
  },
);
