/**
 * Builds the `archiver` program from plugins and runs it. Everything here is testable in-process:
 * arguments, environment, working folder and output streams are parameters, and the result is
 * the exit code — `cli/main.ts` is the only place that exits.
 *
 * @module
 */

import { Command, CommanderError, Option } from "@commander-js/extra-typings";
import { resolve } from "node:path";
import denoJson from "../deno.json" with { type: "json" };
import {
  compiledBinaryDir,
  type GlobalConfig,
  globalSettings,
  loadConfig,
  OTHER_VARIABLES,
} from "../core/runtime/config.ts";
import { ArchiverError, ExitCode, exitCodeOf } from "../core/runtime/errors.ts";
import { Lifecycle, ShutdownRequested } from "../core/runtime/lifecycle.ts";
import { logger, setupLogging } from "../core/runtime/logging.ts";
import { redact } from "../core/runtime/mask.ts";
import {
  type AnyCommand,
  failureConventionOf,
  type Plugin,
  type PluginContext,
  type Program,
} from "../core/runtime/plugin.ts";
import { flagValues, settingOptions } from "../core/runtime/settings.ts";
import { registerConfigCommand } from "./config_command.ts";

/** Where a run reads its environment and writes its output. */
export interface RunOptions {
  /** The plugins whose commands the program offers. */
  plugins: readonly Plugin[];
  /** The environment. @default Deno.env.toObject() */
  env?: Readonly<Record<string, string | undefined>>;
  /** The working folder. @default Deno.cwd() */
  cwd?: string;
  /** Standard output. @default Deno.stdout */
  stdout?: (text: string) => void;
  /** Standard error. @default Deno.stderr */
  stderr?: (text: string) => void;
  /** Whether stdout is a terminal. @default Deno.stdout.isTerminal() */
  interactive?: boolean;
  /** Folder of the compiled binary, for its `.env`. @default the binary's folder when compiled */
  binaryDir?: string;
  /** Called on a second shutdown signal, to exit at once. */
  onForceExit?: (code: number) => void;
  /** Help line width. @default 100 */
  helpWidth?: number;
  /**
   * Plugins whose settings a `.env` file may hold besides those of `plugins` (one `.env` serves
   * every command of the tool). @default none
   */
  knownPlugins?: readonly Plugin[];
}

/**
 * Every variable the tool reads: the global settings, every plugin's, and the others it reads.
 *
 * @param plugins The plugins.
 * @returns Their variable names.
 */
export function knownVariables(plugins: Iterable<Plugin>): Set<string> {
  const names = new Set<string>(OTHER_VARIABLES);
  for (const setting of Object.values(globalSettings)) names.add(setting.env);
  for (const plugin of plugins) {
    for (const setting of Object.values(plugin.settings ?? {})) names.add(setting.env);
  }
  return names;
}

/**
 * Builds the program: global options, the built-in `config` command, then each plugin's commands.
 *
 * @param ctx The context handed to every plugin.
 * @param options Plugins and output.
 * @returns The commander program, ready to parse.
 * @throws {TypeError} When two plugins share a name or a command.
 */
