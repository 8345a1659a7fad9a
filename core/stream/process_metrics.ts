/**
 * The process metrics (`process_*`, `nodejs_*`) of the watcher's registry, true under Deno.
 *
 * prom-client reads memory and file descriptors from `/proc/self/status`, `/proc/self/fd` and
 * `/proc/self/limits` with synchronous `fs` calls and ignores any error. Deno (since 1.43) lets a
 * program read `/proc` only under `--allow-all`, which `archiver` is not given, so every read
 * failed: `process_resident_memory_bytes`, `process_virtual_memory_bytes`, `process_heap_bytes`
 * and `process_open_fds` stayed at 0 and `process_max_fds` was missing. Those are replaced by
 * gauges of the same names and help that read what Deno allows: the resident size from
 * `Deno.memoryUsage()` (no permission, every platform), and on Linux the rest from `/proc/<pid>` —
 * directly under `--allow-all`, else through `cat`/`ls` (core/runtime/proc.ts; `--allow-run` is
 * among `archiver`'s permissions). Where the platform cannot tell (Windows, macOS, no permission
 * to run a child), a metric has no sample rather than a false 0.
 *
 * `process_start_time_seconds` is replaced too: prom-client's `now - process.uptime()` counts
 * from the JavaScript runtime's start, after Deno loaded (or type-checked) the program, seconds
 * late under `deno test`; on Linux it is the process's own start, elsewhere prom-client's figure.
 * CPU time (`process.cpuUsage()`) is read correctly by prom-client under Deno and is kept.
 *
 * @module
 */

import { collectDefaultMetrics, Gauge, type Registry } from "prom-client";
import process from "node:process";
import { parseProcStat, PROC_TICKS_PER_SECOND, readProc, readProcFile } from "../runtime/proc.ts";

/** prom-client's gauges named like counters, which `promtool check metrics` rejects. */
const _MISNAMED_DEFAULTS = [
  "nodejs_active_handles_total",
  "nodejs_active_requests_total",
  "nodejs_active_resources_total",
];

/** The process metrics prom-client reads from `/proc` with `fs`, which Deno refuses. */
export const REPLACED_PROCESS_METRICS = [
  "process_resident_memory_bytes",
  "process_virtual_memory_bytes",
  "process_heap_bytes",
  "process_open_fds",
  "process_max_fds",
  "process_start_time_seconds",
] as const;

/** What one read of the process's `/proc` folder found (each `undefined` when unknown). */
export interface ProcessSample {
  /** `VmSize`, in bytes. */
  virtualBytes?: number;
  /** `VmData`, in bytes. */
  heapBytes?: number;
  /** Entries of `/proc/<pid>/fd`. */
  openFds?: number;
  /** The soft limit of open files. */
  maxFds?: number;
  /** When the process started, in Unix seconds. */
  startSeconds?: number;
}

/**
 * Reads the `Vm*` sizes of a `/proc/<pid>/status` text.
 *
 * @param text The file's content.
 * @returns Each `Vm…` field in bytes, by field name (`VmRSS`, `VmSize`, …).
 */
export function parseProcStatus(text: string): Record<string, number> {
  const sizes: Record<string, number> = {};
  for (const match of text.matchAll(/^(Vm\w+):\s+(\d+) kB$/gm)) {
    sizes[match[1]!] = Number(match[2]) * 1024;
  }
  return sizes;
}

/**
 * Reads the soft limit of open files of a `/proc/<pid>/limits` text.
 *
 * @param text The file's content.
 * @returns The limit, or `undefined` when the line is missing or says `unlimited`.
 */
export function parseMaxOpenFiles(text: string): number | undefined {
  const match = /^Max open files\s+(\d+)\s/m.exec(text);
  return match ? Number(match[1]) : undefined;
}

/**
 * When a process started, from `/proc/stat`'s boot time and `/proc/<pid>/stat`'s start time.
 *
 * @param systemStat The content of `/proc/stat`.
 * @param processStat The content of `/proc/<pid>/stat`.
 * @returns Unix seconds, or `undefined` when `/proc/stat` has no boot time.
 */
export function processStartSeconds(systemStat: string, processStat: string): number | undefined {
  const bootTime = /^btime (\d+)$/m.exec(systemStat);
  if (!bootTime) return undefined;
  return Number(bootTime[1]) + parseProcStat(processStat).starttime / PROC_TICKS_PER_SECOND;
}

