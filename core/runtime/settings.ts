/**
 * Settings: values a command reads from a flag, the environment, a `.env` file or a default, in
 * that order of precedence. A plugin declares its settings once; the same declaration adds the
 * flags to its command, resolves and validates the values before any work, shows them in
 * `archiver config` and lists them in `.env.example`.
 *
 * @module
 */

import { type Command, Option } from "@commander-js/extra-typings";
import { ConfigError } from "./errors.ts";
import { maskUri } from "./mask.ts";
import type { Parser } from "./parse.ts";

/** One setting: where it is read from, its default, and how its text is checked. */
export interface Setting<T> {
  /** Environment variable, also the key in `.env` files. */
  readonly env: string;
  /** Command-line flag with its placeholder (`--batch-size <n>`); absent for environment-only. */
  readonly flag?: string;
  /** One line for `--help`, `archiver config` and `.env.example`. */
  readonly description: string;
  /** The value used when no layer sets one. */
  readonly default: T;
  /** Turns the raw text into the value, or throws a `TypeError` naming the expected form. */
  readonly parse: Parser<T>;
  /** Whether the value holds a credential to mask wherever it is shown. */
  readonly secret?: boolean;
  /** Writes a value back in the form `parse` reads (`10s`, `10MB`). @default `String` */
  readonly format?: (value: T) => string;
  /**
   * For the critical threshold of a warning/critical pair: the key of its warning setting in the
   * same group, and which way is worse (`higher` for a lag, `lower` for a headroom). Resolving
   * the group then refuses a warning beyond the critical (`--lag-warn 60s --lag-critical 30s`),
   * which would never warn before it pages.
   */
  readonly criticalOf?: { readonly warning: string; readonly worse: "higher" | "lower" };
}

/** A named group of settings, as a plugin or the core declares them. */
// deno-lint-ignore no-explicit-any
export type SettingsSpec = Record<string, Setting<any>>;

/** The typed values of a group of settings. */
export type SettingValues<S extends SettingsSpec> = {
  -readonly [K in keyof S]: S[K] extends Setting<infer T> ? T : never;
};

/** Where a value came from. */
export type SettingSource = "flag" | "env" | ".env" | "default";

/** Values with the layer each came from. */
export interface ResolvedSettings<S extends SettingsSpec> {
  /** The typed values. */
  values: SettingValues<S>;
  /** The layer each value came from. */
  sources: Record<keyof S, SettingSource>;
}

/** The layers values are read from, highest precedence first. */
export interface SettingLayers {
  /** Flag values given on the command line, keyed by setting name. */
  flags: Readonly<Record<string, string | undefined>>;
  /** The process environment. */
  env: Readonly<Record<string, string | undefined>>;
  /** The parsed `.env` file, if any. */
  dotenv: Readonly<Record<string, string>>;
  /** Path of the `.env` file, for messages. */
  dotenvPath?: string;
}

/**
 * Resolves and validates every setting of a group. Empty environment and `.env` values count as
 * unset, so `ARCHIVER_X=` in a file falls back to the default instead of failing.
 *
 * @param spec The settings to resolve.
 * @param layers Flags, environment and `.env` values.
 * @returns The typed values and their sources.
 * @throws {ConfigError} On the first bad value: one line naming the setting, the value and the
 * expected form.
 */
export function resolveSettings<S extends SettingsSpec>(
  spec: S,
  layers: SettingLayers,
): ResolvedSettings<S> {
  const values: Record<string, unknown> = {};
  const sources: Record<string, SettingSource> = {};
  for (const [key, setting] of Object.entries(spec)) {
    const found = _pick(key, setting, layers);
    if (!found) {
      values[key] = setting.default;
      sources[key] = "default";
      continue;
    }
    try {
      values[key] = setting.parse(found.raw);
    } catch (error) {
      const shown = setting.secret ? maskUri(found.raw) : found.raw;
      const expected = error instanceof Error ? error.message : String(error);
      throw new ConfigError(
        `Invalid ${found.name} ${JSON.stringify(shown)}${found.where}: expected ${expected}`,
        { cause: error },
      );
    }
    sources[key] = found.source;
  }
  _checkThresholdOrder(spec, values, layers);
  return {
    values: values as SettingValues<S>,
    sources: sources as Record<keyof S, SettingSource>,
  };
}

/**
 * The commander options for the settings that have a flag. The options carry no default, so a
 * value is present only when the flag was given; the help text shows the variable and default.
 *
 * @param spec The settings.
 * @returns One option per flagged setting, named after the setting's key.
 */