export function buildProgram(
  ctx: PluginContext,
  options: Pick<RunOptions, "plugins" | "stdout" | "stderr" | "helpWidth">,
): Program {
  const write = (to?: (text: string) => void) =>
    to ?? ((text: string) => _writeTo(Deno.stdout, text));
  const program: Program = new Command("archiver")
    .description(
      "Archive delivered orders from MongoDB, in batch and in real time through change streams.",
    )
    .version(denoJson.version, "-V, --version", "Print the version")
    .helpOption("-h, --help", "Print help")
    .helpCommand("help [command]", "Print help for a command")
    .exitOverride()
    .showSuggestionAfterError(true)
    .configureHelp({ showGlobalOptions: true, helpWidth: options.helpWidth ?? 100 })
    .configureOutput({
      writeOut: write(options.stdout),
      writeErr: options.stderr ?? ((text) => _writeTo(Deno.stderr, text)),
      // Commander puts its suggestion on a second line; users get one line.
      outputError: (text, out) => {
        const line = text.trim().replace(/\s*\n\s*/g, " ");
        const convention = failureConventionOf(_running.get(program));
        if (convention) write(options.stdout)(`${convention.statusLine(_stripError(line))}\n`);
        else out(`${line}\n`);
      },
    });
  for (const option of settingOptions(globalSettings)) program.addOption(option);
  program.addOption(
    new Option("--env-file <path>", "Read settings from this .env file (env ARCHIVER_ENV_FILE)"),
  );

  const owners = new Map<string, string>([["config", "core"], ["help", "core"]]);
  const names = new Set<string>();
  registerConfigCommand(program, ctx);
  for (const plugin of options.plugins) {
    if (names.has(plugin.name)) throw new TypeError(`Two plugins are named "${plugin.name}"`);
    names.add(plugin.name);
    const before = new Set(program.commands);
    try {
      plugin.register(program, ctx);
    } catch (error) {
      throw new TypeError(`Plugin "${plugin.name}" cannot register its commands: ${error}`, {
        cause: error,
      });
    }
    for (const command of program.commands) {
      if (before.has(command)) continue;
      const owner = owners.get(command.name());
      if (owner) {
        throw new TypeError(
          `Plugin "${plugin.name}" registers command "${command.name()}", already registered by "${owner}"`,
        );
      }
      owners.set(command.name(), plugin.name);
    }
  }
  _trackRunningCommand(program, program);
  return program;
}

// The command being run, per program, so a failure is reported in that command's convention.
const _running = new WeakMap<Program, AnyCommand>();

function _trackRunningCommand(program: Program, command: AnyCommand): void {
  if (command === program) _running.set(program, program);
  if (command.commands.length === 0) return;
  command.hook("preSubcommand", (_parent, sub) => {
    _running.set(program, sub);
  });
  for (const sub of command.commands) _trackRunningCommand(program, sub);
}

// `event.action` of the run's log lines: the command as typed, `batch` or `logs check`.
function _commandPath(command: AnyCommand): string {
  const names: string[] = [];
  for (let at: AnyCommand | null = command; at?.parent; at = at.parent) names.unshift(at.name());
  return names.join(" ");
}

function _stripError(line: string): string {
  return line.replace(/^error: /, "");
}

/**
 * Runs the CLI once: builds the program, parses the arguments, runs the command, cleans up.
 * User errors print one line (no stack unless at debug level) and map to their exit code.
 *
 * @param args The arguments after the program name.
 * @param options Plugins, environment and output.
 * @returns The exit code.
 */
