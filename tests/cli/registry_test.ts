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
