import assert from "node:assert/strict";
import { BSON, ObjectId } from "mongodb";
import { join } from "node:path";
import { OrderSample } from "../../../plugins/simulate/export.ts";
import { toExtendedJson, writeExtendedJson } from "../../../core/runtime/extended_json.ts";
import { generateDataset } from "../../../plugins/simulate/generator.ts";
import type { Order } from "../../../core/archive/model.ts";
import { tempDir } from "../../support/cli.ts";

function orders(count: number): Order[] {
  const all: Order[] = [];
  for (
    const batch of generateDataset({
      seed: 5,
      count,
      pDelivered: 0.5,
      pIncomplete: 0,
      clients: 5,
      couriers: 2,
      restaurants: 2,
      days: 3,
      now: new Date("2025-10-16T12:00:00Z"),
      firstSequence: 1,
    })
  ) {
    if (batch.kind === "orders") all.push(...batch.documents);
  }
  return all;
}

Deno.test("OrderSample keeps a reproducible sample of the stream, in number order", () => {
  const all = orders(500);
  const take = (seed: number) => {
    const sample = new OrderSample(20, seed);
    for (const order of all) sample.offer(order);
    return sample.orders().map((order) => order.numero_commande);
  };
  const first = take(1);
  assert.equal(first.length, 20);
  assert.deepEqual(take(1), first);
  assert.notDeepEqual(take(2), first);
  assert.deepEqual([...first].sort(), first);
  assert.ok(first.at(-1)! > "CMD-000020", "the sample reaches past the first orders");
});

Deno.test("writeExtendedJson() writes a sample in which ObjectIds and Dates survive", async () => {
  await using dir = await tempDir();
  const path = join(dir.path, "sample.json");
  const sample = orders(10);
  await writeExtendedJson(path, sample);
  const text = await Deno.readTextFile(path);
  assert.match(text, /"\$oid"/);
  assert.match(text, /"\$date"/);
  const read = BSON.EJSON.parse(text) as Order[];
  assert.equal(read.length, 10);
  assert.ok(read[0]!._id instanceof ObjectId);
  assert.ok(read[0]!.date_commande instanceof Date);
  assert.deepEqual(read, sample);
  assert.equal(toExtendedJson([]), "[]\n");
});
