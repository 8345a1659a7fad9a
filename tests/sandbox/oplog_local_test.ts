import assert from "node:assert/strict";
import {
  type Document,
  type MongoBulkWriteError,
  MongoClient,
  type MongoServerError,
  Timestamp,
} from "mongodb";
import { dedicatedSandbox } from "../support/test_db.ts";
import { readOplogWindow } from "../../core/stream/oplog_window.ts";

const _edge = (client: MongoClient, natural: 1 | -1) =>
  client.db("local").collection("oplog.rs").find({}, { sort: { $natural: natural }, limit: 1 })
    .next();

Deno.test("local.oplog.rs shows each write as MongoDB shapes oplog entries", async () => {
  await using sandbox = await dedicatedSandbox();
  if (!sandbox) return; // a real server: its oplog is not ours to shape
  const client = new MongoClient(sandbox.uri);
  try {
    const orders = client.db("shop").collection("orders");
    await orders.insertOne({ _id: 1 as unknown as Document["_id"], status: "new" });
    await orders.updateOne({ _id: 1 as unknown as Document["_id"] }, {
      $set: { status: "livrée" },
    });
    await orders.deleteOne({ _id: 1 as unknown as Document["_id"] });
    const entries = await client.db("local").collection("oplog.rs")
      .find({ ns: "shop.orders" }).toArray();
    assert.deepEqual(entries.map((e) => e.op), ["i", "u", "d"]);
    const [insert, update, remove] = entries;
    assert.deepEqual(insert!.o, { _id: 1, status: "new" });
    assert.deepEqual(update!.o2, { _id: 1 });
    assert.deepEqual(update!.o, { $v: 2, diff: { u: { status: "livrée" } } });
    assert.deepEqual(remove!.o, { _id: 1 });
    for (const entry of entries) {
      assert.ok(entry.ts instanceof Timestamp, "ts is a Timestamp");
      assert.ok(entry.wall instanceof Date, "wall is a Date");
      assert.equal(typeof entry.t, "number");
    }
    const create = await client.db("local").collection("oplog.rs")
      .findOne({ op: "c", ns: "shop.$cmd" });
    assert.equal(create?.o.create, "orders");

    const first = await _edge(client, 1);
    const last = await _edge(client, -1);
    assert.equal(first?.op, "c", "the collection's creation comes first");
    assert.equal(last?.op, "d", "the delete comes last");
  } finally {
    await client.close();
  }
});

Deno.test("writes to local.oplog.rs are refused with InvalidNamespace, as on a replica set", async () => {
  await using sandbox = await dedicatedSandbox();
  if (!sandbox) return; // a real server: its oplog is not ours to shape
  const client = new MongoClient(sandbox.uri);
  try {
    const oplog = client.db("local").collection("oplog.rs");
    await assert.rejects(oplog.insertOne({ op: "n" }), (e: MongoBulkWriteError) => {
      assert.equal(e.code, 73);
      return true;
    });
    await assert.rejects(oplog.updateMany({}, { $set: { x: 1 } }), (e: MongoServerError) => {
      assert.equal(e.code, 73);
      return true;
    });
    await assert.rejects(oplog.deleteMany({}), (e: MongoServerError) => {
      assert.equal(e.code, 73);
      return true;
    });
    await assert.rejects(oplog.findOneAndDelete({}), (e: MongoServerError) => {
      assert.equal(e.code, 73);
      return true;
    });
  } finally {
    await client.close();
  }
});

