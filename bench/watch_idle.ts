/**
 * Idle watcher benchmark: the real `archiver watch` as a child process, connected to a sandbox
 * (its own process) through the counting proxy (bench/_proxy.ts), with no traffic. Over a
 * minute it measures the watcher's CPU (`/proc/<pid>/stat`, and by thread from
 * `/proc/<pid>/task`) and every command it sends, by name: what an idle watcher asks of a
 * production server. It starts measuring 35 s after the stream opened: V8's memory reducer
 * collects the start's garbage about 30 s after the allocations stop, once, and that is the
 * start's cost, not a minute's.
 *
 * Run: `deno run --allow-net --allow-read --allow-write --allow-env --allow-sys --allow-run
 * bench/watch_idle.ts [--quick]`
 *
 * @module
 */

import { MongoClient } from "mongodb";
import { join } from "node:path";
import {
  parseProcStat,
  PROC_TICKS_PER_SECOND,
  processCpuSeconds,
  readProc,
} from "../core/runtime/proc.ts";
import { populate } from "./batch.ts";
import { spawnArchiver, startSandboxProcess } from "./_child.ts";
import { startProxy } from "./_proxy.ts";

/** What the idle benchmark measured, per minute. */
export interface WatchIdleResult {
  /** How long it measured, in ms. */
  durationMs: number;
  /** The watcher's CPU per minute, in ms. */
  cpuMsPerMinute: number;
  /** Commands sent per minute, all of them. */
  commandsPerMinute: number;
  /** Commands per minute by name (`hello` is the driver's server monitoring). */
  byCommand: Record<string, number>;
  /** Bytes per minute, both ways. */
  bytesPerMinute: number;
  /** The watcher's CPU per minute by thread name (`deno` is the main thread), in ms. */
  cpuThreads: Array<{ name: string; msPerMinute: number }>;
}

/**
 * Runs the idle benchmark.
 *
 * @param options How long to measure, after a settling time.
 * @returns The figures, per minute.
 */
export async function benchWatchIdle(
  options: {
    /** How long it measures, in ms. @default 60000 */
    durationMs?: number;
    /** How long after the stream opened it starts, in ms. @default 35000 */
    settleMs?: number;
  } = {},
): Promise<WatchIdleResult> {
  const durationMs = options.durationMs ?? 60_000;
  const dir = await Deno.makeTempDir({ prefix: "archiver-bench-idle-" });
  await using sandbox = await startSandboxProcess();
  const url = new URL(sandbox.uri.replace(/^mongodb:/, "http:"));
  await using proxy = startProxy({ hostname: url.hostname, port: Number(url.port) });
  const client = new MongoClient(sandbox.uri);
  const name = "bench_idle";
  let watcher: ReturnType<typeof spawnArchiver> | undefined;
  try {
    await client.connect();
    await populate(client.db(name), 1_000, 0);
    watcher = spawnArchiver(
      ["--uri", proxy.uriFor(sandbox.uri), "--db", name, "--log-dir", join(dir, "logs"), "watch"],
      { cwd: dir },
    );
    await watcher.waitFor(/Change Stream opened/);
    // Past the start (index, catch-up, first token save): what it does from then on, idle.
    await new Promise((resolve) => setTimeout(resolve, options.settleMs ?? 35_000));
    const pid = watcher.child.pid;
    const threadsBefore = await _threadCpu(pid);
    const cpuBefore = await processCpuSeconds(pid) ?? NaN;
    proxy.reset();
    await new Promise((resolve) => setTimeout(resolve, durationMs));
    const cpuAfter = await processCpuSeconds(pid) ?? NaN;
    const threadsAfter = await _threadCpu(pid);
    const byThread = new Map<string, number>();
    for (const [tid, after] of threadsAfter) {
      const spent = after.seconds - (threadsBefore.get(tid)?.seconds ?? 0);
      byThread.set(after.name, (byThread.get(after.name) ?? 0) + spent);
    }
    const counts = proxy.counts();
    const perMinute = 60_000 / durationMs;
    const byCommand = Object.fromEntries(
      Object.entries(counts.byCommand).map(([command, c]) => [command, c.requests * perMinute]),
    );
    return {
      durationMs,
      cpuMsPerMinute: (cpuAfter - cpuBefore) * 1000 * perMinute,
      commandsPerMinute: Object.values(byCommand).reduce((sum, n) => sum + n, 0),
      byCommand,
      bytesPerMinute: (counts.toServer + counts.toClient) * perMinute,
      cpuThreads: [...byThread].filter(([, seconds]) => seconds > 0)
        .sort(([, a], [, b]) => b - a)
        .map(([name, seconds]) => ({ name, msPerMinute: seconds * 1000 * perMinute })),
    };
  } finally {
    await watcher?.stop();
    await client.close();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

/** CPU seconds of each thread of a process, by thread id, with the thread's name. */
async function _threadCpu(pid: number): Promise<Map<string, { name: string; seconds: number }>> {
  const threads = new Map<string, { name: string; seconds: number }>();
  try {
    // Deno lets a program list a /proc folder only with --allow-all; `ls` needs --allow-run.
    const listed = await new Deno.Command("ls", {
      args: [`/proc/${pid}/task`],
      stdout: "piped",
      stderr: "null",
    }).output();
    const tids = new TextDecoder().decode(listed.stdout).split(/\s+/).filter(Boolean);
    for (const tid of tids) {
      const [stat, comm] = await Promise.all([
        readProc(`${pid}/task/${tid}/stat`),
        readProc(`${pid}/task/${tid}/comm`),
      ]);
      if (!stat || !comm) continue;
      const { utime, stime } = parseProcStat(stat);
      threads.set(tid, {
        name: comm.trim(),
        seconds: (utime + stime) / PROC_TICKS_PER_SECOND,
      });
    }
  } catch {
    // Not Linux, or the process is gone: no breakdown.
  }
  return threads;
}

if (import.meta.main) {
  const quick = Deno.args.includes("--quick");
  const result = await benchWatchIdle(quick ? { durationMs: 5_000, settleMs: 1_000 } : {});
  console.log(JSON.stringify(result, null, 2));
}
