/**
 * Memory: each command loads only what it uses: the modules a command evaluates are the static imports
 * of `cli/main.ts` (what every command loads before parsing its arguments) and those of the
 * module its action imports. Read from `deno info --json`, following code imports only (a type
 * import is erased, a dynamic one is loaded when its command runs).
 */

import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";

interface InfoDependency {
  code?: { specifier: string };
  isDynamic?: boolean;
}

interface Info {
  roots: string[];
  modules: Array<{ specifier: string; dependencies?: InfoDependency[] }>;
  redirects: Record<string, string>;
}

const root = (path: string) => fileURLToPath(new URL(`../../${path}`, import.meta.url));

/** The modules `entry` evaluates when imported, by specifier. */
async function staticGraph(entry: string): Promise<Set<string>> {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json", "--config", root("deno.json"), root(entry)],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(output.code, 0, new TextDecoder().decode(output.stderr));
  const info = JSON.parse(new TextDecoder().decode(output.stdout)) as Info;
  const modules = new Map(info.modules.map((m) => [m.specifier, m]));
  const resolved = (s: string) => info.redirects[s] ?? s;
  const seen = new Set<string>();
  const stack = info.roots.map(resolved);
  while (stack.length > 0) {
    const specifier = stack.pop()!;
    if (seen.has(specifier)) continue;
    seen.add(specifier);
    for (const dependency of modules.get(specifier)?.dependencies ?? []) {
      if (dependency.code && !dependency.isDynamic) stack.push(resolved(dependency.code.specifier));
    }
  }
  return seen;
}

/** Whether a module (a specifier) lies in the repository's `folder`, unless `except` matches it. */
function _under(folder: string, except: RegExp): (m: string) => boolean {
  const base = new URL(`../../${folder}`, import.meta.url).href;
  return (m) => m.startsWith(base) && !except.test(m.slice(base.length));
}

const _npm = (pattern: RegExp) => (m: string) => pattern.test(m);

// What no batch run needs: the sandbox server, fake data, the terminal libraries (the progress
// bar is imported only on a terminal), the metrics server. The one sandbox module every command
// loads is the loopback predicate of `sandbox`'s flag check: one function, no imports.
const NOT_FOR_BATCH: Array<[string, (m: string) => boolean]> = [
  ["the sandbox", _under("sandbox/", /^auth\/loopback\.ts$/)],
  ["mingo", _npm(/npm:\/?mingo@/)],
  ["Faker", _npm(/npm:\/?@faker-js\//)],
  ["cli-progress", _npm(/npm:\/?cli-progress@/)],
  ["log-update", _npm(/npm:\/?log-update@/)],
  ["string-width", _npm(/npm:\/?string-width@/)],
  ["prom-client", _npm(/npm:\/?prom-client@/)],
];

// Each command: the module its action imports (besides cli/main.ts, which every command loads).
const COMMANDS: Array<[string, string[]]> = [
  ["--version", ["cli/main.ts"]],
  ["batch", ["cli/main.ts", "plugins/batch/run.ts"]],
];

for (const [command, entries] of COMMANDS) {
  Deno.test(`archiver ${command} loads no sandbox, Faker, terminal library or metrics server`, async () => {
    const graph = new Set<string>();
    for (const entry of entries) for (const m of await staticGraph(entry)) graph.add(m);
    assert.ok(graph.size > 10, `the graph of ${command} was read (${graph.size} modules)`);
    for (const [what, loads] of NOT_FOR_BATCH) {
      const found = [...graph].filter(loads);
      assert.deepEqual(found, [], `archiver ${command} loads ${what}`);
    }
  });
}

Deno.test("the test database's graph holds the sandbox: the check can fail", async () => {
  const graph = await staticGraph("tests/support/test_db.ts");
  assert.ok([...graph].some(NOT_FOR_BATCH[0]![1]));
});

Deno.test("the watch command's graph holds the metrics library: the check can fail", async () => {
  const graph = await staticGraph("plugins/watch/watcher.ts");
  assert.ok([...graph].some((m) => /npm:\/?prom-client@/.test(m)));
});

Deno.test("the archiver and compile tasks run with the V8 flags the tool spawns itself with", async () => {
  const { ARCHIVER_V8_FLAGS, selfCommand } = await import("../../core/runtime/child_process.ts");
  const config = JSON.parse(await Deno.readTextFile(root("deno.json"))) as {
    tasks: Record<string, { command: string }>;
  };
  for (const task of ["archiver", "compile", "compile:windows"]) {
    assert.ok(
      config.tasks[task]?.command.includes(` --v8-flags=${ARCHIVER_V8_FLAGS} `),
      `task ${task}: ${config.tasks[task]?.command}`,
    );
  }
  assert.ok(selfCommand().args.includes(`--v8-flags=${ARCHIVER_V8_FLAGS}`));
  assert.ok(!selfCommand([], "").args.some((a) => a.startsWith("--v8-flags")));
});
