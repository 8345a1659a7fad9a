/**
 * The plugin contract. A plugin is a small value — a name, a description, the settings it reads
 * and a function that registers its commands — made by a factory such as `batch(options?)`. The
 * CLI builds its program from one registry of plugins and hands each the same context.
 *
 * @module
 */

import type { Command } from "@commander-js/extra-typings";
import type { Logger } from "@logtape/logtape";
import type { GlobalConfig, LoadedConfig } from "./config.ts";
import type { Lifecycle } from "./lifecycle.ts";
import type { SettingsSpec } from "./settings.ts";
import type { globalSettings } from "./config.ts";

/** The root program a plugin adds its commands to. */
// deno-lint-ignore no-explicit-any
export type Program = Command<[], any, any>;

/** Any command a plugin declared, as its action receives it. */
// deno-lint-ignore no-explicit-any
export type AnyCommand = Command<any, any, any>;

/** Options of a command run's start. */
export interface StartOptions {
  /**
   * The JSON-lines log file's base name (`<log dir>/<name>.jsonl`), or `false` for commands that
   * only print (such as `config`). @default the command's name
   */
  logFile?: string | false;
  /**
   * Whether the command runs on when its log folder cannot be written: one warning on the
   * console, then console only. For commands that only read (`health`, `logs check`), which must
   * never fail because they cannot write their own log. @default false
   */
  logFileOptional?: boolean;
}

/** Where a command run by {@link PluginContext.runCommand} reads and writes. */
export interface RunCommandOptions {
  /** Its environment. @default the calling run's */
  env?: Readonly<Record<string, string | undefined>>;
  /** Its standard output. @default the calling run's */
  stdout?: (text: string) => void;
  /** Its standard error. @default the calling run's */
  stderr?: (text: string) => void;
}

/** What every plugin is given: configuration, logging, output and lifecycle. */
export interface PluginContext {
  /**
   * Starts a command run: resolves and validates the global settings and the given ones, sets up
   * console and file logging, and listens for shutdown signals. Call it first in an action.
   *
   * @param command The command being run (the action's last argument).
   * @param settings The command's own settings.
   * @param options The log file's name.
   * @returns The resolved configuration.
   * @throws {ConfigError} On any bad value (exit 2).
   */
  start<S extends SettingsSpec>(
    command: AnyCommand,
    settings?: S,
    options?: StartOptions,
  ): Promise<LoadedConfig<typeof globalSettings & S>>;
  /** The lifecycle of the run: abort signal, clean-up steps, exit code. */
  readonly lifecycle: Lifecycle;
  /** The logger under which plugins create theirs: `ctx.logger.getChild("batch")`. */
  readonly logger: Logger;
  /** Writes command output (tables, reports, JSON) to standard output. */
  out(text: string): void;
  /** Whether standard output is a terminal (progress bars, colour). */
  readonly interactive: boolean;
  /** The process environment, as the configuration sees it. */
  readonly env: Readonly<Record<string, string | undefined>>;
  /** The working folder; relative paths in settings are resolved against it. */
  readonly cwd: string;
  /** The plugins registered in this program, for commands that describe them all. */
  readonly plugins: readonly Plugin[];
  /**
   * Runs another command of this same program in-process, exactly as typed on a command line
   * (global flags first), with its own lifecycle and logging, never interactive. For commands
   * made of other commands (`archiver demo`), so that no plugin imports the CLI.
   *
   * @param args The arguments after the program name.
   * @param options Its environment and output streams.
   * @returns The command's exit code.
   * @example
   * ```ts
   * const code = await ctx.runCommand(["batch", "--dry-run", "--json"], {
   *   stdout: (text) => (output += text),
   * });
   * ```
   */
  runCommand(args: readonly string[], options?: RunCommandOptions): Promise<number>;
}

/** A plugin: a name, a description, its settings, and the commands it registers. */
export interface Plugin {
  /** A short, unique name, usually the command it adds. */
  readonly name: string;
  /** One line saying what the plugin does. */
  readonly description: string;
  /** Settings its commands read; shown by `archiver config` and listed in `.env.example`. */
  readonly settings?: SettingsSpec;
  /**
   * Adds the plugin's commands to the program.
   *
   * @param program The root program.
   * @param ctx The shared context.
   */
  register(program: Program, ctx: PluginContext): void;
}

/**
 * How a command reports a failure that is not its own result — a bad flag or setting, an
 * unexpected error — when the tool reading it has its own convention. A monitoring check
 * (`archiver health`, `archiver logs check`) is read by Nagios or Icinga, where exit 2 means
 * CRITICAL: its usage errors must be UNKNOWN (3), printed as the status line they read.
 */
export interface FailureConvention {
  /** The exit code of a usage, configuration or unexpected error (not of an interruption). */
  exitCode: number;
  /**
   * The one line printed on standard output instead of `error: …` on standard error.
   *
   * @param message The error's one-line message.
   * @returns The line, without a line ending.
   */
  statusLine(message: string): string;
}

/**
 * The monitoring-plugin convention (Nagios, Icinga): a check that cannot judge is UNKNOWN, exit
 * 3, its status line `ARCHIVER UNKNOWN - <why>`.
 */
export const monitoringPluginFailures: FailureConvention = {
  exitCode: 3,
  statusLine: (message) => `ARCHIVER UNKNOWN - ${message.replaceAll("|", "/")}`,
};

const _conventions = new WeakMap<AnyCommand, FailureConvention>();

/**
 * Declares how a command's failures are reported (see {@link FailureConvention}); the CLI asks
 * {@link failureConventionOf} when a run fails, so no command is special-cased by name.
 *
 * @param command The command (its subcommands inherit the convention).
 * @param convention The exit code and status line of its failures.
 * @returns The command, for chaining.
 * @example
 * ```ts
 * reportFailuresAs(program.command("health"), {
 *   exitCode: 3,
 *   statusLine: (message) => `ARCHIVER UNKNOWN - ${message}`,
 * });
 * ```
 */
export function reportFailuresAs<C extends AnyCommand>(
  command: C,
  convention: FailureConvention,
): C {
  _conventions.set(command, convention);
  return command;
}

/**
 * The failure convention of a command: its own, else its nearest ancestor's.
 *
 * @param command The command that was running.
 * @returns The convention, or `undefined` for the CLI's usual one (`error: …`, exit 2 or 70).
 */
export function failureConventionOf(
  command: AnyCommand | undefined,
): FailureConvention | undefined {
  for (let at: AnyCommand | null | undefined = command; at; at = at.parent) {
    const convention = _conventions.get(at);
    if (convention) return convention;
  }
  return undefined;
}

/** The values every command's configuration holds. */
export type { GlobalConfig };
