/**
 * Prometheus's own checker for tests: `promtool check metrics` on exposition text, and a reader
 * of sample values. promtool comes from Debian's `prometheus` package, which `.ci/run` installs.
 * Without it a test fails with a clear message in CI (`CI=true`) and is skipped locally.
 *
 * @module
 */

/** The promtool binary: `PROMTOOL` when set, else `promtool` when it runs. */
export const promtool: string | undefined = await _findPromtool();

/**
 * Whether a promtool test should be skipped: only locally, never in CI, saying why.
 *
 * @returns True to pass as the test's `ignore`.
 */
export function skipWithoutPromtool(): boolean {
  if (promtool) return false;
  if (Deno.env.get("CI") === "true") return false;
  console.warn(
    "promtool not found: skipping the promtool tests (apt-get install prometheus, or set PROMTOOL)",
  );
  return true;
}

/**
 * Runs `promtool check metrics` on exposition text.
 *
 * @param text The exposition text (a scrape, a textfile).
 * @returns promtool's exit code and what it printed (lint problems, errors).
 * @throws {Error} When promtool is not installed, saying how to install it.
 */
export async function checkMetrics(text: string): Promise<{ code: number; output: string }> {
  if (!promtool) {
    throw new Error(
      "promtool is not installed: install Debian's prometheus package (.ci/run does) or set PROMTOOL",
    );
  }
  const child = new Deno.Command(promtool, {
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

async function _findPromtool(): Promise<string | undefined> {
  const candidate = Deno.env.get("PROMTOOL") || "promtool";
  try {
    const { success } = await new Deno.Command(candidate, {
      args: ["--version"],
      stdout: "null",
      stderr: "null",
    }).output();
    return success ? candidate : undefined;
  } catch {
    return undefined;
  }
}
