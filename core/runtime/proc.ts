/**
 * Reading Linux's `/proc`: Deno reads it only under `--allow-all`, so without that a file is read
 * through `cat` (which needs `--allow-run`, granted to `archiver`). Used for the CPU and memory of
 * child processes (tests, benches) and of the watcher (`archiver dashboard`).
 *
 * @module
 */

/** Clock ticks per second of `/proc/<pid>/stat` (USER_HZ: 100 on every Linux platform; Deno
 * cannot call sysconf(_SC_CLK_TCK)). */
export const PROC_TICKS_PER_SECOND = 100;

/**
 * Reads a file under `/proc` on Linux.
 *
 * @param path The path under `/proc`: `uptime`, `1234/stat`, …
 * @returns The file's text, or `undefined` when not on Linux, the file (a process) is gone, or
 *   neither way of reading is allowed.
 */
export async function readProc(path: string): Promise<string | undefined> {
  if (Deno.build.os !== "linux") return undefined;
  const full = `/proc/${path}`;
  try {
    return await Deno.readTextFile(full);
  } catch (error) {
    if (
      !(error instanceof Deno.errors.NotCapable || error instanceof Deno.errors.PermissionDenied)
    ) {
      return undefined;
    }
  }
  try {
    const output = await new Deno.Command("cat", { args: [full], stdout: "piped", stderr: "null" })
      .output();
    return output.success ? new TextDecoder().decode(output.stdout) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Reads `/proc/<pid>/<name>`.
 *
 * @param pid The process id.
 * @param name The file under the process's folder: `stat`, `status`, …
 * @returns The file's text, or `undefined` (see {@link readProc}).
 */
export function readProcFile(pid: number, name: string): Promise<string | undefined> {
  return readProc(`${pid}/${name}`);
}

/**
 * Reads the CPU times and start time of a `/proc/<pid>/stat` line.
 *
 * @param text The file's content.
 * @returns User and system CPU and the start time, in clock ticks.
 * @throws {SyntaxError} When the text is not a stat line.
 */
export function parseProcStat(text: string): { utime: number; stime: number; starttime: number } {
  // The command name (field 2) is in parentheses and may hold spaces and parentheses: the fields
  // start after the last ")". utime is field 14, stime 15, starttime 22.
  const fields = text.slice(text.lastIndexOf(")") + 2).trim().split(/\s+/);
  const field = (n: number) => Number(fields[n - 3]);
  const times = { utime: field(14), stime: field(15), starttime: field(22) };
  if (!Object.values(times).every(Number.isFinite)) {
    throw new SyntaxError("Not a /proc/<pid>/stat line");
  }
  return times;
}

/**
 * The CPU time (user and system) a process has used so far.
 *
 * @param pid The process id.
 * @returns Seconds, or `undefined` off Linux, once the process is gone, or without the
 *   permission to read it (see {@link readProc}).
 */
export async function processCpuSeconds(pid: number): Promise<number | undefined> {
  const stat = await readProcFile(pid, "stat");
  if (stat === undefined) return undefined;
  try {
    const { utime, stime } = parseProcStat(stat);
    return (utime + stime) / PROC_TICKS_PER_SECOND;
  } catch {
    return undefined;
  }
}

/** Whether a process runs, as `/proc` tells: `running`, `gone`, or `undefined` (cannot tell). */
export type ProcessLiveness = "running" | "gone" | undefined;

/**
 * Whether the process of a given pid still runs on this host; a zombie (killed, not yet reaped)
 * is `gone`.
 *
 * @param pid The process id.
 * @returns `running`, `gone`, or `undefined` off Linux or without a way to read `/proc`.
 */
export async function processLiveness(pid: number): Promise<ProcessLiveness> {
  if (!Number.isInteger(pid) || pid <= 0) return undefined;
  const [uptime, stat] = await Promise.all([readProc("uptime"), readProcFile(pid, "stat")]);
  // No /proc at all (or no way to read it) says nothing; /proc without the process: gone.
  if (uptime === undefined) return undefined;
  if (stat === undefined) return "gone";
  const state = stat.slice(stat.lastIndexOf(")") + 2).trim().split(/\s+/)[0];
  return state === "Z" || state === "X" ? "gone" : "running";
}
