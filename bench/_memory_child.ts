/**
 * The `archiver` program as cli/main.ts runs it, with its memory sampled from inside: every
 * 100 ms `Deno.memoryUsage()` (resident set, V8 heap used and reserved, external memory) and V8's
 * heap spaces, keeping the sample of highest resident memory. At exit it prints one line to
 * standard error, `ARCHIVER_BENCH_MEMORY {json}`, with that peak sample and the one taken
 * once the program's modules were loaded, before it did anything, and the CPU time used since
 * that moment: the batch benchmark reads it to say where the memory goes and what the command's
 * CPU per order is (the sampling is in it: about 0.03 ms of CPU a sample, 10 samples a second). The
 * product is unchanged: this file only wraps its entry point.
 *
 * Run (as bench/_child.ts does): `deno run <archiver's permissions> bench/_memory_child.ts
 * <archiver arguments>`
 *
 * @module
 */

import process from "node:process";
import v8 from "node:v8";
import { runCli } from "../cli/program.ts";
import { builtinPlugins } from "../cli/registry.ts";
import { MEMORY_MARK } from "./_child.ts";

/** One sample of the process's memory, in bytes. */
export interface MemorySample {
  /** Time since the program started, in ms. */
  ms: number;
  /** Resident set. */
  rss: number;
  /** V8 heap reserved. */
  heapTotal: number;
  /** V8 heap used by live objects (and garbage not yet collected). */
  heapUsed: number;
  /** Memory outside the heap that V8 objects hold: array buffers (Deno counts them here). */
  external: number;
  /** Bytes used in each V8 heap space (new, old, code, large object…). */
  spaces: Record<string, number>;
}

/** What the wrapper prints at exit. */
export interface MemoryReport {
  /** Once the modules were loaded, before the command ran. */
  start: MemorySample;
  /** The sample of highest resident memory. */
  peak: MemorySample;
  /** Samples taken. */
  samples: number;
  /**
   * CPU time the command used, user and system, in microseconds: from the moment the modules
   * were loaded to exit (`process.cpuUsage()`), so module loading is not counted.
   */
  cpu: { user: number; system: number };
}

function _sample(started: number): MemorySample {
  const usage = Deno.memoryUsage();
  const spaces: Record<string, number> = {};
  for (const space of v8.getHeapSpaceStatistics()) {
    spaces[space.space_name] = space.space_used_size;
  }
  return {
    ms: Math.round(performance.now() - started),
    rss: usage.rss,
    heapTotal: usage.heapTotal,
    heapUsed: usage.heapUsed,
    external: usage.external,
    spaces,
  };
}

if (import.meta.main) {
  const started = performance.now();
  const cpuAtStart = process.cpuUsage();
  const start = _sample(started);
  let peak = start;
  let samples = 1;
  const timer = setInterval(() => {
    const sample = _sample(started);
    samples++;
    if (sample.rss > peak.rss) peak = sample;
  }, 100);
  const report = () => {
    clearInterval(timer);
    const last = _sample(started);
    if (last.rss > peak.rss) peak = last;
    const line: MemoryReport = {
      start,
      peak,
      samples: samples + 1,
      cpu: process.cpuUsage(cpuAtStart),
    };
    console.error(`${MEMORY_MARK}${JSON.stringify(line)}`);
  };
  const code = await runCli(Deno.args, {
    plugins: builtinPlugins,
    onForceExit: (forced) => {
      report();
      Deno.exit(forced);
    },
  });
  report();
  Deno.exit(code);
}
