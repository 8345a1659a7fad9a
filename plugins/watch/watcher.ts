/**
 * The watcher: opens a change stream on the orders collection filtered on the server to
 * deliveries, groups events into micro-batches, archives each batch through the shared core
 * (which quarantines what it cannot archive), and saves the resume token only once the batch and
 * its quarantine records are acknowledged. Without a usable token it first catches up over every
 * delivered order not yet archived, having noted the cluster time, then streams from that time:
 * nothing is missed, and the overlap is harmless because the sink is idempotent. Every minute (the
 * retry interval) it tries the quarantine's due orders again. A dropped or renamed orders
 * collection is reported once and waited out on a timer, then caught up on.
 *
 * Every path that reads waits on the server (`maxAwaitTimeMS`) or on a timer: the loop never
 * spins. Transient errors back off, and the backoff grows while errors keep coming (reopening
 * the stream does not reset it).
 *
 * @module
 */

import { resolve } from "node:path";
import type {
  ChangeStream,
  ChangeStreamDocument,
  Db,
  Document,
  MongoClient,
  Timestamp,
} from "mongodb";
import {
  archiveOrders,
  type ArchiveOutcome,
  type ArchivePath,
  type OrderRef,
} from "../../core/archive/archiver.ts";
import { ensureArchiveIndex } from "../../core/archive/archive_index.ts";
import { backfill } from "../../core/archive/backfill.ts";
import { collectionNames } from "../../core/archive/collections.ts";
import { addWatchTotals } from "../../core/archive/history.ts";
import { Quarantine } from "../../core/archive/quarantine.ts";
import type { GlobalConfig } from "../../core/runtime/config.ts";
import { parseDateBound } from "../../core/runtime/dates.ts";
import { ArchiverError, ConfigError } from "../../core/runtime/errors.ts";
import { createMongoClient } from "../../core/mongo/client.ts";
import { describeError, errorKind, isAuthError } from "../../core/mongo/errors.ts";
import {
  explainRefusal,
  isUnauthorized,
  privilegeTarget,
  watchNeeds,
} from "../../core/mongo/privileges.ts";
import { retryTransient } from "../../core/mongo/retry.ts";
import { maskUri } from "../../core/runtime/mask.ts";
import type { PluginContext } from "../../core/runtime/plugin.ts";
import { backoffDelay, sleep } from "../../core/runtime/retry.ts";
import {
  CorruptTokenError,
  FencedTokenError,
  FileTokenStore,
  MongoTokenStore,
  type SavedToken,
  type TokenStore,
} from "../../core/stream/token_store.ts";
import {
  type WatchMetrics,
  type WatchState,
  type WatchStatus,
  writeWatchStatus,
} from "../../core/stream/watch_status.ts";
import {
  createWatchMetrics,
  outcomeCounts,
  reportCounts,
  settledCounts,
} from "../../core/stream/metrics.ts";
import type { WatchOptions } from "./mod.ts";
import { HaController, LeaseLostError } from "./ha.ts";
import { watchHeadroom } from "./headroom.ts";
import { Lease, leaseTimings } from "../../core/stream/lease.ts";
import type { Registry } from "prom-client";

/** The watch settings as resolved. */
export interface WatchConfig extends GlobalConfig {
  batchMax: number;
  batchWaitMs: number;
  tokenStore: "file" | "mongo";
  tokenFile: string;
  tokenCollection: string;
  statusFile: string;
  metricsPort: number;
  metricsHost: string;
  retryInterval: number;
  /** Where archive documents are built. */
  archivePath: ArchivePath;
  /** `--ha`: share a lease with other watchers (needs the Mongo token store). */
  ha: boolean;
  leaseCollection: string;
}

/** The watch command's flags and plugin options. */
export interface WatchFlags extends WatchOptions {
  catchUpSince?: string;
  fromNow?: boolean;
}

// Server answers that mean the saved position cannot be resumed from: catch up instead.
const HISTORY_LOST = new Set([
  286, // ChangeStreamHistoryLost
  260, // InvalidResumeToken
  280, // ChangeStreamFatalError
]);

