/**
 * Child processes for the benchmarks: a sandbox server in its own process (so its memory is not
 * counted with the process measured), `archiver` commands run from source the way an operator
 * runs them, and resident-memory sampling from `/proc/<pid>/status` on Linux.
 *
 * @module
 */

import { fileURLToPath } from "node:url";
import { selfCommand, spawnSelf } from "../core/runtime/child_process.ts";
import { parseProcStat, PROC_TICKS_PER_SECOND, readProcFile } from "../core/runtime/proc.ts";
import type { MemoryReport } from "./_memory_child.ts";

// What `deno task archiver` grants: the minimal list and `--allow-run`, which also lets
// `/proc` be read (by `cat`) without `--allow-all`.
const PERMISSIONS = ["--allow-run"];
const QUIET = { NO_COLOR: "1" };

/** Resident memory of a process, from `/proc/<pid>/status`, in bytes. */
export interface ProcessMemory {
  /** Current resident set (`VmRSS`). */
  rss: number;
  /** Peak resident set so far (`VmHWM`). */
  hwm: number;
}

/**
 * Reads a process's resident memory on Linux.
 *
 * @param pid The process id.
 * @returns Current and peak resident memory, or `undefined` when unavailable (not Linux, or gone).
 */
export async function readProcessMemory(pid: number): Promise<ProcessMemory | undefined> {
  const status = await readProcFile(pid, "status");
  if (status === undefined) return undefined;
  const field = (name: string) => {
    const match = status.match(new RegExp(`^${name}:\\s+(\\d+) kB`, "m"));
    return match ? Number(match[1]) * 1024 : 0;
  };
  return { rss: field("VmRSS"), hwm: field("VmHWM") };
}

/** Samples a process's memory until stopped. */
export interface MemorySampler {
  /** Highest `VmHWM` seen, in bytes (0 when never readable). */
  readonly peak: number;
  /** Every `VmRSS` sample, with its time in ms since the sampler started. */
  readonly samples: ReadonlyArray<{ ms: number; rss: number }>;
  /** Stops sampling. */
  stop(): void;
}

/**
 * Samples a process's resident memory every `intervalMs`.
 *
 * @param pid The process id.
 * @param intervalMs Time between samples. @default 100
 * @returns The sampler.
 */
export function sampleMemory(pid: number, intervalMs = 100): MemorySampler {
  const started = performance.now();
  const samples: Array<{ ms: number; rss: number }> = [];
  let peak = 0;
  let busy = false;
  const timer = setInterval(async () => {
    if (busy) return;
    busy = true;
    const memory = await readProcessMemory(pid);
    busy = false;
    if (!memory) return;
    peak = Math.max(peak, memory.hwm, memory.rss);
    samples.push({ ms: performance.now() - started, rss: memory.rss });
  }, intervalMs);
  return {
    get peak() {
      return peak;
    },
    samples,
    stop: () => clearInterval(timer),
  };
}

/** CPU time a process spent, from `/proc/<pid>/stat`, in seconds. */
export interface ProcessCpu {
  /** In user mode. */
  user: number;
  /** In the kernel. */
  system: number;
}

/**
 * Reads a process's CPU time on Linux.
 *
 * @param pid The process id.
 * @returns User and system seconds, or `undefined` when unavailable (not Linux, or gone).
 */
export async function readProcessCpu(pid: number): Promise<ProcessCpu | undefined> {
  const stat = await readProcFile(pid, "stat");
  if (stat === undefined) return undefined;
  try {
    const { utime, stime } = parseProcStat(stat);
    return { user: utime / PROC_TICKS_PER_SECOND, system: stime / PROC_TICKS_PER_SECOND };
  } catch {
    return undefined;
  }
}

/** Samples the CPU time of several processes until stopped. */
export interface CpuSampler {
  /** CPU spent by each process between its first and its last sample, in seconds. */
  spent(): Record<string, ProcessCpu>;
  /** Stops sampling, after one last sample of the processes still running. */
  stop(): Promise<void>;
}

