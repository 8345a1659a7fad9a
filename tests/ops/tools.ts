/**
 * Where the tests of ops/ find Prometheus' tools, and what they do without them: in CI
 * (`CI=true`) a missing binary fails the test with the package to install; locally the test is
 * skipped with a message.
 *
 * @module
 */

import { fileURLToPath } from "node:url";

/** A binary from Debian's packages. */
export interface Tool {
  /** Its path, overridable with an environment variable. */
  path: string;
  /** The Debian package that provides it. */
  debianPackage: string;
}

/** `promtool`, from the package `prometheus`. */
export const PROMTOOL: Tool = {
  path: Deno.env.get("PROMTOOL") ?? "/usr/bin/promtool",
  debianPackage: "prometheus",
};
/** The Prometheus server, from the package `prometheus`. */
export const PROMETHEUS: Tool = {
  path: Deno.env.get("PROMETHEUS") ?? "/usr/bin/prometheus",
  debianPackage: "prometheus",
};
/** The Alertmanager server, from the package `prometheus-alertmanager`. */
export const ALERTMANAGER: Tool = {
  path: Deno.env.get("ALERTMANAGER") ?? "/usr/bin/prometheus-alertmanager",
  debianPackage: "prometheus-alertmanager",
};
/** `amtool`, from the package `prometheus-alertmanager`. */
export const AMTOOL: Tool = {
  path: Deno.env.get("AMTOOL") ?? "/usr/bin/amtool",
  debianPackage: "prometheus-alertmanager",
};

/** The repository's ops/ folder. */
export const OPS_DIR = fileURLToPath(new URL("../../ops/", import.meta.url));

/** Whether the tests run in CI, where a missing tool is a failure rather than a skip. */
export const IN_CI = Deno.env.get("CI") === "true";

function _exists(path: string): boolean {
  try {
    return Deno.statSync(path).isFile;
  } catch {
    return false;
  }
}

/**
 * Tells whether a test needing these tools should be skipped: never in CI, and when one is
 * missing locally (saying so once).
 *
 * @param tools The binaries the test runs.
 * @returns `true` to pass as `ignore` to `Deno.test`.
 */
export function skipWithout(...tools: Tool[]): boolean {
  const missing = tools.filter((tool) => !_exists(tool.path));
  if (missing.length === 0 || IN_CI) return false;
  console.warn(
    `skipping: ${
      missing.map((t) => `${t.path} (Debian package ${t.debianPackage})`).join(", ")
    } not installed`,
  );
  return true;
}

/**
 * Fails with the package to install when a tool is missing (reached in CI only, since local
 * runs skip first).
 *
 * @param tools The binaries the test runs.
 */
export function assertInstalled(...tools: Tool[]): void {
  for (const tool of tools) {
    if (!_exists(tool.path)) {
      throw new Error(
        `Cannot run "${tool.path}": not installed; CI must install the Debian package "${tool.debianPackage}" (.ci/run does when missing)`,
      );
    }
  }
}

/** What a tool printed and returned. */
export interface ToolRun {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs a tool to completion in `cwd`.
 *
 * @param tool The binary.
 * @param args Its arguments.
 * @param cwd Its working folder.
 * @returns Exit code and output.
 */
export async function runTool(tool: Tool, args: string[], cwd = OPS_DIR): Promise<ToolRun> {
  const output = await new Deno.Command(tool.path, {
    args,
    cwd,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const decoder = new TextDecoder();
  return {
    code: output.code,
    stdout: decoder.decode(output.stdout),
    stderr: decoder.decode(output.stderr),
  };
}
