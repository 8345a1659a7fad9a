import assert from "node:assert/strict";
import { DEFAULT_TARGET, privilegeRow } from "../support/auth_server.ts";
import { rolePrivileges } from "../../core/mongo/privileges.ts";
import {
  requiredPrivileges,
  sourceResources,
  type ToolCommand,
  watchNeeds,
} from "../../core/tool_privileges.ts";

const target = DEFAULT_TARGET;

const row = privilegeRow;

Deno.test("requiredPrivileges() lists what batch, watch and health need on the default names", () => {
  assert.deepEqual(rolePrivileges(requiredPrivileges(target)), [
    row("Commande", ["find", "changeStream"]),
    row("Client", ["find"]),
    row("Livreur", ["find"]),
    row("Restaurants", ["find"]),
    row("Menu", ["find"]),
    row("Historique", ["find", "insert", "update", "createIndex", "listIndexes"]),
    row("archiver_quarantine", ["find", "insert", "update", "remove"]),
    row("archiver_released", ["find", "insert"]),
    row("archiver_runs", ["find", "insert", "update"]),
    row("archiver_resume_tokens", ["find", "insert", "update"]),
    row("archiver_leases", ["find", "insert", "update"]),
    row("", ["listCollections"]),
    row("oplog.rs", ["find", "collStats"], "local"),
  ]);
});

Deno.test("requiredPrivileges() of one command keeps only the actions that command sends", () => {
  const cases: Array<[string, ToolCommand, Record<string, string[]>]> = [
    ["batch never opens a change stream nor reads the oplog", "batch", {
      Commande: ["find"],
      Historique: ["find", "insert", "update", "createIndex", "listIndexes"],
      archiver_quarantine: ["find", "insert", "update", "remove"],
      archiver_runs: ["find", "insert", "update"],
    }],
    ["watch needs changeStream, the token, lease and oplog", "watch", {
      Commande: ["find", "changeStream"],
      archiver_resume_tokens: ["find", "insert", "update"],
      archiver_leases: ["find", "insert", "update"],
      "": ["listCollections"],
      "oplog.rs": ["find", "collStats"],
    }],
    ["health only reads", "health", {
      Commande: ["find"],
      Historique: ["find", "listIndexes"],
      archiver_quarantine: ["find"],
      archiver_released: ["find"],
      archiver_runs: ["find"],
      archiver_leases: ["find"],
      "oplog.rs": ["find", "collStats"],
    }],
    ["verify reads the released orders; --repair archives through the core", "verify", {
      Commande: ["find"],
      Historique: ["find", "insert", "update", "createIndex", "listIndexes"],
      archiver_quarantine: ["find", "insert", "update", "remove"],
      archiver_released: ["find"],
    }],
    [
      "quarantine release inserts the record and removes the entry; actions are in the history",
      "quarantine",
      {
        Commande: ["find"],
        Historique: ["find", "insert", "update", "createIndex", "listIndexes"],
        archiver_quarantine: ["find", "insert", "update", "remove"],
        archiver_released: ["find", "insert"],
        archiver_runs: ["insert"],
      },
    ],
  ];
  for (const [why, command, expected] of cases) {
    const rows = requiredPrivileges(target, { command });
    for (const [collection, actions] of Object.entries(expected)) {
      const found = rows.find((r) => r.resource.collection === collection);
      assert.deepEqual(found?.actions, actions, `${why}: ${collection}`);
    }
  }
  const batch = requiredPrivileges(target, { command: "batch" }).map((r) => r.resource.collection);
  assert.ok(!batch.includes("oplog.rs") && !batch.includes("archiver_leases"));
  assert.ok(!batch.includes("archiver_released"), "batch never reads the released orders");
  const watch = requiredPrivileges(target, { command: "watch" }).map((r) => r.resource.collection);
  assert.ok(!watch.includes("archiver_released"));
  const quarantine = requiredPrivileges(target, { command: "quarantine" });
  assert.ok(
    !quarantine.some((r) => ["oplog.rs", "archiver_leases", ""].includes(r.resource.collection)),
  );
});

Deno.test("requiredPrivileges() merges two settings that name the same collection", () => {
  const rows = requiredPrivileges({
    ...target,
    tokens: "archiver_state",
    leases: "archiver_state",
  });
  const state = rows.filter((r) => r.resource.collection === "archiver_state");
  assert.equal(state.length, 1);
  assert.deepEqual(state[0]!.uses, ["tokens", "leases"]);
  assert.deepEqual(state[0]!.actions, ["find", "insert", "update"]);
});

Deno.test("watchNeeds() leaves out the token, lease and oplog rows watch can run without", () => {
  const uses = (options: { tokenStore: "file" | "mongo"; ha: boolean }) =>
    watchNeeds(target, options).flatMap((row) => row.uses);
  assert.deepEqual(uses({ tokenStore: "file", ha: false }), [
    "orders",
    "references",
    "references",
    "references",
    "references",
    "archive",
    "quarantine",
    "runs",
    "database",
  ]);
  assert.ok(uses({ tokenStore: "mongo", ha: false }).includes("tokens"));
  assert.ok(!uses({ tokenStore: "mongo", ha: false }).includes("leases"));
  assert.ok(uses({ tokenStore: "mongo", ha: true }).includes("leases"));
  assert.ok(!uses({ tokenStore: "mongo", ha: true }).includes("oplog"));
});

Deno.test("sourceResources() names the orders and the reference collections, nothing the tool writes", () => {
  assert.deepEqual(sourceResources(target).map((r) => `${r.db}.${r.collection}`), [
    "food_delivery.Commande",
    "food_delivery.Client",
    "food_delivery.Livreur",
    "food_delivery.Restaurants",
    "food_delivery.Menu",
  ]);
});
