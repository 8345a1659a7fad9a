/**
 * The configuration every command shares: where MongoDB is, which database and collections hold
 * the orders, and where logs go. Values come from a flag, then the environment, then a `.env` file
 * (`--env-file`, else `.env` in the working folder, else next to the compiled binary), then the
 * defaults; everything is validated before a command does any work.
 *
 * @module
 */

import { parse as parseDotenv } from "dotenv";
import { dirname, join, resolve } from "node:path";
import { ConfigError } from "./errors.ts";
import { duration, formatDuration, formatSize, integer, oneOf, parseSize, text } from "./parse.ts";
import {
  type ResolvedSettings,
  resolveSettings,
  type SettingLayers,
  type SettingsSpec,
  type SettingValues,
} from "./settings.ts";
import { registerUriSecret } from "./mask.ts";
import { unknownSettingMessage, unknownSettings, unterminatedQuote } from "./dotenv_check.ts";

const COLLECTION_NAME = {
  pattern: /^(?!system\.)[^$\0]{1,120}$/,
  expected: 'a collection name (no "$", not starting with "system.")',
};

/** Log levels, from the most to the least verbose. */
export const LOG_LEVELS = ["debug", "info", "warning", "error"] as const;

/** A log level name. */
export type LogLevelName = (typeof LOG_LEVELS)[number];