// Events that end a collection's stream: the collection is gone (or renamed away).
const ENDING_EVENTS = ["invalidate", "drop", "rename", "dropDatabase"];

// Errors less than this far apart escalate the backoff; a quiet period resets it.
const _BACKOFF_RESET_MS = 60_000;

type _Plan =
  | { kind: "catch-up"; since?: Date }
  | { kind: "resume"; token: Document }
  | { kind: "from-time"; time: Timestamp }
  | { kind: "now" };

/**
 * Runs the watcher until its signal is aborted.
 *
 * @param ctx The plugin context.
 * @param config The resolved settings.
 * @param flags Flags and plugin options.
 * @throws {ConfigError} On refused credentials, a conflicting archive index or a deployment
 *   without change streams (exit 2).
 */
export async function runWatch(
  ctx: PluginContext,
  config: WatchConfig,
  flags: WatchFlags,
): Promise<void> {
  const log = ctx.logger.getChild("watch");
  // With --ha, the signal of the current active term (the lease controller aborts it on loss).
  let signal = ctx.lifecycle.signal;
  const names = collectionNames(config);
  const namespace = `${config.db}.${names.orders}`;
  const catchUpSince = planWatch(flags);
  const maxAwaitMs = Math.max(50, Math.min(1_000, config.batchWaitMs || 1_000));

  const startedAt = new Date();
  const metrics: WatchMetrics = {
    events_processed: 0,
    events_archived: 0,
    orders_duplicates: 0,
    orders_incomplete: 0,
    orders_errors: 0,
    orders_invalid: 0,
    orders_recovered: 0,
    stream_lag_seconds: 0,
    connection_errors: 0,
    resume_token_age_seconds: 0,
    uptime_seconds: 0,
    token_save_errors: 0,
  };
  let state: WatchState = "starting";
  let lastEventAt: Date | null = null;
  let lastReadAt: Date | null = null;
  let lastToken: SavedToken | undefined;
  const recentErrors: Date[] = [];
  const statusPath = resolve(ctx.cwd, config.statusFile);
  // Prometheus metrics (core/stream/metrics.ts), served with --metrics-port.
  const promMetrics = createWatchMetrics({ startedAt, processMetrics: config.metricsPort > 0 });
  let batchReadAt: number | undefined; // when the first event of the micro-batch was read
  let ha: HaController | undefined; // --ha: the lease controller

  const snapshot = (): WatchStatus => {
    const now = new Date();
    while (recentErrors.length > 0 && now.getTime() - recentErrors[0]!.getTime() > 3_600_000) {
      recentErrors.shift();
    }
    metrics.uptime_seconds = Math.round((now.getTime() - startedAt.getTime()) / 1000);
    metrics.resume_token_age_seconds = lastToken
      ? Math.round((now.getTime() - lastToken.savedAt.getTime()) / 1000)
      : 0;
    return {
      pid: Deno.pid,
      state,
      ...(ha ? { role: ha.role, lease_epoch: ha.epoch } : {}),
      started_at: startedAt.toISOString(),
      updated_at: now.toISOString(),
      last_event_at: lastEventAt?.toISOString() ?? null,
      last_read_at: lastReadAt?.toISOString() ?? null,
      max_await_ms: maxAwaitMs,
      recent_connection_errors: recentErrors.map((d) => d.toISOString()),
      metrics: { ...metrics },
    };
  };
  let lastStatusWrite = 0;
  const writeStatus = async (force = false) => {
    if (!force && Date.now() - lastStatusWrite < flags.statusIntervalMs) return;
    lastStatusWrite = Date.now();
    try {
      await writeWatchStatus(statusPath, snapshot());
    } catch (error) {
      log.warn(`Could not write the status file ${statusPath}: ${describeError(error)}`);
    }
  };
  const setState = async (next: WatchState) => {
    state = next;
    promMetrics.setState(next);
    await writeStatus(true);
  };
  const countError = (error: unknown) => {
    metrics.connection_errors++;
    promMetrics.countConnectionError();
    recentErrors.push(new Date());
    log.error(`❌ Change Stream error: ${describeError(error)}`, {
      connection_errors: metrics.connection_errors,
    });
  };
  const count = (outcome: ArchiveOutcome, retried = false) => {
    metrics.events_archived += outcome.archived;
    metrics.orders_duplicates += outcome.duplicates + outcome.alreadyArchived;
    metrics.orders_incomplete += outcome.incomplete;
    metrics.orders_invalid += outcome.invalid;
    metrics.orders_errors += outcome.errors;
    metrics.orders_recovered += outcome.recovered;
    promMetrics.countOrders(
      retried ? settledCounts(outcomeCounts(outcome)) : outcomeCounts(outcome),
    );
  };
  // The status file is the heartbeat health reads: keep it fresh even while a call is slow.
  const heartbeat = setInterval(() => void writeStatus(), flags.statusIntervalMs);
  ctx.lifecycle.onStop(async () => {
    clearInterval(heartbeat);
    state = "stopped";
    promMetrics.setState("stopped");
    await writeStatus(true);
  });

  if (config.metricsPort > 0) {
    const { isHealthy, startMetricsServer } = await import("./metrics_server.ts");
    const server = startMetricsServer(promMetrics, {
      port: config.metricsPort,
      hostname: config.metricsHost,
      snapshot,
      ready: () => ha ? (ha.role === "active" ? isHealthy(state) : ha.canTakeOver()) : undefined,
    });
    ctx.lifecycle.onStop(() => server.stop());
    log.info(`Metrics on ${server.url}/metrics, /healthz and /readyz`);
  }
  await setState("starting");

  const client = await _connectForever(ctx, config, { countError, log });
  if (!client) return;
  ctx.lifecycle.onStop(() => client.close());
  const stopHeadroom = watchHeadroom(client, {
    log,
    tokenTime: () => lastToken?.clusterTime ?? null,
    report: (window, headroom) => promMetrics.setOplogHeadroom(window, headroom),
    maxTimeMs: config.operationTimeout,
  });
  ctx.lifecycle.onStop(stopHeadroom);
  const db = client.db(config.db);
  const quarantine = new Quarantine(db.collection(names.quarantine), {
    retryIntervalMs: config.retryInterval,
    writeTimeoutMs: config.operationTimeout,
  });
  const reported = new Set<string>();
  const archiving = {
    db,
    names,
    log,
    signal,
    quarantine,
    archivedBy: "watch" as const,
    path: config.archivePath,
    deliveredStatus: config.deliveredStatus,
    operationTimeoutMs: config.operationTimeout,
    onTransientError: countError,
    reportedIncomplete: reported,
  };

  const store: TokenStore = config.tokenStore === "mongo"
    ? new MongoTokenStore(db.collection(config.tokenCollection), namespace, {
      writeTimeoutMs: config.operationTimeout,
    })
    : new FileTokenStore(resolve(ctx.cwd, config.tokenFile));
  if (config.ha) {
    ha = _haController(config, store, db, {
      log,
      namespace,
      registry: config.metricsPort > 0 ? promMetrics.registry : undefined,
      onError: countError,
    });
    ctx.lifecycle.onStop(() => ha?.release());
    signal = AbortSignal.abort(); // no term until the lease is taken (at the loop's top)
  } else {
    lastToken = await _loadToken(store, namespace, log);
  }
  if (lastToken) promMetrics.tokenSaved(lastToken.savedAt);

  let plan: _Plan;
  if (flags.fromNow) plan = { kind: "now" };
  else if (catchUpSince) plan = { kind: "catch-up", since: catchUpSince };
  else if (lastToken) plan = { kind: "resume", token: lastToken.token };
  else plan = { kind: "catch-up" };

  // A token that cannot be saved (disk full, read-only folder) must not stop the service: the
  // orders are archived, the previous token stays intact, and the next batch tries again. At
  // worst a restart replays from the older token, which the idempotent sink absorbs.
  let tokenSaveFailing = false;
  const saveToken = async (token: Document | undefined, clusterTime: Timestamp | null) => {
    if (!token) return;
    if (ha && signal.aborted) return; // the lease was lost mid-batch: no token for this batch
    if (lastToken && JSON.stringify(lastToken.token) === JSON.stringify(token)) return;
    const saved = { token, clusterTime, savedAt: new Date(), namespace };
    try {
      await store.save(saved, ha ? { fence: ha.fence() } : undefined);
    } catch (error) {
      if (ha && (error instanceof FencedTokenError || error instanceof LeaseLostError)) {
        ha.lost(`token not saved: ${error.message}`);
        return;
      }
      metrics.token_save_errors++;
      promMetrics.countTokenSaveError();
      if (!tokenSaveFailing) {
        log.error(
          `❌ Could not save resume token to ${store.description}: ${describeError(error)}`,
        );
      }
      tokenSaveFailing = true;
      return;
    }
    if (tokenSaveFailing) log.info(`Resume token saved again to ${store.description}`);
    tokenSaveFailing = false;
    lastToken = saved;
    promMetrics.tokenSaved(saved.savedAt);
  };

  // The quarantine gauge, only when scraped; a failed count is tried again at the next pass.
  const refreshQuarantine = async () => {
    if (config.metricsPort === 0) return;
    try {
      promMetrics.setQuarantine(await quarantine.counts());
    } catch (error) {
      log.debug(`Could not count the quarantine: ${describeError(error)}`);
    }
  };

  // The quarantine's due orders, tried again every retry interval, a batch at a time.
  let retryAt = 0;
  const retryQuarantine = async () => {
    if (Date.now() < retryAt) return;
    retryAt = Date.now() + config.retryInterval;
    let recovered = 0;
    for (let round = 0; round < 100 && !signal.aborted; round++) {
      const due = await retryTransient(
        "Reading the quarantine",
        () => quarantine.due(config.batchMax),
        archiving,
      );
      if (due.length === 0) break;
      const outcome = await archiveOrders(due, archiving);
      count(outcome, true);
      recovered += outcome.recovered;
      if (due.length < config.batchMax) break;
    }
    await refreshQuarantine();
    if (recovered > 0) {
      log.info(`✅ Archived ${recovered} orders from the quarantine`, {
        orders_recovered: recovered,
      });
    }
  };

  let attempt = 0;
  let lastFailureAt = 0;
  // Waits before the next try: the backoff grows while failures come less than a minute apart.
  // Returns false when the watcher is stopping.
  const backOff = async (): Promise<boolean> => {
    await setState("reconnecting");
    if (Date.now() - lastFailureAt > _BACKOFF_RESET_MS) attempt = 0;
    lastFailureAt = Date.now();
    try {
      await sleep(backoffDelay(++attempt, { baseDelayMs: 250, maxDelayMs: 30_000 }), signal);
      return true;
    } catch {
      return false;
    }
  };
  let indexReady = false;
  let firstTerm = true;
  // Every exit below is a `continue` once the signal is aborted: the watcher stops, or with --ha
  // its active term ended and it waits as standby again.
  while (!ctx.lifecycle.signal.aborted) {
    if (ha && signal.aborted) {
      await setState("standby");
      const term = await ha.standby(ctx.lifecycle.signal);
      if (!term) break;
      signal = archiving.signal = term;
      // The shared token, as the previous holder left it; --from-now/--catch-up-since: once.
      lastToken = await _loadToken(store, namespace, log);
      if (lastToken) promMetrics.tokenSaved(lastToken.savedAt);
      if (!firstTerm || (!flags.fromNow && !catchUpSince)) {
        plan = lastToken ? { kind: "resume", token: lastToken.token } : { kind: "catch-up" };
      }
      firstTerm = false;
      await setState("starting");
    }
    try {
      // Inside the loop so a transient failure here is retried like any other; once is enough.
      if (!indexReady) {
        await ensureArchiveIndex(db.collection(names.archive));
        indexReady = true;
        await refreshQuarantine();
      }
      if (plan.kind === "catch-up") {
        await setState("catching-up");
        const time = await _clusterTime(db);
        const since = plan.since ? ` delivered since ${plan.since.toISOString()}` : "";
        log.info(`Catching up on delivered orders${since} not yet archived, before streaming`);
        const result = await backfill({
          ...archiving,
          from: plan.since,
          batchSize: config.batchMax,
          retryDeadlineMs: config.operationTimeout,
        });
        if (result.interrupted) continue;
        const r = result.report;
        metrics.events_archived += r.orders_archived;
        metrics.orders_duplicates += r.orders_duplicates;
        metrics.orders_incomplete += r.orders_incomplete;
        metrics.orders_invalid += r.orders_invalid;
        metrics.orders_errors += r.orders_errors;
        metrics.orders_recovered += r.orders_recovered;
        promMetrics.countOrders(reportCounts(r));
        log.info(`✅ Archived ${r.orders_archived} orders (catch-up)`, { ...r, catch_up: true });
        retryAt = Date.now() + config.retryInterval; // the pass just tried the quarantine
        await refreshQuarantine();
        plan = { kind: "from-time", time };
      }
      const options: Document = plan.kind === "resume"
        ? { resumeAfter: plan.token }
        : plan.kind === "from-time"
        ? { startAtOperationTime: plan.time }
        : {};
      const stream = db.collection(names.orders).watch(
        [
          {
            $match: {
              $or: [
                {
                  operationType: { $in: ["insert", "update", "replace"] },
                  "fullDocument.status": config.deliveredStatus,
                },
                { operationType: { $in: ENDING_EVENTS } },
              ],
            },
          },
        ],
        {
          ...options,
          fullDocument: "updateLookup",
          batchSize: config.batchMax,
          maxAwaitTimeMS: maxAwaitMs,
        },
      );
      let ended: ChangeStreamDocument | "closed" | undefined;
      batchReadAt = undefined;
      try {
        ended = await _stream(stream, {
          onRead: (event) => {
            lastReadAt = new Date();
            promMetrics.streamRead(lastReadAt);
            const starts = event && !ENDING_EVENTS.includes(event.operationType);
            if (starts && batchReadAt === undefined) batchReadAt = lastReadAt.getTime();
          },
          onOpen: async () => {
            log.info("✅ Change Stream opened successfully", { namespace });
            await setState("streaming");
          },
          onBatch: async (events) => {
            // From here, a read belongs to the next batch (it overlaps this one's write).
            const readAt = batchReadAt;
            batchReadAt = undefined;
            const outcome = await archiveOrders(_orderRefs(events), archiving);
            const written = Date.now();
            const last = events.at(-1)!;
            const eventTimes = events.map(_eventTime);
            metrics.events_processed += events.length;
            count(outcome);
            metrics.stream_lag_seconds = Math.max(0, (written - Math.min(...eventTimes)) / 1000);
            lastEventAt = new Date(Math.max(...eventTimes));
            promMetrics.countEvents(events.length);
            promMetrics.observeMicroBatch({
              eventTimesMs: eventTimes,
              writtenAtMs: written,
              durationSeconds: (written - (readAt ?? written)) / 1000,
            });
            addWatchTotals(db, {
              events_processed: events.length,
              events_archived: outcome.archived,
              orders_duplicates: outcome.duplicates + outcome.alreadyArchived,
              orders_incomplete: outcome.incomplete,
              orders_invalid: outcome.invalid,
              orders_errors: outcome.errors,
              orders_recovered: outcome.recovered,
              micro_batches: 1,
              processing_seconds: metrics.stream_lag_seconds,
            }, { collection: config.runsCollection, lifecycle: ctx.lifecycle, log });
            // Every order of the batch is archived or recorded in the quarantine: the token
            // may pass them all.
            await saveToken(last._id as Document, last.clusterTime ?? null);
            log.info(`✅ Archived ${outcome.archived} orders`, {
              orders_archived: outcome.archived,
              orders_duplicates: outcome.duplicates + outcome.alreadyArchived,
              orders_incomplete: outcome.incomplete,
              orders_invalid: outcome.invalid,
              orders_errors: outcome.errors,
              events: events.length,
              stream_lag_seconds: metrics.stream_lag_seconds,
            });
            await retryQuarantine();
            await writeStatus();
          },
          onIdle: async () => {
            if (!lastToken || Date.now() - lastToken.savedAt.getTime() >= flags.idleTokenSaveMs) {
              await saveToken(stream.resumeToken as Document | undefined, null);
            }
            await retryQuarantine();
            await writeStatus();
          },
          batchMax: config.batchMax,
          batchWaitMs: config.batchWaitMs,
          signal,
        });
      } finally {
        await stream.close().catch(() => {});
      }
      if (!ended || signal.aborted) continue;
      if (ended === "closed") {
        // Closed without an ending event: not a dropped collection, a lost stream. Resume from
        // the token after a backoff, never a catch-up in a tight loop.
        countError(new Error("the server closed the change stream without an event"));
        if (!(await backOff())) continue;
        if (lastToken) plan = { kind: "resume", token: lastToken.token };
        continue;
      }
      // The orders collection was dropped, renamed away, or its database dropped.
      log.warn(
        `⚠️ Change stream invalidated: ${
          _describeEnding(ended)
        }; waiting for ${namespace} to exist again`,
        { namespace },
      );
      await setState("invalidated");
      if (!(await _waitForCollection(db, names.orders, signal, countError))) continue;
      log.info(`${namespace} exists again: catching up, then streaming`);
      plan = { kind: "catch-up" };
    } catch (error) {
      if (signal.aborted) continue;
      if (error instanceof ArchiverError) throw error;
      const code = (error as { code?: unknown }).code;
      const kind = errorKind(error);
      if (kind === "deployment") {
        // A missing privilege: name it (from connectionStatus), never "authentication failed".
        const lacking = isUnauthorized(error)
          ? await explainRefusal(client.db("admin"), watchNeeds(privilegeTarget(config), config))
          : undefined;
        if (lacking) {
          throw new ConfigError(
            `MongoDB refused to watch ${namespace}: ${lacking} (Unauthorized, code 13); archiver setup role grants what the tool needs`,
            { cause: error },
          );
        }
        const why = isAuthError(error) && !isUnauthorized(error)
          ? `Authentication to MongoDB at ${maskUri(config.uri)} failed`
          : `Cannot watch ${namespace}`;
        throw new ConfigError(`${why}: ${describeError(error)}`, { cause: error });
      }
      if (kind === "internal") throw error;
      if (typeof code === "number" && HISTORY_LOST.has(code)) {
        log.warn(
          `⚠️ Could not resume the change stream (${
            describeError(error)
          }): catching up on every delivered order not yet archived`,
        );
        plan = { kind: "catch-up" };
        continue;
      }
      countError(error);
      if (!(await backOff())) continue;
      if (lastToken) plan = { kind: "resume", token: lastToken.token };
    }
  }
  log.info("Watcher stopped", { resume_token_saved: lastToken?.savedAt.toISOString() ?? null });
}

