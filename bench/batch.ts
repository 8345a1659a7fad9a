/**
 * Batch benchmark: the efficiency and memory of `archiver batch` against a sandbox running in
 * another process, on both archiving paths: on the server (`$merge`, the default) and through
 * the client (`archiveOrders(..., { path: "client" })`, the fallback), so the change shows.
 *
 * - Round trips: every command the driver sends while the shared backfill archives the simulated
 *   orders is counted with command monitoring (`commandStarted`), per 1,000 orders archived.
 * - CPU: the benchmark process's own CPU time (`process.cpuUsage()`, user and system) while the
 *   backfill runs in it, per 1,000 orders archived; the sandbox is another process, so this is
 *   the archiver's (and its driver's) cost alone.
 * - Bytes: the same backfill over a client connected through a loopback proxy (bench/_proxy.ts)
 *   that counts the bytes each way, by command, per order archived. A run of its own, so the
 *   proxy's copying is in neither the CPU nor the throughput figures.
 * - Re-run: a second pass over the archived range finds nothing to archive; the enrichment
 *   aggregations (with `$lookup`) it sends on the orders collection are counted.
 * - Throughput: orders archived per second, compared with a plain copy of the same orders in the
 *   same run (a find cursor and `insertMany` of 1,000 into another collection, no enrichment).
 * - Memory: the real `archiver batch` runs in a child process over a small and a large database;
 *   its peak resident memory (`VmHWM`) must not grow with the number of orders, and the child
 *   runs through bench/_memory_child.ts, which says where the memory goes at its peak (V8 heap
 *   used and reserved, external memory, the rest of the resident set).
 *
 * The client path is measured over a part of the orders (`clientOrders`, `bytesOrders`): its
 * figures per 1,000 orders do not depend on how many there are, and it is the slow one.
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
import process from "node:process";
import type { ArchivePath } from "../core/archive/archiver.ts";
import { ensureArchiveIndex } from "../core/archive/archive_index.ts";
import { backfill } from "../core/archive/backfill.ts";
import { Quarantine } from "../core/archive/quarantine.ts";
import { type CollectionNames, DEFAULT_COLLECTION_NAMES } from "../core/archive/collections.ts";
import { generateDataset, scaledReferenceCounts } from "../plugins/simulate/generator.ts";
import { ensureSourceIndexes, writeDataset } from "../plugins/simulate/writer.ts";
import { ARCHIVER_V8_FLAGS } from "../core/runtime/child_process.ts";
import { runArchiver, startSandboxProcess } from "./_child.ts";
import { startProxy } from "./_proxy.ts";

export const BENCH_NAMES: CollectionNames = DEFAULT_COLLECTION_NAMES;

/** Sizes of a batch benchmark run. */
export interface BatchBenchOptions {
  /** Delivered orders archived in-process on the server path (round trips, CPU, throughput, re-run). @default 100000 */
  orders?: number;
  /** Orders archived in-process on the client path, of the same database. @default 20000 */
  clientOrders?: number;
  /** Orders archived through the byte-counting proxy, on each path. @default 10000 */
  bytesOrders?: number;
  /** Orders of the small database of the memory comparison. @default 20000 */
  memorySmall?: number;
  /** Orders of the large database of the memory comparison. @default 200000 */
  memoryLarge?: number;
  /** Orders per batch. @default 1000 */
  batchSize?: number;
}

/** Where one `archiver batch` child's memory went, at its peak, in bytes. */
export interface MemoryBreakdown {
  /** Resident set of the peak sample (taken from inside, every 100 ms). */
  rss: number;
  /** V8 heap used at that sample. */
  heapUsed: number;
  /** V8 heap reserved at that sample. */
  heapTotal: number;
  /** External memory (array buffers: Deno does not report them apart, `arrayBuffers` is 0). */
  external: number;
  /** The rest of the resident set: the runtime itself, compiled code, native allocations. */
  other: number;
  /** Resident set once the modules were loaded, before the command ran. */
  rssAtStart: number;
  /** V8 heap used at that moment. */
  heapUsedAtStart: number;
  /** V8 heap space used at the peak, by space. */
  spaces: Record<string, number>;
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
  /** Where the memory went at the peak (`undefined` when the child did not say). */
  breakdown?: MemoryBreakdown;
  /**
   * The V8 flags it ran with: those of the `archiver` task and `deno compile`
   * (`ARCHIVER_V8_FLAGS`, which spawnSelf passes by default).
   */
  v8Flags: string;
  /**
   * Its CPU time (user and system) per 1,000 orders archived, in ms, from the moment its modules
   * were loaded to exit (`undefined` when the child did not say).
   */
  cpuMsPer1000?: number;
}

