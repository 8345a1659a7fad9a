/**
 * The `verify` plugin: `archiver verify` counts, per delivery day, the delivered orders that are
 * archived, quarantined, released and missing — the operator's proof that nothing was lost — and with
 * `--repair` archives the missing ones.
 *
 * @module
 */

import type { Plugin } from "../../core/runtime/plugin.ts";
import { integer } from "../../core/runtime/parse.ts";
import { addSettingOptions, type SettingsSpec } from "../../core/runtime/settings.ts";

/** The settings `archiver verify` reads, besides the global ones. */
export const verifySettings = {
  chunkSize: {
    env: "ARCHIVER_VERIFY_CHUNK_SIZE",
    flag: "--chunk-size <n>",
    description: "Orders read and looked up per round trip",
    // VERIFY_CHUNK_SIZE (core/archive/verify.ts), not imported so that --help stays light.
    default: 1000,
    parse: integer({ min: 1, max: 50_000 }),
  },
} as const satisfies SettingsSpec;

/**
 * Creates the verify plugin.
 *
 * @returns The plugin.
 */
export function verify(): Plugin {
  return {
    name: "verify",
    description:
      "Prove that no delivered order was lost: archived, quarantined, released or missing",
    settings: verifySettings,
    register(program, ctx) {
      const command = program
        .command("verify")
        .description(
          "Count, per delivery day, the delivered orders archived, quarantined, released, missing; exit 0 when none is missing, 1 when some delivered orders are missing (anomalies alone stay 0), 2 on a bad flag or setting, 3 when MongoDB is unreachable",
        )
        .option(
          "--since <date>",
          "Only orders delivered at or after: ISO date/time, today, yesterday, 7d, 12h",
        )
        .option("--repair", "Archive the missing orders, then verify again")
        .option("--json", "Print the figures as one JSON object on one line");
      addSettingOptions(command, verifySettings);
      command.action(async (flags, cmd) => {
        const { planVerify, runVerify } = await import("./run.ts");
        const plan = planVerify(flags);
        const config = await ctx.start(cmd, verifySettings);
        await runVerify(ctx, config.values, flags, plan);
      });
    },
  };
}
