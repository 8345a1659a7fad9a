/**
 * Sandbox benchmark: bulk inserts, an indexed equality find, the archiver's four-collection
 * `$lookup` enrichment over 100,000 orders, and change-stream delivery lag.
 *
 * The sandbox runs in a worker thread by default, as it does behind `archiver sandbox` in its
 * own process, so that the driver's work (encoding commands, decoding results) does not share
 * a thread with the server's; `--in-process` runs both on one thread, as tests do.
 *
 * Run: `deno task bench:sandbox [--in-process]`
 *
 * @module
 */

import { type Document, MongoClient, ObjectId } from "mongodb";
import { startSandbox } from "../core/sandbox/mod.ts";

const ORDERS = 100_000;
const BATCH = 1_000;
const CLIENTS = 10_000;
const COURIERS = 1_000;
const RESTAURANTS = 500;
const MENUS_PER_RESTAURANT = 10;
const FINDS = 5_000;
const UPDATES = 10_000;

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
} else {
  await _run(Deno.args.includes("--in-process"));
}

async function _run(inProcess: boolean): Promise<void> {
  const sandbox = await _startServer(inProcess);
  const client = new MongoClient(sandbox.uri);
  await client.connect();
  const db = client.db("bench");
  console.log(
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
  await db.collection("Client").insertMany(clientIds.map((_id, i) => ({
    _id,
    nom: `Nom${i}`,
    prenom: `Prénom${i}`,
    email: `client${i}@example.com`,
    telephone: "0600000000",
    adresse: `${i} rue de la Paix, Paris`,
  })));
  await db.collection("Livreur").insertMany(courierIds.map((_id, i) => ({
    _id,
    nom: `Livreur${i}`,
    prenom: "Jean",
    telephone: "0700000000",
    vehicule: "vélo",
    note: 4.5,
  })));
  await db.collection("Restaurants").insertMany(restaurantIds.map((_id, i) => ({
    _id,
    nom: `Restaurant ${i}`,
    type_cuisine: "française",
    adresse: `${i} avenue Foch`,
    note: 4.2,
  })));
  await db.collection("Menu").insertMany(menus);

  const orders = db.collection("Commande");
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
  console.log(
    `insert:            ${ORDERS} orders in batches of ${BATCH}: ${_rate(ORDERS, insertMs)}`,
  );

  started = performance.now();
  for (let i = 0; i < FINDS; i++) {
    const n = (i * 7919) % ORDERS;
    const found = await orders.findOne({ numero_commande: `CMD-${String(n).padStart(6, "0")}` });
    if (!found) throw new Error(`Order CMD-${n} not found`);
  }
  const findMs = performance.now() - started;
  console.log(`indexed find:      ${FINDS} findOne by numero_commande: ${_rate(FINDS, findMs)}`);

  const enrichment = (ids: ObjectId[]) => [
    { $match: { _id: { $in: ids } } },
    { $lookup: { from: "Client", localField: "client_id", foreignField: "_id", as: "client" } },
    { $lookup: { from: "Livreur", localField: "livreur_id", foreignField: "_id", as: "livreur" } },
    {
      $lookup: {
        from: "Restaurants",
        localField: "restaurant_id",
        foreignField: "_id",
        as: "restaurant",
      },
    },
    { $lookup: { from: "Menu", localField: "items.menu_id", foreignField: "_id", as: "menus" } },
    {
      $project: {
        numero_commande: 1,
        status: 1,
        date_commande: 1,
        date_livraison: 1,
        client: { $arrayElemAt: ["$client", 0] },
        livreur: { $arrayElemAt: ["$livreur", 0] },
        restaurant: { $arrayElemAt: ["$restaurant", 0] },
        items: {
          $map: {
            input: "$items",
            as: "it",
            in: {
              menu_id: "$$it.menu_id",
              quantite: "$$it.quantite",
              prix: {
                $arrayElemAt: ["$menus.prix", { $indexOfArray: ["$menus._id", "$$it.menu_id"] }],
              },
            },
          },
        },
        duree_livraison_min: {
          $dateDiff: { startDate: "$date_commande", endDate: "$date_livraison", unit: "minute" },
        },
      },
    },
  ];
  started = performance.now();
  let enriched = 0;
  for (let b = 0; b < ORDERS / BATCH; b++) {
    const ids = orderIds.slice(b * BATCH, (b + 1) * BATCH);
    const docs = await orders.aggregate(enrichment(ids)).toArray();
    enriched += docs.length;
  }
  const lookupMs = performance.now() - started;
  if (enriched !== ORDERS) throw new Error(`Enriched ${enriched} orders instead of ${ORDERS}`);
  console.log(
    `$lookup enrichment: ${ORDERS} orders, batches of ${BATCH}: ${_rate(ORDERS, lookupMs)}`,
  );

  const watcher = new MongoClient(sandbox.uri);
  await watcher.connect();
  const stream = watcher.db("bench").collection("Commande").watch(
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
  console.log(
    `change stream:     ${UPDATES} updates delivered: ${_rate(UPDATES, streamMs)}, lag p50 ${
      _percentile(lags, 50).toFixed(2)
    } ms, p99 ${_percentile(lags, 99).toFixed(2)} ms`,
  );
  await stream.close();
  await watcher.close();
  await client.close();
  await sandbox.stop();
}