/** What one path cost, archiving in-process without the proxy. */
export interface PathRun {
  /** Orders archived. */
  orders: number;
  /** Orders archived per second. */
  perSecond: number;
  /** Commands sent while archiving, by name. */
  commands: Record<string, number>;
  /** The same by name and collection (`delete archiver_quarantine`, `aggregate Commande`). */
  commandsByTarget: Record<string, number>;
  /** Time the server took to answer them (as the driver saw it), by command name, in ms. */
  commandMs: Record<string, number>;
  /** Aggregations ending in `$merge` (0 on the client path, or when the server refused it). */
  merges: number;
  /** Commands sent per 1,000 orders archived. */
  roundTripsPer1000: number;
  /** This process's CPU time while archiving, per 1,000 orders archived, in ms. */
  cpuMsPer1000: number;
  /** Of which user time. */
  cpuUserMsPer1000: number;
  /** Of which system time. */
  cpuSystemMsPer1000: number;
}

/** What one path sent and received through the loopback proxy. */
export interface PathBytes {
  /** Orders archived through the proxy. */
  orders: number;
  /** Bytes server → client per order archived. */
  toClientPerOrder: number;
  /** Bytes client → server per order archived. */
  toServerPerOrder: number;
  /** Both, by command, per order archived. */
  byCommand: Record<string, { requests: number; toServer: number; toClient: number }>;
}

