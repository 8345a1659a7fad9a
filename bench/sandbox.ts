/**
 * Sandbox benchmark: bulk inserts, an indexed equality find, the archiver's four-collection
 * `$lookup` enrichment over 100,000 orders (the pipeline `enrichmentPipeline()` builds, in
 * batches of 1,000 ids as the archiver sends it), and change-stream delivery lag.
 *
 * The sandbox runs in a worker thread by default, as it does behind `archiver sandbox` in its
 * own process, so that the driver's work (encoding commands, decoding results) does not share
 * a thread with the server's; `--in-process` runs both on one thread, as tests do.
 *
 * Run: `deno task bench:sandbox [--in-process]`; `deno task bench` runs it with the others
 * through {@link benchSandbox}.
 *
 * @module
 */

import { type Document, MongoClient, ObjectId } from "mongodb";
import { type CollectionNames, DEFAULT_COLLECTION_NAMES } from "../core/archive/collections.ts";
import { enrichmentPipeline } from "../core/archive/enrich.ts";
import { startSandbox } from "../sandbox/mod.ts";

const BATCH = 1_000;
const CLIENTS = 10_000;
const COURIERS = 1_000;
const RESTAURANTS = 500;
const MENUS_PER_RESTAURANT = 10;
const _NAMES: CollectionNames = DEFAULT_COLLECTION_NAMES;

/** What the sandbox benchmark measured. */
export interface SandboxBenchResult {
  /** Orders inserted, then enriched. */
  orders: number;
  /** Orders inserted per second, in batches of 1,000. */
  insertPerSecond: number;
  /** Indexed `findOne` by `numero_commande` per second. */
  findPerSecond: number;
  /** Orders enriched per second by the four-collection `$lookup` aggregation. */
  lookupPerSecond: number;
  /** Change-stream updates delivered. */
  updates: number;
  /** Updates delivered per second. */
  streamPerSecond: number;
  /** Change-stream delivery lag, median, in ms. */
  lagP50Ms: number;
  /** Change-stream delivery lag, 99th percentile, in ms. */
  lagP99Ms: number;
}

/** Sizes and placement of a sandbox benchmark run. */
export interface SandboxBenchOptions {
  /** Run the sandbox on the driver's thread instead of a worker. @default false */
  inProcess?: boolean;
  /** Orders inserted and enriched (a multiple of 1,000). @default 100000 */
  orders?: number;
  /** Indexed finds. @default 5000 */
  finds?: number;
  /** Change-stream updates (at most `orders`). @default 10000 */
  updates?: number;
  /** Print each figure as it is measured. @default false */
  print?: boolean;
}

function _rate(count: number, ms: number): string {
  return `${Math.round(count / (ms / 1000)).toLocaleString("en-US")}/s`;
}

function _percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
}

function _pick<T>(items: T[], i: number): T {
  return items[i % items.length]!;
}

const _WORKER_NAME = "archiver-sandbox-bench";

interface _Server {
  uri: string;
  stop(): Promise<void>;
}

async function _startServer(inProcess: boolean): Promise<_Server> {
  if (inProcess) return await startSandbox();
  const worker = new Worker(import.meta.url, { type: "module", name: _WORKER_NAME });
  const uri = await new Promise<string>((resolve) => {
    worker.onmessage = (event) => resolve(event.data as string);
  });
  return {
    uri,
    stop: async () => {
      worker.postMessage("stop");
      await new Promise((resolve) => (worker.onmessage = resolve));
      worker.terminate();
    },
  };
}

if ((globalThis as { name?: string }).name === _WORKER_NAME) {
  const sandbox = await startSandbox();
  const scope = globalThis as unknown as {
    postMessage(message: unknown): void;
    onmessage: ((event: MessageEvent) => void) | null;
  };
  scope.onmessage = async () => {
    await sandbox.stop();
    scope.postMessage("stopped");
  };
  scope.postMessage(sandbox.uri);
} else if (import.meta.main) {
  await benchSandbox({ inProcess: Deno.args.includes("--in-process"), print: true });
}

/**
 * Runs the sandbox benchmark: inserts, indexed finds, `$lookup` enrichment, change-stream lag.
 *
 * @param options Sizes, placement of the server, and whether to print as it goes.
 * @returns The figures.
 */
