/**
 * Batch benchmark: the efficiency and memory of `archiver batch` against a sandbox running in
 * another process.
 *
 * - Round trips: every command the driver sends while the shared backfill archives the simulated
 *   orders is counted with command monitoring (`commandStarted`), per 1,000 orders archived.
 * - Re-run: a second pass over the archived range must send no enrichment aggregation on the
 *   orders collection (no `$lookup` at all): the archive's keys are read first.
 * - Throughput: orders archived per second, compared with a plain copy of the same orders in the
 *   same run (a find cursor and `insertMany` of 1,000 into another collection, no enrichment).
 * - Memory: the real `archiver batch` runs in a child process over a small and a large database;
 *   its peak resident memory (`VmHWM`) must not grow with the number of orders.
 *
 * Run: `deno run --allow-net --allow-read --allow-write --allow-env --allow-sys --allow-run
 * bench/batch.ts [--quick]`
 *
 * @module
 */

import {
  type CommandStartedEvent,
  type CommandSucceededEvent,
  type Db,
  MongoClient,
} from "mongodb";
import { getLogger } from "@logtape/logtape";
import { join } from "node:path";
import { ensureArchiveIndex } from "../core/archive/archive_index.ts";
import { backfill } from "../core/archive/backfill.ts";
import { type CollectionNames, DEFAULT_COLLECTION_NAMES } from "../core/archive/collections.ts";
import { generateDataset, scaledReferenceCounts } from "../plugins/simulate/generator.ts";
import { ensureSourceIndexes, writeDataset } from "../plugins/simulate/writer.ts";
import { runArchiver, startSandboxProcess } from "./_child.ts";

export const BENCH_NAMES: CollectionNames = DEFAULT_COLLECTION_NAMES;

/** Sizes of a batch benchmark run. */
export interface BatchBenchOptions {
  /** Delivered orders archived in-process for round trips, re-run and throughput. @default 100000 */
  orders?: number;
  /** Orders of the small database of the memory comparison. @default 20000 */
  memorySmall?: number;
  /** Orders of the large database of the memory comparison. @default 200000 */
  memoryLarge?: number;
  /** Orders per batch. @default 1000 */
  batchSize?: number;
}

/** Peak memory of one `archiver batch` child process. */
export interface BatchMemoryRun {
  /** Orders in the database (all delivered). */
  orders: number;
  /** Orders the run archived. */
  archived: number;
  /** Its wall-clock time, process start included, in ms. */
  ms: number;
  /** Its peak resident memory (`VmHWM`), in bytes. */
  peakRss: number;
}

/** What the batch benchmark measured. */
export interface BatchBenchResult {
  /** Delivered orders archived in-process. */
  orders: number;
  /** Orders archived per second by the shared backfill. */
  archivePerSecond: number;
  /** Orders copied per second by the plain copy, no enrichment. */
  plainCopyPerSecond: number;
  /** `archivePerSecond / plainCopyPerSecond`. */
  throughputRatio: number;
  /** Commands sent while archiving, by name. */
  commands: Record<string, number>;
  /** Time the server took to answer them (as the driver saw it), by command name, in ms. */
  commandMs: Record<string, number>;
  /** Commands sent per 1,000 orders archived. */
  roundTripsPer1000: number;
  /** Orders the re-run found to archive (0 expected). */
  rerunFound: number;
  /** Enrichment aggregations (with `$lookup`) on the orders collection sent by the re-run. */
  rerunEnrichmentAggregates: number;
  /** `$lookup` stages sent by the re-run, in any aggregation. */
  rerunLookups: number;
  /** Commands sent by the re-run per 1,000 orders examined. */
  rerunRoundTripsPer1000: number;
  /**
   * Wall time of the re-run, in ms: the catch-up's cost when every order is already archived
   * (one cursor over the delivered orders, one `$in` anti-join on the archive per batch).
   */
  rerunMs: number;
  /** The small memory run. */
  memorySmall: BatchMemoryRun;
  /** The large memory run. */
  memoryLarge: BatchMemoryRun;
  /** `memoryLarge.peakRss / memorySmall.peakRss`. */
  memoryRatio: number;
}

/**
 * Runs the batch benchmark against a sandbox in a child process.
 *
 * @param options Sizes.
 * @returns The figures.
 */
