/**
 * Imports run one way (STYLE.md: utilities ← runtime ← mongo ← archive / stream ← plugins ← cli,
 * and the sandbox apart): the import graph read from `deno info --json`, on one root that imports
 * every module of cli/, core/, plugins/, sandbox/ and mod.ts, so a module no entry point reaches
 * is checked too. Every import counts: static, dynamic (`await import("…")`) and type-only.
 */

import assert from "node:assert/strict";
import { join, relative } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const repo = fileURLToPath(new URL("../", import.meta.url));

/** One import: the importing module and the imported one, as paths from the repository's root. */
interface Edge {
  from: string;
  to: string;
}

/** A direction imports must not take. */
interface Rule {
  /** The modules the rule is about. */
  from: RegExp;
  /** Whether `from` may not import `to`. */
  forbids(to: string, from: string): boolean;
  /** Why, as the failure says it. */
  why: string;
}

// The sandbox is moving from core/sandbox/ to a top-level sandbox/: either is its root.
const _SANDBOX_ROOT = /^(core\/sandbox|sandbox)\//;

const RULES: readonly Rule[] = [
  {
    from: /^plugins\//,
    forbids: (to) => to.startsWith("cli/"),
    why:
      "a plugin must not import the CLI: what it needs comes through its context (ctx.runCommand)",
  },
  {
    from: /^core\/(?!sandbox\/)/,
    forbids: (to) => to.startsWith("cli/") || to.startsWith("plugins/"),
    why: "the core stands below the plugins and the CLI",
  },
  {
    from: /^core\/runtime\//,
    forbids: (to) => /^core\/(mongo|archive|stream|log_files)\//.test(to),
    why: "core/runtime stands below the rest of the core",
  },
  {
    from: /^core\/mongo\//,
    forbids: (to) => to.startsWith("core/archive/") || to.startsWith("core/stream/"),
    why: "core/mongo stands below core/archive and core/stream (the tool's privilege table is " +
      "core/tool_privileges.ts)",
  },
  {
    from: /^core\/stream\//,
    forbids: (to) => to.startsWith("core/archive/"),
    why: "core/stream stands beside core/archive, not above it (shared vocabulary goes below " +
      "both, as core/runtime/outcome.ts)",
  },
  {
    from: _SANDBOX_ROOT,
    forbids: (to, from) => !to.startsWith(from.match(_SANDBOX_ROOT)![0]),
    why: "the sandbox is a package of its own: it imports nothing of the tool",
  },
];

/**
 * The imports that break a rule, one line each.
 *
 * @param edges The project's own imports (packages left out).
 * @returns `<from> imports <to>: <why>` per broken rule.
 */
function violations(edges: readonly Edge[]): string[] {
  return edges.flatMap(({ from, to }) =>
    RULES.filter((rule) => rule.from.test(from) && rule.forbids(to, from))
      .map((rule) => `${from} imports ${to}: ${rule.why}`)
  );
}

interface _InfoDependency {
  code?: { specifier: string };
  type?: { specifier: string };
}

interface _Info {
  modules: Array<{ specifier: string; dependencies?: _InfoDependency[] }>;
  redirects: Record<string, string>;
}

async function _sourceModules(): Promise<string[]> {
  const found: string[] = [];
  const walk = async (dir: string) => {
    try {
      for await (const entry of Deno.readDir(join(repo, dir))) {
        const path = `${dir}/${entry.name}`;
        if (entry.isDirectory) await walk(path);
        else if (entry.isFile && entry.name.endsWith(".ts")) found.push(path);
      }
    } catch (error) {
      // sandbox/ exists once the sandbox has moved out of core/.
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    }
  };
  for (const dir of ["cli", "core", "plugins", "sandbox"]) await walk(dir);
  return [...found, "mod.ts"];
}

/** Every import among the project's own modules, read from `deno info --json`. */
async function _projectImports(): Promise<
  { modules: string[]; graph: Set<string>; edges: Edge[] }