/** Options of {@link registerProcessMetrics}. */
export interface ProcessMetricsOptions {
  /** The process whose `/proc` folder is read. @default Deno.pid */
  pid?: number;
}

/**
 * Registers the default process metrics on a registry: prom-client's, with the six it cannot
 * read under Deno replaced by collectors that can, and its misnamed gauges left out.
 *
 * @param registry The registry `/metrics` serves.
 * @param options The process to describe.
 */
export function registerProcessMetrics(
  registry: Registry,
  options: ProcessMetricsOptions = {},
): void {
  const pid = options.pid ?? Deno.pid;
  collectDefaultMetrics({ register: registry });
  // The same figures stay, broken down by type, in nodejs_active_handles, _requests, _resources.
  for (const name of [..._MISNAMED_DEFAULTS, ...REPLACED_PROCESS_METRICS]) {
    registry.removeSingleMetric(name);
  }
  const sample = _sampler(pid, Date.now() / 1000 - process.uptime());
  new Gauge({
    name: "process_resident_memory_bytes",
    help: "Resident memory size in bytes.",
    registers: [registry],
    collect() {
      this.set(Deno.memoryUsage().rss);
    },
  });
  const gauges: Array<[string, string, keyof ProcessSample]> = [
    ["process_virtual_memory_bytes", "Virtual memory size in bytes.", "virtualBytes"],
    ["process_heap_bytes", "Process heap size in bytes.", "heapBytes"],
    ["process_open_fds", "Number of open file descriptors.", "openFds"],
    ["process_max_fds", "Maximum number of open file descriptors.", "maxFds"],
    [
      "process_start_time_seconds",
      "Start time of the process since unix epoch in seconds.",
      "startSeconds",
    ],
  ];
  for (const [name, help, field] of gauges) {
    new Gauge({
      name,
      help,
      registers: [registry],
      async collect() {
        const value = (await sample())[field];
        if (value === undefined) this.remove();
        else this.set(value);
      },
    });
  }
}

/**
 * One read of `/proc/<pid>` shared by the gauges of a scrape (prom-client collects every metric
 * at once, and each read may cost a child process), its files read one after the other so the
 * count of descriptors is not swollen by the pipes of the other reads. The limit and the start
 * time do not change: they are read once.
 */
function _sampler(pid: number, runtimeStart: number): () => Promise<ProcessSample> {
  let current: { at: number; sample: Promise<ProcessSample> } | undefined;
  let fixed: { maxFds?: number; startSeconds?: number } | undefined;
  const read = async (): Promise<ProcessSample> => {
    fixed ??= {
      maxFds: _orUndefined(await readProcFile(pid, "limits"), parseMaxOpenFiles),
      startSeconds: await _readStartSeconds(pid) ??
        (pid === Deno.pid ? runtimeStart : undefined),
    };
    const sizes = _orUndefined(await readProcFile(pid, "status"), parseProcStatus) ?? {};
    const openFds = await _countOpenFds(pid);
    return { ...fixed, virtualBytes: sizes.VmSize, heapBytes: sizes.VmData, openFds };
  };
  return () => {
    const now = performance.now();
    if (current === undefined || now - current.at > 1000) current = { at: now, sample: read() };
    return current.sample;
  };
}

function _orUndefined<T>(text: string | undefined, parse: (text: string) => T): T | undefined {
  return text === undefined ? undefined : parse(text);
}

async function _readStartSeconds(pid: number): Promise<number | undefined> {
  const system = await readProc("stat");
  const own = await readProcFile(pid, "stat");
  if (system === undefined || own === undefined) return undefined;
  try {
    return processStartSeconds(system, own);
  } catch {
    return undefined;
  }
}

/** Counts the entries of `/proc/<pid>/fd`: directly when Deno may, else with `ls`. */
async function _countOpenFds(pid: number): Promise<number | undefined> {
  if (Deno.build.os !== "linux") return undefined;
  const folder = `/proc/${pid}/fd`;
  try {
    let count = 0;
    for await (const _ of Deno.readDir(folder)) count++;
    return count;
  } catch (error) {
    if (
      !(error instanceof Deno.errors.NotCapable || error instanceof Deno.errors.PermissionDenied)
    ) {
      return undefined;
    }
  }
  try {
    const output = await new Deno.Command("ls", {
      args: ["-1", folder],
      stdout: "piped",
      stderr: "null",
    }).output();
    if (!output.success) return undefined;
    return new TextDecoder().decode(output.stdout).split("\n").filter((line) => line !== "")
      .length;
  } catch {
    return undefined;
  }
}
