/**
 * The least-privilege story end to end, on a server that enforces authentication (the sandbox
 * with `auth: true`, or `MONGODB_TEST_URI` with an administrator's credentials): `setup role
 * --apply` creates the role and user, and a user holding exactly that role runs batch, watch
 * (with the Mongo token store and `--ha`, so the token and lease collections are used) and
 * health, whose privileges check is OK and no check is refused.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { MongoClient } from "mongodb";
import { builtinPlugins } from "../../../cli/registry.ts";
import { type AuthServer, authTest } from "../../support/auth_server.ts";
import { batchArgs, cli, tempDir } from "../../support/cli.ts";
import { seedOrders } from "../../support/orders.ts";
import { eventually, startWatcher } from "../../support/watcher.ts";

const PASSWORD = "Least-Privilege-Pass-9";
const plugins = [...builtinPlugins];

function setupArgs(server: AuthServer, dir: string, ...more: string[]): string[] {
  return [
    "--db",
    server.dbName,
    "--log-dir",
    join(dir, "logs"),
    "setup",
    "role",
    "--apply",
    "--admin-uri",
    server.adminUri,
    "--role",
    server.role,
    "--user",
    server.user,
    ...more,
  ];
}

function noSecret(server: AuthServer, ...texts: string[]) {
  for (const text of texts) {
    assert.ok(!text.includes(server.adminPassword), "the administrator's password is never shown");
    assert.ok(!text.includes(PASSWORD), "the new user's password is never shown");
  }
}

authTest(
  "a user with exactly the role of setup role runs batch, watch and health",
  async (server, t) => {
    await using dir = await tempDir();
    const uri = server.userUri(server.user, PASSWORD);
    const db = server.admin.db(server.dbName);

    await t.step("setup role --apply creates the role and the user", async () => {
      const { code, stdout, stderr } = await cli(setupArgs(server, dir.path), {
        plugins,
        cwd: dir.path,
        env: { ARCHIVER_SETUP_PASSWORD: PASSWORD },
      });
      assert.equal(code, 0, stderr);
      assert.match(stdout, new RegExp(`^Role ${server.role}@admin created: 29 actions on `, "m"));
      assert.match(
        stdout,
        new RegExp(`^User ${server.user}@admin created with ${server.role}`, "m"),
      );
      noSecret(server, stdout, stderr);
      const users = await server.admin.db("admin").command({
        usersInfo: { user: server.user, db: "admin" },
      });
      assert.deepEqual(users.users[0].roles, [{ role: server.role, db: "admin" }]);
    });

    await seedOrders(db);

    await t.step("batch archives the delivered orders", async () => {
      const { code, stderr } = await cli(batchArgs(uri, server.dbName, dir.path), {
        plugins,
        cwd: dir.path,
      });
      // 1: the two incomplete orders wait in the quarantine; nothing was refused.
      assert.ok(code === 0 || code === 1, stderr);
      assert.doesNotMatch(stderr, /not authorized|Unauthorized|code 13/);
      assert.equal(await db.collection("Historique").countDocuments(), 10);
      assert.equal(await db.collection("archiver_quarantine").countDocuments(), 2);
      assert.equal(await db.collection("archiver_runs").countDocuments({ mode: "batch" }), 1);
    });

    await t.step(
      "watch, with the Mongo token store and --ha, archives a new delivery",
      async () => {
        await using watcher = startWatcher(uri, server.dbName, dir.path, [
          "--token-store",
          "mongo",
          "--ha",
        ]);
        await watcher.waitFor(/Change Stream opened successfully/, 20_000);
        const [order] = await db.collection("Commande").find({ status: "livrée" }).limit(1)
          .toArray();
        const { _id: _, ...copy } = order!;
        await db.collection("Commande").insertOne({ ...copy, numero_commande: "CMD-LP-0001" });
        await eventually(
          async () =>
            (await db.collection("Historique").countDocuments({
              numero_commande: "CMD-LP-0001",
            })) ===
              1,
          15_000,
          "the new delivery archived",
        );
        await eventually(
          async () => (await db.collection("archiver_resume_tokens").countDocuments()) === 1,
          15_000,
          "the resume token saved in the token collection",
        );
        assert.equal(await db.collection("archiver_leases").countDocuments(), 1);
        const { code } = await watcher.stop();
        assert.equal(code, 0, watcher.stderr());
        assert.doesNotMatch(watcher.stderr(), /not authorized|Unauthorized|code 13/);
        noSecret(server, watcher.stderr());
      },
    );

    await t.step("health: privileges OK, and no check refused", async () => {
      const { stdout, stderr } = await cli([
        "--uri",
        uri,
        "--db",
        server.dbName,
        "--log-dir",
        join(dir.path, "logs"),
        "health",
        "--json",
        "--token-store",
        "mongo",
      ], { plugins, cwd: dir.path });
      const checks = JSON.parse(stdout).checks as Array<
        { name: string; state: string; reason: string }
      >;
      const privileges = checks.find((check) => check.name === "privileges")!;
      assert.equal(privileges.state, "OK", privileges.reason);
      assert.match(
        privileges.reason,
        new RegExp(`^User ${server.user}@admin holds the 29 actions`),
      );
      const refused = checks.filter((check) =>
        /not authorized|Unauthorized|code 13/.test(check.reason)
      );
      assert.deepEqual(refused, []);
      noSecret(server, stdout, stderr);
    });

    await t.step(
      "setup role --apply again puts back a privilege removed by hand and keeps the user's password",
      async () => {
        const adminDb = server.admin.db("admin");
        const privilegesOf = async () =>
          (await adminDb.command({ rolesInfo: server.role, showPrivileges: true })).roles[0]
            .privileges as Array<{ resource: Record<string, unknown>; actions: string[] }>;
        const applied = await privilegesOf();
        const taken = applied.find((p) => p.actions.includes("insert"))!;
        await adminDb.command({
          revokePrivilegesFromRole: server.role,
          privileges: [{ resource: taken.resource, actions: ["insert"] }],
        });
        assert.notDeepEqual(await privilegesOf(), applied, "the privilege was removed by hand");
        for (let run = 0; run < 2; run++) { // twice: the second run changes nothing
          const { code, stdout, stderr } = await cli(setupArgs(server, dir.path), {
            plugins,
            cwd: dir.path,
          });
          assert.equal(code, 0, stderr);
          assert.match(stdout, new RegExp(`^Role ${server.role}@admin updated: 29 actions`, "m"));
          assert.match(stdout, /now holds .* only \(password unchanged\)/);
          noSecret(server, stdout, stderr);
          assert.deepEqual(await privilegesOf(), applied);
        }
        const { roles } = await adminDb.command({ usersInfo: { user: server.user, db: "admin" } })
          .then((r) => r.users[0]);
        assert.deepEqual(roles, [{ role: server.role, db: "admin" }]);
        const client = new MongoClient(uri);
        try {
          assert.equal((await client.db(server.dbName).command({ ping: 1 })).ok, 1);
        } finally {
          await client.close();
        }
      },
    );
  },
);

authTest(
  "setup role --apply without a password creates the role and prints the createUser line",
  async (server) => {
    await using dir = await tempDir();
    const { code, stdout, stderr } = await cli(setupArgs(server, dir.path), {
      plugins,
      cwd: dir.path,
    });
    assert.equal(code, 0, stderr);
    assert.match(stdout, /created: 29 actions/);
    assert.match(stdout, /not created: ARCHIVER_SETUP_PASSWORD is not set/);
    assert.match(stdout, /admin\.createUser\(\{ user: "archiver_\w+", pwd: passwordPrompt\(\)/);
    const users = await server.admin.db("admin").command({
      usersInfo: { user: server.user, db: "admin" },
    });
    assert.deepEqual(users.users, []);
    noSecret(server, stdout, stderr);
  },
);

authTest(
  "setup role --apply as a user who may not create roles exits 2 with one line",
  async (server) => {
    await using dir = await tempDir();
    await server.admin.db("admin").command({
      createUser: server.user,
      pwd: PASSWORD,
      roles: [{ role: "readWrite", db: server.dbName }],
    });
    const { code, stdout, stderr } = await cli([
      ...setupArgs(server, dir.path).map((arg) =>
        arg === server.adminUri ? server.userUri(server.user, PASSWORD) : arg
      ),
      "--user",
      `${server.user}_new`,
    ], { plugins, cwd: dir.path, env: { ARCHIVER_SETUP_PASSWORD: "another-pass" } });
    assert.equal(code, 2, stderr);
    assert.equal(stdout, "");
    const errors = stderr.trimEnd().split("\n").filter((line) => /ERROR|^error:/.test(line));
    assert.equal(errors.length, 1, stderr);
    assert.match(
      errors[0]!,
      /Cannot (read|create) role "archiver_\w+": .*\(code 13\): the --admin-uri user needs userAdminAnyDatabase or root$/,
    );
    noSecret(server, stdout, stderr);
  },
);
