/**
 * Runs `archiver watch` as a real process, the way NSSM does, so tests can send it signals,
 * kill it with SIGKILL and restart it, and read what it wrote.
 *
 * @module
 */

import { join } from "node:path";
import { fileURLToPath } from "node:url";

const MAIN = fileURLToPath(new URL("../../cli/main.ts", import.meta.url));

/** A running watcher process. */
export interface WatcherProcess extends AsyncDisposable {
  /** The process. */
  child: Deno.ChildProcess;
  /** Everything it printed on standard error so far. */
  stderr(): string;
  /** Waits until its standard error matches. */
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
 * @returns The running process.
 */
export function startWatcher(
  uri: string,
  db: string,
  dir: string,
  args: string[] = [],
): WatcherProcess {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-all",
      MAIN,
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
    cwd: dir,
    env: { NO_COLOR: "1", ARCHIVER_CONNECT_TIMEOUT: "2s" },
    stdout: "null",
    stderr: "piped",
  }).spawn();
  let text = "";
  const decoder = new TextDecoder();
  const pump = (async () => {
    for await (const chunk of child.stderr) text += decoder.decode(chunk, { stream: true });
  })();
  const process: WatcherProcess = {
    child,
    stderr: () => text,
    async waitFor(pattern, timeoutMs = 15_000) {
      const end = Date.now() + timeoutMs;
      while (!pattern.test(text)) {
        if (Date.now() > end) throw new Error(`Watcher never printed ${pattern}:\n${text}`);
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
    },
    async stop(signal = "SIGTERM") {
      const sent = performance.now();
      try {
        child.kill(signal);
      } catch {
        // already gone
      }
      const status = await child.status;
      await pump;
      return { code: status.code, ms: performance.now() - sent };
    },
    async [Symbol.asyncDispose]() {
      await process.stop("SIGKILL");
    },
  };
  return process;
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
