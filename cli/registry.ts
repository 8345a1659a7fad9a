/**
 * The built-in plugins, in the order their commands are listed in `--help`. Adding a plugin to
 * the tool means adding it here; a test checks that every folder in `plugins/` is listed.
 *
 * @module
 */

import type { Plugin } from "../core/plugin.ts";
import { batch } from "../plugins/batch/mod.ts";

/** The plugins `archiver` ships with. */
export const builtinPlugins: readonly Plugin[] = [
  batch(),
];
