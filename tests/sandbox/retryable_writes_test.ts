/**
 * Retryable writes as mongod implements them: a write retried with the same session and
 * transaction number is applied once, and the retry's reply says what the first attempt did;
 * the `onPrimaryTransactionalWrite` fail point the drivers' tests use to lose a reply after the
 * write committed.
 */

import assert from "node:assert/strict";
import {
  type ClientSession,
  type CommandStartedEvent,
  type Document,
  Long,
  MongoClient,
  type MongoServerError,
} from "mongodb";
import { Binary } from "bson";
import { testDatabase } from "../support/test_db.ts";
import { LocalSessions } from "../../sandbox/engine/sessions.ts";

type Db = ReturnType<MongoClient["db"]>;

/**
 * Runs a write command twice in one session with the same txnNumber (a driver's retry). The
 * driver pools server sessions, so an explicit session may be one its own retryable writes
 * already numbered: the tests use numbers above those.
 */
async function _twice(
  db: Db,
  session: ClientSession,
  command: Document,
  txnNumber = 1000,
): Promise<[Document, Document]> {
  const withTxn = { ...command, txnNumber: Long.fromNumber(txnNumber) };
  const first = await db.command(withTxn, { session });
  const retry = await db.command(withTxn, { session });
  return [first, retry];
}

async function _failPoint(client: MongoClient, mode: unknown, data?: Document): Promise<void> {
  await client.db("admin").command({
    configureFailPoint: "onPrimaryTransactionalWrite",
    mode,
    ...(data ? { data } : {}),
  });
}

async function _off(client: MongoClient): Promise<void> {
  await client.db("admin").command({
    configureFailPoint: "onPrimaryTransactionalWrite",
    mode: "off",
  });
}

Deno.test("a retried insert is applied once and its reply counts the documents inserted the first time", async () => {
  await using t = await testDatabase();
  const session = t.client.startSession();
  try {
    const [first, retry] = await _twice(t.db, session, {
      insert: "c",
      documents: [{ _id: 1 }, { _id: 2 }],
    });
    assert.equal(first.n, 2);
    assert.equal(first.retriedStmtIds, undefined);
    assert.equal(retry.n, 2);
    assert.equal(retry.writeErrors, undefined, "no duplicate key: the retry did not insert again");
    assert.deepEqual(retry.retriedStmtIds, [0, 1]);
    assert.equal(await t.db.collection("c").countDocuments(), 2);
  } finally {
    await session.endSession();
  }
});

Deno.test("a retry executes the statements the first attempt did not reach", async () => {
  await using t = await testDatabase();
  const session = t.client.startSession();
  try {
    const txnNumber = Long.fromNumber(1007);
    const first = await t.db.command(
      { insert: "c", documents: [{ _id: 1 }], txnNumber },
      { session },
    );
    assert.equal(first.n, 1);
    const retry = await t.db.command(
      { insert: "c", documents: [{ _id: 1 }, { _id: 2 }], txnNumber },
      { session },
    );
    assert.equal(retry.n, 2);
    assert.deepEqual(retry.retriedStmtIds, [0]);
    const ids = (await t.db.collection("c").find().toArray()).map((d) => d._id);
    assert.deepEqual(ids, [1, 2]);
  } finally {
    await session.endSession();
  }
});

Deno.test("statement ids come from stmtIds, or stmtId plus the statement's index", async () => {
  await using t = await testDatabase();
  const session = t.client.startSession();
  try {
    const txnNumber = Long.fromNumber(1001);
    await t.db.command(
      { insert: "c", documents: [{ _id: 1 }, { _id: 2 }], stmtId: 5, txnNumber },
      { session },
    );
    // The same statements, numbered explicitly: 5 and 6 ran, 9 did not.
    const retry = await t.db.command(
      {
        insert: "c",
        documents: [{ _id: 2 }, { _id: 1 }, { _id: 3 }],
        stmtIds: [6, 5, 9],
        txnNumber,
      },
      { session },
    );
    assert.equal(retry.n, 3);
    assert.deepEqual(retry.retriedStmtIds, [6, 5]);
    assert.equal(await t.db.collection("c").countDocuments(), 3);
  } finally {
    await session.endSession();
  }
});

