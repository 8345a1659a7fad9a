/**
 * The log folder's size and the free space of its volume. Deno has no `statfs`, so free space
 * comes from `df -Pk` on Linux and macOS and from PowerShell's `Get-PSDrive` on Windows.
 *
 * @module
 */

import { dirname, join, resolve } from "node:path";

/**
 * Sums the sizes of the files in a folder and its subfolders.
 *
 * @param dir The folder; a missing one holds nothing.
 * @returns Bytes and file count.
 */
export async function folderSize(dir: string): Promise<{ bytes: number; files: number }> {
  let bytes = 0;
  let files = 0;
  const pending = [dir];
  while (pending.length > 0) {
    const current = pending.pop()!;
    try {
      for await (const entry of Deno.readDir(current)) {
        const path = join(current, entry.name);
        if (entry.isDirectory) pending.push(path);
        else if (entry.isFile) {
          try {
            bytes += (await Deno.stat(path)).size;
            files++;
          } catch (error) {
            // A file rotated or pruned while we walk: it no longer counts.
            if (!(error instanceof Deno.errors.NotFound)) throw error;
          }
        }
      }
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    }
  }
  return { bytes, files };
}

/** Free and total bytes of a volume. */
export interface DiskSpace {
  /** Bytes available to unprivileged users. */
  freeBytes: number;
  /** The volume's size. */
  totalBytes: number;
}

/**
 * Reads `df -Pk` output (POSIX format: 1024-byte blocks, one line per file system).
 *
 * @param text The command's standard output.
 * @returns Free and total bytes of the first file system listed.
 * @throws {TypeError} When the output has no file-system line.
 */
export function parseDfOutput(text: string): DiskSpace {
  for (const line of text.split("\n").slice(1)) {
    // The file-system name may contain spaces: read the numbers from the right.
    const match = /\s(\d+)\s+(\d+)\s+(\d+)\s+\d+%\s+\S.*$/.exec(line);
    if (match) {
      return { totalBytes: Number(match[1]) * 1024, freeBytes: Number(match[3]) * 1024 };
    }
  }
  throw new TypeError(`Unexpected df output: ${JSON.stringify(text.slice(0, 200))}`);
}

/**
 * Reads the PowerShell line `<free> <total>` printed for a drive.
 *
 * @param text The command's standard output.
 * @returns Free and total bytes.
 * @throws {TypeError} When the output is not two numbers.
 */
export function parsePowerShellOutput(text: string): DiskSpace {
  const match = /^\s*(\d+)\s+(\d+)\s*$/.exec(text);
  if (!match) throw new TypeError(`Unexpected PowerShell output: ${JSON.stringify(text.trim())}`);
  return { freeBytes: Number(match[1]), totalBytes: Number(match[2]) };
}

/**
 * The free space of the volume holding a folder.
 *
 * @param dir The folder (or, when missing, its nearest existing parent).
 * @param options Abort signal and platform (for tests).
 * @returns Free and total bytes.
 * @throws When the command is missing, not permitted or prints something unexpected.
 */
export async function freeDiskSpace(
  dir: string,
  options: { signal?: AbortSignal; os?: typeof Deno.build.os } = {},
): Promise<DiskSpace> {
  const existing = await _existingFolder(resolve(dir));
  const os = options.os ?? Deno.build.os;
  if (os === "windows") {
    const literal = existing.replaceAll("'", "''");
    const script = `$d = (Get-Item -LiteralPath '${literal}').PSDrive; ` +
      `Write-Output ("{0} {1}" -f $d.Free, ($d.Free + $d.Used))`;
    const out = await _run(
      "powershell.exe",
      ["-NoProfile", "-NonInteractive", "-Command", script],
      options.signal,
    );
    return parsePowerShellOutput(out);
  }
  return parseDfOutput(await _run("df", ["-Pk", existing], options.signal));
}

async function _existingFolder(dir: string): Promise<string> {
  let current = dir;
  for (;;) {
    try {
      await Deno.stat(current);
      return current;
    } catch (error) {
      const parent = dirname(current);
      if (!(error instanceof Deno.errors.NotFound) || parent === current) return current;
      current = parent;
    }
  }
}

async function _run(command: string, args: string[], signal?: AbortSignal): Promise<string> {
  const output = await new Deno.Command(command, {
    args,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    signal,
  }).output();
  const decoder = new TextDecoder();
  if (!output.success) {
    const err = decoder.decode(output.stderr).trim().split("\n")[0] ?? "";
    throw new Error(`${command} exited with code ${output.code}${err ? `: ${err}` : ""}`);
  }
  return decoder.decode(output.stdout);
}
