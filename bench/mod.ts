/**
 * `deno task bench`: runs every benchmark — logs check, sandbox, simulate, batch efficiency and
 * memory, the purge's cost, watch lag — and prints one table: figure, value, target, whether it is met, and the
 * claim of the system this replaces where there is one (about 1,000 orders a minute in batch,
 * under 2 s of lag in watch, 100–200 MB of memory), with our value's ratio to it.
 *
 * ```sh
 * deno task bench                    # everything, full sizes (logs over 200 MB)
 * deno task bench --full             # logs over 1 GB
 * deno task bench --json bench.json  # also write the rows as JSON
 * deno task bench --quick            # tiny sizes: checks the machinery, not the speed
 * deno task bench --only batch,watch # some of the benchmarks
 * deno task bench --soak             # also the 10-minute watch soak (or --only soak)
 * ```
 *
 * Every row of issue 13's targets is a row here, measured in the same run: a missed target
 * prints `NO (…)` with what was measured that says why. Under the table: the machine (CPU model,
 * cores, memory, OS, Deno) and the replaced system's claims.
 *
 * @module
 */

import { readProc } from "../core/runtime/proc.ts";
import { type BatchMemoryRun, benchBatch, QUICK_BATCH } from "./batch.ts";
import { benchLogsCheck } from "./logs.ts";
import { benchPurge } from "./purge.ts";
import { benchSandbox } from "./sandbox.ts";
import { benchSimulate } from "./simulate.ts";
import { benchStartup } from "./startup.ts";
import { benchWatchIdle } from "./watch_idle.ts";
import { benchWatch, type WatchBenchResult } from "./watch.ts";

/** One figure of the table. */
export interface BenchRow {
  /** The benchmark it comes from. */
  bench: BenchName;
  /** What is measured. */
  figure: string;
  /** The measured value, in `unit`. */
  value: number;
  /** Unit of `value`: `orders/s`, `ms`, `MB`, `x` (a ratio), `count`, `s`, `MB/s`… */
  unit: string;
  /** The target, as text (`null` when the figure is informative). */
  target: string | null;
  /** Whether the target is met (`null` without a target). */
  met: boolean | null;
  /** When the target is missed, what was measured that says why (`null` otherwise). */
  reason: string | null;
  /** The replaced system's claim for this figure, as text. */
  claim: string | null;
  /** `value` divided by the claim's value (`null` without a claim). */
  claimRatio: number | null;
}

/** The machine the table was measured on. */
export interface Machine {
  /** CPU model, from `/proc/cpuinfo`. */
  cpu: string;
  /** Logical cores. */
  cores: number;
  /** Memory, in GB. */
  ramGb: number;
  /** Operating system and kernel. */
  os: string;
  /** Deno's version. */
  deno: string;
}

/** The benchmarks a plain `deno task bench` runs, in order. */
export const BENCHES = [
  "logs",
  "sandbox",
  "simulate",
  "batch",
  "startup",
  "purge",
  "watch",
] as const;

/** Every benchmark: those above and the 10-minute watch soak (`--soak`, or `--only soak`). */
export const ALL_BENCHES = [...BENCHES, "soak"] as const;

/** A benchmark's name. */
export type BenchName = typeof ALL_BENCHES[number];

/** Every figure the table holds, by benchmark: the smoke test checks each is printed. */
export const FIGURES: Record<BenchName, readonly string[]> = {
  logs: ["logs check throughput", "logs check memory growth"],
  sandbox: [
    "sandbox insert",
    "sandbox indexed find",
    "sandbox $lookup enrichment",
    "sandbox change-stream lag p50",
    "sandbox change-stream lag p99",
  ],
  simulate: ["simulate insert", "simulate generator heap 100k/20k"],
  batch: [
    "batch round trips per 1,000 orders",
    "batch round trips per 1,000 orders, client path",
    "batch bytes server→client per order",
    "batch bytes client→server per order",
    "batch bytes server→client per order, client path",
    "batch bytes client→server per order, client path",
    "batch archiver CPU per 1,000 orders",
    "batch archiver CPU per 1,000 orders, archiver batch process",
    "batch archiver CPU per 1,000 orders, client path",
    "batch re-run enrichment reads",
    "catch-up over archived orders, per 1M",
    "batch throughput",
    "batch throughput, client path",
    "batch plain copy (same run)",
    "batch throughput / plain copy",
    "batch peak RSS, small run",
    "batch peak RSS, large run",
    "batch peak RSS large/small",
    "batch memory at peak, small run",
    "batch memory at peak, large run",
  ],
  startup: [
    "archiver --version, start to exit",
    "archiver --version, peak RSS",
    "archiver health, start to exit",
    "archiver health, peak RSS",
  ],
  purge: [
    "purge throughput, with the check",
    "purge bytes client→server per order",
    "purge bytes server→client per order",
    "purge round trips per 1,000 orders",
    "purge delete per chunk, server time",
    "purge delete per chunk, bytes client→server",
    "purge delete per chunk, bytes server→client",
  ],
  watch: [
    "watch deliveries/s",
    "watch missed",
    "watch doubled",
    "watch lag p50",
    "watch lag p99 at 500 deliveries/s",
    "watch peak RSS",
    "watch RSS growth, short run",
    "watcher CPU per 1,000 deliveries at 500/s",
    "watch bytes server→client per delivery",
    "watch server commands per 1,000 deliveries at 500/s",
    "watch deliveries/s, 2,000/s run",
    "watch missed + doubled, 2,000/s run",
    "watch lag p50, 2,000/s run",
    "watch lag p99 at 2,000 deliveries/s",
    "CPU while live traffic ran, 2,000/s run: traffic",
    "CPU while live traffic ran, 2,000/s run: sandbox",
    "CPU while live traffic ran, 2,000/s run: watcher",
    "idle watcher CPU per minute",
    "idle watcher server commands per minute",
  ],
  soak: [
    "watch soak deliveries/s",
    "watch soak missed + doubled",
    "watch soak peak RSS",
    "watch RSS minute 10 ÷ minute 2 of a soak",
  ],
};