export function settingOptions(spec: SettingsSpec): Option[] {
  return Object.entries(spec).flatMap(([key, setting]) => {
    if (!setting.flag) return [];
    const option = new Option(setting.flag, _helpText(setting));
    if (option.attributeName() !== key) {
      throw new TypeError(`Setting "${key}" has flag ${setting.flag}: rename one to match`);
    }
    return [option];
  });
}

/**
 * Adds the flags of a group of settings to a command (see {@link settingOptions}).
 *
 * @param command The command.
 * @param spec The settings.
 * @returns The same command, for chaining.
 * @example
 * ```ts
 * addSettingOptions(program.command("batch"), batchSettings).action(...);
 * ```
 */
export function addSettingOptions<C extends { addOption(option: Option): unknown }>(
  command: C,
  spec: SettingsSpec,
): C {
  for (const option of settingOptions(spec)) command.addOption(option);
  return command;
}

/**
 * Reads the flag values a command was given for a group of settings, including global flags.
 *
 * @param command The command being run.
 * @param spec The settings whose flags to read.
 * @returns Raw flag text keyed by setting name.
 */
export function flagValues(
  // deno-lint-ignore no-explicit-any
  command: Command<any, any, any>,
  spec: SettingsSpec,
): Record<string, string | undefined> {
  const given = command.optsWithGlobals() as Record<string, unknown>;
  const flags: Record<string, string | undefined> = {};
  for (const key of Object.keys(spec)) {
    const value = given[key];
    if (typeof value === "string") flags[key] = value;
  }
  return flags;
}

/**
 * Shows a value as `archiver config` prints it: credentials masked, durations and lists readable.
 *
 * @param setting The setting.
 * @param value Its value.
 * @returns Printable text.
 */
// deno-lint-ignore no-explicit-any
export function displayValue(setting: Setting<any>, value: unknown): string {
  const text = setting.format ? setting.format(value) : String(value);
  return setting.secret ? maskUri(text) : text;
}

function _pick(
  key: string,
  setting: Setting<unknown>,
  layers: SettingLayers,
): { raw: string; source: SettingSource; name: string; where: string } | undefined {
  const flag = layers.flags[key];
  if (flag !== undefined && setting.flag) {
    return { raw: flag, source: "flag", name: setting.flag.split(" ")[0]!, where: "" };
  }
  const env = layers.env[setting.env];
  if (env !== undefined && env !== "") {
    return { raw: env, source: "env", name: setting.env, where: " in the environment" };
  }
  const dotenv = layers.dotenv[setting.env];
  if (dotenv !== undefined && dotenv !== "") {
    const where = layers.dotenvPath ? ` in ${layers.dotenvPath}` : " in .env";
    return { raw: dotenv, source: ".env", name: setting.env, where };
  }
  return undefined;
}

// A warning threshold beyond its critical one never warns first: one line naming both, where
// each was set, with their values. Equal thresholds are allowed (the warning is then skipped).
function _checkThresholdOrder(
  spec: SettingsSpec,
  values: Record<string, unknown>,
  layers: SettingLayers,
): void {
  for (const [key, setting] of Object.entries(spec)) {
    const pair = setting.criticalOf;
    if (!pair) continue;
    const warningSetting = spec[pair.warning];
    // A part of a command's settings resolved alone (`archiver config` lists them by section):
    // the pair is checked where both are resolved.
    if (!warningSetting) continue;
    const critical = values[key] as number;
    const warning = values[pair.warning] as number;
    const inverted = pair.worse === "higher" ? warning > critical : warning < critical;
    if (!inverted) continue;
    const name = (k: string, s: Setting<unknown>) => {
      const found = _pick(k, s, layers);
      return found ? `${found.name}${found.where}` : `${s.env} (default)`;
    };
    const shown = (s: Setting<unknown>, v: unknown) => JSON.stringify(displayValue(s, v));
    throw new ConfigError(
      `Thresholds out of order: warning ${name(pair.warning, warningSetting)} ${
        shown(warningSetting, warning)
      } is ${pair.worse === "higher" ? "above" : "below"} critical ${name(key, setting)} ${
        shown(setting, critical)
      }: the warning must come first`,
    );
  }
}

function _helpText(setting: Setting<unknown>): string {
  const shown = displayValue(setting, setting.default);
  return `${setting.description} (env ${setting.env}, default ${shown})`;
}