> {
  const modules = await _sourceModules();
  const dir = await Deno.makeTempDir({ prefix: "archiver-layering-" });
  try {
    const root = join(dir, "all_modules.ts");
    await Deno.writeTextFile(
      root,
      modules.map((path) => `import "${pathToFileURL(join(repo, path)).href}";\n`).join(""),
    );
    const output = await new Deno.Command(Deno.execPath(), {
      args: ["info", "--json", "--config", join(repo, "deno.json"), root],
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.equal(output.code, 0, new TextDecoder().decode(output.stderr));
    const info = JSON.parse(new TextDecoder().decode(output.stdout)) as _Info;
    const local = (specifier: string) => {
      const resolved = info.redirects[specifier] ?? specifier;
      if (!resolved.startsWith("file:")) return undefined;
      const path = relative(repo, fileURLToPath(resolved));
      return path.startsWith("..") ? undefined : path;
    };
    const graph = new Set<string>();
    const edges: Edge[] = [];
    for (const module of info.modules) {
      const from = local(module.specifier);
      if (!from) continue;
      graph.add(from);
      for (const dependency of module.dependencies ?? []) {
        for (const target of [dependency.code, dependency.type]) {
          const to = target && local(target.specifier);
          if (to && to !== from) edges.push({ from, to });
        }
      }
    }
    return { modules, graph, edges };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("violations() names each import that runs back up, and passes those that run down", () => {
  const up: Edge[] = [
    { from: "plugins/demo/run.ts", to: "cli/program.ts" },
    { from: "core/archive/sink.ts", to: "plugins/batch/run.ts" },
    { from: "core/runtime/config.ts", to: "core/mongo/client.ts" },
    { from: "core/mongo/privileges.ts", to: "core/archive/collections.ts" },
    { from: "core/mongo/privileges.ts", to: "core/stream/lease.ts" },
    { from: "core/stream/metrics.ts", to: "core/archive/outcome.ts" },
    { from: "core/sandbox/server.ts", to: "core/runtime/logging.ts" },
    { from: "sandbox/wire/server.ts", to: "core/sandbox/errors.ts" },
    { from: "sandbox/engine/oplog.ts", to: "deno.json" },
  ];
  assert.deepEqual(violations(up).map((line) => line.split(":")[0]), [
    "plugins/demo/run.ts imports cli/program.ts",
    "core/archive/sink.ts imports plugins/batch/run.ts",
    "core/runtime/config.ts imports core/mongo/client.ts",
    "core/mongo/privileges.ts imports core/archive/collections.ts",
    "core/mongo/privileges.ts imports core/stream/lease.ts",
    "core/stream/metrics.ts imports core/archive/outcome.ts",
    "core/sandbox/server.ts imports core/runtime/logging.ts",
    "sandbox/wire/server.ts imports core/sandbox/errors.ts",
    "sandbox/engine/oplog.ts imports deno.json",
  ]);
  const down: Edge[] = [
    { from: "cli/program.ts", to: "core/runtime/plugin.ts" },
    { from: "plugins/demo/run.ts", to: "core/sandbox/mod.ts" },
    { from: "core/tool_privileges.ts", to: "core/archive/collections.ts" },
    { from: "core/archive/report.ts", to: "core/runtime/outcome.ts" },
    { from: "core/stream/metrics.ts", to: "core/runtime/outcome.ts" },
    { from: "core/mongo/client.ts", to: "core/runtime/retry.ts" },
    { from: "core/sandbox/server.ts", to: "core/sandbox/wire.ts" },
    { from: "sandbox/wire/server.ts", to: "sandbox/engine/oplog.ts" },
  ];
  assert.deepEqual(violations(down), []);
});

Deno.test("no import of cli/, core/, plugins/ or the sandbox runs back up", async () => {
  const { modules, graph, edges } = await _projectImports();
  // The graph is the project's whole: every module in it, and imports where they are known to be.
  assert.deepEqual(modules.filter((path) => !graph.has(path)), []);
  assert.ok(modules.includes("core/runtime/plugin.ts") && modules.includes("plugins/demo/run.ts"));
  for (
    const [from, to] of [["cli/main.ts", "cli/program.ts"], [
      "plugins/demo/run.ts",
      "core/runtime/plugin.ts",
    ]]
  ) {
    assert.ok(edges.some((edge) => edge.from === from && edge.to === to), `${from} → ${to}`);
  }
  assert.deepEqual(violations(edges), []);
});
