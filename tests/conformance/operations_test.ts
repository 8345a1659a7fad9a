import assert from "node:assert/strict";
import type { BulkWriteResult } from "mongodb";
import {
  type BulkWriteFailure,
  bulkWriteResultToDocument,
  clientBulkWriteModels,
  clientBulkWriteResultToDocument,
} from "./operations.ts";
import { driverSkipReason } from "./driver_skips.ts";

Deno.test("clientBulkWriteModels turns the format's models into the driver's", () => {
  const models = clientBulkWriteModels([
    { insertOne: { namespace: "db.c", document: { _id: 1 } } },
    { updateMany: { namespace: "db.c", filter: {}, update: { $set: { x: 1 } }, upsert: true } },
    { deleteOne: { namespace: "db.d", filter: { _id: 1 } } },
  ]);
  assert.deepEqual(models, [
    { name: "insertOne", namespace: "db.c", document: { _id: 1 } },
    { name: "updateMany", namespace: "db.c", filter: {}, update: { $set: { x: 1 } }, upsert: true },
    { name: "deleteOne", namespace: "db.d", filter: { _id: 1 } },
  ]);
  assert.throws(
    () => clientBulkWriteModels([{ renameOne: {} }]),
    /Unsupported clientBulkWrite model/,
  );
});

Deno.test("clientBulkWriteResultToDocument keys verbose results by model index", () => {
  const doc = clientBulkWriteResultToDocument({
    acknowledged: true,
    insertedCount: 1,
    upsertedCount: 0,
    matchedCount: 0,
    modifiedCount: 0,
    deletedCount: 0,
    insertResults: new Map([[0, { insertedId: 1 }]]),
  });
  assert.deepEqual(doc.insertResults, { "0": { insertedId: 1 } });
  assert.deepEqual(doc.updateResults, {});
});

Deno.test("driverSkipReason names only the driver's own limitations", () => {
  const path = "source/crud/tests/unified/bypassDocumentValidation.json";
  assert.match(
    driverSkipReason(path, "InsertMany passes bypassDocumentValidation: false") ?? "",
    /NODE-6484/,
  );
  assert.equal(
    driverSkipReason(path, "Aggregate with $out passes bypassDocumentValidation"),
    undefined,
  );
  assert.equal(
    driverSkipReason("source/crud/tests/unified/find.json", "Find with filter"),
    undefined,
  );
});

Deno.test("bulkWriteResultToDocument reports, for a failed bulk write, the ids the server inserted", async (t) => {
  const result = (insertedCount: number, ids: Record<number, unknown>) =>
    ({
      insertedCount,
      matchedCount: 0,
      modifiedCount: 0,
      deletedCount: 0,
      upsertedCount: 0,
      upsertedIds: {},
      insertedIds: ids,
    }) as unknown as BulkWriteResult;
  const cases: Array<[string, BulkWriteResult, BulkWriteFailure | undefined, unknown]> = [
    ["success: every id", result(2, { 0: "a", 2: "b" }), undefined, { 0: "a", 2: "b" }],
    [
      "ordered, nothing inserted",
      result(0, { 0: "a" }),
      { writeErrorIndexes: [], ordered: true },
      {},
    ],
    [
      "ordered, stopped at a write error",
      result(1, { 0: "a", 1: "b", 3: "c" }),
      { writeErrorIndexes: [1], ordered: true },
      { 0: "a" },
    ],
    [
      "unordered, write errors name the failures",
      result(2, { 0: "a", 1: "b", 2: "c" }),
      { writeErrorIndexes: [1], ordered: false },
      { 0: "a", 2: "c" },
    ],
    [
      "unordered, which failed is unknown",
      result(1, { 0: "a", 1: "b" }),
      { writeErrorIndexes: [], ordered: false },
      undefined,
    ],
  ];
  for (const [name, input, failure, expected] of cases) {
    await t.step(name, () => {
      assert.deepEqual(bulkWriteResultToDocument(input, failure).insertedIds, expected);
    });
  }
});
