/**
 * The `batch` plugin: `archiver batch` archives every delivered order not yet in the archive,
 * batch by batch, with a dry-run mode, date bounds and a report.
 *
 * @module
 */

import type { Plugin } from "../../core/runtime/plugin.ts";
import { retryIntervalSetting } from "../../core/archive/quarantine.ts";
import { archivePathSetting } from "../../core/archive/archiver.ts";
import { integer, text } from "../../core/runtime/parse.ts";
import { reportFileSetting } from "../../core/runtime/state_files.ts";
import { addSettingOptions, type SettingsSpec } from "../../core/runtime/settings.ts";

/** The batch plugin's options. */
export interface BatchOptions {
  /** Number of orders in the example sample written by `--export`. @default 100 */
  exportSample: number;
}

/** The defaults of {@link BatchOptions}. */
export const batchDefaults = { exportSample: 100 } satisfies BatchOptions;

const _promFile = text({
  pattern: /\.prom$/,
  expected: "a file path ending in .prom (the textfile collectors read only those), or off",
});

/** The settings `archiver batch` reads. */
export const batchSettings = {
  batchSize: {
    env: "ARCHIVER_BATCH_SIZE",
    flag: "--batch-size <n>",
    description: "Orders enriched and written per batch",
    default: 1000,
    parse: integer({ min: 1, max: 50_000 }),
  },
  reportFile: reportFileSetting,
  retryInterval: retryIntervalSetting,
  archivePath: archivePathSetting,
  metricsFile: {
    env: "ARCHIVER_BATCH_METRICS_FILE",
    flag: "--metrics-file <path>",
    description:
      "After each run, write its metrics to this .prom file (node_exporter, windows_exporter textfile)",
    default: "",
    parse: (raw) => raw.trim() === "off" ? "" : _promFile(raw),
    format: (value) => value || "off",
  },
} as const satisfies SettingsSpec;

/**
 * Creates the batch plugin.
 *
 * @param options Overrides of {@link batchDefaults}.
 * @returns The plugin.
 */
export function batch(options: Partial<BatchOptions> = {}): Plugin {
  const settings = { ...batchDefaults, ...options };
  return {
    name: "batch",
    description: "Archive every delivered order not yet archived",
    settings: batchSettings,
    register(program, ctx) {
      const command = program
        .command("batch")
        .description("Archive every delivered order not yet archived, batch by batch")
        .option("--dry-run", "Do everything but write: report what would be archived")
        .option(
          "--date-from <date>",
          "Delivered at or after: ISO date/time, today, yesterday, 7d, 12h",
        )
        .option("--date-to <date>", "Delivered before (a bare date or named day includes that day)")
        .option("--limit <n>", "Archive at most this many orders")
        .option("--allow-incomplete", "Also archive incomplete orders, marked complete: false")
        .option("--export <file>", "Write a sample of the archived documents as Extended JSON")
        .option("--json", "Print the report as one JSON object on one line");
      addSettingOptions(command, batchSettings);
      command.action(async (flags, cmd) => {
        const { planBatch, runBatch } = await import("./run.ts");
        const batchFlags = { ...flags, exportSample: settings.exportSample };
        const plan = await planBatch(batchFlags, ctx.cwd);
        const config = await ctx.start(cmd, batchSettings);
        await runBatch(ctx, config.values, batchFlags, plan);
      });
    },
  };
}
