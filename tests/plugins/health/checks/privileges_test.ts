import assert from "node:assert/strict";
import { type Privilege, rolePrivileges } from "../../../../core/mongo/privileges.ts";
import { privilegeTarget, requiredPrivileges } from "../../../../core/tool_privileges.ts";
import type { GlobalConfig } from "../../../../core/runtime/config.ts";
import { globalSettings } from "../../../../core/runtime/config.ts";
import {
  isLoopbackHost,
  privilegesCheck,
  type PrivilegesSeen,
  runPrivilegesCheck,
  uriHosts,
} from "../../../../plugins/health/checks/privileges.ts";
import type { HealthState } from "../../../../plugins/health/state.ts";
import { authTest, DEFAULT_TARGET } from "../../../support/auth_server.ts";
import { startSandbox } from "../../../../sandbox/mod.ts";

const target = DEFAULT_TARGET;
const generated = rolePrivileges(requiredPrivileges(target));
const without = (collection: string, action: string): Privilege[] =>
  generated.map((p) =>
    "collection" in p.resource && p.resource.collection === collection
      ? { ...p, actions: p.actions.filter((a) => a !== action) }
      : p
  );
const user = (
  privileges: Privilege[],
  roles = [{ role: "archiver", db: "admin" }],
): PrivilegesSeen => ({
  kind: "authenticated",
  status: { users: ["archiver@admin"], roles, privileges },
});
const ROOT: Privilege = { resource: { anyResource: true }, actions: ["anyAction"] };

Deno.test("privilegesCheck() judges the user's privileges against the table", () => {
  const cases: Array<[string, PrivilegesSeen, HealthState, RegExp]> = [
    [
      "the role of setup role",
      user(generated),
      "OK",
      /^User archiver@admin holds the 29 actions batch, watch and health need/,
    ],
    [
      "no changeStream on the orders",
      user(without("Commande", "changeStream")),
      "CRITICAL",
      /^User archiver@admin: missing changeStream on food_delivery\.Commande$/,
    ],
    [
      "no find on the oplog",
      user(without("oplog.rs", "find")),
      "CRITICAL",
      /^User archiver@admin: missing find on local\.oplog\.rs$/,
    ],
    [
      "root",
      user([ROOT], [{ role: "root", db: "admin" }]),
      "WARNING",
      /^User archiver@admin has more than needed: role root@admin; anyAction on anyResource$/,
    ],
    [
      "dbOwner on the database",
      user(generated, [{ role: "dbOwner", db: "food_delivery" }]),
      "WARNING",
      /more than needed: role dbOwner@food_delivery$/,
    ],
    [
      "update on the orders",
      user([...generated, {
        resource: { db: "food_delivery", collection: "Commande" },
        actions: ["update"],
      }]),
      "WARNING",
      /more than needed: update on food_delivery\.Commande$/,
    ],
    [
      "missing and more than needed: CRITICAL, naming both",
      user([...without("Historique", "createIndex"), {
        resource: { db: "food_delivery", collection: "Menu" },
        actions: ["remove"],
      }]),
      "CRITICAL",
      /missing createIndex on food_delivery\.Historique; more than needed: remove on food_delivery\.Menu$/,
    ],
    [
      "nothing: the first four named, the rest counted",
      user([]),
      "CRITICAL",
      /^User archiver@admin: missing find, changeStream on food_delivery\.Commande; missing find on food_delivery\.Client; .*; and 9 more \(--json lists them\)$/,
    ],
    [
      "authentication disabled on a loopback address",
      { kind: "no-authentication", loopback: true, hosts: ["127.0.0.1:27017"] },
      "OK",
      /^authentication disabled: every client has every privilege$/,
    ],
    [
      "authentication disabled on a server others reach",
      { kind: "no-authentication", loopback: false, hosts: ["db1.example.net:27017"] },
      "WARNING",
      /^authentication disabled: every client has every privilege, and db1\.example\.net:27017 is not a loopback address/,
    ],
    [
      "no credentials in the URI of a server that requires them",
      {
        kind: "unauthenticated",
        reason: "command listCollections requires authentication (code 13)",
      },
      "CRITICAL",
      /^No user authenticated and the server requires one/,
    ],
  ];
  for (const [why, seen, state, reason] of cases) {
    const check = privilegesCheck(seen, target);
    assert.equal(check.name, "privileges", why);
    assert.equal(check.state, state, `${why}: ${check.reason}`);
    assert.match(check.reason, reason, why);
  }
});

Deno.test("privilegesCheck() lists every finding in its data", () => {
  const check = privilegesCheck(
    user([...without("Commande", "changeStream"), ROOT], [{ role: "root", db: "admin" }]),
    target,
  );
  assert.deepEqual(check.data, {
    authentication: true,
    users: ["archiver@admin"],
    roles: ["root@admin"],
    missing: [],
    excess: ["role root@admin", "anyAction on anyResource"],
  });
});

