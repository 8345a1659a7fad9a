import assert from "node:assert/strict";
import { fileURLToPath as fromFileUrl } from "node:url";
import { Command } from "@commander-js/extra-typings";
import { builtinPlugins } from "../../cli/registry.ts";

Deno.test("every folder in plugins/ is a registered built-in plugin named as its folder and its command, and only those", async () => {
  const folders: string[] = [];
  for await (const entry of Deno.readDir(fromFileUrl(new URL("../../plugins/", import.meta.url)))) {
    if (entry.isDirectory) folders.push(entry.name);
  }
  const registered = builtinPlugins.map((plugin) => plugin.name);
  assert.deepEqual([...registered].sort(), folders.sort());
  assert.equal(new Set(registered).size, registered.length, "plugin names are unique");
  // A reader finds `archiver health` in plugins/health: each plugin declares the command of its
  // name (and may declare others, as quarantine's subcommands sit under it).
  for (const plugin of builtinPlugins) {
    const program = new Command();
    plugin.register(program as never, {} as never);
    const commands = program.commands.map((command) => command.name());
    assert.ok(commands.includes(plugin.name), `${plugin.name} declares ${commands.join(", ")}`);
  }
});

Deno.test("each environment variable names one setting across the core and every plugin", async () => {
  const { globalSettings } = await import("../../core/runtime/config.ts");
  const owners = new Map<string, { owner: string; setting: unknown }>();
  const groups: Array<[string, Record<string, { env: string }>]> = [
    ["core", globalSettings],
    ...builtinPlugins.map((plugin) =>
      [plugin.name, plugin.settings ?? {}] as [string, Record<string, { env: string }>]
    ),
  ];
  for (const [owner, spec] of groups) {
    for (const setting of Object.values(spec)) {
      const seen = owners.get(setting.env);
      assert.ok(
        !seen || seen.setting === setting,
        `${setting.env} is declared by ${seen?.owner} and again, differently, by ${owner}`,
      );
      owners.set(setting.env, { owner, setting });
    }
  }
});
