import assert from "node:assert/strict";
import { ObjectId } from "mongodb";
import { Quarantine, type QuarantineReason } from "../../../core/archive/quarantine.ts";
import { sleep } from "../../../core/runtime/retry.ts";
import { testDatabase } from "../../support/test_db.ts";

const entry = (reason: QuarantineReason, id = new ObjectId()) => ({
  _id: id,
  numero_commande: `CMD-${id.toHexString().slice(-6)}`,
  reason,
  detail: `${reason} for a test`,
});

Deno.test("the quarantine schedules incomplete orders every interval and backs off the others", async () => {
  await using t = await testDatabase("quarantine_schedule");
  const collection = t.db.collection("archiver_quarantine");
  const quarantine = new Quarantine(collection, { retryIntervalMs: 1_000, maxBackoffMs: 5_000 });
  const incomplete = entry("incomplete");
  const invalid = entry("invalid");
  const waits: Record<string, number[]> = { incomplete: [], invalid: [] };
  for (let round = 0; round < 5; round++) {
    await quarantine.record([incomplete, invalid]);
    for (const doc of await collection.find().toArray()) {
      waits[doc.reason]!.push(doc.next_attempt.getTime() - doc.last_attempt.getTime());
    }
  }
  assert.deepEqual(waits.incomplete, [1_000, 1_000, 1_000, 1_000, 1_000]);
  assert.deepEqual(waits.invalid, [1_000, 2_000, 4_000, 5_000, 5_000], "doubling up to the bound");
  const doc = await collection.findOne({ _id: invalid._id });
  assert.equal(doc?.attempts, 5);
  assert.ok(doc!.first_seen <= doc!.last_attempt, "first_seen is kept across attempts");
  assert.equal(doc?.detail, "invalid for a test");
});

Deno.test("due() lists only the orders whose next attempt has come", async () => {
  await using t = await testDatabase("quarantine_due");
  const quarantine = new Quarantine(t.db.collection("archiver_quarantine"), {
    retryIntervalMs: 300,
  });
  const soon = entry("incomplete");
  await quarantine.record([soon]);
  await t.db.collection("archiver_quarantine").insertOne({
    ...entry("error"),
    first_seen: new Date(),
    last_attempt: new Date(),
    attempts: 3,
    next_attempt: new Date(Date.now() + 3_600_000),
  });
  assert.deepEqual(await quarantine.due(10), [], "nothing is due yet");
  await sleep(400);
  const due = await quarantine.due(10);
  assert.deepEqual(due.map((d) => String(d._id)), [String(soon._id)]);
  assert.deepEqual(await quarantine.counts(), { incomplete: 1, invalid: 0, conflict: 0, error: 1 });
});

Deno.test("release() and held() see entries another process wrote: the collection is the truth", async () => {
  await using t = await testDatabase("quarantine_release");
  const collection = t.db.collection("archiver_quarantine");
  const mine = new Quarantine(collection, { retryIntervalMs: 1_000 });
  const other = new Quarantine(collection, { retryIntervalMs: 1_000 });
  const held = entry("incomplete");
  await other.record([held]);
  const stranger = new ObjectId();
  assert.deepEqual((await mine.held([stranger, held._id])).map(String), [String(held._id)]);
  assert.equal(await mine.release([stranger]), 0);
  assert.equal(await mine.release([stranger, held._id]), 1);
  assert.equal(await collection.countDocuments(), 0);
  assert.deepEqual(await other.held([held._id]), []);
});
