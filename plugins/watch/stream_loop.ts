/**
 * The stream loop: opens the change stream on the orders collection (filtered on the server to
 * deliveries and to the events that end it) from a plan's position, and reads it into
 * micro-batches until the signal is aborted or the stream ends. Every read waits on the server
 * for at most `maxAwaitTimeMS`; nothing here loops without waiting.
 *
 * @module
 */

import {
  ChangeStream,
  type ChangeStreamDocument,
  type Db,
  type Document,
  type Timestamp,
} from "mongodb";
import { errorKind } from "../../core/mongo/errors.ts";
import { ConfigError } from "../../core/runtime/errors.ts";
import { sleep } from "../../core/runtime/retry.ts";
import { ENDING_EVENTS, isEnding } from "./micro_batch.ts";
import type { WatchPlan } from "./start_plan.ts";

/** Options of {@link openOrderStream}. */
export interface OpenStreamOptions {
  /** The orders collection. */
  orders: string;
  /** The delivered status. */
  deliveredStatus: string;
  /** Events per getMore at most (`--batch-max`). */
  batchMax: number;
  /** How long one read waits on the server, in ms. */
  maxAwaitMs: number;
}

/**
 * Opens the change stream from a plan's position (the driver sends the command on the first read).
 *
 * @param db The database.
 * @param plan `resume` after a token, `from-time` at a cluster time, or `now`.
 * @param options Collection, status, batch size and wait.
 * @returns The stream.
 */
export function openOrderStream(db: Db, plan: WatchPlan, options: OpenStreamOptions): ChangeStream {
  const start: Document = plan.kind === "resume"
    ? { resumeAfter: plan.token }
    : plan.kind === "from-time"
    ? { startAtOperationTime: plan.time }
    : {};
  return db.collection(options.orders).watch(deliveryPipeline(options.deliveredStatus), {
    ...start,
    batchSize: options.batchMax,
    maxAwaitTimeMS: options.maxAwaitMs,
  });
}

/**
 * The change stream's pipeline: only the events that deliver an order or end the stream, each
 * cut to what the archive needs. No post-image is asked for: an insert or a replacement carries
 * its document (its status is read there), an update is kept when it set the status to the
 * delivered value (`updateDescription.updatedFields.status`: `status` is a top-level field
 * without a dot, so its path is its own key); a delivered order changed without its status
 * changing is not a new delivery. The `$project` keeps the resume token (`_id`, never changed),
 * the order's `_id` (`documentKey`), the times (for the lag) and the namespaces of an ending
 * event, so no event grows with the order's size.
 *
 * @param deliveredStatus The delivered status.
 * @returns The pipeline.
 */
export function deliveryPipeline(deliveredStatus: string): Document[] {
  return [
    {
      $match: {
        $or: [
          {
            operationType: { $in: ["insert", "replace"] },
            "fullDocument.status": deliveredStatus,
          },
          { operationType: "update", "updateDescription.updatedFields.status": deliveredStatus },
          { operationType: { $in: ENDING_EVENTS } },
        ],
      },
    },
    {
      $project: {
        _id: 1,
        operationType: 1,
        documentKey: 1,
        clusterTime: 1,
        wallTime: 1,
        ns: 1,
        to: 1,
      },
    },
  ];
}

/** What the stream loop calls. */
export interface StreamHandlers {
  /** After each read (an event, or `null` for an empty await). */
  onRead(event: ChangeStreamDocument | null): void;
  /** Once the stream is open (its first read succeeded). */
  onOpen(): Promise<void>;
  /** With each micro-batch of delivery events. */
  onBatch(events: ChangeStreamDocument[]): Promise<void>;
  /** When nothing unprocessed is buffered: the stream's token is safe to save. */
  onIdle(): Promise<void>;
  /** Most events in a micro-batch. */
  batchMax: number;
  /** How long to wait for more once one arrived, in ms (0: what the stream has ready). */
  batchWaitMs: number;
  /** Stops the loop. */
  signal: AbortSignal;
}

