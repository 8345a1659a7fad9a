/**
 * The one place that creates MongoDB clients: appName `archiver`, a bounded server selection, the
 * URI logged with its password masked, and the classification of errors into transient (retry),
 * configuration (exit 2) and unreachable (exit 3).
 *
 * @module
 */

import { MongoClient, type MongoClientOptions } from "mongodb";
import type { Logger } from "@logtape/logtape";
import { ConfigError, UnreachableError } from "../runtime/errors.ts";
import { logger } from "../runtime/logging.ts";
import { maskUri, redact, registerUriSecret } from "../runtime/mask.ts";
import { retry, type RetryOptions } from "../runtime/retry.ts";

/** What a connection needs from the configuration. */
export interface MongoConfig {
  /** The connection string. */
  uri: string;
  /** How long server selection may take, in ms. */
  connectTimeout: number;
}

// Server error codes MongoDB and its drivers treat as transient: network, elections, shutdown.
const TRANSIENT_CODES = new Set([
  6, // HostUnreachable
  7, // HostNotFound
  89, // NetworkTimeout
  91, // ShutdownInProgress
  189, // PrimarySteppedDown
  262, // ExceededTimeLimit
  9001, // SocketException
  10107, // NotWritablePrimary
  11600, // InterruptedAtShutdown
  11602, // InterruptedDueToReplStateChange
  13435, // NotPrimaryNoSecondaryOk
  13436, // NotPrimaryOrSecondary
  63, // StaleShardVersion
  150, // StaleEpoch
  13388, // StaleConfig
  234, // RetryChangeStream
  133, // FailedToSatisfyReadPreference
  43, // CursorNotFound
  50, // MaxTimeMSExpired
  112, // WriteConflict
]);

const TRANSIENT_NAMES = new Set([
  "MongoNetworkError",
  "MongoNetworkTimeoutError",
  "MongoServerSelectionError",
  "MongoTopologyClosedError",
  "MongoServerClosedError",
  "MongoPoolClearedError",
  "MongoPoolClosedError",
  "MongoWaitQueueTimeoutError",
  "MongoOperationTimeoutError",
]);

const AUTH_CODES = new Set([18, 13]); // AuthenticationFailed, Unauthorized

/**
 * Whether a server error code is one MongoDB and its drivers treat as transient (a per-document
 * write error carries a code but is no `Error`).
 *
 * @param code The server's error code.
 * @returns `true` for network, election and shutdown codes.
 */
export function isTransientCode(code: number | undefined): boolean {
  return code !== undefined && TRANSIENT_CODES.has(code);
}

/**
 * Whether an error is worth retrying: network trouble, no reachable server, an election or a
 * shutdown — anything that a later attempt may not meet.
 *
 * @param error What the driver threw.
 * @returns `true` for transient errors.
 */
export function isTransientError(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  if (isAuthError(error)) return false;
  const labelled = error as Error & { hasErrorLabel?: (label: string) => boolean; code?: unknown };
  if (
    labelled.hasErrorLabel?.("RetryableWriteError") ||
    labelled.hasErrorLabel?.("ResumableChangeStreamError") ||
    labelled.hasErrorLabel?.("TransientTransactionError")
  ) return true;
  if (TRANSIENT_NAMES.has(error.name)) return true;
  return typeof labelled.code === "number" && isTransientCode(labelled.code);
}

/**
 * Whether the server refused the credentials: retrying cannot help, the operator must act.
 *
 * @param error What the driver threw.
 * @returns `true` for authentication and authorization failures.
 */
export function isAuthError(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  if (error.name === "MongoAuthError" || error.name === "MongoMissingCredentialsError") return true;
  let cause: unknown = error;
  for (let depth = 0; cause instanceof Error && depth < 5; depth++) {
    const code = (cause as { code?: unknown }).code;
    if (typeof code === "number" && AUTH_CODES.has(code)) return true;
    cause = cause.cause;
  }
  return false;
}

/**
 * Creates a client (not yet connected) with the tool's defaults.
 *
 * @param config URI and server-selection timeout.
 * @param options Further driver options, such as `monitorCommands`.
 * @returns The client.
 * @throws {ConfigError} When the driver rejects the connection string.
 */
export function createMongoClient(
  config: MongoConfig,
  options: MongoClientOptions = {},
): MongoClient {
  registerUriSecret(config.uri);
  try {
    return new MongoClient(config.uri, {
      appName: "archiver",
      serverSelectionTimeoutMS: config.connectTimeout,
      ...options,
    });
  } catch (error) {
    throw new ConfigError(
      `Invalid MongoDB connection string ${JSON.stringify(maskUri(config.uri))}: ${
        redact(error instanceof Error ? error.message : String(error))
      }`,
      { cause: error },
    );
  }
}

