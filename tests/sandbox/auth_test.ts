/**
 * Authentication and authorization in the sandbox (`startSandbox({ auth: true })`), through the
 * official driver: SCRAM-SHA-256 and SCRAM-SHA-1, wrong passwords, the localhost exception,
 * users and roles, `connectionStatus`, and a table of commands × roles.
 */

import assert from "node:assert/strict";
import {
  Binary,
  type Db,
  Decimal128,
  Long,
  MaxKey,
  MinKey,
  MongoClient,
  MongoServerError,
  ObjectId,
  Timestamp,
  UUID,
} from "mongodb";
import { COMMAND_PRIVILEGES, renderCommand } from "../../sandbox/auth/privileges.ts";
import { COMMANDS } from "../../sandbox/commands/mod.ts";
import { type Sandbox, startSandbox } from "../../sandbox/mod.ts";

const ADMIN_PWD = "admin-pass-Ω";

function _uri(sandbox: Sandbox, user: string, pwd: string, authSource = "admin"): string {
  return sandbox.uri.replace(
    "mongodb://",
    `mongodb://${encodeURIComponent(user)}:${encodeURIComponent(pwd)}@`,
  ) + `&authSource=${authSource}`;
}

/** A sandbox with auth on and a root user `admin` created through the localhost exception. */
async function _authSandbox(): Promise<{ sandbox: Sandbox; root: MongoClient } & AsyncDisposable> {
  const sandbox = await startSandbox({ auth: true });
  const bootstrap = new MongoClient(sandbox.uri);
  await bootstrap.db("admin").command({ createUser: "admin", pwd: ADMIN_PWD, roles: ["root"] });
  await bootstrap.close();
  const root = new MongoClient(_uri(sandbox, "admin", ADMIN_PWD));
  return {
    sandbox,
    root,
    async [Symbol.asyncDispose]() {
      await root.close();
      await sandbox.stop();
    },
  };
}

async function _rejects(promise: Promise<unknown>, code: number): Promise<MongoServerError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof MongoServerError, `expected a MongoServerError, got ${error}`);
    assert.equal(error.code, code, error.message);
    return error;
  }
  assert.fail(`expected an error with code ${code}`);
}

Deno.test("every sandbox command is in the authorization table", () => {
  const missing = [...COMMANDS.keys()].filter((name) => !(name in COMMAND_PRIVILEGES));
  assert.deepEqual(
    missing,
    [],
    "add these to COMMAND_PRIVILEGES in sandbox/auth/privileges.ts",
  );
});

Deno.test("a user authenticates with SCRAM-SHA-256, SCRAM-SHA-1 and the negotiated default", async () => {
  await using t = await _authSandbox();
  await t.root.db("Orders").command({
    createUser: "app",
    pwd: "pässword", // SASLprep'd for SHA-256, digested for SHA-1
    roles: ["readWrite"],
  });
  for (const authMechanism of ["SCRAM-SHA-256", "SCRAM-SHA-1", undefined] as const) {
    const client = new MongoClient(
      _uri(t.sandbox, "app", "pässword", "Orders"),
      authMechanism ? { authMechanism } : {},
    );
    try {
      await client.db("Orders").collection("Commande").insertOne({
        by: authMechanism ?? "default",
      });
      const status = await client.db("Orders").command({ connectionStatus: 1 });
      assert.deepEqual(status.authInfo.authenticatedUsers, [{ user: "app", db: "Orders" }]);
    } finally {
      await client.close();
    }
  }
  assert.equal(await t.root.db("Orders").collection("Commande").countDocuments(), 3);
});

Deno.test("a user created with one mechanism only is offered that one in the handshake", async () => {
  await using t = await _authSandbox();
  await t.root.db("admin").command({
    createUser: "legacy",
    pwd: "pw1",
    roles: [{ role: "read", db: "Orders" }],
    mechanisms: ["SCRAM-SHA-1"],
  });
  const hello = await t.root.db("admin").command({ hello: 1, saslSupportedMechs: "admin.legacy" });
  assert.deepEqual(hello.saslSupportedMechs, ["SCRAM-SHA-1"]);
  const client = new MongoClient(_uri(t.sandbox, "legacy", "pw1"));
  try {
    await client.db("Orders").collection("Commande").findOne();
  } finally {
    await client.close();
  }
  const sha256 = new MongoClient(_uri(t.sandbox, "legacy", "pw1"), {
    authMechanism: "SCRAM-SHA-256",
  });
  try {
    await assert.rejects(sha256.db("Orders").command({ ping: 1 }));
  } finally {
    await sha256.close();
  }
});

Deno.test("a wrong password or unknown user fails with AuthenticationFailed (18)", async () => {
  await using t = await _authSandbox();
  for (
    const [user, pwd, authMechanism] of [
      ["admin", "wrong", "SCRAM-SHA-256"],
      ["admin", "wrong", "SCRAM-SHA-1"],
      ["nobody", ADMIN_PWD, "SCRAM-SHA-256"],
    ] as const
  ) {
    const client = new MongoClient(_uri(t.sandbox, user, pwd), {
      authMechanism,
      serverSelectionTimeoutMS: 2_000,
    });
    try {
      const error = await _rejects(client.db("admin").command({ ping: 1 }), 18);
      assert.equal(error.codeName, "AuthenticationFailed");
      assert.match(error.message, /^Authentication failed\.$/);
    } finally {
      await client.close();
    }
  }
});