/** Options of {@link runBenchmarks}. */
export interface BenchOptions {
  /** Tiny sizes, to check the machinery (a smoke test), not the speed. @default false */
  quick?: boolean;
  /** Logs check over 1 GB instead of 200 MB. @default false */
  full?: boolean;
  /** Which benchmarks to run. @default BENCHES */
  only?: readonly BenchName[];
  /** Called when a benchmark starts, for progress on standard error. */
  onStart?: (bench: BenchName) => void;
}

const MB = 1024 * 1024;
const CLAIM_BATCH_PER_SECOND = 1_000 / 60;
const CLAIM_LAG_MS = 2_000;
const CLAIM_MEMORY_MB = 200;

/** The replaced system's claims, as the table's footer says them. */
export const CLAIMS = [
  "about 1,000 orders a minute in batch",
  "under 2 s of lag in watch",
  "100–200 MB of memory",
] as const;

// Live traffic's --rate counts every lifecycle change; one in five is a delivery (bench/watch.ts).
const CHANGES_PER_DELIVERY = 5;

/** The sizes of each watch run, full and quick. */
const WATCH_RUNS = {
  steady: {
    full: { durationMs: 30_000, deliveries: 500 },
    quick: { durationMs: 3_000, deliveries: 40 },
  },
  busy: {
    full: { durationMs: 30_000, deliveries: 2_000 },
    quick: { durationMs: 3_000, deliveries: 200 },
  },
  soak: {
    full: { durationMs: 600_000, deliveries: 500 },
    quick: { durationMs: 12_000, deliveries: 40 },
  },
} as const;

/**
 * Runs the benchmarks and returns the table's rows.
 *
 * @param options Sizes and selection.
 * @returns One row per figure.
 */
