import assert from "node:assert/strict";
import { testDatabase } from "../support/test_db.ts";

// A getMore without batchSize returns up to 16 MB: with hundreds of thousands of tiny documents
// the batch array's keys add megabytes, which once took the reply past the encoder's buffer and
// closed the connection (seen at the end of a 10-minute watch soak).
Deno.test("a cursor over 400,000 tiny documents returns them all in batches of at most 16 MB", async () => {
  await using t = await testDatabase("large_batch");
  const collection = t.db.collection("tiny");
  // About 50 bytes each: 16 MB of them is some 335,000 documents, whose keys add 2.7 MB.
  const docs = Array.from({ length: 400_000 }, (_, i) => ({ s: String(i).padStart(20, "0") }));
  for (let i = 0; i < docs.length; i += 50_000) {
    await collection.insertMany(docs.slice(i, i + 50_000), { ordered: false });
  }
  let read = 0;
  for await (const _ of collection.find({})) read++;
  assert.equal(read, docs.length);
});