/** Bounds of the first connection. */
export interface ConnectOptions extends Pick<RetryOptions, "signal" | "onRetry"> {
  /** Give up after this long, in ms. @default the configured connect timeout */
  deadlineMs?: number;
  /** Further driver options. */
  clientOptions?: MongoClientOptions;
}

/**
 * Creates a client and connects it, retrying transient failures with backoff until the deadline.
 * Logs `✅ Connected to database` or `❌ Failed to connect to MongoDB`, the URI masked.
 *
 * @param config URI and server-selection timeout.
 * @param options Deadline, abort signal, driver options.
 * @returns A connected client; the caller closes it.
 * @throws {ConfigError} On a bad URI or refused credentials (exit 2).
 * @throws {UnreachableError} When no server answered before the deadline (exit 3).
 */
export async function connectMongo(
  config: MongoConfig,
  options: ConnectOptions = {},
): Promise<MongoClient> {
  const log = logger("mongo");
  const client = createMongoClient(config, options.clientOptions);
  const where = maskUri(config.uri);
  try {
    await retry(() => client.connect(), {
      signal: options.signal,
      deadlineMs: options.deadlineMs ?? config.connectTimeout,
      baseDelayMs: 250,
      maxDelayMs: 5_000,
      isRetryable: isTransientError,
      onRetry: (info) => {
        log.warn(`Cannot reach MongoDB at ${where} (attempt ${info.attempt}), retrying`, {
          reason: describeError(info.error),
          delayMs: info.delayMs,
        });
        options.onRetry?.(info);
      },
    });
  } catch (error) {
    await client.close().catch(() => {});
    if (options.signal?.aborted) throw error;
    const reason = describeError(error);
    // Logged here in the operators' words (the log monitor counts this line); the CLI then
    // prints nothing more, so the user sees one line.
    log.error(`❌ Failed to connect to MongoDB at ${where}: ${reason}`);
    if (isAuthError(error)) {
      throw new ConfigError(`Authentication to MongoDB at ${where} failed: ${reason}`, {
        cause: error,
        logged: true,
      });
    }
    throw new UnreachableError(`Failed to connect to MongoDB at ${where}: ${reason}`, {
      cause: error,
      logged: true,
    });
  }
  log.info(`✅ Connected to database at ${where}`);
  return client;
}

/**
 * A one-line, credential-free description of a driver error.
 *
 * @param error What was thrown.
 * @returns `message (code N)` with any credential removed.
 */
export function describeError(error: unknown): string {
  if (!(error instanceof Error)) return redact(String(error));
  const code = (error as { code?: unknown }).code;
  const firstLine = error.message.split("\n")[0] ?? error.message;
  return redact(typeof code === "number" ? `${firstLine} (code ${code})` : firstLine);
}

/** How {@link retryTransient} bounds and reports its attempts. */
export interface TransientRetryOptions {
  /** Where each retry is logged, as a warning. */
  log: Logger;
  /** Stops waiting when aborted. */
  signal?: AbortSignal;
  /** Gives up after this long, in ms, and throws the last error. @default 30000 */
  deadlineMs?: number;
  /** Called on each transient failure, to count connection errors. */
  onTransientError?: (error: unknown) => void;
}

/**
 * Runs a MongoDB call, retrying transient failures (network, elections, shutdown) with backoff
 * and full jitter until a deadline; other errors are thrown at once. Each retry is logged as
 * `<what> failed (attempt N), retrying: <reason>`, without credentials.
 *
 * @param what What the call does, for the log (`"Archive write"`).
 * @param fn The call.
 * @param options Logger, abort signal, deadline and error counter.
 * @returns What the call returned.
 */
export function retryTransient<T>(
  what: string,
  fn: () => Promise<T>,
  options: TransientRetryOptions,
): Promise<T> {
  return retry(fn, {
    signal: options.signal,
    deadlineMs: options.deadlineMs ?? 30_000,
    baseDelayMs: 200,
    maxDelayMs: 5_000,
    isRetryable: isTransientError,
    onRetry: ({ error, attempt }) => {
      options.onTransientError?.(error);
      options.log.warn(`${what} failed (attempt ${attempt}), retrying: ${describeError(error)}`);
    },
  });
}
