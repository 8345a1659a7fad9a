/**
 * Runs the CLI in-process with captured output, a given environment and a temporary working
 * folder, so tests assert exit codes, printed lines and written files.
 *
 * @module
 */

import { join } from "node:path";
import { runCli } from "../../cli/program.ts";
import type { Plugin } from "../../core/runtime/plugin.ts";

/** What a CLI run printed and returned. */
export interface CliResult {
  /** The exit code. */
  code: number;
  /** Everything written to standard output. */
  stdout: string;
  /** Everything written to standard error. */
  stderr: string;
}

/**
 * Runs `archiver <args>` in-process.
 *
 * @param args Arguments after the program name.
 * @param options Plugins, environment (defaults to none) and working folder.
 * @returns Exit code and output.
 */
export async function cli(
  args: string[],
  options: { plugins?: Plugin[]; env?: Record<string, string>; cwd?: string } = {},
): Promise<CliResult> {
  let stdout = "";
  let stderr = "";
  const code = await runCli(args, {
    plugins: options.plugins ?? [],
    env: options.env ?? {},
    cwd: options.cwd ?? Deno.cwd(),
    stdout: (text) => (stdout += text),
    stderr: (text) => (stderr += text),
    interactive: false,
    binaryDir: undefined,
  });
  return { code, stdout, stderr };
}

/** Whether a file or folder exists at `path`. */
export async function pathExists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}

/** A temporary folder removed at the end of the scope (`await using dir = await tempDir()`). */
export async function tempDir(): Promise<AsyncDisposable & { path: string }> {
  const path = await Deno.makeTempDir({ prefix: "archiver-test-" });
  return {
    path,
    async [Symbol.asyncDispose]() {
      await Deno.remove(path, { recursive: true }).catch(() => {});
    },
  };
}

/**
 * The arguments of `archiver batch` on a test database, with its log folder and report file in
 * `dir`.
 *
 * @param uri The server.
 * @param db The database.
 * @param dir The working folder of the run.
 * @param args Further `batch` flags.
 * @returns The arguments after the program name.
 */
export function batchArgs(uri: string, db: string, dir: string, ...args: string[]): string[] {
  return [
    "--uri",
    uri,
    "--db",
    db,
    "--log-dir",
    join(dir, "logs"),
    "batch",
    "--report-file",
    join(dir, "last-batch.json"),
    ...args,
  ];
}
