/**
 * Live traffic: orders created and moved through their lifecycle in real time
 * (`en_attente` → `en_preparation` → `en_livraison` → delivered, a few `annulée`) at a steady
 * rate of changes per second, for the watcher to be demonstrated and benchmarked against. Each
 * tick sends the changes due as one unordered bulk write, catching up after a slow tick so the
 * rate holds over time.
 *
 * @module
 */

import type { AnyBulkWriteOperation, Collection, Db, Document, ObjectId } from "mongodb";
import type { CollectionNames } from "../../core/archive/collections.ts";
import { type Order, OrderStatus } from "../../core/archive/model.ts";
import { orderIdKey } from "../../core/archive/order_id.ts";
import { sleep } from "../../core/runtime/retry.ts";
import { generateReferenceData, OrderFactory, type ReferenceSet } from "./generator.ts";
import { SeededRandom } from "./random.ts";
import { highestOrderSequence } from "./writer.ts";

/** How live traffic runs. */
export interface LiveOptions {
  /** Changes per second (creations and status moves). */
  rate: number;
  /** How long to run, in ms; 0 runs until the signal is aborted. */
  durationMs: number;
  /** Seeds every draw. */
  seed: number;
  /** Share of created orders with one reference to a missing document. */
  pIncomplete: number;
  /** The status value that means delivered. */
  deliveredStatus: string;
  /** Ends the run cleanly when aborted. */
  signal?: AbortSignal;
  /** Time between two bulk writes, in ms. @default 50 */
  tickMs?: number;
  /** Called about every `progressEveryMs` with the counts so far. */
  onProgress?: (progress: LiveProgress) => void;
  /** @default 5000 */
  progressEveryMs?: number;
  /** Called once with what was created so that orders have something to point to. */
  onReferencesCreated?: (
    counts: Record<"clients" | "couriers" | "restaurants" | "menu", number>,
  ) => void;
}

/** The counts of a live run so far. */
export interface LiveProgress {
  /** Every change applied. */
  changes: number;
  /** Orders created. */
  created: number;
  /** Changes per resulting status. */
  statuses: Record<string, number>;
  /** Time since the start, in ms. */
  elapsedMs: number;
}

/** An order still moving through its lifecycle. */
interface _Moving {
  _id: ObjectId;
  status: string;
  ordered: number;
}

/** Share of status moves that cancel instead of advancing. */
const CANCEL_SHARE = 0.05;
/** Share of changes that create an order once enough orders are moving. */
const CREATE_SHARE = 0.3;
/** Orders kept moving at once, loaded from the database at the start. */
const POOL_LIMIT = 5_000;

/**
 * Runs live traffic until the duration ends or the signal is aborted. Orders point to clients,
 * couriers, restaurants and menu items already in the database; when some kind is missing, a
 * small set of each is created first.
 *
 * @param db The database.
 * @param names The collection names.
 * @param options Rate, duration, seed and progress callbacks.
 * @returns The counts of the run.
 */
export async function runLiveTraffic(
  db: Db,
  names: CollectionNames,
  options: LiveOptions,
): Promise<LiveProgress> {
  const random = new SeededRandom(options.seed, 4);
  const references = await _loadReferences(db, names, options);
  const factory = new OrderFactory(references, random, { pIncomplete: options.pIncomplete });
  const orders = db.collection<Order>(names.orders);
  const moving: _Moving[] = (await orders.find(
    { status: { $in: [OrderStatus.pending, OrderStatus.preparing, OrderStatus.delivering] } },
    { projection: { _id: 1, status: 1, date_commande: 1 }, limit: POOL_LIMIT },
  ).toArray()).map((order) => ({
    _id: order._id,
    status: order.status,
    ordered: order.date_commande instanceof Date ? order.date_commande.getTime() : 0,
  }));
  let sequence = (await highestOrderSequence(db, names)) + 1;

  const tickMs = options.tickMs ?? 50;
  const progressEveryMs = options.progressEveryMs ?? 5_000;
  const progress: LiveProgress = { changes: 0, created: 0, statuses: {}, elapsedMs: 0 };
  const started = performance.now();
  let due = 0;
  let nextProgress = progressEveryMs;
  const minimumMoving = Math.max(10, Math.ceil(options.rate * 2));

  while (!options.signal?.aborted) {
    const elapsed = performance.now() - started;
    const ending = options.durationMs > 0 && elapsed >= options.durationMs;
    const until = ending ? options.durationMs : elapsed;
    const wanted = Math.floor((until * options.rate) / 1000);
    // After a long stall, drop what is more than a second behind instead of bursting.
    due = Math.max(due, wanted - Math.max(1, Math.ceil(options.rate)));
    const count = wanted - due;
    if (count > 0) {
      due = wanted;
      const operations: AnyBulkWriteOperation<Order>[] = [];
      const applied: Array<{ moving?: _Moving; status: string; created: boolean }> = [];
      const now = Date.now();
      for (let i = 0; i < count; i++) {
        if (moving.length < minimumMoving || random.chance(CREATE_SHARE)) {
          const made = factory.order(sequence++, OrderStatus.pending, { ordered: new Date(now) });
          operations.push({ insertOne: { document: made.order } });
          applied.push({
            moving: { _id: made.order._id, status: OrderStatus.pending, ordered: now },
            status: OrderStatus.pending,
            created: true,
          });
          continue;
        }
        // Take the order out of the pool so one bulk write never moves it twice.
        const index = random.int(0, moving.length - 1);
        const order = moving[index]!;
        moving[index] = moving[moving.length - 1]!;
        moving.pop();
        const next = _nextStatus(order.status, random, options.deliveredStatus);
        const set: Document = { status: next };
        if (next === OrderStatus.delivering) set.livreur_id = factory.courier();
        if (next === options.deliveredStatus) {
          set.date_livraison = new Date(Math.max(now, order.ordered + 1));
        }
        operations.push({
          updateOne: { filter: { _id: order._id, status: order.status }, update: { $set: set } },
        });
        const stillMoving = next !== options.deliveredStatus && next !== OrderStatus.cancelled;
        applied.push({
          moving: stillMoving ? { ...order, status: next } : undefined,
          status: next,
          created: false,
        });
      }
      const failed = await _bulkWrite(orders, operations);
      applied.forEach((change, i) => {
        if (failed.has(i)) return;
        progress.changes++;
        if (change.created) progress.created++;
        progress.statuses[change.status] = (progress.statuses[change.status] ?? 0) + 1;
        if (change.moving) moving.push(change.moving);
      });
      if (failed.size > 0) {
        sequence = Math.max(sequence, (await highestOrderSequence(db, names)) + 1);
      }
    }
    progress.elapsedMs = Math.min(performance.now() - started, until);
    if (progress.elapsedMs >= nextProgress) {
      nextProgress += progressEveryMs;
      options.onProgress?.({ ...progress, statuses: { ...progress.statuses } });
    }
    if (ending) break;
    try {
      await sleep(tickMs, options.signal);
    } catch {
      break;
    }
  }
  progress.elapsedMs = performance.now() - started;
  if (options.durationMs > 0) progress.elapsedMs = Math.min(progress.elapsedMs, options.durationMs);
  return progress;
}

