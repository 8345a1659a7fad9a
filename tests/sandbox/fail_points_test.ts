import assert from "node:assert/strict";
import { type Document, MongoClient, MongoNetworkError, type MongoServerError } from "mongodb";
import { testDatabase } from "../support/test_db.ts";

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

async function _changeStreamGetMore(client: MongoClient, db: string): Promise<MongoServerError> {
  const opened = await client.db(db).command({
    aggregate: "labels",
    pipeline: [{ $changeStream: {} }],
    cursor: {},
  });
  try {
    await client.db(db).command({
      getMore: opened.cursor.id,
      collection: "labels",
      maxTimeMS: 10,
    });
  } catch (error) {
    return error as MongoServerError;
  }
  throw new Error("the getMore did not fail");
}

Deno.test("a getMore failed after cursor checkout is labelled ResumableChangeStreamError", async () => {
  await using t = await testDatabase();
  const admin = t.client.db("admin");
  await admin.command({
    configureFailPoint: "failGetMoreAfterCursorCheckout",
    mode: { times: 1 },
    data: { errorCode: 6 },
  });
  const error = await _changeStreamGetMore(t.client, t.dbName);
  assert.equal(error.code, 6);
  assert.ok(error.hasErrorLabel("ResumableChangeStreamError"));
});

Deno.test("a change stream resumes after a getMore fails after cursor checkout", async () => {
  await using t = await testDatabase();
  const c = t.db.collection("resume");
  const stream = c.watch([], { maxAwaitTimeMS: 100 });
  try {
    await stream.tryNext();
    await t.client.db("admin").command({
      configureFailPoint: "failGetMoreAfterCursorCheckout",
      mode: { times: 1 },
      data: { errorCode: 10107 },
    });
    await c.insertOne({ x: 1 });
    const event = await stream.next();
    assert.equal(event.operationType, "insert");
  } finally {
    await stream.close();
    await t.client.db("admin").command({
      configureFailPoint: "failGetMoreAfterCursorCheckout",
      mode: "off",
    });
  }
});

Deno.test("failCommand on a change stream getMore adds no ResumableChangeStreamError label", async () => {
  await using t = await testDatabase();
  await _failCommand(t.client, { times: 1 }, { failCommands: ["getMore"], errorCode: 6 });
  try {
    const error = await _changeStreamGetMore(t.client, t.dbName);
    assert.equal(error.code, 6);
    assert.ok(!error.hasErrorLabel("ResumableChangeStreamError"));
  } finally {
    await _off(t.client);
  }
});
