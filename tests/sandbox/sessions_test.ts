import assert from "node:assert/strict";
import { testDatabase } from "../support/test_db.ts";

Deno.test("$listLocalSessions lists the sessions the server has seen, and endSessions forgets them", async () => {
  await using t = await testDatabase();
  const session = t.client.startSession();
  try {
    await t.db.collection("c").insertOne({ x: 1 }, { session });
    const id = session.id!.id.toString("hex");
    const listed = async () => {
      const docs = await t.client.db("admin").aggregate([{ $listLocalSessions: {} }]).toArray();
      return docs.map((d) => d._id.id.toString("hex"));
    };
    assert.ok((await listed()).includes(id));
    const [first] = await t.client.db("admin").aggregate([{ $listLocalSessions: {} }]).toArray();
    assert.ok(first?.lastUse instanceof Date);
    assert.equal(first?._id.uid.buffer.length, 32);
    await t.client.db("admin").command({ endSessions: [session.id] });
    assert.ok(!(await listed()).includes(id));
  } finally {
    await session.endSession();
  }
});

Deno.test("$out refuses the linearizable read concern", async () => {
  await using t = await testDatabase();
  await t.db.collection("c").insertOne({ x: 1 });
  await assert.rejects(
    t.db.command({
      aggregate: "c",
      pipeline: [{ $out: "d" }],
      cursor: {},
      readConcern: { level: "linearizable" },
    }),
    (e: { code?: number }) => e.code === 72,
  );
});
