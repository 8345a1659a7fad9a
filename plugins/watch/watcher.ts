/**
 * The watcher: opens a change stream on the orders collection filtered on the server to
 * deliveries, groups events into micro-batches, archives each batch through the shared core
 * (which quarantines what it cannot archive), and saves the resume token only once the batch and
 * its quarantine records are acknowledged. Without a usable token it first catches up over every
 * delivered order not yet archived, having noted the cluster time, then streams from that time:
 * nothing is missed, and the overlap is harmless because the sink is idempotent. Every retry
 * interval it tries the quarantine's due orders again. A dropped or renamed orders collection is
 * reported once and waited out on a timer, then caught up on.
 *
 * {@link runWatch} reads top to bottom as calls to its parts, each in its own file: the start
 * plan (start_plan.ts), the one-watcher lock (core/stream/token_lock.ts), the stream loop
 * (stream_loop.ts) over micro-batches (micro_batch.ts), the token saver and in-memory position
 * (token_saver.ts), the quarantine retrier (quarantine_retrier.ts), the status reporter
 * (status_reporter.ts), the backoff (backoff.ts) and the figures (figures.ts).
 *
 * Every path that reads waits on the server (`maxAwaitTimeMS`) or on a timer: the loop never
 * spins. Transient errors back off, and the backoff grows while errors keep coming (reopening
 * the stream does not reset it).
 *
 * @module
 */

import { resolve } from "node:path";
import type { ChangeStreamDocument, Db, Document } from "mongodb";
import type { Logger } from "@logtape/logtape";
import type { Registry } from "prom-client";
import { archiveOrders, type ArchivePath } from "../../core/archive/archiver.ts";
import { ensureArchiveIndex } from "../../core/archive/archive_index.ts";
import { backfill } from "../../core/archive/backfill.ts";
import { collectionNames } from "../../core/archive/collections.ts";
import { Quarantine } from "../../core/archive/quarantine.ts";
import type { GlobalConfig } from "../../core/runtime/config.ts";
import { ArchiverError, ConfigError } from "../../core/runtime/errors.ts";
import { describeError, errorKind } from "../../core/mongo/errors.ts";
import { retryTransient } from "../../core/mongo/retry.ts";
import { counted } from "../../core/runtime/plural.ts";
import type { PluginContext } from "../../core/runtime/plugin.ts";
import { FileTokenStore, MongoTokenStore, type TokenStore } from "../../core/stream/token_store.ts";
import {
  FileTokenLock,
  MongoTokenLock,
  type TokenLock,
  TokenLockedError,
} from "../../core/stream/token_lock.ts";
import { createWatchMetrics } from "../../core/stream/metrics.ts";
import { Lease, leaseTimings } from "../../core/stream/lease.ts";
import type { WatchOptions } from "./mod.ts";
import { connectForever, formatDelay } from "./connect.ts";
import { HaController } from "./ha.ts";
import { refusal } from "./refusal.ts";
import { watchHeadroom } from "./headroom.ts";
import { streamAwaitMs } from "./await_period.ts";
import { Backoff } from "./backoff.ts";
import { WatchFigures } from "./figures.ts";
import { describeEnding, eventTime, isEnding, orderRefs } from "./micro_batch.ts";
import { QuarantineRetrier } from "./quarantine_retrier.ts";
import { planWatch, startPlan, type WatchPlan } from "./start_plan.ts";
import { StatusReporter } from "./status_reporter.ts";
import { WatchSummary } from "./summary.ts";
import {
  clusterTime,
  openOrderStream,
  readMicroBatches,
  waitForCollection,
} from "./stream_loop.ts";
import { TokenSaver } from "./token_saver.ts";

export { planWatch } from "./start_plan.ts";

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
  /** How often the summary line is logged, in ms. */
  summaryInterval: number;
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

// A lock whose heartbeat is older than this many status intervals belongs to a watcher gone.
const _STALE_HEARTBEATS = 3;

