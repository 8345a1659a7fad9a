/**
 * The log folder's files: each command's current `<command>.jsonl` and its rotated
 * `<command>.jsonl.1`, `.2`, … (higher numbers are older). Other files are not ours and are left
 * alone.
 *
 * @module
 */

import { join } from "node:path";
import { ConfigError } from "../runtime/errors.ts";
import { logFolderReason } from "../runtime/logging.ts";

/** One log file. */
export interface LogFile {
  /** Its path. */
  path: string;
  /** Its name in the folder. */
  name: string;
  /** The command that writes it (`batch` for `batch.jsonl.3`). */
  command: string;
  /** 0 for the current file, N for `.jsonl.N`. */
  rotation: number;
  /** Size in bytes. */
  size: number;
  /** Last modification, in ms since the epoch. */
  mtime: number;
}

const LOG_FILE = /^(.+)\.jsonl(?:\.(\d+))?$/;

/**
 * Tells a log file's command and rotation from its name.
 *
 * @param name A file name.
 * @returns The command and rotation number, or `undefined` for other files.
 */
export function parseLogFileName(name: string): { command: string; rotation: number } | undefined {
  const match = LOG_FILE.exec(name);
  if (!match) return undefined;
  return { command: match[1]!, rotation: match[2] === undefined ? 0 : Number(match[2]) };
}

/**
 * Lists the log files of a folder, each command's oldest first.
 *
 * @param dir The log folder; a missing one has no files.
 * @returns The files, grouped by command (alphabetically), oldest to newest within a command.
 * @throws {ConfigError} When the folder cannot be read (not a folder, permission denied).
 */
export async function listLogFiles(dir: string): Promise<LogFile[]> {
  const files: LogFile[] = [];
  try {
    for await (const entry of Deno.readDir(dir)) {
      if (!entry.isFile) continue;
      const parsed = parseLogFileName(entry.name);
      if (!parsed) continue;
      const path = join(dir, entry.name);
      try {
        const stat = await Deno.stat(path);
        files.push({
          path,
          name: entry.name,
          ...parsed,
          size: stat.size,
          mtime: stat.mtime?.getTime() ?? 0,
        });
      } catch (error) {
        // Rotated away between the listing and the stat.
        if (!(error instanceof Deno.errors.NotFound)) throw error;
      }
    }
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return [];
    throw new ConfigError(
      `Cannot read the log folder ${JSON.stringify(dir)}: ${logFolderReason(error)}`,
      { cause: error },
    );
  }
  return files.sort((a, b) =>
    a.command < b.command ? -1 : a.command > b.command ? 1 : b.rotation - a.rotation
  );
}
