/**
 * The `setup` plugin: `archiver setup role` gives MongoDB's `createRole`/`createUser` commands
 * granting exactly what batch, watch and health need on the configured collections (the table of
 * core/tool_privileges.ts): `--print` writes them as a mongosh script, `--apply --admin-uri URI`
 * runs them with an administrator's connection. Both are idempotent.
 *
 * @module
 */

import { ConfigError } from "../../core/runtime/errors.ts";
import type { Plugin } from "../../core/runtime/plugin.ts";
import { addSettingOptions } from "../../core/runtime/settings.ts";
import { setupSettings } from "./settings.ts";

export { setupSettings } from "./settings.ts";

/** The name of the purge's role and user when `--role` and `--user` do not name them. */
export const PURGE_ROLE_NAME = "archiver_purge";

/**
 * Makes the `setup` plugin.
 *
 * @returns The plugin.
 * @example
 * ```ts
 * // archiver setup role --print > archiver-role.js
 * // ARCHIVER_SETUP_PASSWORD=… archiver setup role --apply --admin-uri "mongodb://admin@db/?authSource=admin"
 * ```
 */
export function setup(): Plugin {
  const description = "Create the least-privilege MongoDB role and user the tool runs as";
  return {
    name: "setup",
    description,
    settings: setupSettings,
    register(program, ctx) {
      const group = program.command("setup").description(description);
      const role = group
        .command("role")
        .description(
          "Print (--print, the default) or apply (--apply) the createRole/createUser commands granting what batch, watch and health need",
        )
        .option("--print", "Print the mongosh script (the default)")
        .option("--apply", "Run the commands with the administrator's connection of --admin-uri")
        .option(
          "--purge",
          "The purge's role instead (remove on the orders; role and user archiver_purge unless named)",
        );
      addSettingOptions(role, setupSettings);
      role.action(async (flags, cmd) => {
        if (flags.print && flags.apply) throw new ConfigError("Choose one of --print and --apply");
        const config = await ctx.start(cmd, setupSettings, {
          logFile: flags.apply ? "setup" : false,
        });
        const values = config.values;
        const { privilegeTarget, requiredPrivileges } = await import(
          "../../core/tool_privileges.ts"
        );
        const target = privilegeTarget(values);
        // The purge's role is apart: the role batch, watch and health run as never removes.
        const purge = flags.purge === true;
        const privileges = requiredPrivileges(target, purge ? { command: "purge" } : {});
        const named = (key: "role" | "user") =>
          purge && config.sources[key] === "default" ? PURGE_ROLE_NAME : values[key];
        const roleName = named("role");
        const userName = named("user");
        if (!flags.apply) {
          const { roleScript } = await import("./script.ts");
          ctx.out(
            roleScript({
              role: roleName,
              user: userName,
              target,
              privileges,
              purpose: purge ? "archiver purge (and purge restore)" : undefined,
            }).trimEnd(),
          );
          return;
        }
        if (!values.adminUri) {
          throw new ConfigError(
            "--apply needs an administrator's connection string: --admin-uri or ARCHIVER_SETUP_ADMIN_URI",
          );
        }
        const { registerSecret } = await import("../../core/runtime/mask.ts");
        if (values.password) registerSecret(values.password);
        const { connectMongo } = await import("../../core/mongo/client.ts");
        const { applyRole } = await import("./apply.ts");
        const client = await connectMongo(
          { uri: values.adminUri, connectTimeout: values.connectTimeout },
          { signal: ctx.lifecycle.signal },
        );
        try {
          const outcome = await applyRole(client.db("admin"), {
            role: roleName,
            user: userName,
            password: values.password,
            privileges,
          });
          const log = ctx.logger.getChild("setup");
          for (const line of outcome.lines) log.info(line.split("\n")[0]!);
          ctx.out(outcome.lines.join("\n"));
        } finally {
          await client.close().catch(() => {});
        }
      });
    },
  };
}