export async function runBenchmarks(options: BenchOptions = {}): Promise<BenchRow[]> {
  const quick = options.quick ?? false;
  const only = new Set(options.only ?? BENCHES);
  const rows: BenchRow[] = [];
  const row = (bench: BenchName, figure: string, value: number, unit: string, more: {
    target?: string;
    met?: boolean;
    /** Said only when the target is missed. */
    reason?: string;
    claim?: string;
    claimValue?: number;
  } = {}) =>
    rows.push({
      bench,
      figure,
      value,
      unit,
      target: more.target ?? null,
      met: more.met ?? null,
      reason: more.met === false ? more.reason ?? null : null,
      claim: more.claim ?? null,
      claimRatio: more.claimValue ? value / more.claimValue : null,
    });

  if (only.has("logs")) {
    options.onStart?.("logs");
    const bytes = quick ? 4 * MB : options.full ? 1024 * MB : 200 * MB;
    const logs = await benchLogsCheck({ bytes });
    row("logs", "logs check throughput", logs.mbPerSecond, "MB/s");
    const growth = (logs.peakRssBytes - logs.rssBeforeBytes) / MB;
    row("logs", "logs check memory growth", growth, "MB", {
      target: "≤ 10 MB",
      met: growth <= 10,
    });
  }

  if (only.has("sandbox")) {
    options.onStart?.("sandbox");
    const sandbox = await benchSandbox(
      quick ? { orders: 2_000, finds: 200, updates: 200 } : {},
    );
    row("sandbox", "sandbox insert", sandbox.insertPerSecond, "orders/s", {
      target: "≥ 20,000/s",
      met: sandbox.insertPerSecond >= 20_000,
    });
    row("sandbox", "sandbox indexed find", sandbox.findPerSecond, "finds/s");
    row("sandbox", "sandbox $lookup enrichment", sandbox.lookupPerSecond, "orders/s", {
      target: "≥ 40,000/s",
      met: sandbox.lookupPerSecond >= 40_000,
      reason: `${_int(sandbox.orders)} orders in batches of 1,000`,
    });
    row("sandbox", "sandbox change-stream lag p50", sandbox.lagP50Ms, "ms");
    row("sandbox", "sandbox change-stream lag p99", sandbox.lagP99Ms, "ms", {
      target: "≤ 50 ms",
      met: sandbox.lagP99Ms <= 50,
    });
  }

  if (only.has("simulate")) {
    options.onStart?.("simulate");
    const simulate = await benchSimulate({ count: quick ? 2_000 : 100_000 });
    row("simulate", "simulate insert", simulate.ordersPerSecond, "orders/s", {
      target: "≥ 10,000/s",
      met: simulate.ordersPerSecond >= simulate.targetOrdersPerSecond,
    });
    const heap = simulate.generatorPeakHeap / simulate.generatorPeakHeapAt20k;
    row("simulate", "simulate generator heap 100k/20k", heap, "x", {
      target: "≤ 1.10 (flat)",
      met: heap <= 1.1,
    });
  }

  if (only.has("batch")) {
    options.onStart?.("batch");
    const batch = await benchBatch(quick ? QUICK_BATCH : {});
    const { server, client } = batch;
    // Said beside every server-path figure that misses: whether the server path was the one used.
    const fellBack = server.merges === 0 ? "the server refused $merge: client path used; " : "";
    const per1000 = (counts: Record<string, number>, orders: number) =>
      Object.entries(counts).sort((a, b) => b[1] - a[1])
        .map(([name, n]) => `${name} ${(n / (orders / 1000)).toFixed(1)}`).join(", ");
    row("batch", "batch round trips per 1,000 orders", server.roundTripsPer1000, "count", {
      target: "≤ 3",
      met: server.roundTripsPer1000 <= 3,
      reason: `${fellBack}per 1,000: ${per1000(server.commandsByTarget, server.orders)}`,
    });
    row(
      "batch",
      "batch round trips per 1,000 orders, client path",
      client.roundTripsPer1000,
      `count (over ${_int(client.orders)})`,
    );
    const topBytes = (bytes: typeof batch.serverBytes, way: "toClient" | "toServer") =>
      Object.entries(bytes.byCommand).sort((a, b) => b[1][way] - a[1][way]).slice(0, 3)
        .map(([name, c]) => `${name} ${_int(c[way])}`).join(", ");
    const bytesUnit = (bytes: typeof batch.serverBytes) =>
      `bytes (${_int(bytes.orders)} orders, through the proxy)`;
    for (
      const [way, arrow] of [["toClient", "server→client"], ["toServer", "client→server"]] as const
    ) {
      const value = way === "toClient"
        ? batch.serverBytes.toClientPerOrder
        : batch.serverBytes.toServerPerOrder;
      row("batch", `batch bytes ${arrow} per order`, value, bytesUnit(batch.serverBytes), {
        target: "≤ 300",
        met: value <= 300,
        reason: `${fellBack}per order: ${topBytes(batch.serverBytes, way)}`,
      });
    }
    row(
      "batch",
      "batch bytes server→client per order, client path",
      batch.clientBytes.toClientPerOrder,
      bytesUnit(batch.clientBytes),
    );
    row(
      "batch",
      "batch bytes client→server per order, client path",
      batch.clientBytes.toServerPerOrder,
      bytesUnit(batch.clientBytes),
    );
    row("batch", "batch archiver CPU per 1,000 orders", server.cpuMsPer1000, "ms (in-process)", {
      target: "≤ 10 ms",
      met: server.cpuMsPer1000 <= 10,
      reason: `${fellBack}user ${server.cpuUserMsPer1000.toFixed(1)} ms, system ${
        server.cpuSystemMsPer1000.toFixed(1)
      } ms`,
    });
    // The same figure from the real `archiver batch` of the large memory run, with the V8 flags
    // it ships with (its young generation is smaller: more, shorter collections).
    const childCpu = batch.memoryLarge.cpuMsPer1000 ?? NaN;
    row(
      "batch",
      "batch archiver CPU per 1,000 orders, archiver batch process",
      childCpu,
      `ms (over ${_int(batch.memoryLarge.archived)}, V8 flags ${batch.memoryLarge.v8Flags})`,
      { target: "≤ 10 ms", met: childCpu <= 10, reason: "user and system, modules loaded" },
    );
    row(
      "batch",
      "batch archiver CPU per 1,000 orders, client path",
      client.cpuMsPer1000,
      `ms (over ${_int(client.orders)})`,
    );
    const rerunReads = batch.rerunEnrichmentAggregates + batch.rerunLookups;
    // No target since archiving moved to the server: the re-run's anti-join runs inside the
    // merge pipeline, before its enrichment stages, so the re-run sends them without their
    // reading anything; what it costs is the catch-up row below.
    row("batch", "batch re-run enrichment reads", rerunReads, "count", {
      reason:
        `${batch.rerunEnrichmentAggregates} aggregations with $lookup (${batch.rerunMerges} ` +
        `$merge, the enrichment behind the pipeline's anti-join), ${batch.rerunLookups} $lookup ` +
        `stages; ${batch.rerunFound} orders found`,
    });
    row(
      "batch",
      "catch-up over archived orders, per 1M",
      (batch.rerunMs / batch.orders) * 1_000,
      `s (extrapolated from ${_int(batch.orders)}; ${
        batch.rerunRoundTripsPer1000.toFixed(1)
      } round trips per 1,000)`,
    );
    const serverMs = Object.entries(server.commandMs).sort((a, b) => b[1] - a[1]).slice(0, 2)
      .map(([name, ms]) => `${name} ${_int(ms / (server.orders / 1000))} ms`).join(", ");
    const throughputReason = `${fellBack}per 1,000: ${
      _int(1_000_000 / server.perSecond)
    } ms wall, of which the server answering ${serverMs}; plain copy ${
      _int(1_000_000 / batch.plainCopyPerSecond)
    } ms`;
    row("batch", "batch throughput", batch.archivePerSecond, "orders/s", {
      target: `≥ ${_int(batch.plainCopyPerSecond)}/s (the plain copy)`,
      met: batch.throughputRatio >= 1,
      reason: throughputReason,
      claim: "~1,000 orders/min",
      claimValue: CLAIM_BATCH_PER_SECOND,
    });
    row(
      "batch",
      "batch throughput, client path",
      client.perSecond,
      `orders/s (over ${_int(client.orders)})`,
    );
    row("batch", "batch plain copy (same run)", batch.plainCopyPerSecond, "orders/s");
    // The sandbox's own target (issue 24); the throughput row above keeps the batch's (the copy).
    row("batch", "batch throughput / plain copy", batch.throughputRatio, "x", {
      target: "≥ 0.50",
      met: batch.throughputRatio >= 0.5,
      reason: throughputReason,
    });
    const memoryClaim = { claim: "100–200 MB", claimValue: CLAIM_MEMORY_MB };
    for (
      const [size, run] of [["small", batch.memorySmall], ["large", batch.memoryLarge]] as const
    ) {
      const peak = run.peakRss / MB;
      row("batch", `batch peak RSS, ${size} run`, peak, `MB at ${_int(run.orders)} orders`, {
        target: "≤ 120 MB",
        met: peak <= 120,
        reason: _breakdownText(run),
        ...memoryClaim,
      });
    }
    row("batch", "batch peak RSS large/small", batch.memoryRatio, "x", {
      target: "≤ 1.10",
      met: batch.memoryRatio <= 1.1,
    });
    for (
      const [size, run] of [["small", batch.memorySmall], ["large", batch.memoryLarge]] as const
    ) {
      row(
        "batch",
        `batch memory at peak, ${size} run`,
        (run.breakdown?.rss ?? NaN) / MB,
        `MB RSS: ${_breakdownText(run)}; V8 flags ${run.v8Flags}`,
      );
    }
  }

  if (only.has("startup")) {
    options.onStart?.("startup");
    // No targets: issue 23 asks for these figures printed.
    const startup = await benchStartup({ runs: quick ? 1 : 3 });
    for (
      const [name, run] of [["--version", startup.version], ["health", startup.health]] as const
    ) {
      const how = `median of ${run.runs}, exit ${run.code}, V8 flags ${startup.v8Flags}`;
      row(
        "startup",
        `archiver ${name}, start to exit`,
        run.ms,
        `ms (${how}; ${_int(run.msRange[0])}–${_int(run.msRange[1])} ms)`,
      );
      row(
        "startup",
        `archiver ${name}, peak RSS`,
        run.peakRss / MB,
        `MB (${run.peakFrom === "ru_maxrss" ? "the kernel's ru_maxrss" : "sampled /proc"}; ${how})`,
      );
    }
  }

  if (only.has("purge")) {
    options.onStart?.("purge");
    // No targets: issue 22 asks for these figures, not for a level.
    const purge = await benchPurge({ orders: quick ? 2_000 : 20_000 });
    const over = `${_int(purge.orders)} orders in chunks of ${_int(purge.chunkSize)}`;
    row("purge", "purge throughput, with the check", purge.ordersPerSecond, `orders/s (${over})`);
    const bytesUnit = `bytes (${_int(purge.orders)} orders, through the proxy)`;
    row("purge", "purge bytes client→server per order", purge.bytesToServerPerOrder, bytesUnit);
    row("purge", "purge bytes server→client per order", purge.bytesToClientPerOrder, bytesUnit);
    const commands = Object.entries(purge.commandsPer1000).sort((a, b) => b[1] - a[1])
      .map(([name, n]) => `${name} ${n.toFixed(1)}`).join(", ");
    row(
      "purge",
      "purge round trips per 1,000 orders",
      purge.roundTripsPer1000,
      `count (${commands})`,
    );
    const serverMs = Object.entries(purge.serverMsPerChunk).sort((a, b) => b[1] - a[1])
      .map(([name, ms]) => `${name} ${_int(ms)}`).join(", ");
    row(
      "purge",
      "purge delete per chunk, server time",
      purge.serverMsPerChunk.delete ?? NaN,
      `ms (of ${_int(purge.msPerChunk)} ms wall a chunk; server ms a chunk: ${serverMs})`,
    );
    const chunkUnit = `bytes (${_int(purge.chunkSize)} orders a chunk)`;
    row(
      "purge",
      "purge delete per chunk, bytes client→server",
      purge.deleteBytesPerChunk.toServer,
      chunkUnit,
    );
    row(
      "purge",
      "purge delete per chunk, bytes server→client",
      purge.deleteBytesPerChunk.toClient,
      chunkUnit,
    );
  }

  if (only.has("watch")) {
    options.onStart?.("watch");
    // The steady run's watcher goes through the counting proxy: its commands and bytes.
    const steady = await _watch("steady", quick, { proxy: true });
    row("watch", "watch deliveries/s", steady.deliveriesPerSecond, "deliveries/s", {
      target: quick ? "≈ 40/s (quick)" : "≈ 500/s (≥ 450)",
      met: steady.deliveriesPerSecond >= (quick ? 0.9 * 40 : 450),
      reason: `live traffic reached ${_int(steady.changesPerSecond)} changes/s of ${
        _int(steady.rate)
      }`,
    });
    row("watch", "watch missed", steady.missed, `count of ${_int(steady.deliveries)}`, {
      target: "0",
      met: steady.missed === 0,
    });
    row("watch", "watch doubled", steady.doubled, "count", {
      target: "0",
      met: steady.doubled === 0,
    });
    const lagClaim = { claim: "< 2 s", claimValue: CLAIM_LAG_MS };
    row("watch", "watch lag p50", steady.lagP50Ms, "ms", lagClaim);
    row("watch", "watch lag p99 at 500 deliveries/s", steady.lagP99Ms, _rateUnit(steady), {
      target: "≤ 100 ms",
      met: steady.lagP99Ms <= 100 && _rateReached(steady, "steady", quick),
      reason: _lagReason(steady, "steady", quick),
      ...lagClaim,
    });
    row("watch", "watch peak RSS", steady.peakRss / MB, "MB", {
      target: "≤ 100 MB",
      met: steady.peakRss / MB <= 100,
      claim: "100–200 MB",
      claimValue: CLAIM_MEMORY_MB,
    });
    row(
      "watch",
      "watch RSS growth, short run",
      steady.memoryGrowth,
      `x over ${_int(steady.durationMs / 1000)} s (last tenth ÷ first third)`,
      {
        target: "≤ 1.10 (steady)",
        met: steady.memoryGrowth <= 1.1,
        reason: `${(steady.rssEarly / MB).toFixed(0)} MB → ${(steady.rssLate / MB).toFixed(0)} MB`,
      },
    );

    const watcherCpuMs = (steady.watcherCpu.user + steady.watcherCpu.system) * 1000;
    const perThousand = 1000 / Math.max(1, steady.deliveries);
    row(
      "watch",
      "watcher CPU per 1,000 deliveries at 500/s",
      watcherCpuMs * perThousand,
      `ms (over ${_int(steady.deliveries)})`,
      {
        target: "≤ 50 ms",
        met: watcherCpuMs * perThousand <= 50,
        reason: `user ${(steady.watcherCpu.user * 1000 * perThousand).toFixed(1)} ms, system ${
          (steady.watcherCpu.system * 1000 * perThousand).toFixed(1)
        } ms per 1,000; ${_int(watcherCpuMs)} ms over the run`,
      },
    );
    const wire = steady.wire ?? { toClient: NaN, toServer: NaN, byCommand: {} };
    const byCommand = Object.entries(wire.byCommand).sort(([, a], [, b]) =>
      b.toClient - a.toClient
    );
    const bytesPerDelivery = wire.toClient / Math.max(1, steady.deliveries);
    row("watch", "watch bytes server→client per delivery", bytesPerDelivery, "bytes", {
      target: "≤ 300",
      met: bytesPerDelivery <= 300,
      reason: `per delivery: ${
        byCommand.map(([name, c]) => `${name} ${_int(c.toClient * perThousand / 1000)}`).join(", ")
      } (client→server ${_int(wire.toServer / Math.max(1, steady.deliveries))})`,
    });
    const commands = byCommand.reduce((sum, [, c]) => sum + c.requests, 0);
    row(
      "watch",
      "watch server commands per 1,000 deliveries at 500/s",
      commands * perThousand,
      `commands (${
        byCommand.sort(([, a], [, b]) => b.requests - a.requests)
          .map(([name, c]) => `${name} ${(c.requests * perThousand).toFixed(1)}`).join(", ")
      })`,
      { target: "≤ 50", met: commands * perThousand <= 50 },
    );

    const busy = await _watch("busy", quick);
    const busyDeliveries = quick ? 200 : 2_000;
    row("watch", "watch deliveries/s, 2,000/s run", busy.deliveriesPerSecond, "deliveries/s", {
      target: `≈ ${_int(busyDeliveries)}/s (≥ ${_int(0.9 * busyDeliveries)})${
        quick ? " (quick)" : ""
      }`,
      met: _rateReached(busy, "busy", quick),
      reason: `live traffic reached ${_int(busy.changesPerSecond)} changes/s of ${_int(busy.rate)}`,
    });
    row(
      "watch",
      "watch missed + doubled, 2,000/s run",
      busy.missed + busy.doubled,
      `count of ${_int(busy.deliveries)}`,
      {
        target: "0",
        met: busy.missed + busy.doubled === 0,
        reason: `${busy.missed} missed, ${busy.doubled} doubled`,
      },
    );
    row("watch", "watch lag p50, 2,000/s run", busy.lagP50Ms, "ms", lagClaim);
    const cores = (name: keyof WatchBenchResult["cpuByProcess"]) => {
      const cpu = busy.cpuByProcess[name];
      return (cpu.user + cpu.system) / busy.trafficSeconds;
    };
    const busyCpu = `CPU while traffic ran (${
      _int(busy.trafficSeconds)
    } s, ${navigator.hardwareConcurrency} cores): traffic ${
      _int(cores("traffic") * 100)
    } %, sandbox ${_int(cores("sandbox") * 100)} %, watcher ${
      _int(cores("watcher") * 100)
    } % of a core`;
    row("watch", "watch lag p99 at 2,000 deliveries/s", busy.lagP99Ms, _rateUnit(busy), {
      target: "≤ 250 ms",
      met: busy.lagP99Ms <= 250 && _rateReached(busy, "busy", quick),
      reason: `${_lagReason(busy, "busy", quick)}; ${busyCpu}`,
      ...lagClaim,
    });
    for (const name of ["traffic", "sandbox", "watcher"] as const) {
      const cpu = busy.cpuByProcess[name];
      row(
        "watch",
        `CPU while live traffic ran, 2,000/s run: ${name}`,
        cores(name) * 100,
        `% of a core (user ${_int(cpu.user * 1000)} ms, system ${_int(cpu.system * 1000)} ms over ${
          _int(busy.trafficSeconds)
        } s)`,
      );
    }
  }

  if (only.has("watch")) {
    const idle = await benchWatchIdle(quick ? { durationMs: 5_000, settleMs: 1_000 } : {});
    const idleBy = Object.entries(idle.byCommand).sort(([, a], [, b]) => b - a);
    row("watch", "idle watcher CPU per minute", idle.cpuMsPerMinute, "ms", {
      target: "≤ 100 ms",
      met: idle.cpuMsPerMinute <= 100,
      reason: `over ${_int(idle.durationMs / 1000)} s with ${
        _int(idle.commandsPerMinute)
      } commands a minute; ${
        idle.cpuThreads.map((t) => `${t.name} ${_int(t.msPerMinute)} ms`).join(", ")
      } a minute by thread`,
    });
    row(
      "watch",
      "idle watcher server commands per minute",
      idle.commandsPerMinute,
      `commands (${idleBy.map(([name, n]) => `${name} ${n.toFixed(0)}`).join(", ")})`,
    );
  }

  if (only.has("soak")) {
    options.onStart?.("soak");
    const soak = await _watch("soak", quick);
    row("soak", "watch soak deliveries/s", soak.deliveriesPerSecond, "deliveries/s", {
      target: quick ? "≈ 40/s (quick)" : "≈ 500/s (≥ 450)",
      met: _rateReached(soak, "soak", quick),
      reason: `live traffic reached ${_int(soak.changesPerSecond)} changes/s of ${_int(soak.rate)}`,
    });
    row(
      "soak",
      "watch soak missed + doubled",
      soak.missed + soak.doubled,
      `count of ${_int(soak.deliveries)}`,
      {
        target: "0",
        met: soak.missed + soak.doubled === 0,
        reason: `${soak.missed} missed, ${soak.doubled} doubled`,
      },
    );
    row("soak", "watch soak peak RSS", soak.peakRss / MB, "MB", {
      claim: "100–200 MB",
      claimValue: CLAIM_MEMORY_MB,
    });
    const seconds = soak.durationMs / 1000;
    row(
      "soak",
      "watch RSS minute 10 ÷ minute 2 of a soak",
      soak.soakGrowth,
      quick
        ? `x (quick: ${_int(seconds)} s, last tenth ÷ second tenth)`
        : `x (${_int(seconds / 60)} min at ${_int(soak.rate / CHANGES_PER_DELIVERY)} deliveries/s)`,
      {
        target: "≤ 1.05",
        met: soak.soakGrowth <= 1.05,
        reason: `${(soak.rssSecondTenth / MB).toFixed(0)} MB → ${
          (soak.rssLate / MB).toFixed(0)
        } MB`,
      },
    );
  }
  return rows;
}