Deno.test("the oplog window shrinks as entries fall out of a tiny oplog", async () => {
  await using sandbox = await dedicatedSandbox({ oplogSize: 3 });
  if (!sandbox) return; // a real server: its oplog is not ours to shape
  const client = new MongoClient(sandbox.uri);
  try {
    const c = client.db("shop").collection("orders");
    await c.insertOne({ n: 1 }); // create + insert: two entries
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    await c.insertOne({ n: 2 });
    const before = await readOplogWindow(client);
    assert.equal(before.kind, "ok");
    if (before.kind !== "ok") return;
    assert.ok(before.window.windowSeconds >= 1, `window ${before.window.windowSeconds}s`);

    await c.insertMany([{ n: 3 }, { n: 4 }]);
    const after = await readOplogWindow(client);
    assert.equal(after.kind, "ok");
    if (after.kind !== "ok") return;
    // The first second's entries fell out: the oldest left is n: 2's, and the window is what lies
    // between it and the newest (0 s, or 1 s when the insertMany ran into the next second).
    const first = await _edge(client, 1);
    assert.equal(first?.o.n, 2);
    assert.ok(after.window.first.equals(first?.ts), "the window starts at the oldest entry left");
    assert.ok(after.window.first.greaterThan(before.window.first), "the first entry moved on");
    assert.ok(after.window.windowSeconds <= 1, `window ${after.window.windowSeconds}s`);
  } finally {
    await client.close();
  }
});

Deno.test("an empty oplog has no window", async () => {
  await using sandbox = await dedicatedSandbox();
  if (!sandbox) return; // a real server: its oplog is not ours to shape
  const client = new MongoClient(sandbox.uri);
  try {
    assert.deepEqual(await readOplogWindow(client), { kind: "empty" });
  } finally {
    await client.close();
  }
});

Deno.test("without the privilege on local the window is unknown, not an error", async () => {
  await using sandbox = await dedicatedSandbox();
  if (!sandbox) return; // a real server: its oplog is not ours to shape
  const client = new MongoClient(sandbox.uri, { retryReads: false });
  try {
    await client.db("shop").collection("orders").insertOne({ n: 1 });
    await client.db("admin").command({
      configureFailPoint: "failCommand",
      mode: "alwaysOn",
      data: { failCommands: ["find"], errorCode: 13, namespace: "local.oplog.rs" },
    });
    assert.deepEqual(await readOplogWindow(client), {
      kind: "unauthorized",
      message: "unknown (needs read on local: clusterMonitor role)",
    });
  } finally {
    await client.close();
  }
});

Deno.test("local is listed with oplog.rs as a capped collection whose stats give size and maxSize", async () => {
  await using sandbox = await dedicatedSandbox({ oplogSize: 10 });
  if (!sandbox) return; // a real server: its oplog is not ours to shape
  const client = new MongoClient(sandbox.uri);
  try {
    const local = client.db("local");
    const empty = await local.command({ collStats: "oplog.rs" });
    assert.equal(empty.count, 0);
    assert.ok(empty.maxSize > 0, "an empty oplog still has a configured size");

    await client.db("shop").collection("orders").insertMany([{ n: 1 }, { n: 2 }, { n: 3 }]);
    const { databases } = await client.db("admin").admin().listDatabases();
    const names = databases.map((d) => d.name);
    assert.ok(names.includes("local") && names.includes("shop"), `databases: ${names}`);
    assert.ok(Number(databases.find((d) => d.name === "local")?.sizeOnDisk) > 0);

    const [info] = await local.listCollections({ name: "oplog.rs" }, { nameOnly: false })
      .toArray() as Document[];
    assert.equal(info?.type, "collection");
    assert.equal(info?.options?.capped, true);
    assert.ok(Number(info?.options?.size) > 0);
    assert.deepEqual(
      (await local.listCollections({}, { nameOnly: true }).toArray()).map((c) => c.name),
      ["oplog.rs"],
    );

    const stats = await local.command({ collStats: "oplog.rs" });
    const [agg] = await local.collection("oplog.rs")
      .aggregate([{ $collStats: { storageStats: {}, count: {} } }]).toArray();
    for (const s of [stats, agg!.storageStats]) {
      assert.equal(s.capped, true);
      assert.equal(s.count, 4, "the collection's creation and three inserts");
      assert.ok(s.size > 0 && s.maxSize >= s.size, `size ${s.size}, maxSize ${s.maxSize}`);
      // The sandbox bounds the oplog by entries: how full it is by size is how full by count.
      assert.ok(Math.abs(s.size / s.maxSize - 4 / 10) < 0.01);
    }
    assert.equal(agg!.count, 4);
    assert.equal(agg!.ns, "local.oplog.rs");
  } finally {
    await client.close();
  }
});
