/**
 * The `archiver` executable: runs the CLI with the built-in plugins and exits with its code.
 * This is the only place that calls `Deno.exit`.
 *
 * @module
 */

import { fileURLToPath } from "node:url";
import { runCli } from "./program.ts";
import { builtinPlugins } from "./registry.ts";
import { userWorkingFolder } from "./working_folder.ts";

if (import.meta.main) {
  // From source, `deno task archiver` runs in the repository's folder: work in the user's.
  const taskDir = Deno.build.standalone ? undefined : fileURLToPath(new URL("..", import.meta.url));
  const cwd = userWorkingFolder(Deno.env.toObject(), { cwd: Deno.cwd(), taskDir });
  if (cwd !== Deno.cwd()) Deno.chdir(cwd);
  const code = await runCli(Deno.args, {
    plugins: builtinPlugins,
    onForceExit: (forced) => Deno.exit(forced),
  });
  Deno.exit(code);
}
