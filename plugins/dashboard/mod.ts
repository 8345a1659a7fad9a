/**
 * The `dashboard` plugin: `archiver dashboard` draws the live view of the watcher in the
 * terminal (from its status file or its `/healthz`, with its process's CPU and memory on its
 * host), with the batch history of the last days beneath.
 *
 * @module
 */

import type { Plugin } from "../../core/runtime/plugin.ts";
import { ConfigError } from "../../core/runtime/errors.ts";
import { integer } from "../../core/runtime/parse.ts";
import { statusFileSetting } from "../../core/runtime/state_files.ts";
import { addSettingOptions, type SettingsSpec } from "../../core/runtime/settings.ts";

/** The dashboard plugin's options. */
export interface DashboardOptions {
  /** Days of batch history shown when `--days` is not given. @default 7 */
  days: number;
  /** How often the dashboard redraws, in ms. @default 1000 */
  refreshMs: number;
  /** How often the dashboard reads the run history again, in ms. @default 10000 */
  historyRefreshMs: number;
}

/** The defaults of {@link DashboardOptions}. */
export const dashboardDefaults = {
  days: 7,
  refreshMs: 1_000,
  historyRefreshMs: 10_000,
} satisfies DashboardOptions;

/** The settings `archiver dashboard` reads. */
export const dashboardSettings = {
  statusFile: statusFileSetting,
} as const satisfies SettingsSpec;

/**
 * Creates the dashboard plugin.
 *
 * @param options Overrides of {@link dashboardDefaults}.
 * @returns The plugin.
 */
export function dashboard(options: Partial<DashboardOptions> = {}): Plugin {
  const settings = { ...dashboardDefaults, ...options };
  return {
    name: "dashboard",
    description: "Live view of the watcher, with the batch history beneath",
    settings: dashboardSettings,
    register(program, ctx) {
      const command = program
        .command("dashboard")
        .description(
          "Live view of the watcher, redrawn every second, with the batch history beneath; q quits",
        )
        .option(
          "--url <url>",
          "Read the status from a watcher's /healthz (http://127.0.0.1:PORT/healthz)",
        )
        .option("--days <n>", "Days of batch history shown beneath", String(settings.days));
      addSettingOptions(command, dashboardSettings);
      command.action(async (flags, cmd) => {
        const days = _days(flags.days);
        const url = flags.url === undefined ? undefined : _url(flags.url);
        const config = await ctx.start(cmd, dashboardSettings, { logFile: false });
        const { runDashboard } = await import("./dashboard.ts");
        await runDashboard(ctx, config.values, {
          days,
          url,
          refreshMs: settings.refreshMs,
          historyRefreshMs: settings.historyRefreshMs,
        });
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

function _url(raw: string): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ConfigError(
      `Invalid --url ${JSON.stringify(raw)}: expected http://HOST:PORT/healthz`,
    );
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new ConfigError(
      `Invalid --url ${JSON.stringify(raw)}: expected an http:// or https:// address`,
    );
  }
  return url;
}
