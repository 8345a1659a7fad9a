/**
 * CPU and memory of the watcher's process, read from Linux's `/proc/<pid>` (no child process,
 * no dependency). Elsewhere, or for a watcher on another host, they are unknown.
 *
 * @module
 */

/** Clock ticks per second of `/proc/<pid>/stat` (USER_HZ, 100 on every Linux platform). */
const _TICKS_PER_SECOND = 100;

/** One reading of a process. */
export interface ProcessSample {
  /** CPU time used so far (user + system), in seconds. */
  cpuSeconds: number;
  /** Seconds the process has been running, when known. */
  ageSeconds: number;
  /** Resident memory, in bytes. */
  rssBytes: number | null;
  /** When the sample was taken (`performance.now()`), in ms. */
  takenAt: number;
}

/**
 * Reads the CPU times and start time of `/proc/<pid>/stat`.
 *
 * @param text The file's content.
 * @returns User and system CPU and the start time, in clock ticks.
 * @throws {SyntaxError} When the text is not a stat line.
 */
export function parseProcStat(text: string): { utime: number; stime: number; starttime: number } {
  // The command name (field 2) is in parentheses and may hold spaces: split after it.
  const fields = text.slice(text.lastIndexOf(")") + 2).trim().split(/\s+/);
  // Fields from 3 on: utime is field 14, stime 15, starttime 22.
  const field = (n: number) => Number(fields[n - 3]);
  const times = { utime: field(14), stime: field(15), starttime: field(22) };
  if (!Object.values(times).every(Number.isFinite)) {
    throw new SyntaxError("Not a /proc/<pid>/stat line");
  }
  return times;
}

/**
 * Reads the resident memory of `/proc/<pid>/status`.
 *
 * @param text The file's content.
 * @returns `VmRSS` in bytes, or null when absent (a zombie process).
 */
export function parseRss(text: string): number | null {
  const match = /^VmRSS:\s+(\d+)\s+kB/m.exec(text);
  return match ? Number(match[1]) * 1024 : null;
}

/**
 * The CPU use between two samples, or over the process's life for the first one.
 *
 * @param current The latest sample.
 * @param previous The one before, if any.
 * @returns Percent of one core, or null when it cannot be told.
 */
export function cpuPercent(current: ProcessSample, previous?: ProcessSample): number | null {
  if (previous && current.takenAt > previous.takenAt) {
    const wall = (current.takenAt - previous.takenAt) / 1000;
    return Math.max(0, (current.cpuSeconds - previous.cpuSeconds) / wall * 100);
  }
  return current.ageSeconds > 0 ? current.cpuSeconds / current.ageSeconds * 100 : null;
}

/**
 * Samples a process from `/proc`.
 *
 * @param pid The process id.
 * @returns The sample; `"gone"` when `/proc` exists but the process does not; undefined where
 *   there is no `/proc`.
 */
export async function sampleProcess(pid: number): Promise<ProcessSample | "gone" | undefined> {
  if (Deno.build.os !== "linux") return undefined;
  try {
    const [stat, status, uptime] = await Promise.all([
      Deno.readTextFile(`/proc/${pid}/stat`),
      Deno.readTextFile(`/proc/${pid}/status`),
      Deno.readTextFile("/proc/uptime"),
    ]);
    const times = parseProcStat(stat);
    const systemUptime = Number(uptime.split(/\s+/)[0]);
    return {
      cpuSeconds: (times.utime + times.stime) / _TICKS_PER_SECOND,
      ageSeconds: Math.max(0, systemUptime - times.starttime / _TICKS_PER_SECOND),
      rssBytes: parseRss(status),
      takenAt: performance.now(),
    };
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      try {
        await Deno.stat("/proc/self");
        return "gone";
      } catch {
        return undefined;
      }
    }
    return undefined;
  }
}
