/**
 * Runs a command of this same program as a child process — the compiled binary itself, or
 * `deno run cli/main.ts` from source — the way a service manager runs `archiver watch`: its
 * output is kept, it can be waited on, sent signals, stopped like a service and its CPU time
 * read. The demo runs its watcher this way; the tests and benchmarks run every command they
 * start as a process this way.
 *
 * @module
 */

import { processCpuSeconds } from "./proc.ts";
import { fileURLToPath } from "node:url";

/** The permissions a command run from source gets unless the caller asks for more. */
/**
 * The V8 flags `archiver` runs with (the `archiver` and `compile` tasks of deno.json set the
 * same): a young generation of 2 MB semi-spaces and an old generation bounded at 256 MB, so the
 * heap's reservation follows what the tool holds instead of growing to V8's defaults. Measured
 * (README, Performance): `archiver batch` over 20,000 orders peaks at 110 MB of resident memory
 * with them, 193 MB without.
 */
export const ARCHIVER_V8_FLAGS = "--max-semi-space-size=2,--max-old-space-size=256";

export const SELF_PERMISSIONS: readonly string[] = [
  "--allow-net",
  "--allow-read",
  "--allow-write",
  "--allow-env",
  "--allow-sys",
  "--no-prompt",
];

/** Where a child's output is read from. */
export type OutputStream = "stdout" | "stderr";

/** A command of this program running as a child process. */
export interface SelfProcess extends AsyncDisposable {
  /** The process id. */
  readonly pid: number;
  /** Deno's own handle, for what this one does not offer; its output is already being read. */
  readonly child: Deno.ChildProcess;
  /** Resolves with the exit code once the process has ended and its output has been read. */
  readonly exited: Promise<number>;
  /** Standard error so far. */
  stderr(): string;
  /** Standard output so far (always empty unless it was asked for with `stdout: "piped"`). */
  stdout(): string;
  /**
   * Waits until the output so far matches `pattern`.
   *
   * @param pattern What to wait for.
   * @param timeoutMs How long to wait. @default 15000
   * @param options Which output to watch. @default { stream: "stderr" }
   * @returns The match.
   * @throws Error naming the pattern, with the output so far, when the time is up or the process
   *   ended first.
   */
  waitFor(
    pattern: RegExp,
    timeoutMs?: number,
    options?: { stream?: OutputStream },
  ): Promise<RegExpMatchArray>;
  /**
   * Asks the process to stop and waits for it, killing it (SIGKILL) after `timeoutMs`. On
   * Windows, where a child cannot be sent Ctrl+C, it is terminated straight away. Stopping a
   * process that has already ended returns its exit code.
   *
   * @param timeoutMs How long a clean stop may take.
   * @param signal The signal that asks it to stop. @default "SIGTERM"
   * @returns The exit code, whether it had to be killed, and how long the stop took.
   */
  stop(
    timeoutMs: number,
    signal?: Deno.Signal,
  ): Promise<{ code: number; killed: boolean; ms: number }>;
  /**
   * Sends a signal (SIGKILL, SIGSTOP, SIGCONT, …) without waiting; nothing happens when the
   * process has already ended.
   *
   * @param signal The signal.
   */
  kill(signal: Deno.Signal): void;
  /**
   * The CPU time the process has used so far, user and system, from `/proc/<pid>/stat`.
   *
   * @returns Seconds, or `undefined` when not on Linux, when the process has ended, or when this
   *   process may neither read `/proc` (it needs `--allow-all`) nor run `cat`.
   */
  cpuSeconds(): Promise<number | undefined>;
}

/** How to start a command of this program. */
export interface SpawnSelfOptions {
  /** Working folder. */
  cwd?: string;
  /**
   * Environment, on top of this process's (which Deno itself needs to find its cache); an
   * `undefined` value is left out.
   */
  env?: Readonly<Record<string, string | undefined>>;
  /** Called with each line of standard error as it arrives. */
  onLine?: (line: string) => void;
  /** Whether standard output is kept or discarded. @default "null" */
  stdout?: "null" | "piped";
  /**
   * Further permission flags when run from source (`--allow-run`, `--allow-all`), on top of
   * {@link SELF_PERMISSIONS}; the compiled binary has the permissions it was compiled with.
   */
  permissions?: readonly string[];
  /** V8 flags, when run from source. @default ARCHIVER_V8_FLAGS */
  v8Flags?: string;
}

/**
 * The executable and leading arguments that run this program again.
 *
 * @param permissions Permission flags on top of {@link SELF_PERMISSIONS}, when run from source.
 * @param v8Flags V8 flags, when run from source (`""`: none). @default ARCHIVER_V8_FLAGS
 * @returns The command and its first arguments, before the program's own.
 * @example
 * ```ts
 * const self = selfCommand(["--allow-run"]);
 * new Deno.Command(self.command, { args: [...self.args, "batch", "--json"] });
 * ```
 */