function _watch(
  run: keyof typeof WATCH_RUNS,
  quick: boolean,
  options: { proxy?: boolean } = {},
): Promise<WatchBenchResult> {
  const sizes = WATCH_RUNS[run][quick ? "quick" : "full"];
  return benchWatch({
    durationMs: sizes.durationMs,
    rate: sizes.deliveries * CHANGES_PER_DELIVERY,
    proxy: options.proxy,
  });
}

/** Whether live traffic reached 90 % of the deliveries per second the run asked for. */
function _rateReached(
  result: WatchBenchResult,
  run: keyof typeof WATCH_RUNS,
  quick: boolean,
): boolean {
  return result.deliveriesPerSecond >= 0.9 * WATCH_RUNS[run][quick ? "quick" : "full"].deliveries;
}

function _rateUnit(result: WatchBenchResult): string {
  return `ms (at ${_int(result.deliveriesPerSecond)} deliveries/s reached)`;
}

function _lagReason(
  result: WatchBenchResult,
  run: keyof typeof WATCH_RUNS,
  quick: boolean,
): string {
  const rate = _rateReached(result, run, quick)
    ? ""
    : `live traffic reached only ${_int(result.deliveriesPerSecond)} deliveries/s; `;
  return `${rate}p50 ${_int(result.lagP50Ms)} ms, max ${_int(result.lagMaxMs)} ms over ${
    _int(result.deliveries)
  } deliveries`;
}

