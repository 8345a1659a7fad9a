/**
 * The watcher's eye on the oplog: every minute, on a timer, it reads the oplog window and the
 * resume headroom (how long before the saved token falls out of the oplog), sets the two gauges,
 * and warns once each time the headroom crosses below a threshold (24 h, then 1 h) — before the
 * history is lost, not after.
 *
 * @module
 */

import type { Logger } from "@logtape/logtape";
import type { MongoClient, Timestamp } from "mongodb";
import { describeError } from "../../core/mongo/errors.ts";
import {
  type HeadroomLevel,
  headroomLevel,
  readOplogWindow,
  resumeHeadroom,
} from "../../core/stream/oplog_window.ts";
import { formatDuration } from "../../core/runtime/parse.ts";

/** The plan's thresholds, as `archiver health` applies them by default. */
export const HEADROOM_LIMITS = { warningSeconds: 24 * 3_600, criticalSeconds: 3_600 } as const;

const _ORDER: Record<HeadroomLevel, number> = { ok: 0, warning: 1, critical: 2 };

/** What the headroom watch reads and tells. */
export interface HeadroomWatchOptions {
  /** Where crossings are logged. */
  log: Logger;
  /** The cluster time of the saved token, if any. */
  tokenTime(): Timestamp | null;
  /** Sets the gauges. */
  report(windowSeconds: number, headroomSeconds: number | null): void;
  /** How often, in ms. @default 60000 */
  intervalMs?: number;
  /** The server-side time limit of each read, in ms. */
  maxTimeMs?: number;
}

/**
 * Starts reading the oplog window on a timer (first read at once).
 *
 * @param client The connected client.
 * @param options Logger, token, gauges and interval.
 * @returns A function that stops the timer.
 */
export function watchHeadroom(client: MongoClient, options: HeadroomWatchOptions): () => void {
  let level: HeadroomLevel = "ok";
  let unauthorizedTold = false;
  let running = false;
  let stopped = false;
  const check = async () => {
    if (running || stopped) return;
    running = true;
    try {
      const read = await readOplogWindow(client, { maxTimeMs: options.maxTimeMs });
      if (read.kind === "unauthorized") {
        if (!unauthorizedTold) options.log.info(`Oplog headroom ${read.message}`);
        unauthorizedTold = true;
        return;
      }
      // A read in flight when the watcher stopped reports nothing.
      if (read.kind !== "ok" || stopped) return;
      const headroom = resumeHeadroom(read.window, options.tokenTime());
      options.report(headroom.windowSeconds, headroom.headroomSeconds);
      if (headroom.headroomSeconds === null) return;
      const next = headroomLevel(headroom.headroomSeconds, HEADROOM_LIMITS);
      if (_ORDER[next] > _ORDER[level]) {
        const left = formatDuration(Math.max(0, headroom.headroomSeconds) * 1000);
        const line = `⚠️ Resume headroom ${left} (oplog window ${
          formatDuration(headroom.windowSeconds * 1000)
        }): the saved token leaves the oplog ${
          next === "critical" ? "within the hour" : "within a day"
        } unless the watcher keeps up`;
        if (next === "critical") options.log.error(line, { ...headroom });
        else options.log.warn(line, { ...headroom });
      }
      level = next;
    } catch (error) {
      // A transient failure is the reconnect loop's business; the next tick tries again.
      options.log.debug(`Could not read the oplog window: ${describeError(error)}`);
    } finally {
      running = false;
    }
  };
  void check();
  const timer = setInterval(() => void check(), options.intervalMs ?? 60_000);
  return () => {
    stopped = true;
    clearInterval(timer);
  };
}
