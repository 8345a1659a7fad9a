/**
 * Watch benchmark: `archiver simulate --live` drives deliveries into a sandbox (its own process)
 * while the real `archiver watch` runs as another child process, with its default settings.
 *
 * Live traffic's `--rate` counts every lifecycle change: an order is created, then moves
 * `en_attente` → `en_preparation` → `en_livraison` → `livrée`, 5 % of moves cancelling; with the
 * orders to move picked at random, one change in five is a delivery (measured: 2,200 changes/s
 * gave 443 deliveries/s, 2,500 gave 500), so the default rate is 2,500 changes/s for 500
 * deliveries per second. The database starts with reference data and 10,000 orders on their way
 * (none delivered), so deliveries begin at once.
 *
 * Afterwards every delivered order must be in the archive exactly once. The lag of an order is
 * its `archived_at` minus its `date_livraison`: live traffic sets the delivery date to the time it
 * sends the update, and the watcher stamps `archived_at` just before its bulk write, so the lag is
 * from the delivery's write to the archive's write (change-stream delivery, micro-batch wait,
 * enrichment). The watcher's resident memory is sampled throughout: steady means the median of
 * the last tenth of the run within 10 % of the median around its first third; for a soak (10
 * minutes at 500 deliveries/s, `deno task bench --soak`), the last tenth against the second
 * (minute 10 ÷ minute 2).
 *
 * Run: `deno run --allow-net --allow-read --allow-write --allow-env --allow-sys --allow-run
 * bench/watch.ts [--quick]`
 *
 * @module
 */

import { MongoClient } from "mongodb";
import { join } from "node:path";
import { populate } from "./batch.ts";
import {
  type MemorySampler,
  type ProcessCpu,
  readProcessCpu,
  sampleCpu,
  sampleMemory,
  spawnArchiver,
  startSandboxProcess,
} from "./_child.ts";
import { type ProxyCounts, startProxy } from "./_proxy.ts";

/** Sizes of a watch benchmark run. */
export interface WatchBenchOptions {
  /** How long live traffic runs, in ms. @default 30000 */
  durationMs?: number;
  /** Live traffic's `--rate`, in changes per second. @default 2500 */
  rate?: number;
  /** Longest wait for the watcher to archive the last deliveries, in ms. @default 60000 */
  drainTimeoutMs?: number;
  /**
   * Connect the watcher through the counting proxy (bench/_proxy.ts), to count what it asks of
   * the server and the bytes each way. @default false
   */
  proxy?: boolean;
}

/** What the watch benchmark measured. */
export interface WatchBenchResult {
  /** How long live traffic ran, in ms. */
  durationMs: number;
  /** Live traffic's rate asked for, in changes per second. */
  rate: number;
  /** The rate live traffic achieved, in changes per second. */
  changesPerSecond: number;
  /** Orders delivered during the run. */
  deliveries: number;
  /** Deliveries per second achieved. */
  deliveriesPerSecond: number;
  /** Delivered orders in the archive. */
  archived: number;
  /** Delivered orders missing from the archive. */
  missed: number;
  /** Archive documents beyond one per order. */
  doubled: number;
  /** Lag per order, median, in ms. */
  lagP50Ms: number;
  /** Lag per order, 99th percentile, in ms. */
  lagP99Ms: number;
  /** Lag per order, highest, in ms. */
  lagMaxMs: number;
  /** The watcher's peak resident memory (`VmHWM`), in bytes. */
  peakRss: number;
  /** Median resident memory around the first third of the run, in bytes. */
  rssEarly: number;
  /** Median resident memory over the last tenth of the run, in bytes. */
  rssLate: number;
  /** `rssLate / rssEarly`. */
  memoryGrowth: number;
  /**
   * Median resident memory over the second tenth of the run, in bytes: minute 2 of a 10-minute
   * soak.
   */
  rssSecondTenth: number;
  /** `rssLate / rssSecondTenth`: minute 10 ÷ minute 2 of a 10-minute soak. */
  soakGrowth: number;
  /** The watcher's CPU from the traffic's start until every delivery was archived, in s. */
  watcherCpu: ProcessCpu;
  /** How long live traffic ran, wall clock from its first change to its exit, in s. */
  trafficSeconds: number;
  /** CPU of each process while live traffic ran (traffic, sandbox, watcher), in s. */
  cpuByProcess: Record<"traffic" | "sandbox" | "watcher", ProcessCpu>;
  /**
   * The watcher's traffic with the server from the traffic's start until every delivery was
   * archived (with `proxy` only).
   */
  wire?: ProxyCounts;
}

/**
 * Runs the watch benchmark.
 *
 * @param options Duration and rate.
 * @returns The figures.
 */
