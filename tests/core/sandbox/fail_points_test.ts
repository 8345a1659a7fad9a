import assert from "node:assert/strict";
import { type Document, MongoClient, MongoNetworkError, type MongoServerError } from "mongodb";
import { testDatabase } from "../../support/test_db.ts";

async function _failCommand(client: MongoClient, mode: unknown, data: Document): Promise<void> {
  await client.db("admin").command({ configureFailPoint: "failCommand", mode, data });
}

async function _off(client: MongoClient): Promise<void> {
  await client.db("admin").command({ configureFailPoint: "failCommand", mode: "off" });
}

Deno.test("failCommand makes a command fail with the given code and labels, n times", async () => {
  await using t = await testDatabase();
  const appName = `fp-${crypto.randomUUID()}`;
  const client = new MongoClient(t.uri, { appName, retryReads: false, retryWrites: false });
  try {
    await client.connect();
    const c = client.db(t.dbName).collection("fp");
    await _failCommand(t.client, { times: 2 }, {
      failCommands: ["find"],
      errorCode: 91,
      errorLabels: ["MyLabel"],
      appName,
    });
    for (let i = 0; i < 2; i++) {
      await assert.rejects(c.findOne({}), (e: MongoServerError) => {
        assert.equal(e.code, 91);
        assert.equal(e.codeName, "ShutdownInProgress");
        assert.ok(e.hasErrorLabel("MyLabel"));
        return true;
      });
    }
    assert.equal(await c.findOne({}), null);
  } finally {
    await _off(t.client);
    await client.close();
  }
});

Deno.test("failCommand only affects clients with the configured appName", async () => {
  await using t = await testDatabase();
  try {
    await _failCommand(t.client, "alwaysOn", {
      failCommands: ["insert"],
      errorCode: 2,
      appName: `nobody-${crypto.randomUUID()}`,
    });
    await t.db.collection("fp").insertOne({ ok: true });
  } finally {
    await _off(t.client);
  }
});

Deno.test("failCommand with closeConnection closes the socket without a reply", async () => {
  await using t = await testDatabase();
  const appName = `fp-${crypto.randomUUID()}`;
  const client = new MongoClient(t.uri, { appName, retryReads: false, retryWrites: false });
  try {
    await client.connect();
    await _failCommand(t.client, { times: 1 }, {
      failCommands: ["find"],
      closeConnection: true,
      appName,
    });
    await assert.rejects(
      client.db(t.dbName).collection("fp").findOne({}),
      (e) => e instanceof MongoNetworkError,
    );
    assert.equal(await client.db(t.dbName).collection("fp").findOne({}), null);
  } finally {
    await _off(t.client);
    await client.close();
  }
});

Deno.test("a retryable write retries through one failCommand error", async () => {
  await using t = await testDatabase();
  const appName = `fp-${crypto.randomUUID()}`;
  const client = new MongoClient(t.uri, { appName });
  try {
    await client.connect();
    await _failCommand(t.client, { times: 1 }, {
      failCommands: ["insert"],
      errorCode: 189,
      appName,
    });
    await client.db(t.dbName).collection("fp").insertOne({ retried: true });
    assert.equal(await t.db.collection("fp").countDocuments({ retried: true }), 1);
  } finally {
    await _off(t.client);
    await client.close();
  }
});

Deno.test("a change stream resumes after a getMore network error", async () => {
  await using t = await testDatabase();
  const appName = `fp-${crypto.randomUUID()}`;
  const client = new MongoClient(t.uri, { appName });
  try {
    await client.connect();
    const c = client.db(t.dbName).collection("cs");
    const stream = c.watch([], { maxAwaitTimeMS: 100 });
    await stream.tryNext();
    await _failCommand(t.client, { times: 1 }, {
      failCommands: ["getMore"],
      closeConnection: true,
      appName,
    });
    await t.db.collection("cs").insertOne({ after: "failure" });
    const event = await stream.next();
    assert.equal(event.operationType, "insert");
    await stream.close();
  } finally {
    await _off(t.client);
    await client.close();
  }
});