/**
 * Samples the CPU time of named processes every `intervalMs`: a process that exits keeps its
 * last sample (at most one interval before its end), since `/proc` forgets it.
 *
 * @param pids The processes, by name.
 * @param intervalMs Time between samples. @default 250
 * @returns The sampler.
 */
export function sampleCpu(pids: Record<string, number>, intervalMs = 250): CpuSampler {
  const first: Record<string, ProcessCpu> = {};
  const last: Record<string, ProcessCpu> = {};
  let busy: Promise<void> = Promise.resolve();
  const sample = () =>
    busy = busy.then(async () => {
      await Promise.all(
        Object.entries(pids).map(async ([name, pid]) => {
          const cpu = await readProcessCpu(pid);
          if (!cpu) return;
          first[name] ??= cpu;
          last[name] = cpu;
        }),
      );
    });
  void sample();
  const timer = setInterval(() => void sample(), intervalMs);
  return {
    spent: () =>
      Object.fromEntries(
        Object.keys(pids).map((name) => {
          const a = first[name], b = last[name];
          return [name, {
            user: a && b ? b.user - a.user : NaN,
            system: a && b ? b.system - a.system : NaN,
          }];
        }),
      ),
    stop: async () => {
      clearInterval(timer);
      await sample();
    },
  };
}

/** A sandbox server running in its own process. */
export interface SandboxProcess extends AsyncDisposable {
  /** Connection string. */
  uri: string;
  /** Process id. */
  pid: number;
  /** Stops it (SIGTERM) and waits for it to exit. */
  stop(): Promise<void>;
  /** What it wrote on standard error (its warnings: a connection it closed, and why). */
  stderr(): string;
}

/**
 * Starts `archiver sandbox --port 0` in a child process and waits for its connection string.
 *
 * @param options Oplog capacity in entries.
 * @returns The running server.
 */
export async function startSandboxProcess(
  options: { oplogSize?: number } = {},
): Promise<SandboxProcess> {
  const args = ["sandbox", "--port", "0"];
  if (options.oplogSize) args.push("--oplog-size", String(options.oplogSize));
  // The sandbox holds every document in memory: a 10-minute soak (about 1.5 million changes)
  // outgrows V8's default heap limit, which kills the process, not the tool under test.
  const child = spawnSelf(args, {
    env: QUIET,
    stdout: "piped",
    permissions: PERMISSIONS,
    v8Flags: "--max-old-space-size=16384",
  });
  let uri: string;
  try {
    [uri] = await child.waitFor(/^.*\n/, 60_000, { stream: "stdout" });
    uri = uri.trim();
    if (!uri.startsWith("mongodb://")) throw new Error(`it printed ${JSON.stringify(uri)}`);
  } catch (error) {
    await child[Symbol.asyncDispose]();
    throw new Error(`Cannot start the sandbox process: ${(error as Error).message}`, {
      cause: error,
    });
  }
  let stopped: Promise<void> | undefined;
  // A sandbox that dies under a benchmark says why, before the clients fail on their sockets.
  child.exited.then((code) => {
    if (stopped) return;
    console.error(`The sandbox process exited (code ${code}):\n${child.stderr().slice(-4_000)}`);
  });
  const stop = () => stopped ??= child.stop(30_000).then(() => {});
  return {
    uri,
    pid: child.pid,
    stop,
    stderr: () => child.stderr(),
    [Symbol.asyncDispose]: stop,
  };
}

/** What a finished `archiver` command did. */
export interface ArchiverRun {
  /** Exit code. */
  code: number;
  /** Wall-clock time, in ms. */
  ms: number;
  /** Its standard output. */
  stdout: string;
  /** Its standard error. */
  stderr: string;
  /** Peak resident memory (`VmHWM`), in bytes; 0 when it could not be read. */
  peakRss: number;
  /** Where its memory went, from inside (with `memoryReport`; `undefined` otherwise). */
  memory?: MemoryReport;
}

/**
 * Runs an `archiver` command from source in a child process and samples its peak memory.
 *
 * @param args The command line after `archiver`.
 * @param options Working folder, extra environment, and whether the program runs through
 *   bench/_memory_child.ts to say where its memory goes.
 * @returns Exit code, output, time and peak resident memory.
 */