/** The settings of every command: connection, collections, logging. */
export const globalSettings = {
  uri: {
    env: "MONGODB_URI",
    flag: "--uri <uri>",
    description: "MongoDB connection string",
    default: "mongodb://127.0.0.1:27017",
    secret: true,
    parse: text({
      pattern: /^mongodb(\+srv)?:\/\/[^/?#\s]+/,
      expected: "a connection string starting with mongodb:// or mongodb+srv://",
    }),
  },
  db: {
    env: "MONGODB_DB",
    flag: "--db <name>",
    description: "Database holding the orders and the archive",
    default: "food_delivery",
    parse: text({
      pattern: /^[^/\\. "$*<>:|?\0]{1,63}$/,
      expected: 'a database name of 1-63 characters without / \\ . space " $ * < > : | ?',
    }),
  },
  logLevel: {
    env: "ARCHIVER_LOG_LEVEL",
    flag: "--log-level <level>",
    description: "Lowest level logged (debug also prints stack traces)",
    default: "info" as LogLevelName,
    parse: oneOf(LOG_LEVELS),
  },
  logDir: {
    env: "ARCHIVER_LOG_DIR",
    flag: "--log-dir <dir>",
    description: "Folder of the JSON-lines log files",
    default: "./logs",
    parse: text({ expected: "a folder path" }),
  },
  logFormat: {
    env: "ARCHIVER_LOG_FORMAT",
    flag: "--log-format <format>",
    description: "Console log lines: pretty for people, json for collectors",
    default: "pretty" as "pretty" | "json",
    parse: oneOf(["pretty", "json"] as const),
  },
  logMaxSize: {
    env: "ARCHIVER_LOG_MAX_SIZE",
    description: "Size at which a log file is rotated",
    default: 10 * 1024 * 1024,
    parse: parseSize,
    format: formatSize,
  },
  logMaxFiles: {
    env: "ARCHIVER_LOG_MAX_FILES",
    description: "Rotated log files kept per command, besides the current one",
    default: 10,
    parse: integer({ min: 1, max: 1000 }),
  },
  connectTimeout: {
    env: "ARCHIVER_CONNECT_TIMEOUT",
    description: "How long to look for a reachable server before giving up",
    default: 10_000,
    parse: duration({ min: 100 }),
    format: formatDuration,
  },
  operationTimeout: {
    env: "ARCHIVER_OPERATION_TIMEOUT",
    description:
      "Longest wait on the server for one read or for the majority to confirm a write, then it is retried",
    default: 30_000,
    parse: duration({ min: 100 }),
    format: formatDuration,
  },
  ordersCollection: {
    env: "ARCHIVER_ORDERS_COLLECTION",
    description: "Orders collection",
    default: "Commande",
    parse: text(COLLECTION_NAME),
  },
  clientsCollection: {
    env: "ARCHIVER_CLIENTS_COLLECTION",
    description: "Clients collection",
    default: "Client",
    parse: text(COLLECTION_NAME),
  },
  couriersCollection: {
    env: "ARCHIVER_COURIERS_COLLECTION",
    description: "Couriers collection",
    default: "Livreur",
    parse: text(COLLECTION_NAME),
  },
  restaurantsCollection: {
    env: "ARCHIVER_RESTAURANTS_COLLECTION",
    description: "Restaurants collection",
    default: "Restaurants",
    parse: text(COLLECTION_NAME),
  },
  menuCollection: {
    env: "ARCHIVER_MENU_COLLECTION",
    description: "Menu items collection",
    default: "Menu",
    parse: text(COLLECTION_NAME),
  },
  archiveCollection: {
    env: "ARCHIVER_ARCHIVE_COLLECTION",
    description: "Archive collection",
    default: "Historique",
    parse: text(COLLECTION_NAME),
  },
  quarantineCollection: {
    env: "ARCHIVER_QUARANTINE_COLLECTION",
    description: "Delivered orders that could not be archived, with their reason",
    default: "archiver_quarantine",
    parse: text(COLLECTION_NAME),
  },
  releasedCollection: {
    env: "ARCHIVER_RELEASED_COLLECTION",
    description:
      "Quarantined orders the operator released (accepted as never archived), counted by verify",
    default: "archiver_released",
    parse: text(COLLECTION_NAME),
  },
  runsCollection: {
    env: "ARCHIVER_RUNS_COLLECTION",
    description:
      "Run history: one document per batch run and per watcher and day, shared by every host",
    default: "archiver_runs",
    parse: text(COLLECTION_NAME),
  },
  deliveredStatus: {
    env: "ARCHIVER_DELIVERED_STATUS",
    description: "Order status that means delivered",
    default: "livrée",
    parse: text({ expected: "a non-empty status value" }),
  },
} as const satisfies SettingsSpec;

/** The global configuration values. */
export type GlobalConfig = SettingValues<typeof globalSettings>;

/** Where the environment and `.env` file are found. */
export interface ConfigSources {
  /** The process environment. */
  env: Readonly<Record<string, string | undefined>>;
  /** The working folder, where `.env` is looked for first. */
  cwd: string;
  /** The `--env-file` flag, if given. */
  envFileFlag?: string;
  /** The folder of the compiled binary, where `.env` is looked for last. */
  binaryDir?: string;
  /**
   * Every variable name the tool reads (all plugins' settings, not only the command's: one `.env`
   * serves every command). When given, an unknown `ARCHIVER_` key in the `.env` file is refused
   * and one in the environment is warned about.
   */
  knownNames?: ReadonlySet<string>;
}

/**
 * Variables the tool reads besides its settings: the `.env` file's own location and the lease
 * timings tests and drills shorten.
 */
export const OTHER_VARIABLES = [
  "ARCHIVER_ENV_FILE",
  "ARCHIVER_LEASE_TTL_MS",
  "ARCHIVER_LEASE_RENEW_MS",
] as const;

/** A resolved configuration: values, sources, and the `.env` file read, if any. */
export type LoadedConfig<S extends SettingsSpec> = ResolvedSettings<S> & {
  /** The `.env` file that was read, if any. */
  envFile?: string;
  /** Lines to log as warnings once logging is set up (unknown variables of the environment). */
  warnings: string[];
};

/**
 * Finds and reads the `.env` file: `--env-file` (or `ARCHIVER_ENV_FILE`), which must exist; else
 * `.env` in the working folder; else `.env` next to the compiled binary.
 *
 * @param sources Environment, working folder and binary folder.
 * @returns The parsed values and the path read, or empty values when there is no file.
 * @throws {ConfigError} When an explicitly named file cannot be read.
 */
export async function readDotenv(
  sources: ConfigSources,
): Promise<{ values: Record<string, string>; path?: string }> {
  const explicit = sources.envFileFlag ?? (sources.env.ARCHIVER_ENV_FILE || undefined);
  if (explicit !== undefined) {
    const name = sources.envFileFlag !== undefined ? "--env-file" : "ARCHIVER_ENV_FILE";
    // resolve, not join: an absolute path (`C:\archiver\.env` under NSSM, `/etc/archiver.env`)
    // is used as is; join would append it to the working folder.
    const path = resolve(sources.cwd, explicit);
    let text: string;
    try {
      text = await Deno.readTextFile(path);
    } catch (error) {
      const reason = error instanceof Deno.errors.NotFound ? "file not found" : String(error);
      // Name the file looked for, so a relative path read from an unexpected folder shows.
      const where = path === explicit ? "" : ` (looked for ${path})`;
      throw new ConfigError(`Cannot read ${name} ${JSON.stringify(explicit)}: ${reason}${where}`, {
        cause: error,
      });
    }
    return { values: _parseDotenv(text, explicit), path: explicit };
  }
  const candidates = [join(sources.cwd, ".env")];
  if (sources.binaryDir) candidates.push(join(sources.binaryDir, ".env"));
  for (const path of candidates) {
    let text: string;
    try {
      text = await Deno.readTextFile(path);
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) continue;
      throw new ConfigError(`Cannot read .env file ${JSON.stringify(path)}: ${error}`, {
        cause: error,
      });
    }
    return { values: _parseDotenv(text, path), path };
  }
  return { values: {} };
}

// dotenv keeps an unclosed quote in the value (or swallows the lines up to a later quote) without
// a word: refused here, naming the line but never the value (it may be a password).
function _parseDotenv(text: string, path: string): Record<string, string> {
  const open = unterminatedQuote(text);
  if (open) {
    throw new ConfigError(
      `Unterminated ${open.quote} quote in ${path}, line ${open.line} (${open.key}): close the quote or remove it`,
    );
  }
  return parseDotenv(text);
}

/**
 * Resolves the global settings and a command's own settings, in the documented precedence, and
 * registers the URI's password so no later output can show it.
 *
 * @param spec The settings to resolve (the global ones plus the command's).
 * @param flags Flag values given on the command line.
 * @param sources Where environment and `.env` come from.
 * @returns Values, sources and the `.env` path.
 * @throws {ConfigError} On any bad value or unreadable `--env-file`.
 */
export async function loadConfig<S extends SettingsSpec>(
  spec: S,
  flags: SettingLayers["flags"],
  sources: ConfigSources,
): Promise<LoadedConfig<S>> {
  const dotenv = await readDotenv(sources);
  const warnings: string[] = [];
  if (sources.knownNames) {
    // The .env file belongs to this installation: a key no setting reads is a typo, refused.
    const [unknown] = unknownSettings(Object.keys(dotenv.values), sources.knownNames);
    if (unknown) throw new ConfigError(unknownSettingMessage(unknown, `in ${dotenv.path}`));
    // The environment is shared (other versions of the tool, other services' variables): warned.
    for (const found of unknownSettings(Object.keys(sources.env), sources.knownNames)) {
      warnings.push(`${unknownSettingMessage(found, "in the environment")} (ignored)`);
    }
  }
  // Register credentials before validation, so even a rejected URI never leaks later.
  for (const raw of [flags.uri, sources.env.MONGODB_URI, dotenv.values.MONGODB_URI]) {
    if (raw) registerUriSecret(raw);
  }
  const resolved = resolveSettings(spec, {
    flags,
    env: sources.env,
    dotenv: dotenv.values,
    dotenvPath: dotenv.path,
  });
  return { ...resolved, envFile: dotenv.path, warnings };
}

/**
 * The folder of the running binary when compiled with `deno compile`, where the service's `.env`
 * lives; `undefined` when run from source (the Deno executable's folder is no place for it).
 *
 * @returns The binary's folder, or `undefined`.
 */
export function compiledBinaryDir(): string | undefined {
  return Deno.build.standalone ? dirname(Deno.execPath()) : undefined;
}