export function selfCommand(
  permissions: readonly string[] = [],
  v8Flags: string = ARCHIVER_V8_FLAGS,
): { command: string; args: string[] } {
  if (Deno.build.standalone) return { command: Deno.execPath(), args: [] };
  const main = fileURLToPath(new URL("../../cli/main.ts", import.meta.url));
  const config = fileURLToPath(new URL("../../deno.json", import.meta.url));
  // Deno refuses `--allow-all` beside any other `--allow-*` flag.
  const wanted = [...new Set([...SELF_PERMISSIONS, ...permissions])];
  const flags = permissions.some((flag) => flag === "--allow-all" || flag === "-A")
    ? ["--allow-all", ...wanted.filter((flag) => !/^(--allow-|-A$)/.test(flag))]
    : wanted;
  const v8 = v8Flags ? [`--v8-flags=${v8Flags}`] : [];
  return {
    command: Deno.execPath(),
    args: ["run", ...flags, ...v8, "--config", config, main],
  };
}

/**
 * Starts `archiver <args>` as a child process. Its standard error is kept (and handed line by
 * line to `onLine`); its standard output is discarded unless `stdout` is `"piped"`.
 *
 * @param args The program's arguments.
 * @param options Working folder, environment, output and permissions.
 * @returns The running process.
 * @example
 * ```ts
 * await using sandbox = spawnSelf(["sandbox", "--port", "0"], { stdout: "piped" });
 * const [uri] = await sandbox.waitFor(/^mongodb:\S+/m, 30_000, { stream: "stdout" });
 * ```
 */
export function spawnSelf(args: readonly string[], options: SpawnSelfOptions = {}): SelfProcess {
  const self = selfCommand(options.permissions, options.v8Flags);
  const env = Object.fromEntries(
    Object.entries(options.env ?? {}).filter((entry): entry is [string, string] =>
      entry[1] !== undefined
    ),
  );
  const child = new Deno.Command(self.command, {
    args: [...self.args, ...args],
    cwd: options.cwd,
    env,
    stdin: "null",
    stdout: options.stdout ?? "null",
    stderr: "piped",
  }).spawn();

  const text: Record<OutputStream, string> = { stdout: "", stderr: "" };
  const listeners = new Set<() => void>();
  const changed = () => {
    for (const listener of listeners) listener();
  };
  let partial = "";
  const pumps = [
    _read(child.stderr, (piece) => {
      text.stderr += piece;
      if (options.onLine) {
        const lines = (partial + piece).split("\n");
        partial = lines.pop() ?? "";
        for (const line of lines) options.onLine(line);
      }
      changed();
    }).then(() => {
      if (partial) options.onLine?.(partial);
    }),
  ];
  if (options.stdout === "piped") {
    pumps.push(_read(child.stdout, (piece) => {
      text.stdout += piece;
      changed();
    }));
  }
  let ended = false;
  const exited = Promise.all([child.status, ...pumps]).then(([status]) => {
    ended = true;
    changed();
    return status.code;
  });

  const kill = (signal: Deno.Signal) => {
    if (ended) return;
    try {
      child.kill(signal);
    } catch {
      // Already gone.
    }
  };

  const waitFor: SelfProcess["waitFor"] = (pattern, timeoutMs = 15_000, waitOptions = {}) => {
    const stream = waitOptions.stream ?? "stderr";
    return new Promise((resolve, reject) => {
      const check = (late = false) => {
        const match = text[stream].match(pattern);
        if (!match && !late && !ended) return;
        listeners.delete(check);
        clearTimeout(timer);
        if (match) return resolve(match);
        const why = ended ? "before it exited" : `within ${timeoutMs} ms`;
        reject(
          new Error(
            `archiver (process ${child.pid}) never printed ${pattern} ${why}:\n${text[stream]}`,
          ),
        );
      };
      const timer = setTimeout(() => check(true), timeoutMs);
      listeners.add(check);
      check();
    });
  };

  const stop: SelfProcess["stop"] = async (timeoutMs, signal = "SIGTERM") => {
    const sent = performance.now();
    kill(Deno.build.os === "windows" ? "SIGKILL" : signal);
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<"late">((resolve) => {
      timer = setTimeout(() => resolve("late"), timeoutMs);
    });
    const first = await Promise.race([exited, late]);
    clearTimeout(timer);
    if (first !== "late") return { code: first, killed: false, ms: performance.now() - sent };
    kill("SIGKILL");
    return { code: await exited, killed: true, ms: performance.now() - sent };
  };

  return {
    pid: child.pid,
    child,
    exited,
    stderr: () => text.stderr,
    stdout: () => text.stdout,
    waitFor,
    stop,
    kill,
    cpuSeconds: () => ended ? Promise.resolve(undefined) : processCpuSeconds(child.pid),
    async [Symbol.asyncDispose]() {
      kill("SIGKILL");
      await exited;
    },
  };
}

async function _read(stream: ReadableStream<Uint8Array>, onText: (text: string) => void) {
  const decoder = new TextDecoder();
  for await (const chunk of stream) onText(decoder.decode(chunk, { stream: true }));
  const rest = decoder.decode();
  if (rest) onText(rest);
}
