/**
 * The built-in plugins, in the order their commands are listed in `--help`. Adding a plugin to
 * the tool means adding it here; a test checks that every folder in `plugins/` is listed.
 *
 * @module
 */

import type { Plugin } from "../core/runtime/plugin.ts";
import { batch } from "../plugins/batch/mod.ts";
import { dashboard } from "../plugins/dashboard/mod.ts";
import { demo } from "../plugins/demo/mod.ts";
import { health } from "../plugins/health/mod.ts";
import { history } from "../plugins/history/mod.ts";
import { logs } from "../plugins/logs/mod.ts";
import { purge } from "../plugins/purge/mod.ts";
import { quarantine } from "../plugins/quarantine/mod.ts";
import { sandbox } from "../plugins/sandbox/mod.ts";
import { watch } from "../plugins/watch/mod.ts";
import { simulate } from "../plugins/simulate/mod.ts";
import { service } from "../plugins/service/mod.ts";
import { setup } from "../plugins/setup/mod.ts";
import { verify } from "../plugins/verify/mod.ts";

/** The plugins `archiver` ships with. */
export const builtinPlugins: readonly Plugin[] = [
  demo(),
  sandbox(),
  simulate(),
  batch(),
  watch(),
  verify(),
  quarantine(),
  purge(),
  health(),
  history(),
  dashboard(),
  logs(),
  service(),
  setup(),
];