Deno.test("without credentials only the handshake runs: find answers Unauthorized (13)", async () => {
  await using t = await _authSandbox();
  const anonymous = new MongoClient(t.sandbox.uri);
  try {
    assert.equal((await anonymous.db("admin").command({ ping: 1 })).ok, 1);
    const status = await anonymous.db("admin").command({ connectionStatus: 1 });
    assert.deepEqual(status.authInfo, { authenticatedUsers: [], authenticatedUserRoles: [] });
    const error = await _rejects(anonymous.db("Orders").collection("Commande").findOne(), 13);
    assert.equal(error.codeName, "Unauthorized");
    assert.equal(error.message, "Command find requires authentication");
    // The localhost exception closed with the first user.
    await _rejects(
      anonymous.db("admin").command({ createUser: "second", pwd: "x", roles: ["root"] }),
      13,
    );
  } finally {
    await anonymous.close();
  }
});

Deno.test("the localhost exception allows only the first user, on admin", async () => {
  await using sandbox = await startSandbox({ auth: true });
  const client = new MongoClient(sandbox.uri);
  try {
    await _rejects(client.db("Orders").command({ createUser: "u", pwd: "p", roles: [] }), 13);
    await _rejects(client.db("admin").command({ usersInfo: 1 }), 13);
    await client.db("admin").command({
      createUser: "first",
      pwd: "p",
      roles: ["userAdminAnyDatabase"],
    });
    await _rejects(client.db("admin").command({ createUser: "again", pwd: "p", roles: [] }), 13);
  } finally {
    await client.close();
  }
});

Deno.test("a read user finds and watches but cannot write; readWrite can", async () => {
  await using t = await _authSandbox();
  const orders = t.root.db("Orders");
  await orders.collection("Commande").insertOne({ numero_commande: "C1" });
  await orders.command({ createUser: "reader", pwd: "r", roles: ["read"] });
  await orders.command({ createUser: "writer", pwd: "w", roles: ["readWrite"] });
  const reader = new MongoClient(_uri(t.sandbox, "reader", "r", "Orders"));
  const writer = new MongoClient(_uri(t.sandbox, "writer", "w", "Orders"));
  try {
    const commandes = reader.db("Orders").collection("Commande");
    assert.equal((await commandes.findOne())?.numero_commande, "C1");
    const error = await _rejects(commandes.insertOne({ numero_commande: "C2" }), 13);
    assert.match(
      error.message,
      /^not authorized on Orders to execute command \{ insert: "Commande", .*\$db: "Orders" \}$/,
    );
    const stream = commandes.watch();
    try {
      assert.equal(await stream.tryNext(), null, "the stream is open before the write");
      await writer.db("Orders").collection("Commande").insertOne({ numero_commande: "C3" });
      const change = await stream.next();
      assert.equal(change.operationType, "insert");
    } finally {
      await stream.close();
    }
    await _rejects(reader.db("Other").collection("x").findOne(), 13);
    const databases = await reader.db("admin").admin().listDatabases({ nameOnly: true });
    assert.deepEqual(databases.databases.map((d) => d.name), ["Orders"]);
  } finally {
    await reader.close();
    await writer.close();
  }
});

Deno.test("a custom role with exactly find on one collection reads it and nothing else", async () => {
  await using t = await _authSandbox();
  const orders = t.root.db("Orders");
  await orders.collection("Commande").insertOne({ n: 1 });
  await orders.collection("Client").insertOne({ n: 2 });
  await orders.command({
    createRole: "commandeReader",
    privileges: [{ resource: { db: "Orders", collection: "Commande" }, actions: ["find"] }],
    roles: [],
  });
  await orders.command({ createUser: "narrow", pwd: "n", roles: ["commandeReader"] });
  const client = new MongoClient(_uri(t.sandbox, "narrow", "n", "Orders"));
  try {
    const db = client.db("Orders");
    assert.equal((await db.collection("Commande").findOne())?.n, 1);
    await _rejects(db.collection("Client").findOne(), 13);
    await _rejects(db.collection("Commande").insertOne({}), 13);
    // No changeStream action: watching is refused.
    await _rejects(db.collection("Commande").watch().tryNext(), 13);
    const status = await db.command({ connectionStatus: 1, showPrivileges: true });
    assert.deepEqual(status.authInfo, {
      authenticatedUsers: [{ user: "narrow", db: "Orders" }],
      authenticatedUserRoles: [{ role: "commandeReader", db: "Orders" }],
      authenticatedUserPrivileges: [
        { resource: { db: "Orders", collection: "Commande" }, actions: ["find"] },
      ],
    });
    // Privileges granted later apply to the open connection.
    await orders.command({
      grantPrivilegesToRole: "commandeReader",
      privileges: [{ resource: { db: "Orders", collection: "Client" }, actions: ["find"] }],
    });
    assert.equal((await db.collection("Client").findOne())?.n, 2);
  } finally {
    await client.close();
  }
});

