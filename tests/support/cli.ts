/**
 * Runs the CLI in-process with captured output, a given environment and a temporary working
 * folder, so tests assert exit codes, printed lines and written files.
 *
 * @module
 */

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