function _haController(
  config: WatchConfig,
  store: TokenStore,
  db: Db,
  options: {
    log: PluginContext["logger"];
    namespace: string;
    registry?: Registry;
    onError(error: unknown): void;
  },
): HaController {
  if (!(store instanceof MongoTokenStore)) {
    throw new ConfigError("--ha needs --token-store mongo: the watchers share the resume token");
  }
  let timings;
  try {
    timings = leaseTimings();
  } catch (error) {
    throw new ConfigError((error as Error).message);
  }
  const lease = new Lease(db.collection(config.leaseCollection), options.namespace, {
    timings,
    writeTimeoutMs: Math.min(config.operationTimeout, timings.ttlMs - timings.marginMs),
    epochFloor: () => store.epoch(),
  });
  options.log.info(
    `High availability: lease "${options.namespace}" in ${config.leaseCollection} as ${lease.holder}`,
    { lease_ttl_ms: timings.ttlMs, lease_renew_ms: timings.renewMs },
  );
  return new HaController(lease, store, {
    log: options.log,
    registry: options.registry,
    onError: options.onError,
  });
}

/**
 * Checks the watch flags before the command starts, so a bad one writes nothing.
 *
 * @param flags The command's flags.
 * @returns Where the catch-up starts when `--catch-up-since` is given.
 * @throws {ConfigError} On a bad date or conflicting flags.
 */