function _breakdownText(run: BatchMemoryRun): string {
  const b = run.breakdown;
  if (!b) return "the child did not report its memory";
  const mb = (bytes: number) => (bytes / MB).toFixed(0);
  return `V8 heap ${mb(b.heapUsed)} used of ${mb(b.heapTotal)}, external ${mb(b.external)}, rest ${
    mb(b.other)
  } (runtime, code, native); ${mb(b.rssAtStart)} MB before it did anything`;
}

/**
 * Describes this machine: CPU model, cores, memory, operating system, Deno.
 *
 * @returns What the table was measured on.
 */
export async function describeMachine(): Promise<Machine> {
  const read = (path: string) => Deno.readTextFile(path).catch(() => "");
  // /proc needs --allow-all, or a `cat` (--allow-run): readProc does either.
  const cpuinfo = await readProc("cpuinfo") ?? "";
  const release = await read("/etc/os-release");
  const pretty = release.match(/^PRETTY_NAME="?([^"\n]*)"?/m)?.[1];
  let ramGb = NaN;
  try {
    ramGb = Deno.systemMemoryInfo().total / 1024 ** 3;
  } catch {
    // Not allowed (--allow-sys) or not known.
  }
  let kernel = "";
  try {
    kernel = Deno.osRelease();
  } catch {
    // Not allowed.
  }
  return {
    cpu: cpuinfo.match(/^model name\s*:\s*(.+)$/m)?.[1]?.trim() ?? Deno.build.arch,
    cores: navigator.hardwareConcurrency,
    ramGb: Math.round(ramGb),
    os: `${pretty ?? Deno.build.os}${kernel ? ` (kernel ${kernel})` : ""}`,
    deno: Deno.version.deno,
  };
}

