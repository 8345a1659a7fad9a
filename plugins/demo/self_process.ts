/**
 * Runs another command of this same program as a child process — the compiled binary itself, or
 * `deno run cli/main.ts` from source — the way a service manager runs `archiver watch`, so it
 * can be stopped with a signal and its exit code checked.
 *
 * @module
 */

import { fileURLToPath } from "node:url";

/** A command of this program running as a child process. */
export interface SelfProcess {
  /** The process id. */
  readonly pid: number;
  /** Resolves with the exit code once the process has ended. */
  readonly exited: Promise<number>;
  /** Standard error so far. */
  stderr(): string;
  /**
   * Asks the process to stop (SIGTERM; on Windows, where a child cannot be sent Ctrl+C, it is
   * terminated) and waits for it, killing it after `timeoutMs`.
   *
   * @param timeoutMs How long a clean stop may take.
   * @returns The exit code, and whether it had to be killed.
   */
  stop(timeoutMs: number): Promise<{ code: number; killed: boolean; ms: number }>;
}

// Running from source, the child gets what `archiver watch` needs and nothing more.
const _PERMISSIONS = [
  "--allow-net",
  "--allow-read",
  "--allow-write",
  "--allow-env",
  "--allow-sys",
  "--no-prompt",
];

/**
 * The executable and leading arguments that run this program again.
 *
 * @returns The command and its first arguments, before the program's own.
 */
export function selfCommand(): { command: string; args: string[] } {
  if (Deno.build.standalone) return { command: Deno.execPath(), args: [] };
  const main = fileURLToPath(new URL("../../cli/main.ts", import.meta.url));
  const config = fileURLToPath(new URL("../../deno.json", import.meta.url));
  return { command: Deno.execPath(), args: ["run", ..._PERMISSIONS, "--config", config, main] };
}

/**
 * Starts `archiver <args>` as a child process; its standard output is discarded and its
 * standard error kept.
 *
 * @param args The program's arguments.
 * @param options Working folder, environment (on top of this process's, which Deno itself needs
 *   to find its cache) and a callback for each line of standard error.
 * @returns The running process.
 */
export function spawnSelf(
  args: readonly string[],
  options: {
    cwd: string;
    env: Readonly<Record<string, string | undefined>>;
    onLine?: (line: string) => void;
  },
): SelfProcess {
  const self = selfCommand();
  const env = Object.fromEntries(
    Object.entries(options.env).filter((entry): entry is [string, string] =>
      entry[1] !== undefined
    ),
  );
  const child = new Deno.Command(self.command, {
    args: [...self.args, ...args],
    cwd: options.cwd,
    env,
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  let text = "";
  let partial = "";
  const decoder = new TextDecoder();
  const pump = (async () => {
    for await (const chunk of child.stderr) {
      const piece = decoder.decode(chunk, { stream: true });
      text += piece;
      const lines = (partial + piece).split("\n");
      partial = lines.pop() ?? "";
      for (const line of lines) options.onLine?.(line);
    }
    if (partial) options.onLine?.(partial);
  })();
  const exited = Promise.all([child.status, pump]).then(([status]) => status.code);
  return {
    pid: child.pid,
    exited,
    stderr: () => text,
    async stop(timeoutMs) {
      const sent = performance.now();
      _kill(child, Deno.build.os === "windows" ? "SIGKILL" : "SIGTERM");
      let timer: ReturnType<typeof setTimeout> | undefined;
      const late = new Promise<"late">((resolve) => {
        timer = setTimeout(() => resolve("late"), timeoutMs);
      });
      const first = await Promise.race([exited, late]);
      clearTimeout(timer);
      if (first !== "late") return { code: first, killed: false, ms: performance.now() - sent };
      _kill(child, "SIGKILL");
      return { code: await exited, killed: true, ms: performance.now() - sent };
    },
  };
}

function _kill(child: Deno.ChildProcess, signal: Deno.Signal): void {
  try {
    child.kill(signal);
  } catch {
    // Already gone.
  }
}