/** What the batch benchmark measured. */
export interface BatchBenchResult {
  /** Delivered orders archived in-process on the server path. */
  orders: number;
  /** Orders archived per second by the shared backfill (server path). */
  archivePerSecond: number;
  /** Orders copied per second by the plain copy, no enrichment. */
  plainCopyPerSecond: number;
  /** `archivePerSecond / plainCopyPerSecond`. */
  throughputRatio: number;
  /** Commands sent while archiving (server path), by name. */
  commands: Record<string, number>;
  /** Time the server took to answer them (as the driver saw it), by command name, in ms. */
  commandMs: Record<string, number>;
  /** Commands sent per 1,000 orders archived (server path). */
  roundTripsPer1000: number;
  /** The server path, in-process. */
  server: PathRun;
  /** The client path, in-process. */
  client: PathRun;
  /** The server path through the proxy. */
  serverBytes: PathBytes;
  /** The client path through the proxy. */
  clientBytes: PathBytes;
  /** Orders the re-run found to archive (0 expected). */
  rerunFound: number;
  /** Enrichment aggregations (with `$lookup`) on the orders collection sent by the re-run. */
  rerunEnrichmentAggregates: number;
  /** Of which aggregations ending in `$merge` (the server path's merge, behind its anti-join). */
  rerunMerges: number;
  /** `$lookup` stages sent by the re-run, in any aggregation. */
  rerunLookups: number;
  /** Commands sent by the re-run per 1,000 orders examined. */
  rerunRoundTripsPer1000: number;
  /**
   * Wall time of the re-run, in ms: the catch-up's cost when every order is already archived.
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
  const clientOrders = Math.min(orders, options.clientOrders ?? 20_000);
  const bytesOrders = Math.min(orders, options.bytesOrders ?? 10_000);
  const batchSize = options.batchSize ?? 1_000;
  const dir = await Deno.makeTempDir({ prefix: "archiver-bench-batch-" });
  await using sandbox = await startSandboxProcess();
  const client = new MongoClient(sandbox.uri, { monitorCommands: true });
  const target = new URL(sandbox.uri.replace(/^mongodb:/, "http:"));
  await using proxy = startProxy({ hostname: target.hostname, port: Number(target.port) });
  const proxied = new MongoClient(proxy.uriFor(sandbox.uri));
  try {
    await client.connect();
    await proxied.connect();
    const db = client.db("bench_batch");
    await populate(db, orders);

    const plainCopyPerSecond = await _plainCopy(db, batchSize);

    const log = getLogger(["archiver", "bench"]);
    // As `archiver batch` runs it: with the quarantine loaded once, so a batch with nothing
    // quarantined sends no quarantine command.
    const run = async (on: Db, path: ArchivePath, limit?: number) => {
      const quarantine = new Quarantine(on.collection(BENCH_NAMES.quarantine), {
        retryIntervalMs: 60_000,
      });
      return await backfill({
        db: on,
        names: BENCH_NAMES,
        log,
        quarantine,
        archivedBy: "batch",
        deliveredStatus: "livrée",
        batchSize,
        path,
        limit,
      });
    };
    const emptyArchive = async () => {
      await db.collection(BENCH_NAMES.archive).drop().catch(() => {});
      await db.collection(BENCH_NAMES.quarantine).drop().catch(() => {});
      await ensureArchiveIndex(db.collection(BENCH_NAMES.archive));
    };
    const checkArchived = (archived: number, wanted: number, what: string) => {
      if (archived !== wanted) {
        throw new Error(`The backfill (${what}) archived ${archived} orders instead of ${wanted}`);
      }
    };

    await emptyArchive();
    const first = await _monitored(client, () => run(db, "server"));
    checkArchived(first.result.report.orders_archived, orders, "server path");
    const server = _pathRun(first, orders);

    const rerun = await _monitored(client, () => run(db, "server"));
    // The count before streaming is an aggregation too ($match, $group): enrichment is the one
    // with $lookup stages.
    const rerunAggregates = rerun.events.filter((event) =>
      event.commandName === "aggregate" && event.command.aggregate === BENCH_NAMES.orders &&
      _stages(event).some((stage) => "$lookup" in stage)
    );
    const rerunLookups = rerun.events
      .filter((event) => event.commandName === "aggregate")
      .flatMap(_stages)
      .filter((stage) => "$lookup" in stage).length;

    await emptyArchive();
    const clientRun = await _monitored(client, () => run(db, "client", clientOrders));
    checkArchived(clientRun.result.report.orders_archived, clientOrders, "client path");
    const clientPath = _pathRun(clientRun, clientOrders);

    const bytes = async (path: ArchivePath): Promise<PathBytes> => {
      await emptyArchive();
      proxy.reset();
      const done = await run(proxied.db("bench_batch"), path, bytesOrders);
      const counts = proxy.counts();
      checkArchived(done.report.orders_archived, bytesOrders, `${path} path, through the proxy`);
      const per = (n: number) => n / bytesOrders;
      return {
        orders: bytesOrders,
        toClientPerOrder: per(counts.toClient),
        toServerPerOrder: per(counts.toServer),
        byCommand: Object.fromEntries(
          Object.entries(counts.byCommand).map(([name, c]) => [name, {
            requests: c.requests,
            toServer: per(c.toServer),
            toClient: per(c.toClient),
          }]),
        ),
      };
    };
    const serverBytes = await bytes("server");
    const clientBytes = await bytes("client");
    await db.dropDatabase();

    const memorySmall = await _memoryRun(client, sandbox.uri, dir, options.memorySmall ?? 20_000);
    const memoryLarge = await _memoryRun(client, sandbox.uri, dir, options.memoryLarge ?? 200_000);

    return {
      orders,
      archivePerSecond: server.perSecond,
      plainCopyPerSecond,
      throughputRatio: server.perSecond / plainCopyPerSecond,
      commands: server.commands,
      commandMs: server.commandMs,
      roundTripsPer1000: server.roundTripsPer1000,
      server,
      client: clientPath,
      serverBytes,
      clientBytes,
      rerunFound: rerun.result.report.orders_found,
      rerunEnrichmentAggregates: rerunAggregates.length,
      rerunMerges: rerunAggregates.filter((event) =>
        _stages(event).some((stage) => "$merge" in stage)
      ).length,
      rerunLookups,
      rerunRoundTripsPer1000: rerun.events.length / (orders / 1000),
      rerunMs: rerun.ms,
      memorySmall,
      memoryLarge,
      memoryRatio: memoryLarge.peakRss / memorySmall.peakRss,
    };
  } finally {
    await proxied.close();
    await client.close();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

function _stages(event: CommandStartedEvent): Record<string, unknown>[] {
  return (event.command.pipeline ?? []) as Record<string, unknown>[];
}

function _pathRun(monitored: Monitored<unknown>, archived: number): PathRun {
  const per1000 = (n: number) => n / (archived / 1000);
  return {
    orders: archived,
    perSecond: Math.round(archived / (monitored.ms / 1000)),
    commands: _byName(monitored.events),
    commandsByTarget: _byName(monitored.events, true),
    commandMs: monitored.commandMs,
    merges:
      monitored.events.filter((event) =>
        event.commandName === "aggregate" && _stages(event).some((stage) => "$merge" in stage)
      ).length,
    roundTripsPer1000: per1000(monitored.events.length),
    cpuMsPer1000: per1000((monitored.cpu.user + monitored.cpu.system) / 1000),
    cpuUserMsPer1000: per1000(monitored.cpu.user / 1000),
    cpuSystemMsPer1000: per1000(monitored.cpu.system / 1000),
  };
}

/** The sizes of `--quick`: checks the machinery in seconds, not the speed. */
export const QUICK_BATCH: BatchBenchOptions = {
  orders: 2_000,
  clientOrders: 1_000,
  bytesOrders: 1_000,
  memorySmall: 1_000,
  memoryLarge: 4_000,
};

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

interface Monitored<T> {
  result: T;
  events: CommandStartedEvent[];
  commandMs: Record<string, number>;
  ms: number;
  /** This process's CPU time meanwhile, in microseconds. */
  cpu: { user: number; system: number };
}

async function _monitored<T>(client: MongoClient, fn: () => Promise<T>): Promise<Monitored<T>> {
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
  const cpuBefore = process.cpuUsage();
  try {
    const result = await fn();
    const cpu = process.cpuUsage(cpuBefore);
    return { result, events, commandMs, ms: performance.now() - started, cpu };
  } finally {
    client.off("commandStarted", listener);
    client.off("commandSucceeded", succeeded);
  }
}

function _byName(events: CommandStartedEvent[], target = false): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const event of events) {
    const on = event.command[event.commandName];
    const key = target && typeof on === "string" ? `${event.commandName} ${on}` : event.commandName;
    counts[key] = (counts[key] ?? 0) + 1;
  }
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
  // The V8 flags of the `archiver` task and of `deno compile`: one constant, checked against
  // deno.json by tests/cli/memory_test.ts.
  const v8Flags = ARCHIVER_V8_FLAGS;
  const run = await runArchiver(
    ["--uri", uri, "--db", name, "--log-dir", join(dir, "logs"), "batch", "--json"],
    { cwd: dir, memoryReport: true, v8Flags },
  );
  if (run.code !== 0) {
    throw new Error(`archiver batch exited ${run.code} on ${orders} orders:\n${run.stderr}`);
  }
  const report = JSON.parse(run.stdout.trim().split("\n").at(-1) ?? "{}") as {
    orders_archived?: number;
  };
  await db.dropDatabase();
  const archived = report.orders_archived ?? 0;
  const cpu = run.memory?.cpu;
  return {
    orders,
    archived,
    v8Flags,
    cpuMsPer1000: cpu && archived > 0
      ? (cpu.user + cpu.system) / 1000 / (archived / 1000)
      : undefined,
    ms: Math.round(run.ms),
    // Sampled from outside every 50 ms, the high-water mark can miss a peak just before exit that
    // the child's own last sample saw.
    peakRss: Math.max(run.peakRss, run.memory?.peak.rss ?? 0),
    breakdown: run.memory && {
      rss: run.memory.peak.rss,
      heapUsed: run.memory.peak.heapUsed,
      heapTotal: run.memory.peak.heapTotal,
      external: run.memory.peak.external,
      other: run.memory.peak.rss - run.memory.peak.heapTotal - run.memory.peak.external,
      rssAtStart: run.memory.start.rss,
      heapUsedAtStart: run.memory.start.heapUsed,
      spaces: run.memory.peak.spaces,
    },
  };
}

if (import.meta.main) {
  const quick = Deno.args.includes("--quick");
  const at = Deno.args.indexOf("--orders");
  const orders = at >= 0 ? Number(Deno.args[at + 1]) : undefined;
  const result = await benchBatch(
    quick ? QUICK_BATCH : { orders },
  );
  console.log(JSON.stringify(result, null, 2));
}
