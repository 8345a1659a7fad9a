/**
 * `deno task bench`: runs every benchmark — logs check, sandbox, simulate, batch efficiency and
 * memory, watch lag — and prints one table: figure, value, target, whether it is met, and the
 * claim of the system this replaces where there is one (about 1,000 orders a minute in batch,
 * under 2 s of lag in watch, 100–200 MB of memory), with our value's ratio to it.
 *
 * ```sh
 * deno task bench                    # everything, full sizes (logs over 200 MB)
 * deno task bench --full             # logs over 1 GB
 * deno task bench --json bench.json  # also write the rows as JSON
 * deno task bench --quick            # tiny sizes: checks the machinery, not the speed
 * deno task bench --only batch,watch # some of the benchmarks
 * ```
 *
 * @module
 */

import { benchBatch } from "./batch.ts";
import { benchLogsCheck } from "./logs.ts";
import { benchSandbox } from "./sandbox.ts";
import { benchSimulate } from "./simulate.ts";
import { benchWatch } from "./watch.ts";

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
  /** The replaced system's claim for this figure, as text. */
  claim: string | null;
  /** `value` divided by the claim's value (`null` without a claim). */
  claimRatio: number | null;
}

/** The benchmarks, in the order they run. */
export const BENCHES = ["logs", "sandbox", "simulate", "batch", "watch"] as const;

/** A benchmark's name. */
export type BenchName = typeof BENCHES[number];

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
    "batch re-run enrichment reads",
    "catch-up over archived orders, per 1M",
    "batch throughput",
    "batch plain copy (same run)",
    "batch throughput / plain copy",
    "batch peak RSS, small run",
    "batch peak RSS, large run",
    "batch peak RSS large/small",
  ],
  watch: [
    "watch deliveries/s",
    "watch missed",
    "watch doubled",
    "watch lag p50",
    "watch lag p99",
    "watch peak RSS",
    "watch RSS growth",
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
      target: "≥ 20,000/s",
      met: sandbox.lookupPerSecond >= 20_000,
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
    const batch = await benchBatch(
      quick ? { orders: 2_000, memorySmall: 1_000, memoryLarge: 4_000 } : {},
    );
    row("batch", "batch round trips per 1,000 orders", batch.roundTripsPer1000, "count", {
      target: "≤ 10",
      met: batch.roundTripsPer1000 <= 10,
    });
    const rerunReads = batch.rerunEnrichmentAggregates + batch.rerunLookups;
    row("batch", "batch re-run enrichment reads", rerunReads, "count", {
      target: "0",
      met: rerunReads === 0 && batch.rerunFound === 0,
    });
    row(
      "batch",
      "catch-up over archived orders, per 1M",
      (batch.rerunMs / batch.orders) * 1_000,
      `s (extrapolated from ${_int(batch.orders)}; ${
        batch.rerunRoundTripsPer1000.toFixed(1)
      } round trips per 1,000)`,
    );
    row("batch", "batch throughput", batch.archivePerSecond, "orders/s", {
      target: `≥ ${_int(batch.plainCopyPerSecond / 2)}/s (½ plain copy)`,
      met: batch.throughputRatio >= 0.5,
      claim: "~1,000 orders/min",
      claimValue: CLAIM_BATCH_PER_SECOND,
    });
    row("batch", "batch plain copy (same run)", batch.plainCopyPerSecond, "orders/s");
    row("batch", "batch throughput / plain copy", batch.throughputRatio, "x", {
      target: "≥ 0.50",
      met: batch.throughputRatio >= 0.5,
    });
    const small = batch.memorySmall.peakRss / MB;
    const large = batch.memoryLarge.peakRss / MB;
    const memoryClaim = { claim: "100–200 MB", claimValue: CLAIM_MEMORY_MB };
    row(
      "batch",
      "batch peak RSS, small run",
      small,
      `MB at ${_int(batch.memorySmall.orders)} orders`,
      memoryClaim,
    );
    row(
      "batch",
      "batch peak RSS, large run",
      large,
      `MB at ${_int(batch.memoryLarge.orders)} orders`,
      memoryClaim,
    );
    row("batch", "batch peak RSS large/small", batch.memoryRatio, "x", {
      target: "≤ 1.10",
      met: batch.memoryRatio <= 1.1,
    });
  }

  if (only.has("watch")) {
    options.onStart?.("watch");
    const watch = await benchWatch(quick ? { durationMs: 3_000, rate: 200 } : {});
    row("watch", "watch deliveries/s", watch.deliveriesPerSecond, "deliveries/s", {
      target: "≈ 500/s (≥ 450)",
      met: watch.deliveriesPerSecond >= 450,
    });
    row("watch", "watch missed", watch.missed, `count of ${_int(watch.deliveries)}`, {
      target: "0",
      met: watch.missed === 0,
    });
    row("watch", "watch doubled", watch.doubled, "count", {
      target: "0",
      met: watch.doubled === 0,
    });
    const lagClaim = { claim: "< 2 s", claimValue: CLAIM_LAG_MS };
    row("watch", "watch lag p50", watch.lagP50Ms, "ms", lagClaim);
    row("watch", "watch lag p99", watch.lagP99Ms, "ms", {
      target: "≤ 500 ms",
      met: watch.lagP99Ms <= 500,
      ...lagClaim,
    });
    row("watch", "watch peak RSS", watch.peakRss / MB, "MB", {
      claim: "100–200 MB",
      claimValue: CLAIM_MEMORY_MB,
    });
    row("watch", "watch RSS growth", watch.memoryGrowth, "x", {
      target: "≤ 1.10 (steady)",
      met: watch.memoryGrowth <= 1.1,
    });
  }
  return rows;
}

function _int(value: number): string {
  return Math.round(value).toLocaleString("en-US");
}

/**
 * Formats a row's value with its unit.
 *
 * @param row The row.
 * @returns E.g. `40,243 orders/s`, `0.50 ms`, `1.04 x`, `0`.
 */
export function formatValue(row: BenchRow): string {
  const { value, unit } = row;
  if (!Number.isFinite(value)) return String(value);
  if (unit === "x") return `${value.toFixed(2)}×`;
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
    row.met === null ? "—" : row.met ? "yes" : "NO",
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

function _parseArgs(args: string[]): BenchOptions & { json?: string } {
  const options: BenchOptions & { json?: string } = {};
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === "--quick") options.quick = true;
    else if (arg === "--full") options.full = true;
    else if (arg === "--json") options.json = args[++i];
    else if (arg === "--only") {
      const names = (args[++i] ?? "").split(",").map((name) => name.trim());
      for (const name of names) {
        if (!(BENCHES as readonly string[]).includes(name)) {
          throw new Error(`Unknown benchmark "${name}" in --only: expected ${BENCHES.join(", ")}`);
        }
      }
      options.only = names as BenchName[];
    } else {throw new Error(
        `Unknown argument "${arg}": expected --quick, --full, --json FILE, --only`,
      );}
  }
  if ("json" in options && !options.json) throw new Error("--json needs a file name");
  return options;
}

if (import.meta.main) {
  const options = _parseArgs(Deno.args);
  const started = performance.now();
  const rows = await runBenchmarks({
    ...options,
    onStart: (bench) => console.error(`running ${bench}…`),
  });
  console.log(formatTable(rows));
  console.error(`all benchmarks in ${((performance.now() - started) / 1000).toFixed(0)} s`);
  if (options.json) {
    await Deno.writeTextFile(options.json, `${JSON.stringify(rows, null, 2)}\n`);
  }
}
