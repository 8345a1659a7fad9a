/**
 * `archiver`: archive delivered orders from MongoDB, in batch and in real time through change
 * streams. This module is the library's public API: the plugin contract, the core pieces that
 * plugins share (configuration, logging, errors, the MongoDB connection and retry), the archiving
 * core batch and watch run (enrichment, sink, backfill, token store), and the sandbox server.
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
export type {
  AnyCommand,
  Plugin,
  PluginContext,
  Program,
  RunCommandOptions,
  StartOptions,
} from "./core/runtime/plugin.ts";
export {
  type ConfigSources,
  type GlobalConfig,
  globalSettings,
  loadConfig,
  type LoadedConfig,
} from "./core/runtime/config.ts";
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
} from "./core/runtime/settings.ts";
export * as parse from "./core/runtime/parse.ts";
export {
  ArchiverError,
  ConfigError,
  ExitCode,
  exitCodeOf,
  PartialFailureError,
  UnreachableError,
} from "./core/runtime/errors.ts";
export { Lifecycle, ShutdownRequested } from "./core/runtime/lifecycle.ts";
export { formatPretty, logger, setupLogging } from "./core/runtime/logging.ts";
export { maskUri, redact, registerSecret } from "./core/runtime/mask.ts";
export { connectMongo, createMongoClient } from "./core/mongo/client.ts";
export {
  describeError,
  type ErrorKind,
  errorKind,
  isAuthError,
  isTransientCode,
  isTransientError,
} from "./core/mongo/errors.ts";
export { retryTransient } from "./core/mongo/retry.ts";
export { backoffDelay, retry, type RetryOptions, sleep } from "./core/runtime/retry.ts";

// The archiving core batch and watch share.
export { type CollectionNames, collectionNames } from "./core/archive/collections.ts";
export { enrichmentPipeline, orderFilter, type OrderSelection } from "./core/archive/enrich.ts";
export { type SinkResult, writeArchive } from "./core/archive/sink.ts";
export {
  ARCHIVE_INDEX,
  ensureArchiveIndex,
  inspectArchiveIndex,
  ORDER_ID_INDEX,
} from "./core/archive/archive_index.ts";
export { compareOrderIds, describeOrderId, orderIdKey } from "./core/archive/order_id.ts";
export {
  addOutcomeCounts,
  emptyOutcomeCounts,
  type OrderFigures,
  orderFigures,
  type OutcomeCounts,
  outcomeLabels,
} from "./core/runtime/outcome.ts";
export {
  Quarantine,
  type QuarantineDocument,
  type QuarantineEntry,
  type QuarantineReason,
} from "./core/archive/quarantine.ts";
export { archiveOrders, type ArchiveOutcome, type OrderRef } from "./core/archive/archiver.ts";
export { backfill, type BackfillOptions, type BackfillResult } from "./core/archive/backfill.ts";
export { parseDateBound } from "./core/runtime/dates.ts";
export {
  type BatchReport,
  loadBatchReport,
  saveBatchReport,
  type SavedBatchReport,
} from "./core/archive/report.ts";
export {
  CorruptTokenError,
  FileTokenStore,
  MongoTokenStore,
  type SavedToken,
  type TokenStore,
} from "./core/stream/token_store.ts";
export {
  readWatchStatus,
  type WatchMetrics,
  type WatchStatus,
} from "./core/stream/watch_status.ts";
export { type Sandbox, type SandboxOptions, startSandbox } from "./sandbox/mod.ts";
