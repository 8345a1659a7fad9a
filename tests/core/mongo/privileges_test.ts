import assert from "node:assert/strict";
import { DEFAULT_TARGET, privilegeRow } from "../../support/auth_server.ts";
import {
  coversResource,
  describeMissing,
  excessPrivileges,
  explainRefusal,
  missingPrivileges,
  type NamespaceResource,
  parseConnectionStatus,
  type Privilege,
  type Resource,
  rolePrivileges,
} from "../../../core/mongo/privileges.ts";
import { requiredPrivileges, sourceResources, watchNeeds } from "../../../core/tool_privileges.ts";

const target = DEFAULT_TARGET;

const row = privilegeRow;

Deno.test("coversResource() matches resources as MongoDB's resource documents say", () => {
  const orders: NamespaceResource = { db: "food_delivery", collection: "Commande" };
  const database: NamespaceResource = { db: "food_delivery", collection: "" };
  const oplog: NamespaceResource = { db: "local", collection: "oplog.rs" };
  const system: NamespaceResource = { db: "food_delivery", collection: "system.views" };
  const cases: Array<[string, Resource, NamespaceResource, boolean]> = [
    ["the exact collection", { db: "food_delivery", collection: "Commande" }, orders, true],
    ["another collection", { db: "food_delivery", collection: "Client" }, orders, false],
    ["the collection in another database", { db: "shop", collection: "Commande" }, orders, false],
    ["its database", { db: "food_delivery", collection: "" }, orders, true],
    ["the database itself", { db: "food_delivery", collection: "" }, database, true],
    ["a collection for the database", orders, database, false],
    ["the name in every database", { db: "", collection: "Commande" }, orders, true],
    ["every database", { db: "", collection: "" }, orders, true],
    ["every database, as a database", { db: "", collection: "" }, database, true],
    ["every database but local", { db: "", collection: "" }, oplog, false],
    ["local itself", { db: "local", collection: "" }, oplog, true],
    ["no system collection through its database", database, system, false],
    ["the cluster is no collection", { cluster: true }, orders, false],
    ["anyResource", { anyResource: true }, oplog, true],
  ];
  for (const [why, held, wanted, expected] of cases) {
    assert.equal(coversResource(held, wanted), expected, why);
  }
});

// The privileges of MongoDB's built-in roles on a database (manual, "Built-In Roles").
const READ = [
  "changeStream",
  "collStats",
  "dbHash",
  "dbStats",
  "find",
  "killCursors",
  "listIndexes",
  "listCollections",
];
const READ_WRITE = [
  ...READ,
  "convertToCapped",
  "createCollection",
  "createIndex",
  "dropCollection",
  "dropIndex",
  "insert",
  "remove",
  "renameCollectionSameDB",
  "update",
];

Deno.test("missingPrivileges() names each action the user lacks, by resource", () => {
  const everything = rolePrivileges(requiredPrivileges(target));
  const withoutChangeStream: Privilege[] = everything.map((p) =>
    "collection" in p.resource && p.resource.collection === "Commande"
      ? { ...p, actions: ["find"] }
      : p
  );
  const cases: Array<[string, Privilege[], string[]]> = [
    ["the generated role", everything, []],
    ["all but changeStream", withoutChangeStream, [
      "missing changeStream on food_delivery.Commande",
    ]],
    ["readWrite on the database: not the oplog", [row("", READ_WRITE)], [
      "missing find, collStats on local.oplog.rs",
    ]],
    [
      "readWrite on the database and read on local",
      [row("", READ_WRITE), row("", READ, "local")],
      [],
    ],
    ["anyAction on anyResource (root)", [{
      resource: { anyResource: true },
      actions: ["anyAction"],
    }], []],
    ["find on the orders only", [row("Commande", ["find"])], [
      "missing changeStream on food_delivery.Commande",
      "missing find on food_delivery.Client",
      "missing find on food_delivery.Livreur",
      "missing find on food_delivery.Restaurants",
      "missing find on food_delivery.Menu",
      "missing find, insert, update, createIndex, listIndexes on food_delivery.Historique",
      "missing find, insert, update, remove on food_delivery.archiver_quarantine",
      "missing find, insert on food_delivery.archiver_released",
      "missing find, insert, update on food_delivery.archiver_runs",
      "missing find, insert, update on food_delivery.archiver_resume_tokens",
      "missing find, insert, update on food_delivery.archiver_leases",
      "missing listCollections on database food_delivery",
      "missing find, collStats on local.oplog.rs",
    ]],
  ];
  for (const [why, held, expected] of cases) {
    assert.deepEqual(
      describeMissing(missingPrivileges(requiredPrivileges(target), held)),
      expected,
      why,
    );
  }
});

