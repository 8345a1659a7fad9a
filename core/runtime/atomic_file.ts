/**
 * Replaces a file atomically: the new content is written to a temporary file in the same folder,
 * flushed to disk, then renamed over the target. A reader sees the old file or the new one, never
 * half of one, and a failed write (disk full, killed process) leaves the previous file intact.
 *
 * @module
 */

import { basename, dirname, join } from "node:path";
import { ConfigError } from "./errors.ts";

/**
 * The mode of the files the commands write for each other and for monitoring — the watcher's
 * status file, the resume-token file, the last batch report, the metrics textfile: readable by
 * every user (`0o644`), so a monitoring agent running `archiver health` as its own user (Nagios,
 * Icinga, Zabbix) reads them without the service's account. They hold no secret (no connection
 * string, no credential, no order's personal data: a test asserts it); a file that does passes
 * {@link PRIVATE_FILE_MODE}.
 */
export const STATE_FILE_MODE = 0o644;

/** The mode of a file only its owner may read: exports of orders (personal data). */
export const PRIVATE_FILE_MODE = 0o600;

/**
 * Writes `text` to `path` atomically.
 *
 * @param path The file to replace.
 * @param text Its new content.
 * @param options The file's permissions, ignored on Windows: {@link STATE_FILE_MODE} (readable by
 *   every user) unless it holds a secret or personal data ({@link PRIVATE_FILE_MODE}); and
 *   whether the new content is flushed to disk before the rename (`durable`, the default). A
 *   heartbeat rewritten every few seconds passes `durable: false`: a reader still sees the old
 *   file or the new one, and only a power loss could leave it empty, which its readers take for
 *   a stale heartbeat, as they take a process gone.
 * @throws When the temporary file cannot be written or renamed; the target is then unchanged.
 */
export async function writeFileAtomic(
  path: string,
  text: string,
  options: { mode?: number; durable?: boolean } = {},
): Promise<void> {
  const dir = dirname(path);
  const temp = join(dir, `.${basename(path)}.${Deno.pid}.${crypto.randomUUID().slice(0, 8)}.tmp`);
  try {
    const mode = options.mode ?? STATE_FILE_MODE;
    const file = await Deno.open(temp, { write: true, createNew: true, mode });
    // The process umask may have narrowed the mode; set it exactly before the file is visible.
    if (Deno.build.os !== "windows") await Deno.chmod(temp, mode);
    try {
      const bytes = new TextEncoder().encode(text);
      for (let written = 0; written < bytes.length;) {
        written += await file.write(bytes.subarray(written));
      }
      if (options.durable ?? true) await file.sync();
    } finally {
      file.close();
    }
    await Deno.rename(temp, path);
  } catch (error) {
    await Deno.remove(temp).catch(() => {});
    throw error;
  }
}

/**
 * Reads and parses a JSON file, telling "missing" apart from "unreadable".
 *
 * @param path The file.
 * @returns The parsed value, or `undefined` when the file does not exist.
 * @throws {SyntaxError} When the file exists but is not valid JSON (empty, truncated, garbage).
 */
export async function readJsonFile(path: string): Promise<unknown> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw error;
  }
  return JSON.parse(text);
}

/**
 * Checks, before any work, that a file can be created where a flag or setting points: its folder
 * must exist. Run early so a bad path stops the command with nothing written.
 *
 * @param path The file's absolute path.
 * @param label What names it in the message (`--export`, `the report file`).
 * @param shown The path as the user wrote it. @default path
 * @throws {ConfigError} When the folder is missing or not a folder (exit 2).
 */
export async function checkWritableFolder(
  path: string,
  label: string,
  shown: string = path,
): Promise<void> {
  try {
    const info = await Deno.stat(dirname(path));
    if (!info.isDirectory) throw new Error("is not a folder");
  } catch (error) {
    const reason = error instanceof Deno.errors.NotFound
      ? "does not exist"
      : (error as Error).message;
    throw new ConfigError(
      `Cannot write ${label} ${JSON.stringify(shown)}: folder ${
        JSON.stringify(dirname(path))
      } ${reason}`,
      { cause: error },
    );
  }
}