Deno.test("usersInfo hides credentials unless asked; rolesInfo shows built-in roles", async () => {
  await using t = await _authSandbox();
  const admin = t.root.db("admin");
  await admin.command({ createUser: "ops", pwd: "secret-pw", roles: ["clusterMonitor"] });
  const { users } = await admin.command({ usersInfo: "ops" });
  assert.equal(users.length, 1);
  assert.equal(users[0]._id, "admin.ops");
  assert.deepEqual(users[0].roles, [{ role: "clusterMonitor", db: "admin" }]);
  assert.deepEqual(users[0].mechanisms, ["SCRAM-SHA-1", "SCRAM-SHA-256"]);
  assert.equal(users[0].credentials, undefined);
  assert.ok(!JSON.stringify(users).includes("secret-pw"));
  const shown = await admin.command({
    usersInfo: { user: "ops", db: "admin" },
    showCredentials: true,
  });
  const sha256 = shown.users[0].credentials["SCRAM-SHA-256"];
  assert.deepEqual(Object.keys(sha256).sort(), [
    "iterationCount",
    "salt",
    "serverKey",
    "storedKey",
  ]);
  assert.equal(sha256.iterationCount, 15_000);
  assert.ok(!JSON.stringify(shown).includes("secret-pw"));
  const all = await admin.command({ usersInfo: 1 });
  assert.deepEqual(all.users.map((u: { user: string }) => u.user), ["admin", "ops"]);

  const { roles } = await admin.command({ rolesInfo: "read", showPrivileges: true });
  assert.equal(roles[0].isBuiltin, true);
  assert.ok(roles[0].privileges[0].actions.includes("changeStream"));
  const builtins = await t.root.db("Orders").command({ rolesInfo: 1, showBuiltinRoles: true });
  assert.ok(builtins.roles.some((r: { role: string }) => r.role === "readWrite"));
  assert.ok(!builtins.roles.some((r: { role: string }) => r.role === "root"), "root is admin-only");
});

Deno.test("user and role commands answer MongoDB's error codes", async () => {
  await using t = await _authSandbox();
  const db = t.root.db("Orders");
  await db.command({ createUser: "u", pwd: "p", roles: [] });
  const cases: [object, number][] = [
    [{ createUser: "u", pwd: "p", roles: [] }, 51003],
    [{ createUser: "v", pwd: "p", roles: ["noSuchRole"] }, 31],
    [{ createUser: "v", pwd: "p", roles: [{ role: "root", db: "Orders" }] }, 31],
    [{ updateUser: "nobody", pwd: "x" }, 11],
    [{ dropUser: "nobody" }, 11],
    [{ grantRolesToUser: "nobody", roles: ["read"] }, 11],
    [{ dropRole: "nothing" }, 31],
    [{
      createRole: "r",
      privileges: [{ resource: { db: "Orders", collection: "" }, actions: ["fly"] }],
      roles: [],
    }, 2],
  ];
  for (const [command, code] of cases) await _rejects(db.command(command), code);
  await db.command({ createRole: "r", privileges: [], roles: ["read"] });
  await _rejects(db.command({ createRole: "r", privileges: [], roles: [] }), 51002);
  await db.command({ grantRolesToUser: "u", roles: ["r"] });
  let info = await db.command({ usersInfo: "u", showPrivileges: true });
  assert.deepEqual(info.users[0].roles, [{ role: "r", db: "Orders" }]);
  assert.ok(info.users[0].inheritedRoles.some((r: { role: string }) => r.role === "read"));
  await db.command({ revokeRolesFromUser: "u", roles: ["r"] });
  info = await db.command({ usersInfo: "u" });
  assert.deepEqual(info.users[0].roles, []);
  await db.command({ updateUser: "u", pwd: "new" });
  const client = new MongoClient(_uri(t.sandbox, "u", "new", "Orders"));
  try {
    await client.db("Orders").command({ ping: 1 });
  } finally {
    await client.close();
  }
  await db.command({ dropRole: "r" });
  assert.deepEqual((await db.command({ dropAllUsersFromDatabase: 1 })).n, 1);
});

Deno.test("logout ends the connection's authentication", async () => {
  await using t = await _authSandbox();
  const client = new MongoClient(_uri(t.sandbox, "admin", ADMIN_PWD), { maxPoolSize: 1 });
  try {
    await client.db("admin").command({ logout: 1 });
    const status = await client.db("admin").command({ connectionStatus: 1 });
    assert.deepEqual(status.authInfo.authenticatedUsers, []);
  } finally {
    await client.close();
  }
});

