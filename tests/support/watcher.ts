/**
 * Runs `archiver watch` as a real process, the way NSSM does, so tests can send it signals,
 * kill it with SIGKILL and restart it, and read what it wrote. It is the core's child-process
 * runner (core/runtime/child_process.ts) with the watcher's command line.
 *
 * @module
 */

import { join } from "node:path";
import { type SelfProcess, spawnSelf } from "../../core/runtime/child_process.ts";

/** A running watcher process. */
export interface WatcherProcess extends Omit<SelfProcess, "stop" | "waitFor"> {
  /** Waits until its standard error matches (within 60 s unless told). */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<void>;
  /** Sends a signal and waits for the exit code. */
  stop(signal?: Deno.Signal): Promise<{ code: number; ms: number }>;
}

/**
 * Starts `archiver watch` on a database, with its files in `dir`.
 *
 * @param uri The server.
 * @param db The database.
 * @param dir Working folder: token file, status file and logs go there.
 * @param args Further `watch` flags.
 * @param options Further environment, on top of `NO_COLOR=1`, a 2 s connect timeout and a 1 s
 *   summary interval.
 * @returns The running process.
 */
export function startWatcher(
  uri: string,
  db: string,
  dir: string,
  args: string[] = [],
  options: { env?: Record<string, string> } = {},
): WatcherProcess {
  const process = spawnSelf(
    [
      "--uri",
      uri,
      "--db",
      db,
      "--log-dir",
      join(dir, "logs"),
      "watch",
      "--batch-wait-ms",
      "50",
      ...args,
    ],
    {
      cwd: dir,
      // A summary line a second, so a test sees what a micro-batch did within seconds.
      env: {
        NO_COLOR: "1",
        ARCHIVER_CONNECT_TIMEOUT: "2s",
        ARCHIVER_WATCH_SUMMARY_INTERVAL: "1s",
        ...options.env,
      },
      // The archiver task's permissions, not --allow-all: a permission the tool lacks must fail here.
      permissions: ["--allow-run"],
    },
  );
  return {
    ...process,
    // A generous default: the suite runs four test files at a time on two cores, and a watcher
    // starting (a Deno process, its connection, its catch-up) beside them can take many seconds.
    async waitFor(pattern, timeoutMs = 60_000) {
      await process.waitFor(pattern, timeoutMs);
    },
    async stop(signal = "SIGTERM") {
      if (signal !== "SIGKILL" && process.stderr() === "") {
        // Its first line comes once it listens for signals: sent while Deno still loads the
        // program (a loaded machine), SIGTERM would end it as 143 before it could stop cleanly.
        await Promise.race([process.waitFor(/./, 60_000).catch(() => {}), process.exited]);
      }
      const sent = performance.now();
      process.kill(signal);
      return { code: await process.exited, ms: performance.now() - sent };
    },
  };
}

/**
 * Polls until `check` returns true.
 *
 * @param check The condition.
 * @param timeoutMs How long to wait.
 * @param what Said when it times out.
 */
export async function eventually(check: () => Promise<boolean>, timeoutMs: number, what: string) {
  const end = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}
