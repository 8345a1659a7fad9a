/**
 * `archiver`: archive delivered orders from MongoDB, in batch and in real time through change
 * streams. This module is the library's public API: the plugin contract and the core pieces that
 * plugins share (configuration, logging, errors, the MongoDB connection and retry).
 *
 * @example
 * ```ts
 * import { type Plugin, runCli } from "./mod.ts";
 *
 * const hello: Plugin = {
 *   name: "hello",
 *   description: "Say hello",
 *   register(program, ctx) {
 *     program.command("hello").action(async (_options, command) => {
 *       const config = await ctx.start(command);
 *       ctx.out(`hello from ${config.values.db}`);
 *     });
 *   },
 * };
 * Deno.exit(await runCli(Deno.args, { plugins: [hello] }));
 * ```
 *
 * @module
 */

export { buildProgram, runCli, type RunOptions } from "./cli/program.ts";
export { builtinPlugins } from "./cli/registry.ts";
export type { AnyCommand, Plugin, PluginContext, Program, StartOptions } from "./core/plugin.ts";
export {
  type ConfigSources,
  type GlobalConfig,
  globalSettings,
  loadConfig,
  type LoadedConfig,
} from "./core/config.ts";
export {
  addSettingOptions,
  displayValue,
  flagValues,
  resolveSettings,
  type Setting,
  settingOptions,
  type SettingSource,
  type SettingsSpec,
  type SettingValues,
} from "./core/settings.ts";
export * as parse from "./core/parse.ts";
export {
  ArchiverError,
  ConfigError,
  ExitCode,
  exitCodeOf,
  PartialFailureError,
  UnreachableError,
} from "./core/errors.ts";
export { Lifecycle, ShutdownRequested } from "./core/lifecycle.ts";
export { formatPretty, logger, setupLogging } from "./core/logging.ts";
export { maskUri, redact, registerSecret } from "./core/mask.ts";
export {
  connectMongo,
  createMongoClient,
  describeError,
  isAuthError,
  isTransientError,
} from "./core/mongo.ts";
export { backoffDelay, retry, type RetryOptions, sleep } from "./core/retry.ts";