export async function runCli(args: readonly string[], options: RunOptions): Promise<number> {
  const env = options.env ?? Deno.env.toObject();
  const stderr = options.stderr ?? ((text: string) => _writeTo(Deno.stderr, text));
  const stdout = options.stdout ?? ((text: string) => _writeTo(Deno.stdout, text));
  const cwd = options.cwd ?? Deno.cwd();
  const lifecycle = new Lifecycle();
  let debug = env.ARCHIVER_LOG_LEVEL?.trim().toLowerCase() === "debug" ||
    _flagSays(args, "--log-level", "debug");
  const knownNames = knownVariables([...options.plugins, ...(options.knownPlugins ?? [])]);
  let logging = false;

  const ctx: PluginContext = {
    lifecycle,
    logger: logger(),
    env,
    cwd,
    plugins: options.plugins,
    interactive: options.interactive ?? _isTerminal(Deno.stdout),
    runCommand: (commandArgs, run = {}) =>
      runCli(commandArgs, {
        plugins: options.plugins,
        knownPlugins: options.knownPlugins,
        binaryDir: options.binaryDir,
        helpWidth: options.helpWidth,
        env: run.env ?? env,
        cwd,
        stdout: run.stdout ?? stdout,
        stderr: run.stderr ?? stderr,
        interactive: false,
      }),
    out: (text) => stdout(text.endsWith("\n") ? text : `${text}\n`),
    async start(command, settings, startOptions = {}) {
      const spec = { ...globalSettings, ...(settings ?? {}) } as
        & typeof globalSettings
        & NonNullable<typeof settings>;
      const config = await loadConfig(spec, flagValues(command, spec), {
        env,
        cwd,
        envFileFlag: (command.optsWithGlobals() as { envFile?: string }).envFile,
        binaryDir: options.binaryDir ?? compiledBinaryDir(),
        knownNames,
      });
      const values = config.values as GlobalConfig;
      debug = values.logLevel === "debug";
      const logName = startOptions.logFile ?? command.name();
      const closeLogs = await setupLogging({
        level: values.logLevel,
        format: values.logFormat,
        action: _commandPath(command),
        write: (line) => stderr(`${line}\n`),
        file: logName === false ? undefined : {
          dir: resolve(cwd, values.logDir),
          name: logName,
          maxSize: values.logMaxSize,
          maxFiles: values.logMaxFiles,
          optional: startOptions.logFileOptional === true,
        },
      });
      logging = true;
      for (const warning of config.warnings) logger().warn(warning);
      lifecycle.onStop(async () => {
        logging = false;
        await closeLogs();
      });
      lifecycle.listen({
        onForce: () => options.onForceExit?.(ExitCode.interrupted),
      });
      return config;
    },
  };

  let program: Program | undefined;
  try {
    program = buildProgram(ctx, { ...options, stdout, stderr });
    await program.parseAsync([...args], { from: "user" });
    return lifecycle.exitCode;
  } catch (error) {
    // A command read by another tool (a monitoring check) reports failures its way.
    const convention = program && failureConventionOf(_running.get(program));
    if (error instanceof CommanderError) {
      // Help and version end with exit code 0; every parse error is a usage error.
      if (error.exitCode === 0) return ExitCode.ok;
      return convention ? convention.exitCode : ExitCode.usage;
    }
    const interrupted = error instanceof ShutdownRequested;
    const code = interrupted
      ? ExitCode.interrupted
      : convention
      ? convention.exitCode
      : exitCodeOf(error);
    const message = error instanceof Error ? error.message : String(error);
    const line = error instanceof ArchiverError || error instanceof ShutdownRequested
      ? message
      : `Unexpected error: ${message}${debug ? "" : " (run with --log-level debug for details)"}`;
    // An error already logged where it happened, in the operators' words, is not repeated.
    const alreadyLogged = logging && error instanceof ArchiverError && error.logged;
    if (convention && !interrupted) {
      if (logging && !alreadyLogged) logger().error(line);
      stdout(`${convention.statusLine(redact(line.split("\n")[0]!))}\n`);
    } else if (!alreadyLogged) {
      if (logging) logger().error(line);
      else stderr(`error: ${redact(line)}\n`);
    }
    if (debug && error instanceof Error && error.stack) stderr(`${redact(error.stack)}\n`);
    return code;
  } finally {
    await lifecycle.stop();
  }
}

const _encoder = new TextEncoder();

function _writeTo(stream: { writeSync(data: Uint8Array): number }, text: string): void {
  const bytes = _encoder.encode(text);
  for (let written = 0; written < bytes.length;) {
    written += stream.writeSync(bytes.subarray(written));
  }
}

function _isTerminal(stream: { isTerminal(): boolean }): boolean {
  try {
    return stream.isTerminal();
  } catch {
    return false;
  }
}

function _flagSays(args: readonly string[], flag: string, value: string): boolean {
  return args.some((arg, i) =>
    arg === `${flag}=${value}` || (arg === flag && args[i + 1] === value)
  );
}