/**
 * The lines printed under the table: the machine and the replaced system's claims.
 *
 * @param machine The machine.
 * @returns Two lines.
 */
export function formatFooter(machine: Machine): string {
  return [
    `machine: ${machine.cpu}, ${machine.cores} cores, ${machine.ramGb} GB of RAM, ${machine.os}, ` +
    `Deno ${machine.deno}`,
    `replaced system's claims: ${CLAIMS.join("; ")}`,
  ].join("\n");
}

function _int(value: number): string {
  return Math.round(value).toLocaleString("en-US");
}

/**
 * Formats a row's value with its unit.
 *
 * @param row The row.
 * @returns E.g. `40,243 orders/s`, `0.50 ms`, `1.04×`, `1.04× over 30 s`, `0`.
 */
export function formatValue(row: BenchRow): string {
  const { value, unit } = row;
  if (!Number.isFinite(value)) return String(value);
  if (unit === "x" || unit.startsWith("x ")) return `${value.toFixed(2)}×${unit.slice(1)}`;
  if (unit.startsWith("count")) {
    return `${Number.isInteger(value) ? _int(value) : value.toFixed(2)}${unit.slice(5)}`;
  }
  if (unit === "ms" || unit === "MB/s" || unit.startsWith("MB")) {
    return `${value < 10 ? value.toFixed(2) : _int(value)} ${unit}`;
  }
  return `${_int(value)} ${unit}`;
}

