import assert from "node:assert/strict";
import { fileURLToPath as fromFileUrl } from "node:url";
import { builtinPlugins } from "../../cli/registry.ts";

Deno.test("every folder in plugins/ is a registered built-in plugin, and only those", async () => {
  const folders: string[] = [];
  for await (const entry of Deno.readDir(fromFileUrl(new URL("../../plugins/", import.meta.url)))) {
    if (entry.isDirectory) folders.push(entry.name.replaceAll("_", "-"));
  }
  const registered = builtinPlugins.map((plugin) => plugin.name);
  assert.deepEqual([...registered].sort(), folders.sort());
  assert.equal(new Set(registered).size, registered.length, "plugin names are unique");
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
