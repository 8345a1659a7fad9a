/**
 * The `archiver` executable: runs the CLI with the built-in plugins and exits with its code.
 * This is the only place that calls `Deno.exit`.
 *
 * @module
 */

import { runCli } from "./program.ts";
import { builtinPlugins } from "./registry.ts";

if (import.meta.main) {
  const code = await runCli(Deno.args, {
    plugins: builtinPlugins,
    onForceExit: (forced) => Deno.exit(forced),
  });
  Deno.exit(code);
}