function _claimText(row: BenchRow): string {
  if (!row.claim) return "";
  if (row.claimRatio === null) return row.claim;
  const ratio = row.claimRatio >= 10 ? _int(row.claimRatio) : row.claimRatio.toFixed(2);
  return `${row.claim} (${ratio}×)`;
}

/**
 * Renders the rows as one aligned text table.
 *
 * @param rows The rows.
 * @returns The table, one line per row after a header.
 */
export function formatTable(rows: readonly BenchRow[]): string {
  const header = ["figure", "value", "target", "met", "replaced system (ours ÷ claim)"];
  const cells = rows.map((row) => [
    row.figure,
    formatValue(row),
    row.target ?? "—",
    row.met === null ? "—" : row.met ? "yes" : row.reason ? `NO (${row.reason})` : "NO",
    _claimText(row) || "—",
  ]);
  const widths = header.map((title, i) =>
    Math.max(title.length, ...cells.map((line) => line[i]!.length))
  );
  const line = (values: string[]) =>
    values.map((value, i) => value.padEnd(widths[i]!)).join(" | ").trimEnd();
  return [line(header), widths.map((w) => "-".repeat(w)).join("-|-"), ...cells.map(line)].join(
    "\n",
  );
}

const USAGE = `deno task bench [options]: runs the benchmarks and prints one table

  --quick          tiny sizes: checks the machinery (what the smoke test runs), not the speed
  --full           logs check over 1 GB instead of 200 MB
  --only a,b       some of the benchmarks: ${ALL_BENCHES.join(", ")}
  --soak           also the watch soak (10 minutes at 500 deliveries/s; 12 s with --quick)
  --json FILE      also write { machine, claims, rows } as JSON
  --help           this text`;

