/**
 * The `purge` plugin: `archiver purge` deletes from the orders collection the orders archived
 * long enough ago, each only while it equals its archived copy (the check is in the delete's own
 * filter), throttled by replica lag, rate and time window, recorded so verify counts them as
 * purged; `archiver purge restore` puts them back byte for byte.
 *
 * @module
 */

import type { Plugin } from "../../core/runtime/plugin.ts";
import { addSettingOptions } from "../../core/runtime/settings.ts";
import { purgeSettings } from "./settings.ts";

/** The purge plugin's options. */
export interface PurgeOptions {
  /** The JSON-lines log file of its commands (`<log dir>/<name>.jsonl`). @default "purge" */
  logFile: string;
}

/** The defaults of {@link PurgeOptions}. */
export const purgeDefaults = { logFile: "purge" } satisfies PurgeOptions;

const _HELP = `
Nothing is purged until --older-than (ARCHIVER_PURGE_AFTER) is set. An order is deleted only
while it equals, field for field, the copy its archive document kept when it was archived: the
check is in the delete's own filter, so an order changed meanwhile stays (counted "changed").
Orders on legal hold and those --exclude matches are never purged. Each purged order is
recorded on its archive document (purged_at, purged_by); archiver verify counts it as purged.
Exit 0 when done, 1 when some orders were left because they changed, 2 on a bad flag or a
missing privilege (archiver setup role --purge), 3 when MongoDB is lost.`;

/**
 * Creates the purge plugin.
 *
 * @param options Overrides of {@link purgeDefaults}.
 * @returns The plugin.
 */
export function purge(options: Partial<PurgeOptions> = {}): Plugin {
  const opts = { ...purgeDefaults, ...options };
  return {
    name: "purge",
    description: "Delete archived orders from the source, only with a matching archived copy",
    settings: purgeSettings,
    register(program, ctx) {
      const start = { logFile: opts.logFile };
      const command = program
        .command("purge")
        .description(
          "Delete archived orders older than --older-than from the source, each only while it matches its archived copy",
        )
        .option("--dry-run", "Count what would go (orders and bytes per month), touching nothing")
        .option(
          "--rearchive",
          "Archive changed orders again first (earlier versions kept), then purge",
        )
        .option("--limit <n>", "Look at most at this many archived orders")
        .option("--json", "Print the report as one JSON object on one line")
        .addHelpText("after", _HELP);
      addSettingOptions(command, purgeSettings);
      command.action(async (flags, cmd) => {
        const { planPurge, runPurge } = await import("./run.ts");
        const plan = planPurge(flags);
        const config = await ctx.start(cmd, purgeSettings, start);
        await runPurge(ctx, config.values, flags, plan);
      });

      command
        .command("restore")
        .description("Put purged orders back into the source exactly as they were")
        .argument("[orders...]", "The orders' _ids (as the shell writes them) or numbers")
        .option("--purged-since <date>", "Restore every order purged at or after this date")
        .option("--json", "Print the counts as one JSON object on one line")
        .action(async (orders, flags, cmd) => {
          const { planRestore, runRestore } = await import("./restore.ts");
          // --json after "restore" may be read as purge's own flag: either says JSON.
          const json = flags.json === true || cmd.parent?.opts().json === true;
          const plan = planRestore(orders, { ...flags, json });
          const config = await ctx.start(cmd, undefined, start);
          await runRestore(ctx, config.values, plan);
        });
    },
  };
}