export function planWatch(flags: Pick<WatchFlags, "catchUpSince" | "fromNow">): Date | undefined {
  let catchUpSince: Date | undefined;
  if (flags.catchUpSince !== undefined) {
    try {
      catchUpSince = parseDateBound(flags.catchUpSince).start;
    } catch (error) {
      throw new ConfigError(
        `Invalid --catch-up-since ${JSON.stringify(flags.catchUpSince)}: expected ${
          (error as Error).message
        }`,
      );
    }
  }
  if (flags.fromNow && catchUpSince) {
    throw new ConfigError("Choose one of --from-now and --catch-up-since");
  }
  return catchUpSince;
}

interface _StreamHandlers {
  onRead(event: ChangeStreamDocument | null): void;
  onOpen(): Promise<void>;
  onBatch(events: ChangeStreamDocument[]): Promise<void>;
  onIdle(): Promise<void>;
  batchMax: number;
  batchWaitMs: number;
  signal: AbortSignal;
}

/**
 * Reads the stream until the signal is aborted (returns `undefined`) or the stream ends: an
 * ending event (drop, rename, invalidate) or a stream the server closed (returns it). Every read
 * waits on the server for at most `maxAwaitTimeMS`; nothing here loops without waiting.
 */
async function _stream(
  stream: ChangeStream,
  handlers: _StreamHandlers,
): Promise<ChangeStreamDocument | "closed" | undefined> {
  const read = async () => {
    const event = await stream.tryNext();
    handlers.onRead(event);
    return event;
  };
  // The driver opens the stream on the first read; a successful read means it is open.
  let pending: ChangeStreamDocument | null = await read();
  await handlers.onOpen();
  while (!handlers.signal.aborted) {
    if (pending && ENDING_EVENTS.includes(pending.operationType)) return pending;
    if (!pending) {
      if (stream.closed) return "closed";
      // Nothing unprocessed is buffered: the stream's token is safe to save while idle.
      await handlers.onIdle();
      pending = await read();
      continue;
    }
    // A micro-batch is what the stream has ready now (the driver's buffer, filled by one getMore
    // of up to --batch-max events): no wait when traffic is light, large batches when it is
    // heavy. --batch-wait-ms, when set, also waits that long for more.
    const events = [pending];
    pending = null;
    const deadline = Date.now() + handlers.batchWaitMs;
    while (events.length < handlers.batchMax) {
      if (stream.bufferedCount() === 0 && Date.now() >= deadline) break;
      const event = await read();
      if (!event) break;
      if (ENDING_EVENTS.includes(event.operationType)) {
        pending = event;
        break;
      }
      events.push(event);
    }
    // The next read overlaps this batch's write: the driver fetches what the stream has while
    // the server archives. Its error, if any, surfaces when it is awaited.
    const next = pending ? Promise.resolve(pending) : read();
    next.catch(() => {});
    await handlers.onBatch(events);
    pending = await next;
  }
  return undefined;
}

