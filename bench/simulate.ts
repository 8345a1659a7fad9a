/**
 * Simulate benchmark: 100,000 generated orders (with their clients, couriers, restaurants and
 * menus) inserted into an in-process sandbox through the same generator and writer as
 * `archiver simulate`. Reports orders per second and the peak resident memory after 20,000 and
 * after 100,000 orders: with a streaming generator the two stay close (flat memory).
 *
 * Run: `deno run -A bench/simulate.ts [count]`
 *
 * @module
 */

import { MongoClient } from "mongodb";
import { startSandbox } from "../sandbox/mod.ts";
import { generateDataset, scaledReferenceCounts } from "../plugins/simulate/generator.ts";
import { ensureSourceIndexes, writeDataset } from "../plugins/simulate/writer.ts";

/** What the simulate benchmark measured. */
export interface SimulateBenchResult {
  /** Orders inserted. */
  orders: number;
  /** Documents of every kind inserted. */
  documents: number;
  /** Wall-clock time of generation and insertion, in ms. */
  durationMs: number;
  /** Orders inserted per second. */
  ordersPerSecond: number;
  /** Peak resident memory by the time 20,000 orders were inserted, in bytes. */
  peakRssAt20k: number;
  /** Peak resident memory over the whole run, in bytes. */
  peakRss: number;
  /** The target this machine must reach. */
  targetOrdersPerSecond: number;
  /**
   * Peak JavaScript heap of generating the same orders without inserting them, by 20,000 orders
   * and over the whole run, in bytes: the generator's own memory, without the sandbox's copy of
   * the data (which RSS includes, the sandbox being in-process and in memory).
   */
  generatorPeakHeapAt20k: number;
  /** See {@link generatorPeakHeapAt20k}. */
  generatorPeakHeap: number;
}

const NAMES = {
  orders: "Commande",
  clients: "Client",
  couriers: "Livreur",
  restaurants: "Restaurants",
  menu: "Menu",
};

/**
 * Generates and inserts orders into a fresh in-process sandbox.
 *
 * @param options How many orders.
 * @returns Throughput and memory figures.
 */
export async function benchSimulate(
  options: { count?: number } = {},
): Promise<SimulateBenchResult> {
  const count = options.count ?? 100_000;
  // First, before the sandbox holds any data: the generator's own memory.
  const generator = _generatorHeap(count);
  await using sandbox = await startSandbox();
  const client = new MongoClient(sandbox.uri);
  try {
    await client.connect();
    const db = client.db("bench_simulate");
    await ensureSourceIndexes(db, NAMES);
    let peakRss = Deno.memoryUsage().rss;
    let peakRssAt20k = 0;
    let orders = 0;
    const started = performance.now();
    const result = await writeDataset(
      db,
      NAMES,
      generateDataset(_options(count)),
      {
        onWritten: (batch, inserted) => {
          peakRss = Math.max(peakRss, Deno.memoryUsage().rss);
          if (batch.kind !== "orders") return;
          orders += inserted;
          if (orders <= 20_000) peakRssAt20k = peakRss;
        },
      },
    );
    const durationMs = performance.now() - started;
    const documents = Object.values(result.inserted).reduce((sum, n) => sum + n, 0);
    return {
      orders: result.inserted.orders,
      documents,
      durationMs: Math.round(durationMs),
      ordersPerSecond: Math.round(result.inserted.orders / (durationMs / 1000)),
      peakRssAt20k,
      peakRss,
      targetOrdersPerSecond: 10_000,
      generatorPeakHeapAt20k: generator.at20k,
      generatorPeakHeap: generator.peak,
    };
  } finally {
    await client.close();
  }
}

function _options(count: number) {
  return {
    seed: 42,
    count,
    pDelivered: 0.4,
    pIncomplete: 0,
    ...scaledReferenceCounts(count),
    days: 30,
    now: new Date(),
    firstSequence: 1,
  };
}

function _generatorHeap(count: number): { at20k: number; peak: number } {
  let peak = 0;
  let at20k = 0;
  let orders = 0;
  for (const batch of generateDataset(_options(count))) {
    peak = Math.max(peak, Deno.memoryUsage().heapUsed);
    if (batch.kind !== "orders") continue;
    orders += batch.documents.length;
    if (orders <= 20_000) at20k = peak;
  }
  return { at20k, peak };
}

if (import.meta.main) {
  const count = Number(Deno.args[0] ?? 100_000);
  const result = await benchSimulate({ count });
  const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(0)} MB`;
  console.log(
    `simulate: ${result.orders.toLocaleString("en-US")} orders (${
      result.documents.toLocaleString("en-US")
    } documents) in ${(result.durationMs / 1000).toFixed(2)} s: ${
      result.ordersPerSecond.toLocaleString("en-US")
    } orders/s (target ${result.targetOrdersPerSecond.toLocaleString("en-US")})`,
  );
  console.log(
    `peak RSS: ${mb(result.peakRssAt20k)} at 20k orders, ${mb(result.peakRss)} at ${
      result.orders.toLocaleString("en-US")
    } (the in-process sandbox holds the data in memory)`,
  );
  console.log(
    `generator heap: ${mb(result.generatorPeakHeapAt20k)} at 20k orders, ${
      mb(result.generatorPeakHeap)
    } at ${result.orders.toLocaleString("en-US")}`,
  );
}
