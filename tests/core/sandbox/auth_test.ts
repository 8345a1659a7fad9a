/**
 * Authentication and authorization in the sandbox (`startSandbox({ auth: true })`), through the
 * official driver: SCRAM-SHA-256 and SCRAM-SHA-1, wrong passwords, the localhost exception,
 * users and roles, `connectionStatus`, and a table of commands × roles.
 */

import assert from "node:assert/strict";
import { MongoClient, MongoServerError } from "mongodb";
import { COMMAND_PRIVILEGES } from "../../../core/sandbox/auth/privileges.ts";
import { COMMANDS } from "../../../core/sandbox/commands/mod.ts";
import { type Sandbox, startSandbox } from "../../../core/sandbox/mod.ts";

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
    "add these to COMMAND_PRIVILEGES in core/sandbox/auth/privileges.ts",
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
];

Deno.test("commands × roles: allowed or Unauthorized (13)", async (t) => {
  await using s = await _authSandbox();
  await s.root.db("Orders").collection("Commande").insertOne({ n: 1 });
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
