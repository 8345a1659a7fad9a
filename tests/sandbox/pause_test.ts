import assert from "node:assert/strict";
import { MongoClient } from "mongodb";
import { startSandbox } from "../../sandbox/mod.ts";

Deno.test("pause() refuses connections and resume() serves the same data on the same port", async () => {
  await using sandbox = await startSandbox();
  const client = new MongoClient(sandbox.uri, { serverSelectionTimeoutMS: 300 });
  try {
    const orders = client.db("pause").collection("Commande");
    await orders.insertOne({ numero_commande: "CMD-000001" });
    const port = sandbox.port;

    await sandbox.pause();
    assert.equal(sandbox.paused, true);
    await sandbox.pause(); // a second pause is a no-op
    await assert.rejects(
      Deno.connect({ hostname: "127.0.0.1", port }),
      Deno.errors.ConnectionRefused,
    );
    await assert.rejects(orders.findOne({})); // the pooled socket was closed by the server

    await sandbox.resume();
    assert.equal(sandbox.paused, false);
    assert.equal(sandbox.port, port);
    await sandbox.resume(); // a second resume is a no-op
    assert.equal((await orders.findOne({}))?.numero_commande, "CMD-000001");
    await orders.insertOne({ numero_commande: "CMD-000002" });
    assert.equal(await orders.countDocuments(), 2);
  } finally {
    await client.close();
  }
});

Deno.test("a change stream resumes across pause() and resume() without losing an event", async () => {
  await using sandbox = await startSandbox();
  const client = new MongoClient(sandbox.uri, { serverSelectionTimeoutMS: 5_000 });
  try {
    const orders = client.db("pause_stream").collection("Commande");
    const stream = orders.watch([], { maxAwaitTimeMS: 100 });
    try {
      await stream.tryNext(); // opens the stream
      await orders.insertOne({ n: 1 });
      assert.equal((await stream.next()).operationType, "insert");
      await sandbox.pause();
      const resumed = (async () => {
        await new Promise((resolve) => setTimeout(resolve, 300));
        await sandbox.resume();
        await orders.insertOne({ n: 2 });
      })();
      const event = await stream.next();
      await resumed;
      assert.equal((event as { fullDocument?: { n: number } }).fullDocument?.n, 2);
    } finally {
      await stream.close();
    }
  } finally {
    await client.close();
  }
});

Deno.test("stop() while paused ends cleanly; pause() after stop() does nothing", async () => {
  const sandbox = await startSandbox();
  await sandbox.pause();
  await sandbox.stop();
  await sandbox.pause();
  await sandbox.resume();
  await assert.rejects(
    Deno.connect({ hostname: "127.0.0.1", port: sandbox.port }),
    Deno.errors.ConnectionRefused,
  );
});