/**
 * Runs the watcher until its signal is aborted.
 *
 * @param ctx The plugin context.
 * @param config The resolved settings.
 * @param flags Flags and plugin options.
 * @throws {ConfigError} On refused credentials, a conflicting archive index, a deployment
 *   without change streams, or another watcher on the same token (exit 2).
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
  const maxAwaitMs = streamAwaitMs({
    batchWaitMs: config.batchWaitMs,
    idleTokenSaveMs: flags.idleTokenSaveMs,
    retryIntervalMs: config.retryInterval,
  });
  const staleMs = _STALE_HEARTBEATS * flags.statusIntervalMs + 5_000;

  // One watcher per token file: refused before this process writes anything in the folder.
  let lock: TokenLock | undefined;
  if (config.tokenStore === "file" && !config.ha) {
    lock = await _lock(new FileTokenLock(resolve(ctx.cwd, config.tokenFile), { staleMs }), log);
    ctx.lifecycle.onStop(() => lock?.release());
  }

  const startedAt = new Date();
  const prom = createWatchMetrics({ startedAt, processMetrics: config.metricsPort > 0 });
  const figures = new WatchFigures(prom);
  let ha: HaController | undefined;
  const saved: { by?: TokenSaver } = {}; // the token saver, once connected
  const status = new StatusReporter({
    path: resolve(ctx.cwd, config.statusFile),
    intervalMs: flags.statusIntervalMs,
    metrics: figures.metrics,
    prom,
    maxAwaitMs,
    tokenSavedAt: () => saved.by?.saved?.savedAt,
    role: () => ha ? { role: ha.role, epoch: ha.epoch } : undefined,
    onBeat: async () => await lock?.heartbeat(),
    log,
    startedAt,
  });
  const count = () => {
    status.connectionError();
    return figures.connectionError();
  };
  const countError = (error: unknown, retryInMs?: number) => {
    const errors = count();
    const next = retryInMs === undefined ? "" : `; retrying in ${formatDelay(retryInMs)}`;
    log.error(`❌ Change Stream error: ${describeError(error)}${next}`, {
      connection_errors: errors,
      ...(retryInMs === undefined ? {} : { retry_in_ms: retryInMs }),
    });
  };
  status.start();
  ctx.lifecycle.onStop(() => status.stop());
  const summary = new WatchSummary(figures, { intervalMs: config.summaryInterval, log });
  summary.start();
  ctx.lifecycle.onStop(() => summary.stop());
  if (config.metricsPort > 0) {
    const { isHealthy, startMetricsServer } = await import("./metrics_server.ts");
    const server = startMetricsServer(prom, {
      port: config.metricsPort,
      hostname: config.metricsHost,
      snapshot: () => status.snapshot(),
      ready: () =>
        ha ? (ha.role === "active" ? isHealthy(status.state) : ha.canTakeOver()) : undefined,
    });
    ctx.lifecycle.onStop(() => server.stop());
    log.info(`Metrics on ${server.url}/metrics, /healthz and /readyz`);
  }
  await status.setState("starting");

  const client = await connectForever(config, { signal: ctx.lifecycle.signal, count, log });
  if (!client) return;
  ctx.lifecycle.onStop(() => client.close());
  const db = client.db(config.db);
  figures.recordTotals(db, {
    collection: config.runsCollection,
    intervalMs: flags.statusIntervalMs,
    log,
  });
  ctx.lifecycle.onStop(() => figures.stop());
  const quarantine = new Quarantine(db.collection(names.quarantine), {
    retryIntervalMs: config.retryInterval,
    writeTimeoutMs: config.operationTimeout,
  });
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
    reportedIncomplete: new Set<string>(),
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
      registry: config.metricsPort > 0 ? prom.registry : undefined,
      onError: countError,
    });
    ctx.lifecycle.onStop(() => ha?.release());
    signal = AbortSignal.abort(); // no term until the lease is taken (at the loop's top)
  } else if (config.tokenStore === "mongo") {
    const mongoLock = new MongoTokenLock(db.collection(config.tokenCollection), namespace, {
      staleMs,
    });
    lock = await _lock(mongoLock, log, archiving);
    ctx.lifecycle.onStop(() => lock?.release());
  }
  const tokens = new TokenSaver(store, {
    namespace,
    log,
    figures,
    prom,
    idleSaveMs: flags.idleTokenSaveMs,
    ha: () => ha,
    signal: () => signal,
  });
  saved.by = tokens;
  const stopHeadroom = watchHeadroom(client, {
    log,
    tokenTime: () => tokens.saved?.clusterTime ?? null,
    report: (window, headroom) => prom.setOplogHeadroom(window, headroom),
    maxTimeMs: config.operationTimeout,
  });
  ctx.lifecycle.onStop(stopHeadroom);
  const retrier = new QuarantineRetrier(quarantine, {
    batchMax: config.batchMax,
    retryIntervalMs: config.retryInterval,
    archive: (orders) => archiveOrders(orders, archiving),
    readDue: (limit) =>
      retryTransient("Reading the quarantine", () => quarantine.due(limit), archiving),
    figures,
    gauge: config.metricsPort > 0 ? prom : undefined,
    log,
    signal: () => signal,
  });
  const backoff = new Backoff();

  // Where this term starts: the saved token when usable, else a catch-up; the start flags
  // (--from-now, --catch-up-since) apply to the first term only.
  let firstTerm = true;
  const start = async (): Promise<WatchPlan> => {
    const serverTime = await retryTransient("Reading the cluster time", () => clusterTime(db), {
      ...archiving,
      signal,
    });
    const saved = await tokens.load(serverTime);
    const chosen = startPlan(saved, firstTerm ? { fromNow: flags.fromNow, catchUpSince } : {});
    firstTerm = false;
    log.info(chosen.message);
    return chosen.plan;
  };

  // The catch-up over every delivered order not yet archived (since a date on a first start
  // with --catch-up-since); the stream then opens at the cluster time noted before it.
  const catchUp = async (since: Date | undefined): Promise<boolean> => {
    await status.setState("catching-up");
    const time = await clusterTime(db);
    const from = since ? ` delivered since ${since.toISOString()}` : "";
    log.info(`Catching up on delivered orders${from} not yet archived, before streaming`);
    const result = await backfill({
      ...archiving,
      from: since,
      batchSize: config.batchMax,
      retryDeadlineMs: config.operationTimeout,
    });
    if (result.interrupted) return false;
    const report = result.report;
    figures.caughtUp(report);
    log.info(`✅ Archived ${counted(report.orders_archived, "order")} (catch-up)`, {
      ...report,
      catch_up: true,
    });
    retrier.postpone(); // the pass just tried the quarantine
    await retrier.refreshGauge();
    tokens.caughtUpFrom(time);
    return true;
  };

  // One micro-batch: archive its orders, count, then move the position past it and save it.
  let batchReadAt: number | undefined; // when the first event of the micro-batch was read
  const archiveMicroBatch = async (events: ChangeStreamDocument[]) => {
    // From here, a read belongs to the next batch (it overlaps this one's write).
    const readAt = batchReadAt;
    batchReadAt = undefined;
    const outcome = await archiveOrders(orderRefs(events), archiving);
    const written = Date.now();
    const times = events.map(eventTime);
    const lagSeconds = Math.max(0, (written - Math.min(...times)) / 1000);
    status.event(new Date(Math.max(...times)));
    prom.observeMicroBatch({
      eventTimesMs: times,
      writtenAtMs: written,
      durationSeconds: (written - (readAt ?? written)) / 1000,
    });
    // Every order of the batch is archived or recorded in the quarantine: the token may pass
    // them all.
    const last = events.at(-1)!;
    await tokens.acknowledge(last._id as Document, last.clusterTime ?? null);
    // Counted once acknowledged; said in the periodic summary line (summary.ts), not per batch.
    figures.microBatch({ events: events.length, outcome, lagSeconds });
    log.debug(
      `Micro-batch acknowledged: ${counted(events.length, "event")}, ${
        counted(outcome.archived, "order")
      } archived`,
    );
    await retrier.maybeRetry();
  };

  // Counts and says the error with the next try's delay, then waits it; false when stopping.
  const backOff = async (error: unknown): Promise<boolean> => {
    const delayMs = backoff.next();
    countError(error, delayMs);
    await status.setState("reconnecting");
    return await backoff.wait(signal, delayMs);
  };

  // Reads the stream from a plan's position until it ends or the term stops.
  const streamFrom = async (plan: WatchPlan) => {
    const stream = openOrderStream(db, plan, {
      orders: names.orders,
      deliveredStatus: config.deliveredStatus,
      batchMax: config.batchMax,
      maxAwaitMs,
    });
    batchReadAt = undefined;
    try {
      return await readMicroBatches(stream, {
        onRead: (event) => {
          const at = new Date();
          status.read(at);
          prom.streamRead(at);
          if (event && !isEnding(event) && batchReadAt === undefined) batchReadAt = at.getTime();
        },
        onOpen: async () => {
          log.info("✅ Change Stream opened successfully", { namespace });
          await status.setState("streaming");
        },
        onBatch: archiveMicroBatch,
        onIdle: async () => {
          await tokens.idle(stream.resumeToken as Document | undefined);
          await retrier.maybeRetry();
        },
        batchMax: config.batchMax,
        batchWaitMs: config.batchWaitMs,
        signal,
      });
    } finally {
      await stream.close().catch(() => {});
    }
  };

  // After the stream ended: where to go on from, or `undefined` to stop (or keep the plan).
  const afterEnding = async (ended: ChangeStreamDocument | "closed") => {
    if (ended === "closed") {
      // Closed without an ending event: not a dropped collection, a lost stream. Resume from
      // the position after a backoff, never a catch-up in a tight loop.
      const closed = new Error("the server closed the change stream without an event");
      return (await backOff(closed)) ? tokens.resumePlan() : undefined;
    }
    // The orders collection was dropped, renamed away, or its database dropped.
    log.warn(
      `⚠️ Change stream invalidated: ${
        describeEnding(ended)
      }; waiting for ${namespace} to exist again`,
      { namespace },
    );
    await status.setState("invalidated");
    if (!(await waitForCollection(db, names.orders, { signal, onTransientError: countError }))) {
      return undefined;
    }
    log.info(`${namespace} exists again: catching up, then streaming`);
    tokens.forget();
    return { kind: "catch-up" } as WatchPlan;
  };

  // After an error: rethrows what must stop the watcher; a lost history means a catch-up;
  // anything else backs off and resumes from the watcher's own position (never the saved
  // file's: a save may have failed).
  const afterError = async (error: unknown): Promise<WatchPlan | undefined> => {
    if (error instanceof ArchiverError) throw error;
    const kind = errorKind(error);
    if (kind === "deployment") throw await refusal(error, { client, config, namespace });
    if (kind === "internal") throw error;
    const code = (error as { code?: unknown }).code;
    if (typeof code === "number" && HISTORY_LOST.has(code)) {
      log.warn(
        `⚠️ Could not resume the change stream (${
          describeError(error)
        }): catching up on every delivered order not yet archived`,
      );
      tokens.forget();
      return { kind: "catch-up" };
    }
    return (await backOff(error)) ? tokens.resumePlan() : undefined;
  };

  // --ha: waits as standby for the next active term; false when the watcher stops first.
  const nextTerm = async (): Promise<boolean> => {
    await status.setState("standby");
    const term = await ha!.standby(ctx.lifecycle.signal);
    if (!term) return false;
    signal = archiving.signal = term;
    await status.setState("starting");
    return true;
  };

  let plan: WatchPlan | undefined;
  let indexReady = false;
  // Every exit below is a `continue` once the signal is aborted: the watcher stops, or with --ha
  // its active term ended and it waits as standby again.
  while (!ctx.lifecycle.signal.aborted) {
    if (ha && signal.aborted) {
      if (!(await nextTerm())) break;
      plan = undefined; // the shared token, as the previous holder left it
    }
    try {
      // Inside the loop so a transient failure here is retried like any other; once is enough.
      if (!indexReady) {
        await ensureArchiveIndex(db.collection(names.archive));
        indexReady = true;
        await retrier.refreshGauge();
      }
      plan ??= await start();
      if (plan.kind === "catch-up") {
        if (!(await catchUp(plan.since))) continue;
        plan = tokens.resumePlan() ?? plan;
      }
      const ended = await streamFrom(plan);
      if (!ended || signal.aborted) continue;
      plan = (await afterEnding(ended)) ?? plan;
    } catch (error) {
      if (signal.aborted) continue;
      plan = (await afterError(error)) ?? plan;
    }
  }
  summary.stop();
  log.info("Watcher stopped", {
    resume_token_saved: tokens.saved?.savedAt.toISOString() ?? null,
  });
}

/** Takes the one-watcher lock; a folder that cannot hold it is said once, and not fatal. */
async function _lock(
  lock: TokenLock,
  log: Logger,
  retrying?: Parameters<typeof retryTransient>[2],
): Promise<TokenLock | undefined> {
  try {
    await (retrying
      ? retryTransient("Taking the token lock", () => lock.acquire(), retrying)
      : lock.acquire());
    return lock;
  } catch (error) {
    if (error instanceof TokenLockedError) throw new ConfigError(error.message, { cause: error });
    if (errorKind(error) === "deployment") throw error;
    log.warn(
      `⚠️ Could not take the ${lock.description}: ${
        describeError(error)
      }; a second watcher on this token would not be refused`,
    );
    return undefined;
  }
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
