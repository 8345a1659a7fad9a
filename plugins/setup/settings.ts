/**
 * The settings of `archiver setup role`: the names of the role and user it creates, the new
 * user's password (never a flag, which a process list would show), the administrator's
 * connection string for `--apply`, and the token and lease collections the role covers.
 *
 * @module
 */

import { text } from "../../core/runtime/parse.ts";
import { tokenCollectionSetting } from "../../core/runtime/state_files.ts";
import type { SettingsSpec, SettingValues } from "../../core/runtime/settings.ts";
import { leaseCollectionSetting } from "../../core/stream/lease.ts";

// Plain names: they are quoted in mongosh lines and in connection strings.
const NAME = text({ pattern: /^[A-Za-z0-9_.-]{1,64}$/, expected: "1-64 letters, digits, _ . -" });

/** Every setting `archiver setup role` reads, besides the global ones. */
export const setupSettings = {
  role: {
    env: "ARCHIVER_SETUP_ROLE",
    flag: "--role <name>",
    description: "Role granting the tool's privileges, created in the admin database",
    default: "archiver",
    parse: NAME,
  },
  user: {
    env: "ARCHIVER_SETUP_USER",
    flag: "--user <name>",
    description: "User the tool connects as, created in the admin database with only that role",
    default: "archiver",
    parse: NAME,
  },
  password: {
    env: "ARCHIVER_SETUP_PASSWORD",
    description:
      "Password of the user --apply creates (no flag: a process list would show it); unset: --apply prints the createUser line instead",
    default: "",
    secret: true,
    parse: (raw: string) => raw,
    format: (value: string) => (value ? "****" : ""),
  },
  adminUri: {
    env: "ARCHIVER_SETUP_ADMIN_URI",
    flag: "--admin-uri <uri>",
    description:
      "An administrator's connection string for --apply (userAdminAnyDatabase or root); never printed",
    default: "",
    secret: true,
    parse: text({
      pattern: /^mongodb(\+srv)?:\/\/[^/?#\s]+/,
      expected: "a connection string starting with mongodb:// or mongodb+srv://",
    }),
  },
  tokenCollection: tokenCollectionSetting,
  leaseCollection: leaseCollectionSetting,
} as const satisfies SettingsSpec;

/** The resolved values of {@link setupSettings}. */
export type SetupSettingValues = SettingValues<typeof setupSettings>;
