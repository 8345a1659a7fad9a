/**
 * CPU and memory of the watcher's process, read from Linux's `/proc/<pid>` through the core's
 * `/proc` reader (which works without `--allow-all`). Elsewhere, or for a watcher on another host,
 * they are unknown.
 *
 * @module
 */

import {
  parseProcStat,
  PROC_TICKS_PER_SECOND,
  readProc,
  readProcFile,
} from "../../core/runtime/proc.ts";

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
  const [stat, status, uptime] = await Promise.all([
    readProcFile(pid, "stat"),
    readProcFile(pid, "status"),
    readProc("uptime"),
  ]);
  // No /proc at all (or no way to read it) is unknown; /proc without the process is a watcher gone.
  if (uptime === undefined) return undefined;
  if (stat === undefined || status === undefined) return "gone";
  try {
    const times = parseProcStat(stat);
    const systemUptime = Number(uptime.split(/\s+/)[0]);
    return {
      cpuSeconds: (times.utime + times.stime) / PROC_TICKS_PER_SECOND,
      ageSeconds: Math.max(0, systemUptime - times.starttime / PROC_TICKS_PER_SECOND),
      rssBytes: parseRss(status),
      takenAt: performance.now(),
    };
  } catch {
    return undefined;
  }
}