Deno.test("only the user who opened a cursor may continue it", async () => {
  await using t = await _authSandbox();
  const db = t.root.db("Orders");
  await db.collection("Commande").insertMany(Array.from({ length: 5 }, (_, n) => ({ n })));
  await db.command({ createUser: "other", pwd: "o", roles: ["read"] });
  const opened = await db.command({ find: "Commande", batchSize: 1 });
  const other = new MongoClient(_uri(t.sandbox, "other", "o", "Orders"));
  try {
    const error = await _rejects(
      other.db("Orders").command({ getMore: opened.cursor.id, collection: "Commande" }),
      13,
    );
    assert.match(error.message, /was not created by the authenticated user/);
    const more = await db.command({ getMore: opened.cursor.id, collection: "Commande" });
    assert.equal(more.cursor.nextBatch.length, 4);
  } finally {
    await other.close();
  }
});

interface Row {
  /** Role granted on Orders (or admin for cluster roles). */
  role: string | { role: string; db: string };
  /** The command, run on `db`. */
  command: Record<string, unknown>;
  db?: string;
  allowed: boolean;
}

const ROWS: Row[] = [
  { role: "read", command: { find: "Commande" }, allowed: true },
  { role: "read", command: { count: "Commande" }, allowed: true },
  { role: "read", command: { listCollections: 1 }, allowed: true },
  { role: "read", command: { listIndexes: "Commande" }, allowed: true },
  { role: "read", command: { collStats: "Commande" }, allowed: true },
  { role: "read", command: { dbStats: 1 }, allowed: true },
  { role: "read", command: { aggregate: "Commande", pipeline: [], cursor: {} }, allowed: true },
  { role: "read", command: { insert: "Commande", documents: [{}] }, allowed: false },
  { role: "read", command: { delete: "Commande", deletes: [{ q: {}, limit: 0 }] }, allowed: false },
  {
    role: "read",
    command: { createIndexes: "Commande", indexes: [{ key: { a: 1 }, name: "a_1" }] },
    allowed: false,
  },
  {
    role: "read",
    command: { aggregate: "Commande", pipeline: [{ $merge: { into: "Historique" } }], cursor: {} },
    allowed: false,
  },
  { role: "read", command: { serverStatus: 1 }, db: "admin", allowed: false },
  { role: "readWrite", command: { insert: "Commande", documents: [{}] }, allowed: true },
  {
    role: "readWrite",
    command: { update: "Commande", updates: [{ q: {}, u: { $set: { a: 1 } }, upsert: true }] },
    allowed: true,
  },
  {
    role: "readWrite",
    command: { findAndModify: "Commande", query: {}, remove: true },
    allowed: true,
  },
  {
    role: "readWrite",
    command: { createIndexes: "Commande", indexes: [{ key: { a: 1 }, name: "a_1" }] },
    allowed: true,
  },
  {
    role: "readWrite",
    command: { aggregate: "Commande", pipeline: [{ $merge: { into: "Historique" } }], cursor: {} },
    allowed: true,
  },
  { role: "readWrite", command: { collMod: "Commande" }, allowed: false },
  { role: "readWrite", command: { dropDatabase: 1 }, allowed: false },
  { role: "readWrite", command: { createUser: "made1", pwd: "x", roles: [] }, allowed: false },
  { role: "dbAdmin", command: { collMod: "Commande" }, allowed: true },
  { role: "dbAdmin", command: { find: "Commande" }, allowed: false },
  { role: "dbOwner", command: { createUser: "made2", pwd: "x", roles: [] }, allowed: true },
  { role: "dbOwner", command: { find: "Commande" }, allowed: true },
  { role: "userAdmin", command: { usersInfo: 1 }, allowed: true },
  { role: "userAdmin", command: { find: "Commande" }, allowed: false },
  {
    role: { role: "clusterMonitor", db: "admin" },
    command: { serverStatus: 1 },
    db: "admin",
    allowed: true,
  },
  {
    role: { role: "clusterMonitor", db: "admin" },
    command: { replSetGetStatus: 1 },
    db: "admin",
    allowed: true,
  },
  {
    role: { role: "clusterMonitor", db: "admin" },
    command: { find: "oplog.rs" },
    db: "local",
    allowed: true,
  },
  {
    role: { role: "clusterMonitor", db: "admin" },
    command: { collStats: "Commande" },
    allowed: true,
  },
  { role: { role: "clusterMonitor", db: "admin" }, command: { find: "Commande" }, allowed: false },
  { role: { role: "readAnyDatabase", db: "admin" }, command: { find: "Commande" }, allowed: true },
  {
    role: { role: "readAnyDatabase", db: "admin" },
    command: { find: "oplog.rs" },
    db: "local",
    allowed: false,
  },
  {
    role: { role: "readWriteAnyDatabase", db: "admin" },
    command: { insert: "Commande", documents: [{}] },
    allowed: true,
  },
  {
    role: { role: "userAdminAnyDatabase", db: "admin" },
    command: { createUser: "made3", pwd: "x", roles: [] },
    allowed: true,
  },
  { role: { role: "root", db: "admin" }, command: { dropDatabase: 1 }, allowed: true },
  {
    role: { role: "root", db: "admin" },
    command: { find: "oplog.rs" },
    db: "local",
    allowed: true,
  },
  {
    role: { role: "root", db: "admin" },
    command: { configureFailPoint: "failCommand", mode: "off" },
    db: "admin",
    allowed: true,
  },
  // Role management (the table's role `tableRole` exists on Orders): mongod's required access.
  ...((): Row[] => {
    const onOrders = [{ resource: { db: "Orders", collection: "Commande" }, actions: ["find"] }];
    const onCluster = [{ resource: { cluster: true }, actions: ["serverStatus"] }];
    const anyDb = { role: "userAdminAnyDatabase", db: "admin" };
    return [
      // updateRole may revoke anything: revokeRole on every database.
      {
        role: "userAdmin",
        command: { updateRole: "tableRole", privileges: onOrders },
        allowed: false,
      },
      { role: anyDb, command: { updateRole: "tableRole", privileges: onOrders }, allowed: true },
      {
        role: "userAdmin",
        command: { grantRolesToRole: "tableRole", roles: ["read"] },
        allowed: true,
      },
      { role: "read", command: { grantRolesToRole: "tableRole", roles: ["read"] }, allowed: false },
      {
        role: "userAdmin",
        command: { revokeRolesFromRole: "tableRole", roles: ["read"] },
        allowed: true,
      },
      {
        role: "userAdmin",
        command: { grantPrivilegesToRole: "tableRole", privileges: onOrders },
        allowed: true,
      },
      {
        role: "userAdmin",
        command: { revokePrivilegesFromRole: "tableRole", privileges: onOrders },
        allowed: true,
      },
      // A cluster privilege is revoked with revokeRole on admin.
      {
        role: "userAdmin",
        command: { revokePrivilegesFromRole: "tableRole", privileges: onCluster },
        allowed: false,
      },
      { role: "readWrite", command: { dropRole: "noSuchRole" }, allowed: false },
      // A new roles array may revoke any role.
      { role: "userAdmin", command: { updateUser: "tableUser", roles: ["read"] }, allowed: false },
      { role: anyDb, command: { updateUser: "tableUser", roles: ["read"] }, allowed: true },
      { role: "userAdmin", command: { updateUser: "tableUser", pwd: "new" }, allowed: true },
    ];
  })(),
];

