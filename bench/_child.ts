/**
 * Child processes for the benchmarks: a sandbox server in its own process (so its memory is not
 * counted with the process measured), `archiver` commands run from source the way an operator
 * runs them, and resident-memory sampling from `/proc/<pid>/status` on Linux.
 *
 * @module
 */

import { fileURLToPath } from "node:url";

const MAIN = fileURLToPath(new URL("../cli/main.ts", import.meta.url));
const PERMISSIONS = [
  "--allow-net",
  "--allow-read",
  "--allow-write",
  "--allow-env",
  "--allow-sys",
  "--allow-run",
];

/** Resident memory of a process, from `/proc/<pid>/status`, in bytes. */
export interface ProcessMemory {
  /** Current resident set (`VmRSS`). */
  rss: number;
  /** Peak resident set so far (`VmHWM`). */
  hwm: number;
}

/**
 * Reads a process's resident memory on Linux. Deno reads `/proc` only with `--allow-all`, so the
 * file is read by `cat` (`--allow-run` is needed anyway to start the processes measured).
 *
 * @param pid The process id.
 * @returns Current and peak resident memory, or `undefined` when unavailable (not Linux, or gone).
 */
export async function readProcessMemory(pid: number): Promise<ProcessMemory | undefined> {
  if (Deno.build.os !== "linux") return undefined;
  try {
    const output = await new Deno.Command("cat", {
      args: [`/proc/${pid}/status`],
      stdout: "piped",
      stderr: "null",
    }).output();
    if (!output.success) return undefined;
    const status = new TextDecoder().decode(output.stdout);
    const field = (name: string) => {
      const match = status.match(new RegExp(`^${name}:\\s+(\\d+) kB`, "m"));
      return match ? Number(match[1]) * 1024 : 0;
    };
    return { rss: field("VmRSS"), hwm: field("VmHWM") };
  } catch {
    return undefined;
  }
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

/** A sandbox server running in its own process. */
export interface SandboxProcess extends AsyncDisposable {
  /** Connection string. */
  uri: string;
  /** Process id. */
  pid: number;
  /** Stops it (SIGTERM) and waits for it to exit. */
  stop(): Promise<void>;
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
  const args = ["run", ...PERMISSIONS, MAIN, "sandbox", "--port", "0"];
  if (options.oplogSize) args.push("--oplog-size", String(options.oplogSize));
  const child = new Deno.Command(Deno.execPath(), {
    args,
    env: { NO_COLOR: "1" },
    stdin: "null",
    stdout: "piped",
    stderr: "null",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  while (!text.includes("\n")) {
    const { value, done } = await reader.read();
    if (done) break;
    text += value;
  }
  const uri = text.split("\n")[0]?.trim() ?? "";
  // Keep draining so the child never blocks on a full pipe.
  const drain = (async () => {
    while (!(await reader.read()).done) { /* discard */ }
  })();
  if (!uri.startsWith("mongodb://")) {
    child.kill("SIGKILL");
    await child.status;
    throw new Error(`Cannot start the sandbox process: it printed ${JSON.stringify(text)}`);
  }
  let stopped: Promise<void> | undefined;
  const stop = () =>
    stopped ??= (async () => {
      try {
        child.kill("SIGTERM");
      } catch {
        // already gone
      }
      await child.status;
      await drain.catch(() => {});
    })();
  return { uri, pid: child.pid, stop, [Symbol.asyncDispose]: stop };
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
}

/**
 * Runs an `archiver` command from source in a child process and samples its peak memory.
 *
 * @param args The command line after `archiver`.
 * @param options Working folder and extra environment.
 * @returns Exit code, output, time and peak resident memory.
 */
export async function runArchiver(
  args: string[],
  options: { cwd?: string; env?: Record<string, string> } = {},
): Promise<ArchiverRun> {
  const started = performance.now();
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", ...PERMISSIONS, MAIN, ...args],
    cwd: options.cwd,
    env: { NO_COLOR: "1", ...options.env },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const sampler = sampleMemory(child.pid, 50);
  const [stdout, stderr] = await Promise.all([
    new Response(child.stdout).text(),
    new Response(child.stderr).text(),
  ]);
  const status = await child.status;
  sampler.stop();
  return {
    code: status.code,
    ms: performance.now() - started,
    stdout,
    stderr,
    peakRss: sampler.peak,
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
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", ...PERMISSIONS, MAIN, ...args],
    cwd: options.cwd,
    env: { NO_COLOR: "1", ...options.env },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let text = "";
  let out = "";
  const decoder = new TextDecoder();
  const outDecoder = new TextDecoder();
  const pump = Promise.all([
    (async () => {
      for await (const chunk of child.stderr) text += decoder.decode(chunk, { stream: true });
    })(),
    (async () => {
      for await (const chunk of child.stdout) out += outDecoder.decode(chunk, { stream: true });
    })(),
  ]);
  const exited = async () => {
    const status = await child.status;
    await pump.catch(() => {});
    return status.code;
  };
  return {
    child,
    stdout: () => out,
    stderr: () => text,
    async waitFor(pattern, timeoutMs = 30_000) {
      const end = Date.now() + timeoutMs;
      while (!pattern.test(text)) {
        if (Date.now() > end) throw new Error(`archiver never printed ${pattern}:\n${text}`);
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
    },
    async stop(signal = "SIGTERM") {
      try {
        child.kill(signal);
      } catch {
        // already gone
      }
      return await exited();
    },
    exited,
  };
}