Deno.test("a retried update reports the first attempt's n, nModified and upserted id, applied once", async () => {
  await using t = await testDatabase();
  await t.db.collection("c").insertOne({ _id: 1 as unknown as Document["_id"], x: 1 });
  const session = t.client.startSession();
  try {
    const [first, retry] = await _twice(t.db, session, {
      update: "c",
      updates: [
        { q: { _id: 1 }, u: { $inc: { x: 1 } } },
        { q: { _id: 2 }, u: { $set: { y: 1 } }, upsert: true },
        { q: { _id: 1 }, u: { $set: { x: 2 } } }, // matched, not modified (x is already 2)
      ],
    });
    for (const reply of [first, retry]) {
      assert.equal(reply.n, 3);
      assert.equal(reply.nModified, 1);
      assert.deepEqual(reply.upserted, [{ index: 1, _id: 2 }]);
    }
    assert.deepEqual(retry.retriedStmtIds, [0, 1, 2]);
    assert.deepEqual(await t.db.collection("c").find().toArray(), [{ _id: 1, x: 2 }, {
      _id: 2,
      y: 1,
    }]);
  } finally {
    await session.endSession();
  }
});

Deno.test("a retried deleteOne reports n: 1 though the document is gone", async () => {
  await using t = await testDatabase();
  await t.db.collection("c").insertMany([{ k: 1 }, { k: 1 }]);
  const session = t.client.startSession();
  try {
    const [first, retry] = await _twice(t.db, session, {
      delete: "c",
      deletes: [{ q: { k: 1 }, limit: 1 }],
    });
    assert.equal(first.n, 1);
    assert.equal(retry.n, 1);
    assert.deepEqual(retry.retriedStmtIds, [0]);
    assert.equal(await t.db.collection("c").countDocuments(), 1, "only one document deleted");
  } finally {
    await session.endSession();
  }
});

Deno.test("a retried findAndModify returns the first attempt's value and is applied once", async () => {
  await using t = await testDatabase();
  await t.db.collection("c").insertOne({ _id: 1 as unknown as Document["_id"], x: 1 });
  const session = t.client.startSession();
  try {
    const [first, retry] = await _twice(t.db, session, {
      findAndModify: "c",
      query: { _id: 1 },
      update: { $inc: { x: 10 } },
    });
    assert.deepEqual(first.value, { _id: 1, x: 1 });
    assert.deepEqual(retry.value, { _id: 1, x: 1 });
    assert.deepEqual(retry.lastErrorObject, first.lastErrorObject);
    assert.equal(retry.retriedStmtId, 0);
    assert.deepEqual(await t.db.collection("c").findOne(), { _id: 1, x: 11 });
  } finally {
    await session.endSession();
  }
});

Deno.test("a findAndModify retried after a write concern error answers the value alone", async (t) => {
  await using db = await testDatabase();
  const c = db.db.collection<{ _id: number; x: number }>("c");
  const cases: Array<[string, () => Promise<unknown>, unknown, number]> = [
    ["findOneAndDelete", () => c.findOneAndDelete({ x: { $gte: 1 } }, { sort: { x: 1 } }), {
      _id: 1,
      x: 1,
    }, 1],
    ["findOneAndUpdate", () => c.findOneAndUpdate({ _id: 2 }, { $inc: { x: 1 } }), {
      _id: 2,
      x: 2,
    }, 1],
  ];
  await c.insertMany([{ _id: 1, x: 1 }, { _id: 2, x: 2 }]);
  for (const [name, run, value, remaining] of cases) {
    await t.step(name, async () => {
      await db.client.db("admin").command({
        configureFailPoint: "failCommand",
        mode: { times: 1 },
        data: {
          failCommands: ["findAndModify"],
          errorLabels: ["RetryableWriteError"],
          writeConcernError: { code: 91, errmsg: "Replication is being shut down" },
        },
      });
      try {
        // The first reply carries the write concern error; the driver retries, and the retry
        // answers what the first attempt did, without the fail point's error.
        assert.deepEqual(await run(), value);
      } finally {
        await db.client.db("admin").command({ configureFailPoint: "failCommand", mode: "off" });
      }
      assert.equal(await c.countDocuments(), remaining);
    });
  }
  assert.deepEqual(await c.find().toArray(), [{ _id: 2, x: 3 }]);
});