function _describeEnding(event: ChangeStreamDocument): string {
  const ns = (event as { ns?: { db?: string; coll?: string } }).ns;
  const to = (event as { to?: { db?: string; coll?: string } }).to;
  const name = ns?.coll ? `${ns.db}.${ns.coll}` : ns?.db ?? "the collection";
  switch (event.operationType) {
    case "drop":
      return `${name} was dropped`;
    case "rename":
      return `${name} was renamed to ${to?.db}.${to?.coll}`;
    case "dropDatabase":
      return `the database ${ns?.db} was dropped`;
    default:
      return "the collection was dropped or renamed";
  }
}

/**
 * Waits, on a timer, until the orders collection exists again. Checks every 2 s, then less
 * often, up to every 10 s; returns `false` when the signal is aborted.
 */
async function _waitForCollection(
  db: Db,
  name: string,
  signal: AbortSignal,
  countError: (error: unknown) => void,
): Promise<boolean> {
  for (let round = 0; !signal.aborted; round++) {
    try {
      const found = await db.listCollections({ name }, { nameOnly: true }).toArray();
      if (found.length > 0) return true;
    } catch (error) {
      if (errorKind(error) !== "transient") throw error;
      countError(error);
    }
    try {
      await sleep(Math.min(10_000, 2_000 + round * 1_000), signal);
    } catch {
      return false;
    }
  }
  return false;
}