Deno.test("commands × roles: allowed or Unauthorized (13)", async (t) => {
  await using s = await _authSandbox();
  await s.root.db("Orders").collection("Commande").insertOne({ n: 1 });
  await s.root.db("Orders").command({ createRole: "tableRole", privileges: [], roles: [] });
  await s.root.db("Orders").command({ createUser: "tableUser", pwd: "t", roles: [] });
  let n = 0;
  for (const row of ROWS) {
    const label = typeof row.role === "string" ? row.role : row.role.role;
    await t.step(
      `${label}: ${Object.keys(row.command)[0]} → ${row.allowed ? "allowed" : "13"}`,
      async () => {
        const user = `u${n++}`;
        const roles = [typeof row.role === "string" ? { role: row.role, db: "Orders" } : row.role];
        await s.root.db("admin").command({ createUser: user, pwd: "pw", roles });
        const client = new MongoClient(_uri(s.sandbox, user, "pw"));
        try {
          const run = client.db(row.db ?? "Orders").command(row.command);
          if (row.allowed) {
            const reply = await run;
            assert.equal(reply.ok, 1);
          } else {
            await _rejects(run, 13);
          }
        } finally {
          await client.close();
        }
      },
    );
  }
});

Deno.test("without auth nothing is checked and credentials are not accepted", async () => {
  await using sandbox = await startSandbox();
  const client = new MongoClient(sandbox.uri);
  try {
    await client.db("Orders").collection("Commande").insertOne({ n: 1 });
    // Users can be managed (as on a mongod without --auth), but nobody authenticates.
    await client.db("admin").command({ createUser: "u", pwd: "p", roles: ["root"] });
    await _rejects(
      client.db("admin").command({
        saslStart: 1,
        mechanism: "SCRAM-SHA-256",
        payload: "n,,n=u,r=abc",
      }),
      59,
    );
  } finally {
    await client.close();
  }
});

// ---- role management: updateRole, grant/revoke roles and privileges ------------------------

async function _rolePrivileges(db: Db, role: string): Promise<unknown> {
  const { roles } = await db.command({ rolesInfo: role, showPrivileges: true });
  return { privileges: roles[0].privileges, roles: roles[0].roles };
}