type _Args = BenchOptions & { json?: string; help?: boolean };

function _parseArgs(args: string[]): _Args {
  const options: _Args = {};
  let soak = false;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === "--quick") options.quick = true;
    else if (arg === "--full") options.full = true;
    else if (arg === "--soak") soak = true;
    else if (arg === "--help" || arg === "-h") options.help = true;
    else if (arg === "--json") options.json = args[++i];
    else if (arg === "--only") {
      const names = (args[++i] ?? "").split(",").map((name) => name.trim());
      for (const name of names) {
        if (!(ALL_BENCHES as readonly string[]).includes(name)) {
          throw new Error(
            `Unknown benchmark "${name}" in --only: expected ${ALL_BENCHES.join(", ")}`,
          );
        }
      }
      options.only = names as BenchName[];
    } else {
      throw new Error(
        `Unknown argument "${arg}": expected --quick, --full, --soak, --json FILE, --only, --help`,
      );
    }
  }
  if ("json" in options && !options.json) throw new Error("--json needs a file name");
  if (soak) options.only = [...new Set([...(options.only ?? BENCHES), "soak" as const])];
  return options;
}

if (import.meta.main) {
  const options = _parseArgs(Deno.args);
  if (options.help) {
    console.log(USAGE);
    Deno.exit(0);
  }
  const started = performance.now();
  const machine = await describeMachine();
  const rows = await runBenchmarks({
    ...options,
    onStart: (bench) => console.error(`running ${bench}…`),
  });
  console.log(formatTable(rows));
  console.log("");
  console.log(formatFooter(machine));
  console.error(`all benchmarks in ${((performance.now() - started) / 1000).toFixed(0)} s`);
  if (options.json) {
    await Deno.writeTextFile(
      options.json,
      `${JSON.stringify({ machine, claims: CLAIMS, rows }, null, 2)}\n`,
    );
  }
}