Deno.test("a write with an older txnNumber than the session's latest fails with TransactionTooOld", async () => {
  await using t = await testDatabase();
  const session = t.client.startSession();
  try {
    await t.db.command({ insert: "c", documents: [{}], txnNumber: Long.fromNumber(1005) }, {
      session,
    });
    await assert.rejects(
      t.db.command({ insert: "c", documents: [{}], txnNumber: Long.fromNumber(1004) }, { session }),
      (e: MongoServerError) => {
        assert.equal(e.code, 225);
        assert.equal(e.codeName, "TransactionTooOld");
        assert.equal(e.hasErrorLabel("RetryableWriteError"), false);
        return true;
      },
    );
    // A newer number starts a new write; the one before it can no longer be retried.
    await t.db.command({ insert: "c", documents: [{}], txnNumber: Long.fromNumber(1006) }, {
      session,
    });
    await assert.rejects(
      t.db.command({ insert: "c", documents: [{}], txnNumber: Long.fromNumber(1005) }, { session }),
      (e: MongoServerError) => e.code === 225,
    );
    assert.equal(await t.db.collection("c").countDocuments(), 2);
  } finally {
    await session.endSession();
  }
});

Deno.test("the same txnNumber in another session is another write", async () => {
  await using t = await testDatabase();
  const a = t.client.startSession();
  const b = t.client.startSession();
  try {
    const command = { insert: "c", documents: [{ v: 1 }], txnNumber: Long.fromNumber(1001) };
    await t.db.command(command, { session: a });
    const other = await t.db.command(command, { session: b });
    assert.equal(other.retriedStmtIds, undefined);
    assert.equal(await t.db.collection("c").countDocuments(), 2);
  } finally {
    await a.endSession();
    await b.endSession();
  }
});

Deno.test("idle sessions are forgotten with their retryable write history after the timeout", async () => {
  const sessions = new LocalSessions(20);
  const lsid = (n: number) => ({ id: new Binary(Uint8Array.from({ length: 16 }, () => n), 4) });
  for (let i = 0; i < 5; i++) {
    sessions.retryableWrite({ lsid: lsid(i), txnNumber: 1 })?.record(0, { n: 1 });
  }
  assert.equal(sessions.size, 5);
  await new Promise((resolve) => setTimeout(resolve, 40));
  sessions.touch(lsid(99));
  assert.equal(sessions.size, 1, "the expired sessions are gone");
  // A forgotten session's write is a new one: nothing is reported as already executed.
  const again = sessions.retryableWrite({ lsid: lsid(0), txnNumber: 1 });
  assert.equal(again?.previous(0), undefined);
  sessions.end([lsid(0), lsid(99)]);
  assert.equal(sessions.size, 0);
});

// ---- onPrimaryTransactionalWrite, through the driver's own retries ----

interface _RetryCase {
  name: string;
  initial?: Document[];
  run: (c: ReturnType<Db["collection"]>) => Promise<unknown>;
  command: string;
  check: (result: unknown, docs: Document[]) => void;
}