export async function runArchiver(
  args: string[],
  options: {
    cwd?: string;
    env?: Record<string, string>;
    memoryReport?: boolean;
    /** V8 flags. @default ARCHIVER_V8_FLAGS (the `archiver` task's and `deno compile`'s) */
    v8Flags?: string;
  } = {},
): Promise<ArchiverRun> {
  if (options.memoryReport) return await _runWithMemoryReport(args, options);
  const started = performance.now();
  await using child = spawnSelf(args, {
    cwd: options.cwd,
    env: { ...QUIET, ...options.env },
    stdout: "piped",
    permissions: PERMISSIONS,
    v8Flags: options.v8Flags,
  });
  const sampler = sampleMemory(child.pid, 50);
  const code = await child.exited;
  sampler.stop();
  return {
    code,
    ms: performance.now() - started,
    stdout: child.stdout(),
    stderr: child.stderr(),
    peakRss: sampler.peak,
  };
}

/** Prefix of bench/_memory_child.ts's report line on standard error. */
export const MEMORY_MARK = "ARCHIVER_BENCH_MEMORY ";

const _MEMORY_CHILD = fileURLToPath(new URL("./_memory_child.ts", import.meta.url));

// The same command line as spawnSelf's, the wrapper in place of cli/main.ts.
async function _runWithMemoryReport(
  args: string[],
  options: { cwd?: string; env?: Record<string, string>; v8Flags?: string },
): Promise<ArchiverRun> {
  if (Deno.build.standalone) throw new Error("The memory report needs the program from source");
  const self = selfCommand(PERMISSIONS, options.v8Flags);
  const started = performance.now();
  const child = new Deno.Command(self.command, {
    args: [...self.args.slice(0, -1), _MEMORY_CHILD, ...args],
    cwd: options.cwd,
    env: { ...QUIET, ...options.env },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const sampler = sampleMemory(child.pid, 50);
  const output = await child.output();
  sampler.stop();
  const decoder = new TextDecoder();
  const stderr = decoder.decode(output.stderr);
  const line = stderr.split("\n").find((text) => text.startsWith(MEMORY_MARK));
  return {
    code: output.code,
    ms: performance.now() - started,
    stdout: decoder.decode(output.stdout),
    stderr: stderr.split("\n").filter((text) => !text.startsWith(MEMORY_MARK)).join("\n"),
    peakRss: sampler.peak,
    memory: line ? JSON.parse(line.slice(MEMORY_MARK.length)) as MemoryReport : undefined,
  };
}

/** A long-running `archiver` command (watch, simulate --live). */
export interface ArchiverProcess {
  /** The process. */
  child: Deno.ChildProcess;
  /** What it printed on standard output so far. */
  stdout(): string;
  /** What it printed on standard error so far. */
  stderr(): string;
  /** Waits until its standard error matches. */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<void>;
  /** Sends a signal (SIGTERM by default) and waits for the exit code. */
  stop(signal?: Deno.Signal): Promise<number>;
  /** Waits for it to exit by itself. */
  exited(): Promise<number>;
}

/**
 * Starts an `archiver` command from source in a child process.
 *
 * @param args The command line after `archiver`.
 * @param options Working folder and extra environment.
 * @returns The running process.
 */
export function spawnArchiver(
  args: string[],
  options: { cwd?: string; env?: Record<string, string> } = {},
): ArchiverProcess {
  const child = spawnSelf(args, {
    cwd: options.cwd,
    env: { ...QUIET, ...options.env },
    stdout: "piped",
    permissions: PERMISSIONS,
  });
  return {
    child: child.child,
    stdout: child.stdout,
    stderr: child.stderr,
    waitFor: async (pattern, timeoutMs = 30_000) => {
      await child.waitFor(pattern, timeoutMs);
    },
    stop: async (signal = "SIGTERM") => {
      child.kill(signal);
      return await child.exited;
    },
    exited: () => child.exited,
  };
}
