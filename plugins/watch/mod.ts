/**
 * The `watch` plugin: `archiver watch` archives each order the moment it turns delivered, from a
 * MongoDB change stream, and resumes exactly where it stopped after any interruption. It is the
 * service NSSM runs 24/7.
 *
 * @module
 */

import { ConfigError } from "../../core/runtime/errors.ts";
import { duration, formatDuration, integer, text } from "../../core/runtime/parse.ts";
import type { Plugin } from "../../core/runtime/plugin.ts";
import { retryIntervalSetting } from "../../core/archive/quarantine.ts";
import { archivePathSetting } from "../../core/archive/archiver.ts";
import { addSettingOptions, type SettingsSpec } from "../../core/runtime/settings.ts";
import {
  STATUS_INTERVAL_MS,
  statusFileSetting,
  tokenCollectionSetting,
  tokenFileSetting,
  tokenStoreSetting,
} from "../../core/runtime/state_files.ts";
import { leaseCollectionSetting } from "../../core/stream/lease.ts";

/** The watch plugin's options. */
export interface WatchOptions {
  /** How often the status file is refreshed, in ms. @default 5000 */
  statusIntervalMs: number;
  /** How often an idle watcher saves its post-batch token, in ms. @default 60000 */
  idleTokenSaveMs: number;
}

/** The defaults of {@link WatchOptions}. */
export const watchDefaults = {
  statusIntervalMs: STATUS_INTERVAL_MS,
  idleTokenSaveMs: 60_000,
} satisfies WatchOptions;

/** The settings `archiver watch` reads. */
export const watchSettings = {
  batchMax: {
    env: "ARCHIVER_WATCH_BATCH_MAX",
    flag: "--batch-max <n>",
    description: "Most change events archived together in one micro-batch",
    default: 500,
    parse: integer({ min: 1, max: 10_000 }),
  },
  batchWaitMs: {
    env: "ARCHIVER_WATCH_BATCH_WAIT_MS",
    flag: "--batch-wait-ms <ms>",
    description:
      "Optional floor: also wait this long for more events once one arrived (0: a micro-batch is what the stream has ready)",
    default: 0,
    parse: integer({ min: 0, max: 60_000 }),
  },
  tokenStore: tokenStoreSetting,
  tokenFile: tokenFileSetting,
  tokenCollection: tokenCollectionSetting,
  ha: {
    env: "ARCHIVER_WATCH_HA",
    description:
      "Active and standby watchers (also --ha): the lease holder archives, the others wait; needs --token-store mongo",
    default: false,
    parse: _yesNo,
  },
  leaseCollection: leaseCollectionSetting,
  statusFile: statusFileSetting,
  retryInterval: retryIntervalSetting,
  summaryInterval: {
    env: "ARCHIVER_WATCH_SUMMARY_INTERVAL",
    description:
      "How often the watcher logs one summary line of what it did (nothing while idle); at least 1s",
    default: 60_000,
    parse: duration({ min: 1_000 }),
    format: formatDuration,
  },
  archivePath: archivePathSetting,
  metricsPort: {
    env: "ARCHIVER_METRICS_PORT",
    flag: "--metrics-port <port>",
    description: "Serve Prometheus /metrics and /healthz on --metrics-host:<port>; 0 turns it off",
    default: 0,
    parse: integer({ min: 0, max: 65535 }),
  },
  metricsHost: {
    env: "ARCHIVER_METRICS_HOST",
    flag: "--metrics-host <host>",
    description: "Address /metrics listens on: 127.0.0.1 (this host only), or 0.0.0.0 for any",
    default: "127.0.0.1",
    parse: text({
      pattern: /^(?:[A-Za-z0-9](?:[A-Za-z0-9.-]{0,252})|[0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*)$/,
      expected: "a host name or an IPv4 or IPv6 address",
    }),
  },
} as const satisfies SettingsSpec;

/**
 * The hidden test overrides of {@link WatchOptions}: `ARCHIVER_WATCH_STATUS_INTERVAL_MS` and
 * `ARCHIVER_WATCH_IDLE_TOKEN_SAVE_MS` (whole ms, at least 100), so a test sees a heartbeat or an
 * idle token save within seconds. Not documented for operators.
 *
 * @param env The environment.
 * @returns The overrides set.
 * @throws {ConfigError} On a value that is not a whole number of ms from 100.
 */
export function watchTimingOverrides(
  env: Readonly<Record<string, string | undefined>> = Deno.env.toObject(),
): Partial<WatchOptions> {
  const overrides: Partial<WatchOptions> = {};
  const read = (name: string): number | undefined => {
    const raw = env[name];
    if (raw === undefined) return undefined;
    const value = Number(raw);
    if (!/^\d+$/.test(raw.trim()) || value < 100) {
      throw new ConfigError(`Invalid ${name} ${JSON.stringify(raw)}: expected whole ms from 100`);
    }
    return value;
  };
  const status = read("ARCHIVER_WATCH_STATUS_INTERVAL_MS");
  const idle = read("ARCHIVER_WATCH_IDLE_TOKEN_SAVE_MS");
  if (status !== undefined) overrides.statusIntervalMs = status;
  if (idle !== undefined) overrides.idleTokenSaveMs = idle;
  return overrides;
}

function _yesNo(raw: string): boolean {
  const value = raw.trim().toLowerCase();
  if (["1", "true", "yes", "on"].includes(value)) return true;
  if (["0", "false", "no", "off"].includes(value)) return false;
  throw new TypeError("true or false");
}

/**
 * Creates the watch plugin.
 *
 * @param options Overrides of {@link watchDefaults}.
 * @returns The plugin.
 */
export function watch(options: Partial<WatchOptions> = {}): Plugin {
  const settings = { ...watchDefaults, ...watchTimingOverrides(), ...options };
  return {
    name: "watch",
    description: "Archive orders the moment they are delivered, from a change stream",
    settings: watchSettings,
    register(program, ctx) {
      const command = program
        .command("watch")
        .description(
          "Archive orders the moment they are delivered (change stream); resumes where it stopped",
        )
        .option(
          "--catch-up-since <date>",
          "Without a usable saved token, catch up only on what was delivered since (ISO date/time, today, 7d, 12h); a saved token always wins",
        )
        .option("--from-now", "Skip the catch-up and the saved token: stream from now on")
        .option(
          "--ha",
          "Share a lease with other watchers: one archives, the others wait (env ARCHIVER_WATCH_HA)",
        );
      addSettingOptions(command, watchSettings);
      command.action(async (flags, cmd) => {
        const { planWatch, runWatch } = await import("./watcher.ts");
        planWatch(flags);
        const config = await ctx.start(cmd, watchSettings);
        const values = { ...config.values, ha: flags.ha === true || config.values.ha };
        if (values.ha && values.tokenStore !== "mongo") {
          throw new ConfigError(
            `--ha needs --token-store mongo (not "${values.tokenStore}"): the watchers share the resume token in MongoDB`,
          );
        }
        await runWatch(ctx, values, { ...flags, ...settings });
      });
    },
  };
}
