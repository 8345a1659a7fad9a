/**
 * Reads every log file of the folder as one time-ordered stream of entries: each command's files
 * oldest to newest, the commands merged by timestamp (one pending line per command, so memory
 * does not grow with the logs). Lines older than the cut-off are passed over; lines that are not
 * log records are counted and skipped.
 *
 * @module
 */

import { type LogEntry, parseLogLine } from "./entry.ts";
import type { LogFile } from "./files.ts";
import { type Line, readLines } from "./lines.ts";

/** What the reader met besides entries. */
export interface ReadCounts {
  /** Lines within the window that are log records. */
  lines: number;
  /** Lines that are not (not JSON, truncated, too long, no timestamp). */
  invalid: number;
  /** Files read (the others ended before the cut-off). */
  filesRead: number;
}

/**
 * Streams the entries of the given files at or after a cut-off, in time order.
 *
 * @param files The log files, as `listLogFiles` returns them.
 * @param options The cut-off (ms since the epoch), the counts to update and an abort signal.
 * @returns The entries.
 */
export async function* readEntries(
  files: readonly LogFile[],
  options: { since: number; counts: ReadCounts; signal?: AbortSignal },
): AsyncGenerator<LogEntry> {
  const byCommand = new Map<string, LogFile[]>();
  for (const file of files) {
    // A file last written before the cut-off holds nothing newer.
    if (file.mtime < options.since) continue;
    byCommand.set(file.command, [...(byCommand.get(file.command) ?? []), file]);
  }
  const sources = [...byCommand.values()].map((list) => _commandEntries(list, options));
  const heads: Array<LogEntry | undefined> = [];
  for (const source of sources) heads.push((await source.next()).value ?? undefined);
  for (;;) {
    let pick = -1;
    for (let i = 0; i < heads.length; i++) {
      const head = heads[i];
      if (head && (pick === -1 || head.time < heads[pick]!.time)) pick = i;
    }
    if (pick === -1) return;
    yield heads[pick]!;
    heads[pick] = (await sources[pick]!.next()).value ?? undefined;
  }
}

async function* _commandEntries(
  files: readonly LogFile[],
  options: { since: number; counts: ReadCounts; signal?: AbortSignal },
): AsyncGenerator<LogEntry, undefined> {
  for (const file of files) {
    let lines: AsyncGenerator<Line>;
    try {
      lines = readLines(file.path, { signal: options.signal });
      options.counts.filesRead++;
      for await (const line of lines) {
        if (typeof line !== "string") {
          options.counts.invalid++;
          continue;
        }
        if (line.trim() === "") continue;
        const entry = parseLogLine(line);
        if (!entry) {
          options.counts.invalid++;
          continue;
        }
        if (entry.time < options.since) continue;
        options.counts.lines++;
        yield entry;
      }
    } catch (error) {
      // Pruned or rotated away while we read: what is left is in the next file.
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    }
  }
  return undefined;
}
