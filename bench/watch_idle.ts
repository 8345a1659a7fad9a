/**
 * Idle watcher benchmark: the real `archiver watch` as a child process, connected to a sandbox
 * (its own process) through the counting proxy (bench/_proxy.ts), with no traffic. Over a
 * minute it measures the watcher's CPU (`/proc/<pid>/stat`) and every command it sends, by
 * name: what an idle watcher asks of a production server.
 *
 * Run: `deno run --allow-net --allow-read --allow-write --allow-env --allow-sys --allow-run
 * bench/watch_idle.ts [--quick]`
 *
 * @module
 */

import { MongoClient } from "mongodb";
import { join } from "node:path";
import { processCpuSeconds } from "../core/runtime/proc.ts";
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
}

/**
 * Runs the idle benchmark.
 *
 * @param options How long to measure, after a settling time.
 * @returns The figures, per minute.
 */
export async function benchWatchIdle(
  options: { durationMs?: number; settleMs?: number } = {},
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
    await new Promise((resolve) => setTimeout(resolve, options.settleMs ?? 5_000));
    const pid = watcher.child.pid;
    const cpuBefore = await processCpuSeconds(pid) ?? NaN;
    proxy.reset();
    await new Promise((resolve) => setTimeout(resolve, durationMs));
    const cpuAfter = await processCpuSeconds(pid) ?? NaN;
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
    };
  } finally {
    await watcher?.stop();
    await client.close();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

if (import.meta.main) {
  const quick = Deno.args.includes("--quick");
  const result = await benchWatchIdle(quick ? { durationMs: 5_000, settleMs: 1_000 } : {});
  console.log(JSON.stringify(result, null, 2));
}
