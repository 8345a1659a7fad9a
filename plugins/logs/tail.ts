/**
 * `archiver logs follow`: polls the current log files (`*.jsonl`) and feeds each new line to the
 * rule engine, across rotations: when `<command>.jsonl` is renamed to `.jsonl.1` (a new inode, or
 * a file shorter than what was read), the rest of the old file is read from `.jsonl.1` before the
 * new file is followed from its start.
 *
 * @module
 */

import { join } from "node:path";
import { classify, parseLogLine } from "../../core/log_files/entry.ts";
import { parseLogFileName } from "../../core/log_files/files.ts";
import { type Line, LineSplitter } from "../../core/log_files/lines.ts";
import { type Alert, type LogRules, RuleEngine } from "./rules.ts";

/** How `logs follow` runs. */
export interface FollowOptions {
  /** The rules. */
  rules: LogRules;
  /** Stops following. */
  signal: AbortSignal;
  /** Called with each alert as its rule fires. */
  onAlert: (alert: Alert) => void;
  /** Called for each line that is not a log record. */
  onInvalid?: (file: string) => void;
  /** Time between polls, in ms. @default 250 */
  pollMs?: number;
  /** Whether to read the files present at start from their beginning, not their end. @default false */
  fromStart?: boolean;
}

interface _Followed {
  ino: number | null;
  offset: number;
  splitter: LineSplitter;
}

/**
 * Follows the log folder until the signal is aborted.
 *
 * @param dir The log folder.
 * @param options Rules, signal, alert callback, poll interval.
 */
export async function followLogs(dir: string, options: FollowOptions): Promise<void> {
  const engine = new RuleEngine(options.rules);
  const followed = new Map<string, _Followed>();
  const handle = (name: string, line: Line) => {
    if (typeof line !== "string") return options.onInvalid?.(name);
    if (line.trim() === "") return;
    const entry = parseLogLine(line);
    if (!entry) return options.onInvalid?.(name);
    for (const alert of engine.push(entry, classify(entry))) options.onAlert(alert);
  };
  let first = true;
  while (!options.signal.aborted) {
    for (const name of await _currentFiles(dir)) {
      const path = join(dir, name);
      let stat: Deno.FileInfo;
      try {
        stat = await Deno.stat(path);
      } catch {
        continue;
      }
      let state = followed.get(name);
      if (!state) {
        state = {
          ino: stat.ino,
          offset: first && !options.fromStart ? stat.size : 0,
          splitter: new LineSplitter(),
        };
        followed.set(name, state);
      } else if (
        (stat.ino !== null && state.ino !== null && stat.ino !== state.ino) ||
        stat.size < state.offset
      ) {
        // Rotated: finish the old file (now `.1` when renamed), then start the new one.
        await _drainRotated(`${path}.1`, state, (line) => handle(name, line));
        for (const line of state.splitter.end()) handle(name, line);
        state.ino = stat.ino;
        state.offset = 0;
        state.splitter = new LineSplitter();
      }
      state.offset = await _readFrom(
        path,
        state.offset,
        state.splitter,
        (line) => handle(name, line),
      );
    }
    first = false;
    await _sleep(options.pollMs ?? 250, options.signal);
  }
}

async function _currentFiles(dir: string): Promise<string[]> {
  const names: string[] = [];
  try {
    for await (const entry of Deno.readDir(dir)) {
      if (entry.isFile && parseLogFileName(entry.name)?.rotation === 0) names.push(entry.name);
    }
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  return names.sort();
}

async function _drainRotated(
  path: string,
  state: _Followed,
  handle: (line: Line) => void,
): Promise<void> {
  try {
    const stat = await Deno.stat(path);
    if (state.ino !== null && stat.ino !== state.ino) return;
    if (stat.size < state.offset) return;
    await _readFrom(path, state.offset, state.splitter, handle);
  } catch {
    // Already rotated further or pruned: those lines are gone for this follower.
  }
}

async function _readFrom(
  path: string,
  offset: number,
  splitter: LineSplitter,
  handle: (line: Line) => void,
): Promise<number> {
  let file: Deno.FsFile;
  try {
    file = await Deno.open(path, { read: true });
  } catch {
    return offset;
  }
  try {
    await file.seek(offset, Deno.SeekMode.Start);
    const buffer = new Uint8Array(64 * 1024);
    for (;;) {
      const read = await file.read(buffer);
      if (read === null) break;
      offset += read;
      for (const line of splitter.push(buffer.subarray(0, read))) handle(line);
    }
  } finally {
    file.close();
  }
  return offset;
}

function _sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener("abort", done, { once: true });
  });
}