export async function benchSandbox(
  options: SandboxBenchOptions = {},
): Promise<SandboxBenchResult> {
  const inProcess = options.inProcess ?? false;
  const ORDERS = options.orders ?? 100_000;
  const FINDS = options.finds ?? 5_000;
  const UPDATES = Math.min(ORDERS, options.updates ?? 10_000);
  const print = options.print ? console.log : () => {};
  const sandbox = await _startServer(inProcess);
  const client = new MongoClient(sandbox.uri);
  await client.connect();
  const db = client.db("bench");
  print(
    `sandbox benchmark on ${sandbox.uri} (${
      inProcess ? "same thread as the driver" : "worker thread"
    })`,
  );

  const clientIds = Array.from({ length: CLIENTS }, () => new ObjectId());
  const courierIds = Array.from({ length: COURIERS }, () => new ObjectId());
  const restaurantIds = Array.from({ length: RESTAURANTS }, () => new ObjectId());
  const menus = restaurantIds.flatMap((restaurant_id, r) =>
    Array.from({ length: MENUS_PER_RESTAURANT }, (_, m) => ({
      _id: new ObjectId(),
      restaurant_id,
      nom: `Plat ${r}-${m}`,
      categorie: m % 3 === 0 ? "entrée" : "plat",
      prix: 5 + (m * 1.5),
    }))
  );
  await db.collection(_NAMES.clients).insertMany(clientIds.map((_id, i) => ({
    _id,
    nom: `Nom${i}`,
    prenom: `Prénom${i}`,
    email: `client${i}@example.com`,
    telephone: "0600000000",
    adresse: `${i} rue de la Paix, Paris`,
  })));
  await db.collection(_NAMES.couriers).insertMany(courierIds.map((_id, i) => ({
    _id,
    nom: `Livreur${i}`,
    prenom: "Jean",
    telephone: "0700000000",
    vehicule: "vélo",
    note: 4.5,
  })));
  await db.collection(_NAMES.restaurants).insertMany(restaurantIds.map((_id, i) => ({
    _id,
    nom: `Restaurant ${i}`,
    type_cuisine: "française",
    adresse: `${i} avenue Foch`,
    note: 4.2,
  })));
  await db.collection(_NAMES.menu).insertMany(menus);

  const orders = db.collection(_NAMES.orders);
  await orders.createIndex({ numero_commande: 1 }, { unique: true });
  await orders.createIndex({ status: 1 });
  const orderIds: ObjectId[] = [];
  let started = performance.now();
  for (let b = 0; b < ORDERS / BATCH; b++) {
    const batch: Document[] = [];
    for (let j = 0; j < BATCH; j++) {
      const i = b * BATCH + j;
      const _id = new ObjectId();
      orderIds.push(_id);
      const restaurant = i % RESTAURANTS;
      batch.push({
        _id,
        numero_commande: `CMD-${String(i).padStart(6, "0")}`,
        date_commande: new Date(Date.UTC(2025, 0, 1) + i * 60_000),
        status: i % 5 === 0 ? "en_attente" : "livrée",
        client_id: _pick(clientIds, i * 7),
        restaurant_id: restaurantIds[restaurant],
        livreur_id: _pick(courierIds, i * 13),
        items: Array.from({ length: 1 + (i % 4) }, (_, k) => ({
          menu_id: menus[restaurant * MENUS_PER_RESTAURANT + k]!._id,
          quantite: 1 + (k % 3),
        })),
        date_livraison: new Date(Date.UTC(2025, 0, 1) + i * 60_000 + 35 * 60_000),
        adresse_livraison: `${i} boulevard Haussmann, 75009 Paris`,
      });
    }
    await orders.insertMany(batch);
  }
  const insertMs = performance.now() - started;
  print(
    `insert:            ${ORDERS} orders in batches of ${BATCH}: ${_rate(ORDERS, insertMs)}`,
  );

  started = performance.now();
  for (let i = 0; i < FINDS; i++) {
    const n = (i * 7919) % ORDERS;
    const found = await orders.findOne({ numero_commande: `CMD-${String(n).padStart(6, "0")}` });
    if (!found) throw new Error(`Order CMD-${n} not found`);
  }
  const findMs = performance.now() - started;
  print(`indexed find:      ${FINDS} findOne by numero_commande: ${_rate(FINDS, findMs)}`);

  started = performance.now();
  let enriched = 0;
  for (let b = 0; b < ORDERS / BATCH; b++) {
    const ids = orderIds.slice(b * BATCH, (b + 1) * BATCH);
    // The archiver's own aggregation and batch size (core/archive/archiver.ts).
    const docs = await orders
      .aggregate(enrichmentPipeline({ ids }, _NAMES), { batchSize: ids.length + 1 })
      .toArray();
    enriched += docs.length;
  }
  const lookupMs = performance.now() - started;
  if (enriched !== ORDERS) throw new Error(`Enriched ${enriched} orders instead of ${ORDERS}`);
  print(
    `$lookup enrichment: ${ORDERS} orders, batches of ${BATCH}: ${_rate(ORDERS, lookupMs)}`,
  );

  const watcher = new MongoClient(sandbox.uri);
  await watcher.connect();
  const stream = watcher.db("bench").collection(_NAMES.orders).watch(
    [{ $match: { operationType: "update" } }],
    { maxAwaitTimeMS: 1000 },
  );
  await stream.tryNext();
  const lags: number[] = [];
  const receiving = (async () => {
    while (lags.length < UPDATES) {
      const event = await stream.next() as Document;
      const sentAt = event.updateDescription.updatedFields.sent_at as number;
      lags.push(performance.timeOrigin + performance.now() - sentAt);
    }
  })();
  started = performance.now();
  for (let i = 0; i < UPDATES; i++) {
    await orders.updateOne({ _id: orderIds[i] }, {
      $set: { status: "livrée", sent_at: performance.timeOrigin + performance.now() },
    });
  }
  await receiving;
  const streamMs = performance.now() - started;
  lags.sort((a, b) => a - b);
  print(
    `change stream:     ${UPDATES} updates delivered: ${_rate(UPDATES, streamMs)}, lag p50 ${
      _percentile(lags, 50).toFixed(2)
    } ms, p99 ${_percentile(lags, 99).toFixed(2)} ms`,
  );
  await stream.close();
  await watcher.close();
  await client.close();
  await sandbox.stop();
  return {
    orders: ORDERS,
    insertPerSecond: Math.round(ORDERS / (insertMs / 1000)),
    findPerSecond: Math.round(FINDS / (findMs / 1000)),
    lookupPerSecond: Math.round(ORDERS / (lookupMs / 1000)),
    updates: UPDATES,
    streamPerSecond: Math.round(UPDATES / (streamMs / 1000)),
    lagP50Ms: _percentile(lags, 50),
    lagP99Ms: _percentile(lags, 99),
  };
}
