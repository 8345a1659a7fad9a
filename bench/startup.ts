/**
 * Start-up benchmark: what the shortest commands cost from start to exit, run as an operator or a
 * monitoring system runs them — the real `cli/main.ts` in a child process, with the `archiver`
 * task's permissions and V8 flags (`ARCHIVER_V8_FLAGS`, as `deno compile` sets them):
 *
 * - `archiver --version`: module loading and nothing else.
 * - `archiver health`: every check against a sandbox in another process, with what that
 *   sandbox's URI gives by default: 1,000 delivered orders, archived by an `archiver batch` run
 *   just before, no watcher status file.
 *
 * Each runs a few times; the figures are the median run's wall time from spawn to exit and its
 * peak resident memory, read exactly from the kernel's accounting of the finished child
 * (`/usr/bin/time -f %M`: `ru_maxrss`) — a short process can exit before a `/proc` sampler's
 * first read. Without `/usr/bin/time` the peak falls back to sampling `/proc` every 50 ms.
 *
 * Run: `deno run --allow-net --allow-read --allow-write --allow-env --allow-sys --allow-run
 * bench/startup.ts [--quick]`
 *
 * @module
 */

import { MongoClient } from "mongodb";
import { join } from "node:path";
import { ARCHIVER_V8_FLAGS, selfCommand } from "../core/runtime/child_process.ts";
import { runArchiver, startSandboxProcess } from "./_child.ts";
import { populate } from "./batch.ts";

/** One command's cost from start to exit. */
export interface StartupRun {
  /** The command line after `archiver`, as printed (the URI left out). */
  command: string;
  /** Its exit code (the median run's). */
  code: number;
  /** Wall time from spawn to exit of the median run, in ms. */
  ms: number;
  /** Fastest and slowest run, in ms. */
  msRange: [number, number];
  /** Peak resident memory of the median run, in bytes (0 when it could not be read). */
  peakRss: number;
  /** Runs. */
  runs: number;
  /** How the peak was read: the kernel's accounting of the child, or `/proc` samples. */
  peakFrom: "ru_maxrss" | "sampled";
}

/** What the start-up benchmark measured. */
export interface StartupBenchResult {
  /** `archiver --version`. */
  version: StartupRun;
  /** `archiver health` against a sandbox. */
  health: StartupRun;
  /** The V8 flags the commands ran with. */
  v8Flags: string;
}

const _TIME = "/usr/bin/time";
const _MARK = "ARCHIVER_BENCH_MAXRSS_KB ";

/**
 * Runs the start-up benchmark.
 *
 * @param options Runs of each command. @default { runs: 3 }
 * @returns The figures.
 */
export async function benchStartup(options: { runs?: number } = {}): Promise<StartupBenchResult> {
  const runs = options.runs ?? 3;
  const dir = await Deno.makeTempDir({ prefix: "archiver-bench-startup-" });
  await using sandbox = await startSandboxProcess();
  const client = new MongoClient(sandbox.uri);
  try {
    await client.connect();
    const name = "bench_startup";
    await populate(client.db(name), 1_000);
    // A deployment as health finds it day to day: the delivered orders archived by a batch.
    const batch = await runArchiver(
      ["--uri", sandbox.uri, "--db", name, "--log-dir", join(dir, "logs"), "batch"],
      { cwd: dir },
    );
    if (batch.code !== 0) throw new Error(`archiver batch exited ${batch.code}:\n${batch.stderr}`);
    const version = await _measure(["--version"], "--version", dir, runs);
    const health = await _measure(
      ["--uri", sandbox.uri, "--db", name, "--log-dir", join(dir, "logs"), "health"],
      "health",
      dir,
      runs,
    );
    await client.db(name).dropDatabase();
    return { version, health, v8Flags: ARCHIVER_V8_FLAGS };
  } finally {
    await client.close();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

async function _measure(
  args: string[],
  command: string,
  cwd: string,
  runs: number,
): Promise<StartupRun> {
  const timed = await _hasTime();
  const results: Array<{ code: number; ms: number; peakRss: number }> = [];
  for (let i = 0; i < runs; i++) {
    results.push(timed ? await _runTimed(args, cwd) : await _runSampled(args, cwd));
  }
  const sorted = [...results].sort((a, b) => a.ms - b.ms);
  const median = sorted[Math.floor(sorted.length / 2)]!;
  return {
    command,
    code: median.code,
    ms: median.ms,
    msRange: [sorted[0]!.ms, sorted.at(-1)!.ms],
    peakRss: median.peakRss,
    runs,
    peakFrom: timed ? "ru_maxrss" : "sampled",
  };
}

async function _hasTime(): Promise<boolean> {
  if (Deno.build.os !== "linux") return false;
  try {
    return (await Deno.stat(_TIME)).isFile;
  } catch {
    return false;
  }
}

// The command line spawnSelf runs, behind /usr/bin/time, which reports the child's ru_maxrss.
async function _runTimed(
  args: string[],
  cwd: string,
): Promise<{ code: number; ms: number; peakRss: number }> {
  const self = selfCommand(["--allow-run"], ARCHIVER_V8_FLAGS);
  const started = performance.now();
  const output = await new Deno.Command(_TIME, {
    args: ["-f", `${_MARK}%M`, self.command, ...self.args, ...args],
    cwd,
    env: { NO_COLOR: "1" },
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).output();
  const ms = performance.now() - started;
  const stderr = new TextDecoder().decode(output.stderr);
  const kb = stderr.split("\n").find((line) => line.startsWith(_MARK));
  return {
    code: output.code,
    ms,
    peakRss: kb ? Number(kb.slice(_MARK.length)) * 1024 : 0,
  };
}

async function _runSampled(
  args: string[],
  cwd: string,
): Promise<{ code: number; ms: number; peakRss: number }> {
  const run = await runArchiver(args, { cwd, v8Flags: ARCHIVER_V8_FLAGS });
  return { code: run.code, ms: run.ms, peakRss: run.peakRss };
}

if (import.meta.main) {
  const quick = Deno.args.includes("--quick");
  console.log(JSON.stringify(await benchStartup({ runs: quick ? 1 : 3 }), null, 2));
}