Deno.test("updateRole replaces the role's privileges and roles, and open connections see it", async () => {
  await using t = await _authSandbox();
  const orders = t.root.db("Orders");
  await orders.collection("Commande").insertOne({ n: 1 });
  await orders.collection("Client").insertOne({ n: 2 });
  await orders.command({
    createRole: "app",
    privileges: [{
      resource: { db: "Orders", collection: "Commande" },
      actions: ["find", "insert"],
    }],
    roles: ["read"],
  });
  await orders.command({ createUser: "appUser", pwd: "a", roles: ["app"] });
  const client = new MongoClient(_uri(t.sandbox, "appUser", "a", "Orders"));
  try {
    const db = client.db("Orders");
    assert.equal((await db.collection("Client").findOne())?.n, 2, "read, inherited");
    await orders.command({
      updateRole: "app",
      privileges: [
        { resource: { db: "Orders", collection: "Client" }, actions: ["find"] },
        { resource: { db: "Orders", collection: "Client" }, actions: ["update"] },
      ],
      roles: [],
    });
    assert.deepEqual(await _rolePrivileges(orders, "app"), {
      privileges: [{
        resource: { db: "Orders", collection: "Client" },
        actions: ["find", "update"],
      }],
      roles: [],
    });
    assert.equal((await db.collection("Client").findOne())?.n, 2);
    await _rejects(db.collection("Commande").findOne(), 13);
    await _rejects(db.collection("Commande").insertOne({}), 13);
    // Only roles given: the privileges stay.
    await orders.command({ updateRole: "app", roles: ["read"] });
    assert.deepEqual(await _rolePrivileges(orders, "app"), {
      privileges: [{
        resource: { db: "Orders", collection: "Client" },
        actions: ["find", "update"],
      }],
      roles: [{ role: "read", db: "Orders" }],
    });
    assert.equal((await db.collection("Commande").findOne())?.n, 1);
  } finally {
    await client.close();
  }
});

Deno.test("updateRole answers mongod's errors", async () => {
  await using t = await _authSandbox();
  const orders = t.root.db("Orders");
  await orders.command({ createRole: "a", privileges: [], roles: [] });
  await orders.command({ createRole: "b", privileges: [], roles: ["a"] });
  const cases: [string, object, number, RegExp][] = [
    [
      "no field",
      { updateRole: "a" },
      2,
      /^Must specify at least one field to update in updateRole$/,
    ],
    ["unknown role", { updateRole: "nope", roles: [] }, 31, /^Could not find role: nope@Orders$/],
    ["built-in role", { updateRole: "read", roles: [] }, 31, /^Role read@Orders not found$/],
    ["itself", { updateRole: "a", roles: ["a"] }, 49, /^Cannot grant role a@Orders to itself\.$/],
    [
      "a cycle",
      { updateRole: "a", roles: ["b"] },
      49,
      /would introduce a cycle in the role graph$/,
    ],
    [
      "a role of another database",
      { updateRole: "a", roles: [{ role: "read", db: "Other" }] },
      49,
      /^Roles on the 'Orders' database cannot be granted roles from other databases$/,
    ],
    [
      "an unknown inherited role",
      { updateRole: "a", roles: ["ghost", "phantom"] },
      31,
      /^Cannot grant roles to 'a@Orders': Could not find roles: ghost@Orders, phantom@Orders$/,
    ],
    [
      "a privilege on another database",
      {
        updateRole: "a",
        privileges: [{ resource: { db: "Other", collection: "" }, actions: ["find"] }],
      },
      49,
      /cannot be granted privileges that target other databases or the cluster$/,
    ],
    [
      "an unknown action",
      {
        updateRole: "a",
        privileges: [{ resource: { db: "Orders", collection: "" }, actions: ["fly"] }],
      },
      2,
      /^Unrecognized action privilege string: fly$/,
    ],
  ];
  for (const [label, command, code, message] of cases) {
    const error = await _rejects(orders.command(command), code);
    assert.match(error.message, message, label);
  }
  const error = await _rejects(orders.command({ updateRole: "nope", roles: [] }), 31);
  assert.equal(error.codeName, "RoleNotFound");
  // A role on admin may hold privileges and roles of any database.
  await t.root.db("admin").command({ createRole: "wide", privileges: [], roles: [] });
  await t.root.db("admin").command({
    updateRole: "wide",
    privileges: [{ resource: { cluster: true }, actions: ["serverStatus"] }],
    roles: [{ role: "read", db: "Orders" }],
  });
});