/**
 * Reads the stream until the signal is aborted (returns `undefined`) or the stream ends: an
 * ending event (drop, rename, invalidate) or a stream the server closed (returns it).
 *
 * The stream is open once the server accepted it (its first resume token), not when the first
 * read ends: on a quiet collection that read waits the whole await. A stop does not wait for a read
 * in flight either: its answer is dropped and the caller closes the stream. A micro-batch being
 * filled is finished and handed on first (its reads are short), so a stop never leaves one half
 * done.
 *
 * @param stream The open change stream.
 * @param handlers What to do with reads, batches and idle moments.
 * @returns The ending event, `"closed"`, or `undefined` when stopped.
 */
export async function readMicroBatches(
  stream: ChangeStream,
  handlers: StreamHandlers,
): Promise<ChangeStreamDocument | "closed" | undefined> {
  using stop = _stopOf(handlers.signal);
  const read = async () => {
    const event = await stream.tryNext();
    handlers.onRead(event);
    return event;
  };
  // The driver opens the stream on the first read. Once the server accepted it the stream has a
  // resume token (an empty first batch's postBatchResumeToken): it is open.
  const opened = new Promise<void>((resolve) =>
    stream.once(ChangeStream.RESUME_TOKEN_CHANGED, () => resolve())
  );
  const first = read();
  if ((await stop.race(Promise.race([first, opened]))) === _STOPPED) return undefined;
  await handlers.onOpen();
  let pending = await stop.race(first);
  while (pending !== _STOPPED && !handlers.signal.aborted) {
    if (pending && isEnding(pending)) return pending;
    if (!pending) {
      if (stream.closed) return "closed";
      await handlers.onIdle();
      pending = await stop.race(read());
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
      if (isEnding(event)) {
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
    pending = await stop.race(next);
  }
  return undefined;
}

const _STOPPED = Symbol("stopped");

/** The signal as a race: what a read in flight loses to once the watcher stops. */
function _stopOf(signal: AbortSignal) {
  let onAbort = () => {};
  const stopped = new Promise<typeof _STOPPED>((resolve) => {
    onAbort = () => resolve(_STOPPED);
    if (signal.aborted) onAbort();
    else signal.addEventListener("abort", onAbort, { once: true });
  });
  return {
    /** The promise's value, or {@link _STOPPED} when the signal is aborted first. */
    race<T>(promise: Promise<T>): Promise<T | typeof _STOPPED> {
      promise.catch(() => {}); // a read dropped on stop fails later, when the stream closes
      return Promise.race([promise, stopped]);
    },
    [Symbol.dispose]: () => signal.removeEventListener("abort", onAbort),
  };
}

/**
 * The server's cluster time now (where a catch-up starts, and what a saved token is checked
 * against).
 *
 * @param db The database.
 * @returns The cluster time.
 * @throws {ConfigError} When the server has none (not a replica set).
 */
export async function clusterTime(db: Db): Promise<Timestamp> {
  const reply = await db.command({ ping: 1 });
  const time = (reply.operationTime ?? reply.$clusterTime?.clusterTime) as Timestamp | undefined;
  if (!time) {
    throw new ConfigError(
      "The server reports no cluster time: change streams need a replica set or sharded cluster",
    );
  }
  return time;
}

/**
 * Waits, on a timer, until the orders collection exists again. Checks every 2 s, then less
 * often, up to every 10 s.
 *
 * @param db The database.
 * @param name The orders collection.
 * @param options The signal, and where transient errors are counted.
 * @returns False when the signal is aborted.
 */
export async function waitForCollection(
  db: Db,
  name: string,
  options: { signal: AbortSignal; onTransientError(error: unknown): void },
): Promise<boolean> {
  for (let round = 0; !options.signal.aborted; round++) {
    try {
      const found = await db.listCollections({ name }, { nameOnly: true }).toArray();
      if (found.length > 0) return true;
    } catch (error) {
      if (errorKind(error) !== "transient") throw error;
      options.onTransientError(error);
    }
    try {
      await sleep(Math.min(10_000, 2_000 + round * 1_000), options.signal);
    } catch {
      return false;
    }
  }
  return false;
}