function _orderRefs(events: ChangeStreamDocument[]): OrderRef[] {
  const byId = new Map<string, OrderRef>();
  for (const event of events) {
    if (!("fullDocument" in event) || !event.fullDocument) continue;
    const document = event.fullDocument as Document;
    byId.set(String(document._id), {
      _id: document._id,
      numero_commande: document.numero_commande,
    });
  }
  return [...byId.values()];
}

function _eventTime(event: ChangeStreamDocument): number {
  const wall = (event as { wallTime?: Date }).wallTime;
  if (wall instanceof Date) return wall.getTime();
  const clusterTime = (event as { clusterTime?: Timestamp }).clusterTime;
  return clusterTime ? clusterTime.getHighBitsUnsigned() * 1000 : Date.now();
}

async function _clusterTime(db: Db): Promise<Timestamp> {
  const reply = await db.command({ ping: 1 });
  const time = (reply.operationTime ?? reply.$clusterTime?.clusterTime) as Timestamp | undefined;
  if (!time) {
    throw new ConfigError(
      "The server reports no cluster time: change streams need a replica set or sharded cluster",
    );
  }
  return time;
}

async function _loadToken(
  store: TokenStore,
  namespace: string,
  log: PluginContext["logger"],
): Promise<SavedToken | undefined> {
  try {
    const saved = await store.load();
    if (saved && saved.namespace !== namespace) {
      log.warn(
        `⚠️ Could not load resume token: ${store.description} belongs to ${saved.namespace}, not ${namespace}; catching up instead`,
      );
      return undefined;
    }
    if (saved) log.info(`Resuming after the token saved at ${saved.savedAt.toISOString()}`);
    return saved;
  } catch (error) {
    const reason = error instanceof CorruptTokenError ? error.message : describeError(error);
    log.warn(`⚠️ Could not load resume token: ${reason}; catching up instead`);
    return undefined;
  }
}

async function _connectForever(
  ctx: PluginContext,
  config: WatchConfig,
  hooks: { countError(error: unknown): void; log: PluginContext["logger"] },
): Promise<MongoClient | undefined> {
  const where = maskUri(config.uri);
  for (let attempt = 1; !ctx.lifecycle.signal.aborted; attempt++) {
    const client = createMongoClient(config);
    try {
      await client.connect();
      hooks.log.info(`✅ Connected to database at ${where}`);
      return client;
    } catch (error) {
      await client.close().catch(() => {});
      if (isAuthError(error)) {
        throw new ConfigError(
          `Authentication to MongoDB at ${where} failed: ${describeError(error)}`,
          {
            cause: error,
          },
        );
      }
      hooks.log.error(`❌ Failed to connect to MongoDB at ${where}: ${describeError(error)}`);
      hooks.countError(error);
      try {
        await sleep(
          backoffDelay(attempt, { baseDelayMs: 500, maxDelayMs: 30_000 }),
          ctx.lifecycle.signal,
        );
      } catch {
        return undefined;
      }
    }
  }
  return undefined;
}