Deno.test("grantRolesToRole, revokeRolesFromRole and revokePrivilegesFromRole change only what they name", async () => {
  await using t = await _authSandbox();
  const orders = t.root.db("Orders");
  await orders.command({
    createRole: "acct",
    privileges: [
      { resource: { db: "Orders", collection: "" }, actions: ["find", "update"] },
      { resource: { db: "Orders", collection: "Commande" }, actions: ["insert", "remove"] },
    ],
    roles: [],
  });
  await orders.command({
    grantRolesToRole: "acct",
    roles: ["read", { role: "dbAdmin", db: "Orders" }],
  });
  await orders.command({ grantRolesToRole: "acct", roles: ["read"] }); // already there
  assert.deepEqual((await _rolePrivileges(orders, "acct") as { roles: unknown }).roles, [
    { role: "read", db: "Orders" },
    { role: "dbAdmin", db: "Orders" },
  ]);
  await orders.command({ revokeRolesFromRole: "acct", roles: ["dbAdmin", "notHeld"] });
  // As MongoDB's manual shows: revoking on one collection does not narrow a database privilege.
  await orders.command({
    revokePrivilegesFromRole: "acct",
    privileges: [{
      resource: { db: "Orders", collection: "gadgets" },
      actions: ["find", "update"],
    }],
  });
  await orders.command({
    revokePrivilegesFromRole: "acct",
    privileges: [
      { resource: { db: "Orders", collection: "" }, actions: ["find"] },
      { resource: { db: "Orders", collection: "Commande" }, actions: ["insert", "remove"] },
    ],
  });
  assert.deepEqual(await _rolePrivileges(orders, "acct"), {
    privileges: [{ resource: { db: "Orders", collection: "" }, actions: ["update"] }],
    roles: [{ role: "read", db: "Orders" }],
  });
  const cases: [object, number, RegExp][] = [
    [{ grantRolesToRole: "acct", roles: [] }, 2, /requires a non-empty "roles" array/],
    [{ grantRolesToRole: "acct" }, 40414, /'grantRolesToRole\.roles' is missing/],
    [
      { grantRolesToRole: "read", roles: ["acct"] },
      2,
      /^read@Orders is a built-in role and cannot be modified$/,
    ],
    [{ grantRolesToRole: "nope", roles: ["read"] }, 31, /^Could not find role: nope@Orders$/],
    [{ grantRolesToRole: "acct", roles: ["ghost"] }, 31, /Could not find role: ghost@Orders$/],
    [{ revokeRolesFromRole: "nope", roles: ["read"] }, 31, /^Could not find role: nope@Orders$/],
    [{ revokePrivilegesFromRole: "acct", privileges: [] }, 2, /non-empty "privileges" array/],
    [
      {
        revokePrivilegesFromRole: "dbOwner",
        privileges: [{ resource: { db: "Orders", collection: "" }, actions: ["find"] }],
      },
      2,
      /built-in role and cannot be modified/,
    ],
    [
      {
        grantPrivilegesToRole: "acct",
        privileges: [{ resource: { cluster: true }, actions: ["serverStatus"] }],
      },
      49,
      /cannot be granted privileges that target other databases or the cluster$/,
    ],
    [{ dropRole: "read" }, 2, /^read@Orders is a built-in role and cannot be modified$/],
  ];
  for (const [command, code, message] of cases) {
    const error = await _rejects(orders.command(command), code);
    assert.match(error.message, message, JSON.stringify(command));
  }
  await orders.command({ createRole: "other", privileges: [], roles: ["acct"] });
  assert.deepEqual((await orders.command({ dropAllRolesFromDatabase: 1 })).n, 2);
  assert.deepEqual((await orders.command({ rolesInfo: 1 })).roles, []);
});

Deno.test("updateUser replaces roles, keeps the password unless given, and names the missing user", async () => {
  await using t = await _authSandbox();
  const orders = t.root.db("Orders");
  await orders.command({ createUser: "u", pwd: "p", roles: ["read"], customData: { team: "a" } });
  await orders.command({ updateUser: "u", roles: ["readWrite", "readWrite"] });
  let info = await orders.command({ usersInfo: "u" });
  assert.deepEqual(info.users[0].roles, [{ role: "readWrite", db: "Orders" }]);
  assert.deepEqual(info.users[0].customData, { team: "a" });
  await orders.command({ updateUser: "u", mechanisms: ["SCRAM-SHA-256"] });
  info = await orders.command({ usersInfo: "u" });
  assert.deepEqual(info.users[0].mechanisms, ["SCRAM-SHA-256"]);
  const client = new MongoClient(_uri(t.sandbox, "u", "p", "Orders"));
  try {
    await client.db("Orders").collection("Commande").insertOne({ by: "u" });
  } finally {
    await client.close();
  }
  const cases: [object, number, RegExp][] = [
    [{ updateUser: "nobody", pwd: "x" }, 11, /^User nobody@Orders not found$/],
    [{ updateUser: "u" }, 2, /^Must specify at least one field to update in updateUser$/],
    [{ updateUser: "u", roles: ["ghost"] }, 31, /^Could not find role: ghost@Orders$/],
    [{ updateUser: "u", mechanisms: ["SCRAM-SHA-1"] }, 2, /subset of previously set mechanisms/],
    [{ updateUser: "u", customData: "x" }, 14, /expected type 'object'/],
  ];
  for (const [command, code, message] of cases) {
    const error = await _rejects(orders.command(command), code);
    assert.match(error.message, message, JSON.stringify(command));
  }
});

// ---- error codes and the Unauthorized message ---------------------------------------------

Deno.test("authentication errors carry mongod's code names", async () => {
  await using t = await _authSandbox();
  const admin = t.root.db("admin");
  const unavailable = await _rejects(
    admin.command({ saslStart: 1, mechanism: "PLAIN", payload: new Binary(new Uint8Array()) }),
    334,
  );
  assert.equal(unavailable.codeName, "MechanismUnavailable");
  const protocol = await _rejects(
    admin.command({ saslContinue: 1, conversationId: 9, payload: new Binary(new Uint8Array()) }),
    17,
  );
  assert.equal(protocol.codeName, "ProtocolError");
  const missing = await _rejects(admin.command({ dropRole: "nope" }), 31);
  assert.equal(missing.codeName, "RoleNotFound");
});