const RETRY_CASES: _RetryCase[] = [
  {
    name: "insertOne",
    command: "insert",
    run: (c) => c.insertOne({ _id: 1 as unknown as Document["_id"], x: 11 }),
    check: (_r, docs) => assert.deepEqual(docs, [{ _id: 1, x: 11 }]),
  },
  {
    name: "insertMany (one commit for the batch)",
    command: "insert",
    run: (c) =>
      c.insertMany([{ _id: 1 as unknown as Document["_id"] }, {
        _id: 2 as unknown as Document["_id"],
      }]),
    check: (r, docs) => {
      assert.equal((r as { insertedCount: number }).insertedCount, 2);
      assert.equal(docs.length, 2);
    },
  },
  {
    name: "updateOne with $inc",
    command: "update",
    initial: [{ _id: 1, x: 11 }],
    run: (c) => c.updateOne({ _id: 1 as unknown as Document["_id"] }, { $inc: { x: 1 } }),
    check: (r, docs) => {
      const result = r as { matchedCount: number; modifiedCount: number };
      assert.equal(result.matchedCount, 1);
      assert.equal(result.modifiedCount, 1);
      assert.deepEqual(docs, [{ _id: 1, x: 12 }]);
    },
  },
  {
    name: "updateOne with upsert",
    command: "update",
    run: (c) =>
      c.updateOne({ _id: 3 as unknown as Document["_id"] }, { $inc: { x: 1 } }, { upsert: true }),
    check: (r, docs) => {
      const result = r as { upsertedCount: number; upsertedId: unknown };
      assert.equal(result.upsertedCount, 1);
      assert.equal(result.upsertedId, 3);
      assert.deepEqual(docs, [{ _id: 3, x: 1 }]);
    },
  },
  {
    name: "deleteOne",
    command: "delete",
    initial: [{ _id: 1 }, { _id: 2 }],
    run: (c) => c.deleteOne({}),
    check: (r, docs) => {
      assert.equal((r as { deletedCount: number }).deletedCount, 1);
      assert.equal(docs.length, 1);
    },
  },
  {
    name: "findOneAndUpdate",
    command: "findAndModify",
    initial: [{ _id: 1, x: 11 }],
    run: (c) =>
      c.findOneAndUpdate({ _id: 1 as unknown as Document["_id"] }, { $inc: { x: 1 } }, {
        returnDocument: "before",
      }),
    check: (r, docs) => {
      assert.deepEqual(r, { _id: 1, x: 11 });
      assert.deepEqual(docs, [{ _id: 1, x: 12 }]);
    },
  },
  {
    name: "findOneAndDelete",
    command: "findAndModify",
    initial: [{ _id: 1 }, { _id: 2 }],
    run: (c) => c.findOneAndDelete({}, { sort: { _id: 1 } }),
    check: (r, docs) => {
      assert.deepEqual(r, { _id: 1 });
      assert.deepEqual(docs, [{ _id: 2 }]);
    },
  },
];

for (const c of RETRY_CASES) {
  Deno.test(`onPrimaryTransactionalWrite: ${c.name} whose reply was lost is retried and applied once`, async () => {
    await using t = await testDatabase();
    const coll = t.db.collection("c");
    if (c.initial) await coll.insertMany(c.initial);
    const client = new MongoClient(t.uri, { monitorCommands: true });
    const started: CommandStartedEvent[] = [];
    client.on("commandStarted", (e) => {
      if (e.commandName === c.command) started.push(e);
    });
    try {
      await client.connect();
      await _failPoint(t.client, { times: 1 });
      const result = await c.run(client.db(t.dbName).collection("c"));
      c.check(result, await coll.find().toArray());
      assert.equal(started.length, 2, "the first attempt and its retry");
      assert.deepEqual(started[0]!.command.txnNumber, started[1]!.command.txnNumber);
    } finally {
      await _off(t.client);
      await client.close();
    }
  });
}

Deno.test("onPrimaryTransactionalWrite: a bulk write of single statements, each losing its reply, ends exactly once", async () => {
  await using t = await testDatabase();
  const coll = t.db.collection("c");
  await coll.insertOne({ _id: 1 as unknown as Document["_id"], x: 11 });
  const client = new MongoClient(t.uri);
  try {
    await _failPoint(t.client, { times: 7 });
    const id = (n: number) => n as unknown as Document["_id"];
    const result = await client.db(t.dbName).collection("c").bulkWrite([
      { insertOne: { document: { _id: id(2), x: 22 } } },
      { updateOne: { filter: { _id: id(2) }, update: { $inc: { x: 1 } } } },
      { insertOne: { document: { _id: id(3), x: 33 } } },
      { updateOne: { filter: { _id: id(4), x: 44 }, update: { $inc: { x: 1 } }, upsert: true } },
      { insertOne: { document: { _id: id(5), x: 55 } } },
      { replaceOne: { filter: { _id: id(3) }, replacement: { x: 333 } } },
      { deleteOne: { filter: { _id: id(1) } } },
    ], { ordered: true });
    assert.equal(result.insertedCount, 3);
    assert.equal(result.matchedCount, 2);
    assert.equal(result.modifiedCount, 2);
    assert.equal(result.deletedCount, 1);
    assert.deepEqual(result.upsertedIds, { 3: 4 });
    assert.deepEqual(await coll.find().sort({ _id: 1 }).toArray(), [
      { _id: 2, x: 23 },
      { _id: 3, x: 333 },
      { _id: 4, x: 45 },
      { _id: 5, x: 55 },
    ]);
  } finally {
    await _off(t.client);
    await client.close();
  }
});