export async function benchWatch(options: WatchBenchOptions = {}): Promise<WatchBenchResult> {
  const durationMs = options.durationMs ?? 30_000;
  const rate = options.rate ?? 2_500;
  const dir = await Deno.makeTempDir({ prefix: "archiver-bench-watch-" });
  await using sandbox = await startSandboxProcess({ oplogSize: 1_000_000 });
  const client = new MongoClient(sandbox.uri);
  const name = "bench_watch";
  const common = ["--uri", sandbox.uri, "--db", name, "--log-dir", join(dir, "logs")];
  const url = new URL(sandbox.uri.replace(/^mongodb:/, "http:"));
  await using proxy = options.proxy
    ? startProxy({ hostname: url.hostname, port: Number(url.port) })
    : undefined;
  const watcherUri = proxy ? proxy.uriFor(sandbox.uri) : sandbox.uri;
  let watcher: ReturnType<typeof spawnArchiver> | undefined;
  let sampler: MemorySampler | undefined;
  try {
    await client.connect();
    const db = client.db(name);
    await populate(db, 10_000, 0);
    await db.collection("Commande").updateMany({ status: "livrée" }, {
      $set: { status: "annulée" },
    });

    watcher = spawnArchiver(
      ["--uri", watcherUri, "--db", name, "--log-dir", join(dir, "logs"), "watch"],
      { cwd: dir },
    );
    await watcher.waitFor(/Change Stream opened/);
    sampler = sampleMemory(watcher.child.pid, 100);
    const samplingFrom = performance.now();

    const traffic = spawnArchiver(
      [
        ...common,
        "simulate",
        "--live",
        "--rate",
        String(rate),
        "--duration",
        `${durationMs}ms`,
        "--seed",
        "42",
        "--json",
      ],
      { cwd: dir },
    );
    const trafficStarted = performance.now();
    proxy?.reset();
    const watcherPid = watcher.child.pid;
    const cpuAtStart = await readProcessCpu(watcherPid);
    // Each process's CPU from the first change sent (not the traffic process's own start).
    await traffic.waitFor(/Live traffic at/, 60_000);
    const liveFrom = performance.now();
    const cpu = sampleCpu({
      traffic: traffic.child.pid,
      sandbox: sandbox.pid,
      watcher: watcherPid,
    });
    const code = await traffic.exited();
    await cpu.stop();
    const liveMs = performance.now() - liveFrom;
    if (code !== 0) throw new Error(`simulate --live exited ${code}:\n${traffic.stderr()}`);
    const trafficMs = performance.now() - trafficStarted;
    const summary = JSON.parse(traffic.stdout().trim().split("\n").at(-1) ?? "{}") as {
      changesPerSecond?: number;
    };

    const orders = db.collection("Commande");
    const archive = db.collection("Historique");
    const deliveries = await orders.countDocuments({ status: "livrée" });
    const end = Date.now() + (options.drainTimeoutMs ?? 60_000);
    let archived = 0;
    while (Date.now() < end) {
      archived = await archive.countDocuments({});
      if (archived >= deliveries) break;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    const cpuAtEnd = await readProcessCpu(watcherPid);
    const wire = proxy?.counts();
    // Memory from the traffic's start to its end, while the watcher was under load.
    const offset = trafficStarted - samplingFrom;
    const during = sampler.samples.filter((s) => s.ms >= offset && s.ms <= offset + trafficMs);
    sampler.stop();
    await watcher.stop();
    watcher = undefined;

    const delivered = new Set(
      (await orders.find({ status: "livrée" }, { projection: { numero_commande: 1 } }).toArray())
        .map((order) => order.numero_commande as string),
    );
    const lags: number[] = [];
    const seen = new Map<string, number>();
    for await (
      const document of archive.find({}, {
        projection: { numero_commande: 1, archived_at: 1, date_livraison: 1 },
      })
    ) {
      const number = document.numero_commande as string;
      seen.set(number, (seen.get(number) ?? 0) + 1);
      lags.push(
        (document.archived_at as Date).getTime() - (document.date_livraison as Date).getTime(),
      );
    }
    lags.sort((a, b) => a - b);
    const missed = [...delivered].filter((number) => !seen.has(number)).length;
    const doubled = [...seen.values()].reduce((sum, n) => sum + n - 1, 0);
    const rssEarly = _median(
      during.filter((s) => s.ms - offset >= trafficMs * 0.25 && s.ms - offset <= trafficMs * 0.4),
    );
    const rssLate = _median(during.filter((s) => s.ms - offset >= trafficMs * 0.9));
    const rssSecondTenth = _median(
      during.filter((s) => s.ms - offset >= trafficMs * 0.1 && s.ms - offset < trafficMs * 0.2),
    );
    return {
      durationMs,
      rate,
      changesPerSecond: summary.changesPerSecond ?? NaN,
      deliveries,
      deliveriesPerSecond: Math.round(deliveries / (durationMs / 1000)),
      archived: seen.size,
      missed,
      doubled,
      lagP50Ms: _percentile(lags, 50),
      lagP99Ms: _percentile(lags, 99),
      lagMaxMs: lags.at(-1) ?? NaN,
      peakRss: sampler.peak,
      rssEarly,
      rssLate,
      memoryGrowth: rssLate / rssEarly,
      rssSecondTenth,
      soakGrowth: rssLate / rssSecondTenth,
      watcherCpu: {
        user: (cpuAtEnd?.user ?? NaN) - (cpuAtStart?.user ?? NaN),
        system: (cpuAtEnd?.system ?? NaN) - (cpuAtStart?.system ?? NaN),
      },
      trafficSeconds: liveMs / 1000,
      cpuByProcess: cpu.spent() as WatchBenchResult["cpuByProcess"],
      ...(wire ? { wire } : {}),
    };
  } catch (error) {
    // The sandbox logs why it closed a connection; the driver's error only says it was closed.
    throw new Error(
      `The watch benchmark failed: ${(error as Error).message}\nsandbox stderr:\n${
        sandbox.stderr().slice(-4_000)
      }\nwatcher stderr:\n${watcher?.stderr().slice(-2_000) ?? ""}`,
      { cause: error },
    );
  } finally {
    sampler?.stop();
    await watcher?.stop("SIGKILL");
    await client.close();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

function _percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
}

function _median(samples: ReadonlyArray<{ rss: number }>): number {
  const sorted = samples.map((s) => s.rss).sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? NaN;
}

if (import.meta.main) {
  const quick = Deno.args.includes("--quick");
  const at = Deno.args.indexOf("--rate");
  const rate = at >= 0 ? Number(Deno.args[at + 1]) : undefined;
  const result = await benchWatch(quick ? { durationMs: 3_000, rate: rate ?? 200 } : { rate });
  console.log(JSON.stringify(result, null, 2));
}