Deno.test("Unauthorized names the command as mongod prints it", async (t) => {
  await using s = await _authSandbox();
  await s.root.db("Orders").collection("Commande").insertOne({ n: 1 });
  await s.root.db("admin").command({
    createUser: "elsewhere",
    pwd: "e",
    roles: [{ role: "readWrite", db: "Other" }],
  });
  const client = new MongoClient(_uri(s.sandbox, "elsewhere", "e"));
  const commandes = client.db("Orders").collection("Commande");
  const cases: [string, () => Promise<unknown>, RegExp][] = [
    [
      "find",
      () => commandes.findOne({ numero_commande: "C1", le: new Date(0) }),
      /^\{ find: "Commande", filter: \{ numero_commande: "C1", le: new Date\(0\) \}, limit: 1, .*\$db: "Orders" \}$/,
    ],
    [
      "insert",
      () =>
        commandes.insertOne(
          { _id: new ObjectId("0123456789abcdef01234567"), n: Long.fromNumber(7) } as never,
        ),
      /^\{ insert: "Commande", documents: \[ \{ _id: ObjectId\('0123456789abcdef01234567'\), n: 7 \} \], ordered: true, .*\$db: "Orders" \}$/,
    ],
    [
      "aggregate with $merge",
      () =>
        commandes.aggregate([{ $match: { n: 1 } }, { $merge: { into: "Historique" } }]).toArray(),
      /^\{ aggregate: "Commande", pipeline: \[ \{ \$match: \{ n: 1 \} \}, \{ \$merge: \{ into: "Historique" \} \} \], cursor: \{\}, .*\$db: "Orders" \}$/,
    ],
    [
      "createIndexes",
      () => commandes.createIndex({ numero_commande: 1 }, { unique: true }),
      /^\{ createIndexes: "Commande", indexes: \[ \{ unique: true, name: "numero_commande_1", key: \{ numero_commande: 1 \} \} \], .*\$db: "Orders" \}$/,
    ],
    [
      "a change stream",
      () => commandes.watch([{ $match: { operationType: "insert" } }]).tryNext(),
      /^\{ aggregate: "Commande", pipeline: \[ \{ \$changeStream: \{\} \}, \{ \$match: \{ operationType: "insert" \} \} \], cursor: \{\}, .*\$db: "Orders" \}$/,
    ],
    [
      "updateUser (the password masked)",
      () => client.db("Orders").command({ updateUser: "x", pwd: "secret-pw" }),
      /^\{ updateUser: "x", pwd: "xxx", .*\$db: "Orders" \}$/,
    ],
  ];
  try {
    for (const [label, run, rendered] of cases) {
      await t.step(label, async () => {
        const error = await _rejects(run(), 13);
        assert.equal(error.codeName, "Unauthorized");
        const prefix = "not authorized on Orders to execute command ";
        assert.ok(error.message.startsWith(prefix), error.message);
        const command = error.message.slice(prefix.length);
        assert.match(command, rendered);
        assert.match(
          command,
          /lsid: \{ id: UUID\("[0-9a-f-]{36}"\) \}/,
          "lsid shown, as mongod does",
        );
        assert.doesNotMatch(command, /undefined|\[object|secret-pw/);
      });
    }
  } finally {
    await client.close();
  }
});

Deno.test("renderCommand prints BSON values as mongod's BSONObj::toString", () => {
  const uuid = new UUID("3918bc80-94a9-4c70-ac02-0233e603a434");
  const rows: [unknown, string][] = [
    ["a", '"a"'],
    [1, "1"],
    [1.5, "1.5"],
    [2 ** 40, "1099511627776.0"],
    [Long.fromString("9007199254740993"), "9007199254740993"],
    [new Decimal128("1.50"), "1.50"],
    [true, "true"],
    [null, "null"],
    [new Date(86_400_000), "new Date(86400000)"],
    [new ObjectId("0123456789abcdef01234567"), "ObjectId('0123456789abcdef01234567')"],
    [uuid.toBinary(), 'UUID("3918bc80-94a9-4c70-ac02-0233e603a434")'],
    [new Binary(new Uint8Array([1, 171])), "BinData(0, 01AB)"],
    [new Timestamp({ t: 1700000000, i: 3 }), "Timestamp(1700000000, 3)"],
    [/ab+c/i, "/ab+c/i"],
    [new MinKey(), "MinKey"],
    [new MaxKey(), "MaxKey"],
    [[], "[]"],
    [{}, "{}"],
    [[1, [2, { a: [] }]], "[ 1, [ 2, { a: [] } ] ]"],
    ["x".repeat(200), `"${"x".repeat(150)}..."`],
  ];
  for (const [value, expected] of rows) {
    assert.equal(renderCommand({ find: "c", v: value }), `{ find: "c", v: ${expected} }`);
  }
  assert.equal(
    renderCommand({ createUser: "u", pwd: "secret", roles: [], $db: "admin" }),
    '{ createUser: "u", pwd: "xxx", roles: [], $db: "admin" }',
  );
});
