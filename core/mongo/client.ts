/**
 * The one place that creates MongoDB clients: appName `archiver`, a bounded server selection, the
 * URI logged with its password masked, and the first connection: refused credentials end with
 * exit 2, no reachable server with exit 3.
 *
 * @module
 */

import { MongoClient, type MongoClientOptions } from "mongodb";
import { ConfigError, UnreachableError } from "../runtime/errors.ts";
import { logger } from "../runtime/logging.ts";
import { maskUri, redact, registerUriSecret } from "../runtime/mask.ts";
import { retry, type RetryOptions } from "../runtime/retry.ts";
import { describeError, isAuthError, isTransientError } from "./errors.ts";

/** What a connection needs from the configuration. */
export interface MongoConfig {
  /** The connection string. */
  uri: string;
  /** How long server selection may take, in ms. */
  connectTimeout: number;
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