Deno.test("excessPrivileges() flags admin roles, anyAction, anyResource and writes on the sources", () => {
  const generated = rolePrivileges(requiredPrivileges(target));
  const cases: Array<[string, Privilege[], Array<{ role: string; db: string }>, string[]]> = [
    ["the generated role", generated, [{ role: "archiver", db: "admin" }], []],
    ["read on the database is no finding", [...generated, row("", READ)], [], []],
    ["root", [{ resource: { anyResource: true }, actions: ["anyAction"] }], [{
      role: "root",
      db: "admin",
    }], [
      "role root@admin",
      "anyAction on anyResource",
    ]],
    ["dbOwner", generated, [{ role: "dbOwner", db: "food_delivery" }], [
      "role dbOwner@food_delivery",
    ]],
    ["__system", generated, [{ role: "__system", db: "admin" }], ["role __system@admin"]],
    ["anyAction on the orders", [row("Commande", ["anyAction"])], [], [
      "anyAction on food_delivery.Commande",
    ]],
    ["find on anyResource", [{ resource: { anyResource: true }, actions: ["find"] }], [], [
      "find on anyResource",
    ]],
    ["update on the orders", [row("Commande", ["find", "update"])], [], [
      "update on food_delivery.Commande",
    ]],
    ["a drop on a reference", [row("Menu", ["find", "dropCollection"])], [], [
      "dropCollection on food_delivery.Menu",
    ]],
    ["readWrite on the database writes on every source", [row("", READ_WRITE)], [], [
      "convertToCapped, createIndex, dropCollection, dropIndex, insert, remove, " +
      "renameCollectionSameDB, update on food_delivery.Commande, food_delivery.Client, " +
      "food_delivery.Livreur, food_delivery.Restaurants, food_delivery.Menu " +
      "(granted on database food_delivery)",
    ]],
    [
      "writes on another database's orders are not ours",
      [row("Commande", ["update"], "shop")],
      [],
      [],
    ],
  ];
  for (const [why, held, roles, expected] of cases) {
    assert.deepEqual(excessPrivileges(held, roles, sourceResources(target)), expected, why);
  }
});

Deno.test("parseConnectionStatus() reads users, roles and privileges of the reply", () => {
  const status = parseConnectionStatus({
    authInfo: {
      authenticatedUsers: [{ user: "archiver", db: "admin" }],
      authenticatedUserRoles: [{ role: "archiver", db: "admin" }],
      authenticatedUserPrivileges: [
        { resource: { db: "food_delivery", collection: "Commande" }, actions: ["find"] },
        { resource: { cluster: true }, actions: ["serverStatus"] },
        { resource: { anyResource: true }, actions: ["anyAction"] },
      ],
    },
    ok: 1,
  });
  assert.deepEqual(status, {
    users: ["archiver@admin"],
    roles: [{ role: "archiver", db: "admin" }],
    privileges: [
      { resource: { db: "food_delivery", collection: "Commande" }, actions: ["find"] },
      { resource: { cluster: true }, actions: ["serverStatus"] },
      { resource: { anyResource: true }, actions: ["anyAction"] },
    ],
  });
  assert.deepEqual(parseConnectionStatus({ authInfo: { authenticatedUsers: [] }, ok: 1 }), {
    users: [],
    roles: [],
    privileges: [],
  });
});

Deno.test("explainRefusal() names what the user lacks, or nothing when it cannot tell", async () => {
  const reply = (privileges: Privilege[], users = [{ user: "archiver", db: "admin" }]) => ({
    command: () =>
      Promise.resolve({
        authInfo: { authenticatedUsers: users, authenticatedUserPrivileges: privileges },
      }),
  });
  const needs = requiredPrivileges(target, { command: "watch" });
  const all = rolePrivileges(needs);
  const noStream = all.map((p) =>
    "collection" in p.resource && p.resource.collection === "Commande"
      ? { ...p, actions: ["find"] }
      : p
  );
  assert.equal(
    await explainRefusal(reply(noStream), needs),
    "the user archiver@admin lacks changeStream on food_delivery.Commande",
  );
  assert.equal(await explainRefusal(reply(all), needs), undefined);
  assert.equal(await explainRefusal(reply([], []), needs), undefined);
  assert.equal(
    await explainRefusal({ command: () => Promise.reject(new Error("down")) }, needs),
    undefined,
  );
});

Deno.test("explainRefusal() names the first four lacks on one line and counts the rest", async () => {
  const admin = {
    command: () =>
      Promise.resolve({
        authInfo: {
          authenticatedUsers: [{ user: "archiver", db: "admin" }],
          authenticatedUserPrivileges: [],
        },
      }),
  };
  assert.equal(
    await explainRefusal(admin, watchNeeds(target, { tokenStore: "file", ha: false })),
    "the user archiver@admin lacks find, changeStream on food_delivery.Commande; find on " +
      "food_delivery.Client; find on food_delivery.Livreur; find on food_delivery.Restaurants; " +
      "and 5 more (archiver health lists them)",
  );
});
