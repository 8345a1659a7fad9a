/**
 * The `history` plugin: `archiver history` prints the batch runs of the last days from the run
 * history (the operators' "Batch Archiving — Last 7 days" view; `archiver dashboard` shows it
 * beneath the watcher's live view).
 *
 * @module
 */

import type { Plugin } from "../../core/runtime/plugin.ts";
import { ConfigError } from "../../core/runtime/errors.ts";
import { integer } from "../../core/runtime/parse.ts";

/** The history plugin's options. */
export interface HistoryOptions {
  /** Days shown when `--days` is not given. @default 7 */
  days: number;
}

/** The defaults of {@link HistoryOptions}. */
export const historyDefaults = {
  days: 7,
} satisfies HistoryOptions;

/**
 * Creates the history plugin.
 *
 * @param options Overrides of {@link historyDefaults}.
 * @returns The plugin.
 */
export function history(options: Partial<HistoryOptions> = {}): Plugin {
  const settings = { ...historyDefaults, ...options };
  return {
    name: "history",
    description: "Batch history of the last days",
    register(program, ctx) {
      program
        .command("history")
        .description("Batch runs of the last days: orders archived, success rate, mean duration")
        .option("--days <n>", "Days shown, today included", String(settings.days))
        .option("--json", "Print one JSON object on one line")
        .action(async (flags, cmd) => {
          const days = _days(flags.days);
          const config = await ctx.start(cmd, {}, { logFile: false });
          const { runHistory } = await import("./history_run.ts");
          await runHistory(ctx, config.values, { days, json: flags.json });
        });
    },
  };
}

function _days(raw: string): number {
  try {
    return integer({ min: 1, max: 366 })(raw);
  } catch (error) {
    throw new ConfigError(
      `Invalid --days ${JSON.stringify(raw)}: expected ${(error as Error).message}`,
    );
  }
}