Deno.test("onPrimaryTransactionalWrite: failBeforeCommitExceptionCode fails the write before it commits", async () => {
  await using t = await testDatabase();
  const coll = t.db.collection("c");
  const client = new MongoClient(t.uri);
  try {
    // Closing the connection (the default) on both attempts: the driver gives up, nothing written.
    await _failPoint(t.client, { times: 2 }, { failBeforeCommitExceptionCode: 1 });
    await assert.rejects(client.db(t.dbName).collection("c").insertOne({ x: 1 }));
    assert.equal(await coll.countDocuments(), 0);

    // Without closing it: the statement's error is in the reply, and it was not applied.
    await _failPoint(t.client, "alwaysOn", {
      failBeforeCommitExceptionCode: 91,
      closeConnection: false,
    });
    const session = t.client.startSession();
    try {
      const reply = await t.db.command(
        { insert: "c", documents: [{ x: 2 }], txnNumber: Long.fromNumber(1001) },
        { session },
      );
      assert.equal(reply.n, 0);
      assert.equal(reply.writeErrors[0].code, 91);
      await assert.rejects(
        t.db.command({
          findAndModify: "c",
          query: {},
          update: { $set: { y: 1 } },
          upsert: true,
          txnNumber: Long.fromNumber(1002),
        }, { session }),
        (e: MongoServerError) => e.code === 91 && e.hasErrorLabel("RetryableWriteError"),
      );
    } finally {
      await session.endSession();
    }
    await _off(t.client);
    assert.equal(await coll.countDocuments(), 0);
  } finally {
    await _off(t.client);
    await client.close();
  }
});

Deno.test("onPrimaryTransactionalWrite only fires for writes with a transaction number", async () => {
  await using t = await testDatabase();
  const client = new MongoClient(t.uri, { retryWrites: false });
  try {
    await _failPoint(t.client, { times: 1 });
    const c = client.db(t.dbName).collection("c");
    await c.insertOne({ x: 1 });
    await c.updateMany({}, { $set: { y: 1 } });
    assert.equal(await t.db.collection("c").countDocuments({ y: 1 }), 1);
    // Still armed: the next retryable write loses its reply, and the retry succeeds.
    await t.db.collection("c").insertOne({ x: 2 });
    assert.equal(await t.db.collection("c").countDocuments(), 2);
  } finally {
    await _off(t.client);
    await client.close();
  }
});

Deno.test("onPrimaryTransactionalWrite with skip fires from the statement after the skipped ones, then on every write", async () => {
  await using t = await testDatabase();
  const coll = t.db.collection("c");
  await coll.insertOne({ _id: 1 as unknown as Document["_id"], x: 11 });
  const client = new MongoClient(t.uri);
  try {
    // The insert and the first update statement commit; the second loses its reply; the
    // retry finds both updates executed, so nothing fires again and the batch succeeds.
    await _failPoint(t.client, { skip: 2 });
    const id = (n: number) => n as unknown as Document["_id"];
    const result = await client.db(t.dbName).collection("c").bulkWrite([
      { insertOne: { document: { _id: id(2), x: 22 } } },
      { updateOne: { filter: { _id: id(1) }, update: { $inc: { x: 1 } } } },
      { updateOne: { filter: { _id: id(2) }, update: { $inc: { x: 1 } } } },
    ], { ordered: true });
    assert.equal(result.insertedCount, 1);
    assert.equal(result.matchedCount, 2);
    assert.equal(result.modifiedCount, 2);
    assert.deepEqual(await coll.find().sort({ _id: 1 }).toArray(), [
      { _id: 1, x: 12 },
      { _id: 2, x: 23 },
    ]);
    // Still on: the next write loses its reply too; its retry executes nothing, so fires not.
    await client.db(t.dbName).collection("c").insertOne({ _id: id(3) });
    assert.equal(await coll.countDocuments({ _id: id(3) }), 1, "applied once");
  } finally {
    await _off(t.client);
    await client.close();
  }
});
