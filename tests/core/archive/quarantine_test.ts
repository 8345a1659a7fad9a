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

Deno.test("record() says which orders entered the quarantine now and which it already held, whoever put them there", async () => {
  await using t = await testDatabase("quarantine_record_new");
  const collection = t.db.collection("archiver_quarantine");
  const mine = new Quarantine(collection, { retryIntervalMs: 1_000 });
  const other = new Quarantine(collection, { retryIntervalMs: 1_000 });
  // Ids of several BSON types: the answer follows the operations, not an id's string form.
  const ids: unknown[] = [new ObjectId(), 42, "42", { shop: 7, n: 1 }, new ObjectId()];
  const entries = ids.map((id, i) => ({
    _id: id,
    numero_commande: `CMD-${i}`,
    reason: (i % 2 === 0 ? "incomplete" : "invalid") as QuarantineReason,
    detail: "for a test",
  }));
  assert.deepEqual(await mine.record([]), { added: [], kept: [] });
  const byOther = await other.record([entries[1]!, entries[3]!]);
  assert.deepEqual(byOther.added.map((e) => e.numero_commande), ["CMD-1", "CMD-3"]);
  const first = await mine.record(entries);
  assert.deepEqual(first.added.map((e) => e.numero_commande), ["CMD-0", "CMD-2", "CMD-4"]);
  assert.deepEqual(first.kept.map((e) => e.numero_commande), ["CMD-1", "CMD-3"]);
  const again = await mine.record(entries);
  assert.deepEqual(again.added, [], "a retry adds nothing new");
  assert.equal(again.kept.length, entries.length);
  assert.equal(await collection.countDocuments(), entries.length);
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

const stored = (id: unknown, reason: QuarantineReason, firstSeen: Date, number?: string) => ({
  _id: id,
  numero_commande: number ?? `N-${String(id)}`,
  reason,
  detail: `${reason} for a test`,
  first_seen: firstSeen,
  last_attempt: firstSeen,
  attempts: 2,
  next_attempt: new Date(firstSeen.getTime() + 60_000),
});

Deno.test("list() gives the oldest entries first, by reason, bounded, with the total", async () => {
  await using t = await testDatabase("quarantine_list");
  const collection = t.db.collection("archiver_quarantine");
  const at = (minute: number) => new Date(Date.UTC(2025, 9, 14, 10, minute));
  // Written by hand: entries another process put there.
  await collection.insertMany([
    stored("c", "incomplete", at(3)),
    stored(1, "conflict", at(1)),
    stored(new ObjectId(), "incomplete", at(2)),
    stored({ shop: 2 }, "error", at(0)),
  ] as never[]);
  const quarantine = new Quarantine(collection, { retryIntervalMs: 1_000 });
  const all = await quarantine.list();
  assert.equal(all.total, 4);
  assert.deepEqual(
    all.entries.map((e) => e.first_seen.getTime()),
    [0, 1, 2, 3].map((m) => at(m).getTime()),
  );
  const cases: Array<[Parameters<Quarantine["list"]>[0], number, string[]]> = [
    [{ reason: "incomplete" }, 2, ["incomplete", "incomplete"]],
    [{ reason: "conflict" }, 1, ["conflict"]],
    [{ reason: "invalid" }, 0, []],
    [{ limit: 2 }, 4, ["error", "conflict"]],
    [{ reason: "incomplete", limit: 1 }, 2, ["incomplete"]],
  ];
  for (const [options, total, reasons] of cases) {
    const { total: counted, entries } = await quarantine.list(options);
    assert.equal(counted, total, JSON.stringify(options));
    assert.deepEqual(entries.map((e) => e.reason), reasons, JSON.stringify(options));
  }
});

Deno.test("find() finds one order by _id of any type, or every order holding a number", async () => {
  await using t = await testDatabase("quarantine_find");
  const collection = t.db.collection("archiver_quarantine");
  const now = new Date();
  const oid = new ObjectId();
  await collection.insertMany([
    stored(1, "incomplete", now, "CMD-1"),
    stored("1", "incomplete", now, "CMD-2"),
    stored(oid, "conflict", now, "CMD-2"),
    stored({ shop: 3, n: 12 }, "error", now, "CMD-3"),
  ] as never[]);
  const quarantine = new Quarantine(collection, { retryIntervalMs: 1_000 });
  const cases: Array<[Parameters<Quarantine["find"]>[0], string[]]> = [
    [{ _id: 1 }, ["CMD-1"]],
    [{ _id: 1.0 }, ["CMD-1"]],
    [{ _id: "1" }, ["CMD-2"]],
    [{ _id: oid }, ["CMD-2"]],
    [{ _id: { shop: 3, n: 12 } }, ["CMD-3"]],
    [{ _id: { n: 12, shop: 3 } }, []],
    [{ _id: new ObjectId() }, []],
    [{ numero_commande: "CMD-2" }, ["CMD-2", "CMD-2"]],
    [{ numero_commande: "CMD-9" }, []],
  ];
  for (const [selector, numbers] of cases) {
    const found = await quarantine.find(selector);
    assert.deepEqual(found.map((e) => e.numero_commande), numbers, JSON.stringify(selector));
  }
});

Deno.test("releaseToRecord() records first, then deletes; a re-run after a crash between the two finishes the job", async (t) => {
  await using tdb = await testDatabase("quarantine_release_record");
  const collection = tdb.db.collection("archiver_quarantine");
  const released = tdb.db.collection("archiver_released");
  const quarantine = new Quarantine(collection, { retryIntervalMs: 1_000 });
  const first = new Date(Date.UTC(2025, 9, 14));
  const a = new ObjectId();
  const b = { legacy: 7 };
  await collection.insertMany([
    { ...stored(a, "conflict", first, "CMD-1"), conflict_with: "other" },
    stored(b, "incomplete", first, "CMD-2"),
    stored(3, "error", first, "CMD-3"),
  ] as never[]);

  await t.step(
    "released orders are recorded with server time, who and why, and leave",
    async () => {
      const before = Date.now();
      const result = await quarantine.releaseToRecord([a, b, a, "ghost"], {
        into: released,
        by: "ops@host",
        note: "customer refunded",
      });
      assert.equal(result.released.length, 2, "a given twice is released once");
      assert.deepEqual(result.notFound, ["ghost"]);
      assert.deepEqual(result.alreadyReleased, []);
      const record = await released.findOne({ _id: a });
      assert.deepEqual(
        { ...record, released_at: undefined },
        {
          _id: a,
          numero_commande: "CMD-1",
          reason: "conflict",
          detail: "conflict for a test",
          conflict_with: "other",
          first_seen: first,
          attempts: 2,
          released_at: undefined,
          released_by: "ops@host",
          note: "customer refunded",
        },
      );
      assert.ok(record!.released_at instanceof Date);
      assert.ok(Math.abs(record!.released_at.getTime() - before) < 600_000, "the server's now");
      assert.deepEqual((await collection.find().toArray()).map((d) => d._id), [3]);
    },
  );

  await t.step("run again: already released, nothing changes", async () => {
    const recorded = await released.find().sort({ numero_commande: 1 }).toArray();
    const result = await quarantine.releaseToRecord([a, b], { into: released, by: "x@y" });
    assert.equal(result.released.length, 0);
    assert.equal(result.alreadyReleased.length, 2);
    assert.deepEqual(await released.find().sort({ numero_commande: 1 }).toArray(), recorded);
  });

  await t.step(
    "a crash after the record, before the delete: the re-run keeps the first record and deletes",
    async () => {
      const crashed = {
        ...stored(3, "error", first, "CMD-3"),
        released_at: first,
        released_by: "a@b",
      };
      await released.insertOne(crashed as never);
      const result = await quarantine.releaseToRecord([3], { into: released, by: "c@d" });
      assert.equal(result.released.length, 1);
      assert.equal(await collection.countDocuments(), 0, "left the quarantine");
      const record = await released.findOne({ _id: 3 } as never);
      assert.equal(record?.released_by, "a@b", "the first record is kept");
      assert.equal(await released.countDocuments(), 3);
    },
  );
});

Deno.test("chunks() walks every entry (or one reason) once while a retry takes some out", async () => {
  await using t = await testDatabase("quarantine_chunks");
  const collection = t.db.collection("archiver_quarantine");
  const now = new Date();
  await collection.insertMany(
    Array.from({ length: 7 }, (_, i) => stored(i, i % 2 ? "error" : "incomplete", now)) as never[],
  );
  const quarantine = new Quarantine(collection, { retryIntervalMs: 1_000 });
  const seen: unknown[][] = [];
  for await (const chunk of quarantine.chunks({ chunkSize: 3 })) {
    seen.push(chunk.map((e) => e._id));
    await quarantine.release(chunk.slice(0, 1).map((e) => e._id));
  }
  assert.deepEqual(seen, [[0, 1, 2], [3, 4, 5], [6]]);
  const errors: unknown[] = [];
  for await (const chunk of quarantine.chunks({ reason: "error", chunkSize: 10 })) {
    errors.push(...chunk.map((e) => e._id));
  }
  assert.deepEqual(errors, [1, 5]);
});
