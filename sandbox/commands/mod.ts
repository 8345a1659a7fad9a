/**
 * The table of commands the sandbox implements; anything else answers CommandNotFound.
 *
 * @module
 */

import type { CommandHandler } from "../engine/state.ts";
import { ADMIN_COMMANDS } from "./admin.ts";
import { AUTHENTICATION_COMMANDS } from "./authentication.ts";
import { CATALOG_COMMANDS } from "./catalog.ts";
import { DIAGNOSTIC_COMMANDS } from "./diagnostics.ts";
import { READ_COMMANDS } from "./reads.ts";
import { ROLE_COMMANDS } from "./roles.ts";
import { USER_COMMANDS } from "./users.ts";
import { WRITE_COMMANDS } from "./writes.ts";

/** Every implemented command by name. */
export const COMMANDS: ReadonlyMap<string, CommandHandler> = new Map(
  Object.entries({
    ...ADMIN_COMMANDS,
    ...AUTHENTICATION_COMMANDS,
    ...USER_COMMANDS,
    ...ROLE_COMMANDS,
    ...CATALOG_COMMANDS,
    ...READ_COMMANDS,
    ...WRITE_COMMANDS,
    ...DIAGNOSTIC_COMMANDS,
  }),
);
