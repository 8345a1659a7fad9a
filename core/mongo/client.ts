/**
 * The one place that creates MongoDB clients: appName `archiver`, a bounded server selection, the
 * URI logged with its password masked, and the first connection: refused credentials end with
 * exit 2, no reachable server with exit 3.
 *
 * @module
 */

import { MongoClient, type MongoClientOptions, type ServerHeartbeatSucceededEvent } from "mongodb";
import { ConfigError, UnreachableError } from "../runtime/errors.ts";
import { logger } from "../runtime/logging.ts";
import { maskUri, redact, registerUriSecret } from "../runtime/mask.ts";
import { retry, type RetryOptions } from "../runtime/retry.ts";
import { describeError, isAuthError, isTransientError, replicaSetMismatch } from "./errors.ts";

/** What a connection needs from the configuration. */
export interface MongoConfig {
  /** The connection string. */
  uri: string;
  /**
   * How long server selection may take, in ms; for {@link connectMongo}, the default deadline of
   * the first connection, each attempt getting a share of it.
   */
  connectTimeout: number;
}

/**
 * How often each connection pool checks its minimum size and drops perished idle connections, in
 * ms. The driver's 100 ms (its internal `minPoolSizeCheckFrequencyMS`, which the constructor
 * refuses, so it is set on the parsed options) wakes an idle process ten times a second per
 * server: most of an idle watcher's CPU. A checkout drops a perished connection itself, and with
 * the default `minPoolSize` of 0 there is nothing to refill.
 */
export const POOL_CHECK_MS = 10_000;

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
    const client = new MongoClient(config.uri, {
      appName: "archiver",
      serverSelectionTimeoutMS: config.connectTimeout,
      ...options,
    });
    // Read by each server's connection pool when the client connects.
    Object.assign(client.options, { minPoolSizeCheckFrequencyMS: POOL_CHECK_MS });
    return client;
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
 * How long one attempt of the first connection may look for a server: a quarter of the deadline,
 * within [1 s, 10 s], and never more than the deadline.
 *
 * Why a share, not the whole deadline: the driver's server selection holds its attempt for all of
 * `serverSelectionTimeoutMS`, so an attempt given the whole deadline leaves no time to retry, and
 * a server that comes up meanwhile is only found if the one attempt's monitor happens to see it.
 * A quarter: the next attempt starts only if it can end by the deadline (see
 * {@link connectMongo}), and then three attempts fit with their backoff waits (under 0.75 s in
 * all) in any deadline from 4 s up, so a short deadline still retries twice. 1 s floor: a TCP
 * connect, TLS and the hello handshake to a distant server take hundreds of ms; less would call
 * a slow server down. 10 s ceiling: with a long deadline (waiting minutes for a server to boot)
 * there is still a log line, a fresh attempt, every 10 s or so.
 *
 * @param deadlineMs The whole first connection's deadline.
 * @returns The server-selection timeout of each attempt, in ms.
 */
export function attemptTimeoutMs(deadlineMs: number): number {
  return Math.min(deadlineMs, Math.max(1_000, Math.min(10_000, Math.round(deadlineMs / 4))));
}

/**
 * Creates a client and connects it, retrying transient failures with backoff until the deadline.
 * Each attempt looks for a server for {@link attemptTimeoutMs} of the deadline, and an attempt
 * starts only if it can end by the deadline, so the whole never takes longer; the connected client
 * keeps that server-selection timeout for its operations (whose own retries, `retryTransient`,
 * outlast an election).
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
  const deadlineMs = options.deadlineMs ?? config.connectTimeout;
  const attemptMs = attemptTimeoutMs(deadlineMs);
  const client = createMongoClient(config, {
    serverSelectionTimeoutMS: attemptMs,
    ...options.clientOptions,
  });
  const where = maskUri(config.uri);
  // Each server's replica set, from its hello replies: the driver forgets a server of another set
  // (MongoServerSelectionError.reason no longer holds it), so the replies are the only witness.
  const setNames = new Map<string, string | null>();
  const onHeartbeat = (event: ServerHeartbeatSucceededEvent) => {
    const setName = event.reply?.setName;
    setNames.set(event.connectionId, typeof setName === "string" ? setName : null);
  };
  client.on("serverHeartbeatSucceeded", onHeartbeat);
  try {
    await retry(() => client.connect(), {
      signal: options.signal,
      // A retry starts only if its attempt can end by the deadline.
      deadlineMs: deadlineMs - attemptMs,
      baseDelayMs: 250,
      maxDelayMs: 5_000,
      // A server of another replica set will not change its mind: no retry.
      isRetryable: (error) =>
        isTransientError(error) &&
        replicaSetMismatch(client.options.replicaSet, setNames) === undefined,
      onRetry: (info) => {
        log.warn(`Cannot reach MongoDB at ${where} (attempt ${info.attempt}), retrying`, {
          reason: describeError(info.error),
          delayMs: info.delayMs,
        });
        options.onRetry?.(info);
      },
    });
  } catch (error) {
    client.off("serverHeartbeatSucceeded", onHeartbeat);
    await client.close().catch(() => {});
    if (options.signal?.aborted) throw error;
    const mismatch = replicaSetMismatch(client.options.replicaSet, setNames);
    if (mismatch !== undefined) {
      log.error(`❌ Failed to connect to MongoDB at ${where}: ${mismatch}`);
      throw new ConfigError(mismatch, { cause: error, logged: true });
    }
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
  client.off("serverHeartbeatSucceeded", onHeartbeat);
  log.info(`✅ Connected to database at ${where}`);
  return client;
}

/**
 * Closes a client, waiting at most `ms` for it: a client still selecting a server must not hold a
 * short-lived command (health) past its deadline. Errors of the close are ignored.
 *
 * @param client The client, if one was made.
 * @param ms The longest wait. @default 1000
 */
export async function closeWithin(client: MongoClient | undefined, ms = 1_000): Promise<void> {
  if (!client) return;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const bound = new Promise<void>((resolve) => {
    const started = setTimeout(resolve, ms);
    Deno.unrefTimer(started);
    timer = started;
  });
  await Promise.race([client.close().catch(() => {}), bound]);
  clearTimeout(timer);
}