Deno.test("isLoopbackHost() and uriHosts() tell a local server from one others reach", () => {
  const hosts: Array<[string, string[]]> = [
    ["mongodb://127.0.0.1:27017", ["127.0.0.1:27017"]],
    ["mongodb://app:s3cret@localhost/?authSource=admin", ["localhost"]],
    ["mongodb://a:b@db1.example.net:27017,db2.example.net:27017/food?replicaSet=rs0", [
      "db1.example.net:27017",
      "db2.example.net:27017",
    ]],
    ["mongodb://[::1]:27018/", ["[::1]:27018"]],
    ["mongodb+srv://u:p@cluster0.example.net/", ["cluster0.example.net"]],
  ];
  for (const [uri, expected] of hosts) assert.deepEqual(uriHosts(uri), expected, uri);
  const loopback: Array<[string, boolean]> = [
    ["127.0.0.1:27017", true],
    ["127.1.2.3", true],
    ["localhost", true],
    ["[::1]:27018", true],
    ["10.0.0.5:27017", false],
    ["db.example.net", false],
    ["127.0.0.1.example.net", false],
  ];
  for (const [host, expected] of loopback) assert.equal(isLoopbackHost(host), expected, host);
});

function configFor(uri: string, db: string): GlobalConfig {
  const defaults = Object.fromEntries(
    Object.entries(globalSettings).map(([key, setting]) => [key, setting.default]),
  ) as GlobalConfig;
  return { ...defaults, uri, db, connectTimeout: 5_000 };
}

// Its own sandbox without authentication, whatever the test backend: a real server given by
// MONGODB_TEST_URI usually authenticates, and this is the case of one that does not.
Deno.test("the privileges check on a server without authentication says so", async () => {
  await using sandbox = await startSandbox();
  const check = await runPrivilegesCheck(configFor(sandbox.uri, "food_delivery"), {
    budgetMs: 10_000,
  });
  assert.equal(check.state, "OK", check.reason);
  assert.equal(check.reason, "authentication disabled: every client has every privilege");
  assert.deepEqual(check.data?.authentication, false);
});

Deno.test("the privileges check of an unreachable server is UNKNOWN, naming why", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  const check = await runPrivilegesCheck(
    { ...configFor(`mongodb://127.0.0.1:${port}`, "food_delivery"), connectTimeout: 300 },
    { budgetMs: 1_000 },
  );
  assert.equal(check.state, "UNKNOWN");
  assert.match(check.reason, /^Cannot read the user's privileges: /);
});

authTest(
  "the privileges check on a server with authentication judges the user's roles",
  async (server, t) => {
    const admin = server.admin.db("admin");
    const config = configFor(server.adminUri, server.dbName);
    const table = rolePrivileges(requiredPrivileges(privilegeTarget(config)));
    await admin.command({
      createRole: server.role,
      privileges: table.map((p) =>
        "collection" in p.resource && p.resource.collection === "Commande"
          ? { ...p, actions: ["find"] }
          : p
      ),
      roles: [],
    });
    const cases: Array<[string, unknown[], HealthState, RegExp]> = [
      [
        "the table but changeStream",
        [{ role: server.role, db: "admin" }],
        "CRITICAL",
        /: missing changeStream on lp_\w+\.Commande$/,
      ],
      [
        "root",
        ["root"],
        "WARNING",
        /more than needed: role root@admin; .* on anyResource; .*insert.* on lp_\w+\.Commande/,
      ],
      [
        "readWrite on the database and read on local",
        [
          { role: "readWrite", db: server.dbName },
          { role: "read", db: "local" },
        ],
        "WARNING",
        /more than needed: .*insert.* on lp_\w+\.Commande.*\(granted on database lp_\w+\)$/,
      ],
    ];
    for (const [i, [why, roles, state, reason]] of cases.entries()) {
      await t.step(why, async () => {
        const user = `${server.user}_${i}`;
        await admin.command({ createUser: user, pwd: "Check-Pass-1", roles });
        const check = await runPrivilegesCheck(
          { ...config, uri: server.userUri(user, "Check-Pass-1") },
          { budgetMs: 10_000 },
        );
        assert.equal(check.state, state, check.reason);
        assert.match(check.reason, reason);
        await admin.command({ dropUser: user });
      });
    }
    await t.step("no credentials: CRITICAL, the server requires them", async () => {
      const anonymous = server.adminUri.replace(/\/\/[^@]*@/, "//").replace(
        /&?authSource=admin/,
        "",
      );
      const check = await runPrivilegesCheck({ ...config, uri: anonymous }, { budgetMs: 10_000 });
      assert.equal(check.state, "CRITICAL", check.reason);
      assert.match(check.reason, /^No user authenticated and the server requires one/);
    });
  },
);
