/**
 * The `simulate` plugin: `archiver simulate` fills a database with realistic, reproducible French
 * food-delivery data (clients, couriers, restaurants with menus, orders through their lifecycle),
 * and `archiver simulate --live` moves orders through their lifecycle in real time.
 *
 * @module
 */

import {
  decimal,
  duration,
  formatDuration,
  integer,
  type Parser,
} from "../../core/runtime/parse.ts";
import type { Plugin } from "../../core/runtime/plugin.ts";
import { addSettingOptions, type SettingsSpec } from "../../core/runtime/settings.ts";

/** The simulate plugin's options. */
export interface SimulateOptions {
  /** Orders kept in the `--export` sample. @default 1000 */
  exportSample: number;
  /** Bulk inserts in flight at once. @default 4 */
  insertConcurrency: number;
}

/** The defaults of {@link SimulateOptions}. */
export const simulateDefaults = {
  exportSample: 1000,
  insertConcurrency: 4,
} satisfies SimulateOptions;

/** A count that may be left to scale with `--count` (`auto`, shown as the default). */
const _countOrAuto: Parser<number | undefined> = (raw) => {
  if (raw.trim().toLowerCase() === "auto") return undefined;
  try {
    return integer({ min: 1 })(raw);
  } catch {
    throw new TypeError("a positive integer or auto");
  }
};

const _autoFormat = (value: number | undefined) => value === undefined ? "auto" : String(value);

/** The settings `archiver simulate` reads. */
export const simulateSettings = {
  count: {
    env: "ARCHIVER_SIMULATE_COUNT",
    flag: "--count <n>",
    description: "Orders to generate",
    default: 1000,
    parse: integer({ min: 0 }),
  },
  seed: {
    env: "ARCHIVER_SIMULATE_SEED",
    flag: "--seed <n>",
    description: "Seed that makes the data reproducible (random, and printed, when unset)",
    default: undefined as number | undefined,
    parse: (raw: string) => {
      if (raw.trim().toLowerCase() === "random") return undefined;
      return integer({ min: 0 })(raw);
    },
    format: (value: number | undefined) => value === undefined ? "random" : String(value),
  },
  pDelivered: {
    env: "ARCHIVER_SIMULATE_P_DELIVERED",
    flag: "--p-delivered <p>",
    description: "Share of orders delivered",
    default: 0.4,
    parse: decimal({ min: 0, max: 1 }),
  },
  pIncomplete: {
    env: "ARCHIVER_SIMULATE_P_INCOMPLETE",
    flag: "--p-incomplete <p>",
    description: "Share of orders with one reference to a document that does not exist",
    default: 0,
    parse: decimal({ min: 0, max: 1 }),
  },
  clients: {
    env: "ARCHIVER_SIMULATE_CLIENTS",
    flag: "--clients <n>",
    description: "Clients to generate (auto: one per 10 orders, 20 to 20000)",
    default: undefined as number | undefined,
    parse: _countOrAuto,
    format: _autoFormat,
  },
  couriers: {
    env: "ARCHIVER_SIMULATE_COURIERS",
    flag: "--couriers <n>",
    description: "Couriers to generate (auto: one per 100 orders, 5 to 2000)",
    default: undefined as number | undefined,
    parse: _countOrAuto,
    format: _autoFormat,
  },
  restaurants: {
    env: "ARCHIVER_SIMULATE_RESTAURANTS",
    flag: "--restaurants <n>",
    description: "Restaurants to generate, each with a menu (auto: one per 200 orders, 5 to 500)",
    default: undefined as number | undefined,
    parse: _countOrAuto,
    format: _autoFormat,
  },
  days: {
    env: "ARCHIVER_SIMULATE_DAYS",
    flag: "--days <n>",
    description: "Orders are spread over this many days before now",
    default: 30,
    parse: integer({ min: 1, max: 3650 }),
  },
  simulateBatchSize: {
    env: "ARCHIVER_SIMULATE_BATCH_SIZE",
    description: "Documents per bulk insert",
    default: 1000,
    parse: integer({ min: 1, max: 100_000 }),
  },
  rate: {
    env: "ARCHIVER_SIMULATE_RATE",
    flag: "--rate <n>",
    description: "With --live: changes per second",
    default: 20,
    parse: decimal({ min: 0.1, max: 100_000 }),
  },
  duration: {
    env: "ARCHIVER_SIMULATE_DURATION",
    flag: "--duration <d>",
    description: "With --live: how long to run (0s: until Ctrl+C)",
    default: 60_000,
    parse: duration(),
    format: formatDuration,
  },
} as const satisfies SettingsSpec;

/**
 * Creates the simulate plugin.
 *
 * @param options Overrides of {@link simulateDefaults}.
 * @returns The plugin.
 */
export function simulate(options: Partial<SimulateOptions> = {}): Plugin {
  const settings = { ...simulateDefaults, ...options };
  return {
    name: "simulate",
    description: "Generate realistic, reproducible orders, or live order traffic",
    settings: simulateSettings,
    register(program, ctx) {
      const command = program
        .command("simulate")
        .description(
          "Fill the database with realistic, reproducible orders (or --live: move orders through their lifecycle in real time)",
        );
      addSettingOptions(command, simulateSettings);
      command
        .option("--drop", "Empty the simulated collections first (asks unless --yes)")
        .option("--drop-archive", "With --drop, empty the archive collection too")
        .option("-y, --yes", "Do not ask before --drop")
        .option("--export <file>", "Write a sample of the generated orders as Extended JSON")
        .option("--json", "Print the summary as one JSON object on one line")
        .option("--live", "Create orders and advance their statuses in real time at --rate")
        .option(
          "--now <date>",
          "Anchor of the --days window, as an ISO date (default: the current time)",
        );
      command.action(async (flags, cmd) => {
        const config = await ctx.start(cmd, simulateSettings);
        const { runSimulate } = await import("./run.ts");
        await runSimulate(ctx, config.values, { ...flags, ...settings });
      });
    },
  };
}
