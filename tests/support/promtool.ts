/**
 * Prometheus's own checker for tests: `promtool check metrics` on exposition text, and a reader
 * of sample values. promtool is found as tests/ops/tools.ts finds it (Debian's `prometheus`
 * package, which `.ci/run` installs, or `PROMTOOL`): without it a test fails with the package to
 * install in CI (`CI=true`) and is skipped with a message locally.
 *
 * @module
 */

import { assertInstalled, PROMTOOL, skipWithout } from "../ops/tools.ts";

/**
 * Whether a promtool test should be skipped: only locally, never in CI, saying why.
 *
 * @returns True to pass as the test's `ignore`.
 */
export function skipWithoutPromtool(): boolean {
  return skipWithout(PROMTOOL);
}

/**
 * Runs `promtool check metrics` on exposition text.
 *
 * @param text The exposition text (a scrape, a textfile).
 * @returns promtool's exit code and what it printed (lint problems, errors).
 * @throws {Error} When promtool is not installed, naming the package to install.
 */
export async function checkMetrics(text: string): Promise<{ code: number; output: string }> {
  assertInstalled(PROMTOOL);
  const child = new Deno.Command(PROMTOOL.path, {
    args: ["check", "metrics"],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(text));
  await writer.close();
  const { code, stdout, stderr } = await child.output();
  const decoder = new TextDecoder();
  return { code, output: `${decoder.decode(stdout)}${decoder.decode(stderr)}`.trim() };
}

/**
 * The value of one sample in exposition text.
 *
 * @param text The exposition text.
 * @param name The sample's name (`archiver_orders_total`, `..._count`).
 * @param labels The labels it must carry, all of them (others are allowed).
 * @returns The value, or `undefined` when no sample matches.
 */
export function sampleValue(
  text: string,
  name: string,
  labels: Record<string, string> = {},
): number | undefined {
  for (const line of text.split("\n")) {
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)(?: \d+)?$/.exec(line);
    if (!match || match[1] !== name) continue;
    const found: Record<string, string> = {};
    for (const pair of (match[2] ?? "").matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) {
      found[pair[1]!] = pair[2]!;
    }
    if (Object.entries(labels).every(([key, value]) => found[key] === value)) {
      return Number(match[3]);
    }
  }
  return undefined;
}
