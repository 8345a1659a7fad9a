/**
 * The `quarantine` plugin: `archiver quarantine list | show | retry | release`, the operator's
 * commands over the shared quarantine — what is not archived and why, one order in full, archive
 * now what can be, and accept that an order will not be archived (recorded, never silently gone).
 *
 * @module
 */

import type { Plugin } from "../../core/runtime/plugin.ts";
import { retryIntervalSetting } from "../../core/archive/quarantine.ts";
import { archivePathSetting } from "../../core/archive/archiver.ts";
import { addSettingOptions, type SettingsSpec } from "../../core/runtime/settings.ts";

/** The quarantine plugin's options. */
export interface QuarantineOptions {
  /** The JSON-lines log file of its subcommands (`<log dir>/<name>.jsonl`). @default "quarantine" */
  logFile: string;
}

/** The defaults of {@link QuarantineOptions}. */
export const quarantineDefaults = { logFile: "quarantine" } satisfies QuarantineOptions;

/** The settings `archiver quarantine retry` reads, besides the global ones. */
export const quarantineSettings = {
  retryInterval: retryIntervalSetting,
  archivePath: archivePathSetting,
} as const satisfies SettingsSpec;

const _ID_HELP = `Orders are named by _id or by number. An _id is written as the MongoDB shell
shows it (quote it for your shell): 'ObjectId("65f0c0ffee0000000000002a")' or the bare
24 hexadecimal digits, a number (42, 'NumberLong(42)'), a quoted string ('"A-1"'), a document
('{ shop: 3, n: 12 }') or Extended JSON ('{"$numberLong": "42"}', '{"$oid": "…"}'). Any other
word (CMD-000042) is an order number. Something that reads as an _id but parses to none stops
the command with one line, exit 2.`;

/**
 * Creates the quarantine plugin.
 *
 * @param options Overrides of {@link quarantineDefaults}.
 * @returns The plugin.
 */
export function quarantine(options: Partial<QuarantineOptions> = {}): Plugin {
  const opts = { ...quarantineDefaults, ...options };
  return {
    name: "quarantine",
    description: "List, show, retry and release the orders that are not archived, and why",
    settings: quarantineSettings,
    register(program, ctx) {
      const start = { logFile: opts.logFile };
      const group = program
        .command("quarantine")
        .description("List, show, retry and release the orders that are not archived, and why");

      group
        .command("list")
        .description("List the quarantined orders, oldest first, with the total")
        .option("--reason <reason>", "Only this reason: incomplete, invalid, conflict or error")
        .option("--limit <n>", "List at most this many (default 100)")
        .option("--json", "Print one JSON object per order per line (JSON Lines), oldest first")
        .action(async (flags, cmd) => {
          const { planList, runList } = await import("./list.ts");
          const plan = planList(flags);
          const config = await ctx.start(cmd, undefined, start);
          await runList(ctx, config.values, flags, plan);
        });

      group
        .command("show")
        .description("Show one quarantined order in full; for a conflict, what the archive holds")
        .argument("<order>", "The order's _id or number (see below)")
        .option("--json", "Print the entry as one JSON object on one line")
        .addHelpText("after", `\n${_ID_HELP}`)
        .action(async (order, flags, cmd) => {
          const { parseOrderArguments } = await import("./order_argument.ts");
          const { runShow } = await import("./show.ts");
          const [argument] = parseOrderArguments([order]);
          const config = await ctx.start(cmd, undefined, start);
          await runShow(ctx, config.values, flags, argument!);
        });

      const retry = group
        .command("retry")
        .description(
          "Archive now what can be of the quarantine; say what is still not archived and why",
        )
        .argument("[orders...]", "The orders' _ids or numbers (see below)")
        .option("--all", "Retry every quarantined order")
        .option("--reason <reason>", "Retry every order of this reason")
        .addHelpText(
          "after",
          `\nExit 0 when every retried order was archived (or is no longer delivered), 1 when some\nare still quarantined or not found.\n\n${_ID_HELP}`,
        );
      addSettingOptions(retry, quarantineSettings);
      retry.action(async (orders, flags, cmd) => {
        const { planRetry, runRetry } = await import("./retry.ts");
        const plan = planRetry(orders, flags);
        const config = await ctx.start(cmd, quarantineSettings, start);
        await runRetry(ctx, config.values, plan);
      });

      group
        .command("release")
        .description(
          "Accept that orders will not be archived: record them as released, take them out",
        )
        .argument("<orders...>", "The orders' _ids or numbers (see below)")
        .option("--yes", "Release them (without it, say what would be released, exit 2)")
        .option("--note <text>", "Why, kept with the released record")
        .addHelpText(
          "after",
          `\nEach order is recorded in the released collection (ARCHIVER_RELEASED_COLLECTION,\ndefault archiver_released) with who and when, then leaves the quarantine; verify counts\nit as released. Running it again is harmless. Exit 1 when some order was not in the\nquarantine (the others are released).\n\n${_ID_HELP}`,
        )
        .action(async (orders, flags, cmd) => {
          const { planRelease, runRelease } = await import("./release.ts");
          const plan = planRelease(orders, flags);
          const config = await ctx.start(cmd, undefined, start);
          await runRelease(ctx, config.values, plan);
        });
    },
  };
}
