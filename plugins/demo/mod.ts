/**
 * The `demo` plugin: `archiver demo` shows the whole tool working on a machine without MongoDB.
 * It starts the sandbox in-process (or uses `--uri`), then runs the real commands one after the
 * other — `simulate`, `batch --dry-run`, `batch`, `watch` (as a child process, stopped by a
 * signal like a service), `simulate --live` and `health` — checks that every complete delivered
 * order was archived exactly once, and prints a short report.
 *
 * @module
 */

import type { Plugin } from "../../core/runtime/plugin.ts";

/** The demo plugin's options. */
export interface DemoOptions {
  /** Orders simulated before the first batch. @default 2000 */
  count: number;
  /** Length of the live phase, in ms. @default 8000 */
  durationMs: number;
  /** Seed of the simulated data and traffic. @default 42 */
  seed: number;
  /** Live changes per second. @default 20 */
  rate: number;
  /** Share of simulated orders with a missing reference. @default 0.01 */
  pIncomplete: number;
  /** Longest wait for the watcher to open its stream or catch up, in ms. @default 30000 */
  waitMs: number;
}

/** The defaults of {@link DemoOptions}. */
export const demoDefaults = {
  count: 2000,
  durationMs: 8_000,
  seed: 42,
  rate: 20,
  pIncomplete: 0.01,
  waitMs: 30_000,
} satisfies DemoOptions;

/**
 * Creates the demo plugin.
 *
 * @param options Overrides of {@link demoDefaults}.
 * @returns The plugin.
 */
export function demo(options: Partial<DemoOptions> = {}): Plugin {
  const settings = { ...demoDefaults, ...options };
  return {
    name: "demo",
    description: "Run the whole tool once on a sandbox: simulate, batch, watch, health",
    register(program, ctx) {
      program
        .command("demo")
        .description(
          "Show the tool end to end without a MongoDB server: starts the sandbox (or uses --uri), " +
            "runs simulate, batch --dry-run, batch, watch with live deliveries and health, " +
            "verifies the archive and prints a report",
        )
        .option("--count <n>", "Orders to simulate", String(settings.count))
        .option(
          "--duration <d>",
          "How long live deliveries run while the watcher archives them",
          `${settings.durationMs / 1000}s`,
        )
        .option("--seed <n>", "Seed of the simulated data and traffic", String(settings.seed))
        .option("--rate <n>", "Live changes per second", String(settings.rate))
        .option("--keep", "Keep the working folder (logs, resume token, status, report)")
        .option("--json", "Print the report as one JSON object on one line")
        .addHelpText(
          "after",
          [
            "",
            "Without --uri the demo runs on an in-process sandbox (MONGODB_URI and .env name no",
            "server here, so a configured server is never written to). With --uri it writes to",
            "--db (default archiver_demo), which must be empty, on a replica set, and drops that",
            "database at the end unless --keep.",
          ].join("\n"),
        )
        .action(async (flags, cmd) => {
          const config = await ctx.start(cmd, {}, { logFile: false });
          const { runDemo } = await import("./run.ts");
          const { envFile } = cmd.optsWithGlobals() as { envFile?: string };
          await runDemo(ctx, config, {
            ...flags,
            envFile,
            pIncomplete: settings.pIncomplete,
            waitMs: settings.waitMs,
          });
        });
    },
  };
}