export async function benchBatch(options: BatchBenchOptions = {}): Promise<BatchBenchResult> {
  const orders = options.orders ?? 100_000;
  const batchSize = options.batchSize ?? 1_000;
  const dir = await Deno.makeTempDir({ prefix: "archiver-bench-batch-" });
  await using sandbox = await startSandboxProcess();
  const client = new MongoClient(sandbox.uri, { monitorCommands: true });
  try {
    await client.connect();
    const db = client.db("bench_batch");
    await populate(db, orders);

    const plainCopyPerSecond = await _plainCopy(db, batchSize);

    const archive = db.collection(BENCH_NAMES.archive);
    await ensureArchiveIndex(archive);
    const log = getLogger(["archiver", "bench"]);
    const run = { db, names: BENCH_NAMES, log, archivedBy: "batch" as const };
    const first = await _monitored(
      client,
      () => backfill({ ...run, deliveredStatus: "livrée", batchSize }),
    );
    const archived = first.result.report.orders_archived;
    if (archived !== orders) {
      throw new Error(`The backfill archived ${archived} orders instead of ${orders}`);
    }
    const rerun = await _monitored(
      client,
      () => backfill({ ...run, deliveredStatus: "livrée", batchSize }),
    );
    // The count before streaming is an aggregation too ($match, $group): enrichment is the one
    // with $lookup stages.
    const stages = (event: CommandStartedEvent) =>
      (event.command.pipeline ?? []) as Record<string, unknown>[];
    const rerunAggregates = rerun.events.filter((event) =>
      event.commandName === "aggregate" && event.command.aggregate === BENCH_NAMES.orders &&
      stages(event).some((stage) => "$lookup" in stage)
    );
    const rerunLookups = rerun.events
      .filter((event) => event.commandName === "aggregate")
      .flatMap(stages)
      .filter((stage) => "$lookup" in stage).length;
    await db.dropDatabase();

    const memorySmall = await _memoryRun(client, sandbox.uri, dir, options.memorySmall ?? 20_000);
    const memoryLarge = await _memoryRun(client, sandbox.uri, dir, options.memoryLarge ?? 200_000);

    const archivePerSecond = Math.round(orders / (first.ms / 1000));
    return {
      orders,
      archivePerSecond,
      plainCopyPerSecond,
      throughputRatio: archivePerSecond / plainCopyPerSecond,
      commands: _byName(first.events),
      commandMs: first.commandMs,
      roundTripsPer1000: first.events.length / (orders / 1000),
      rerunFound: rerun.result.report.orders_found,
      rerunEnrichmentAggregates: rerunAggregates.length,
      rerunLookups,
      rerunRoundTripsPer1000: rerun.events.length / (orders / 1000),
      rerunMs: rerun.ms,
      memorySmall,
      memoryLarge,
      memoryRatio: memoryLarge.peakRss / memorySmall.peakRss,
    };
  } finally {
    await client.close();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

/**
 * Fills a database with simulated orders, all delivered, through the simulator's generator and
 * writer, with the source indexes the archiver relies on.
 *
 * @param db The database.
 * @param count Orders.
 * @param pDelivered Share of orders delivered. @default 1
 */
export async function populate(db: Db, count: number, pDelivered = 1): Promise<void> {
  await ensureSourceIndexes(db, BENCH_NAMES);
  await writeDataset(
    db,
    BENCH_NAMES,
    generateDataset({
      seed: 42,
      count,
      pDelivered,
      pIncomplete: 0,
      ...scaledReferenceCounts(count),
      days: 30,
      now: new Date(),
      firstSequence: 1,
    }),
  );
}

async function _monitored<T>(
  client: MongoClient,
  fn: () => Promise<T>,
): Promise<
  { result: T; events: CommandStartedEvent[]; commandMs: Record<string, number>; ms: number }
> {
  const events: CommandStartedEvent[] = [];
  const commandMs: Record<string, number> = {};
  const listener = (event: CommandStartedEvent) => events.push(event);
  const succeeded = (event: CommandSucceededEvent) =>
    commandMs[event.commandName] = Math.round(
      (commandMs[event.commandName] ?? 0) + event.duration,
    );
  client.on("commandStarted", listener);
  client.on("commandSucceeded", succeeded);
  const started = performance.now();
  try {
    const result = await fn();
    return { result, events, commandMs, ms: performance.now() - started };
  } finally {
    client.off("commandStarted", listener);
    client.off("commandSucceeded", succeeded);
  }
}

function _byName(events: CommandStartedEvent[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const event of events) counts[event.commandName] = (counts[event.commandName] ?? 0) + 1;
  return counts;
}

async function _plainCopy(db: Db, batchSize: number): Promise<number> {
  const target = db.collection("bench_plain_copy");
  const started = performance.now();
  let copied = 0;
  let chunk: Record<string, unknown>[] = [];
  for await (const order of db.collection(BENCH_NAMES.orders).find({}, { batchSize })) {
    chunk.push(order);
    if (chunk.length >= batchSize) {
      await target.insertMany(chunk, { ordered: false });
      copied += chunk.length;
      chunk = [];
    }
  }
  if (chunk.length > 0) {
    await target.insertMany(chunk, { ordered: false });
    copied += chunk.length;
  }
  const perSecond = Math.round(copied / ((performance.now() - started) / 1000));
  await target.drop();
  return perSecond;
}

async function _memoryRun(
  client: MongoClient,
  uri: string,
  dir: string,
  orders: number,
): Promise<BatchMemoryRun> {
  const name = `bench_batch_memory_${orders}`;
  const db = client.db(name);
  await populate(db, orders);
  const run = await runArchiver(
    ["--uri", uri, "--db", name, "--log-dir", join(dir, "logs"), "batch", "--json"],
    { cwd: dir },
  );
  if (run.code !== 0) {
    throw new Error(`archiver batch exited ${run.code} on ${orders} orders:\n${run.stderr}`);
  }
  const report = JSON.parse(run.stdout.trim().split("\n").at(-1) ?? "{}") as {
    orders_archived?: number;
  };
  await db.dropDatabase();
  return {
    orders,
    archived: report.orders_archived ?? 0,
    ms: Math.round(run.ms),
    peakRss: run.peakRss,
  };
}

if (import.meta.main) {
  const quick = Deno.args.includes("--quick");
  const at = Deno.args.indexOf("--orders");
  const orders = at >= 0 ? Number(Deno.args[at + 1]) : undefined;
  const result = await benchBatch(
    quick ? { orders: 2_000, memorySmall: 1_000, memoryLarge: 4_000 } : { orders },
  );
  console.log(JSON.stringify(result, null, 2));
}