function _nextStatus(status: string, random: SeededRandom, delivered: string): string {
  if (status === OrderStatus.delivering) return delivered;
  if (random.chance(CANCEL_SHARE)) return OrderStatus.cancelled;
  return status === OrderStatus.pending ? OrderStatus.preparing : OrderStatus.delivering;
}

/** Sends the operations; returns the indexes of those that failed or matched nothing. */
async function _bulkWrite(
  orders: Collection<Order>,
  operations: AnyBulkWriteOperation<Order>[],
): Promise<Set<number>> {
  const failed = new Set<number>();
  try {
    await orders.bulkWrite(operations, { ordered: false });
  } catch (error) {
    const errors = (error as { writeErrors?: unknown }).writeErrors;
    if (!Array.isArray(errors) && !(errors && typeof errors === "object")) throw error;
    for (const each of Object.values(errors as object)) {
      const index = (each as { index?: unknown }).index;
      if (typeof index === "number") failed.add(index);
    }
  }
  return failed;
}

async function _loadReferences(
  db: Db,
  names: CollectionNames,
  options: Pick<LiveOptions, "seed" | "onReferencesCreated">,
): Promise<ReferenceSet> {
  const load = async (): Promise<ReferenceSet> => {
    const clients = await db.collection(names.clients)
      .find({}, { projection: { _id: 1, adresse: 1 }, limit: 5_000 }).toArray();
    const couriers = await db.collection(names.couriers)
      .find({}, { projection: { _id: 1 }, limit: 1_000 }).toArray();
    const restaurants = await db.collection(names.restaurants)
      .find({}, { projection: { _id: 1 }, limit: 500 }).toArray();
    const menu = await db.collection(names.menu).find(
      { restaurant_id: { $in: restaurants.map((restaurant) => restaurant._id) } },
      { projection: { _id: 1, restaurant_id: 1 } },
    ).toArray();
    const byRestaurant = new Map<string, ObjectId[]>();
    for (const item of menu) {
      const key = orderIdKey(item.restaurant_id);
      byRestaurant.set(key, [...(byRestaurant.get(key) ?? []), item._id as ObjectId]);
    }
    return {
      clients: clients.map((client) => ({
        _id: client._id as ObjectId,
        adresse: typeof client.adresse === "string" ? client.adresse : "",
      })),
      couriers: couriers.map((courier) => courier._id as ObjectId),
      restaurants: restaurants
        .map((restaurant) => ({
          _id: restaurant._id as ObjectId,
          menu: byRestaurant.get(orderIdKey(restaurant._id)) ?? [],
        }))
        .filter((restaurant) => restaurant.menu.length > 0),
    };
  };
  const found = await load();
  if (found.clients.length > 0 && found.couriers.length > 0 && found.restaurants.length > 0) {
    return found;
  }
  const data = generateReferenceData({
    seed: options.seed,
    clients: 50,
    couriers: 10,
    restaurants: 10,
  });
  await db.collection(names.clients).insertMany(data.clients, { ordered: false });
  await db.collection(names.couriers).insertMany(data.couriers, { ordered: false });
  await db.collection(names.restaurants).insertMany(data.restaurants, { ordered: false });
  await db.collection(names.menu).insertMany(data.menu, { ordered: false });
  options.onReferencesCreated?.({
    clients: data.clients.length,
    couriers: data.couriers.length,
    restaurants: data.restaurants.length,
    menu: data.menu.length,
  });
  return await load();
}
