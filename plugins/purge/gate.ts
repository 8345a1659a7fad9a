/**
 * The purge's gate between chunks: measures the replica lag, asks the pure throttle
 * (`core/archive/purge_throttle.ts`) what to do, sleeps what it says (saying once why it
 * waits), and counts the pauses by reason for the report and the metrics.
 *
 * @module
 */

import type { Collection, Db } from "mongodb";
import type { Logger } from "@logtape/logtape";
import type { ChunkGate, PurgeCounts } from "../../core/archive/purge.ts";
import type { PauseFigures } from "../../core/archive/purge_report.ts";
import { emptyPauses } from "../../core/archive/purge_report.ts";
import {
  type PauseReason,
  type StopReason,
  throttleDecision,
  type ThrottleLimits,
  untilWindowOpens,
} from "../../core/archive/purge_throttle.ts";
import { measureReplicaLag } from "../../core/mongo/replica_lag.ts";
import { sleep } from "../../core/runtime/retry.ts";

/** The gate and what it saw. */
export interface PurgeGate {
  /** Called before each chunk's deletes. */
  decide: ChunkGate;
  /** Pauses by reason. */
  pauses: PauseFigures;
  /** The lag last measured. */
  lastLag?: { seconds: number; how: "replSetGetStatus" | "majority_write" };
  /** Why it stopped the run, if it did. */
  stopped?: StopReason;
}

/**
 * Makes the gate of one run.
 *
 * @param options Where to measure the lag, the limits, the clock and how to sleep.
 * @returns The gate.
 */
export function purgeGate(options: {
  admin: Db;
  probe: Collection;
  log: Logger;
  signal?: AbortSignal;
  startedAt: Date;
  limits: ThrottleLimits;
  now?: () => Date;
  wait?: (ms: number, signal?: AbortSignal) => Promise<void>;
}): PurgeGate {
  const now = options.now ?? (() => new Date());
  const wait = options.wait ?? sleep;
  let statusRefused = false;
  let windowEnteredAt: Date | undefined;
  let lastChunk: { at: Date; orders: number } | undefined;
  let purgedBefore = 0;
  let pausing: PauseReason | undefined;
  const gate: PurgeGate = {
    pauses: emptyPauses(),
    decide: async (counts: Readonly<PurgeCounts>) => {
      if (lastChunk) lastChunk.orders = counts.purged - purgedBefore;
      for (;;) {
        const reading = await measureReplicaLag(options.admin, {
          probe: options.probe,
          maxLagMs: options.limits.maxLagMs,
          statusRefused,
        });
        statusRefused = reading.statusRefused;
        gate.lastLag = { seconds: reading.lagMs / 1000, how: reading.how };
        const clock = now();
        if (
          options.limits.window && windowEnteredAt === undefined &&
          untilWindowOpens(options.limits.window, clock) === 0
        ) windowEnteredAt = clock;
        const decision = throttleDecision(
          {
            now: clock,
            startedAt: options.startedAt,
            windowEnteredAt,
            lastChunk,
            lagMs: reading.lagMs,
          },
          options.limits,
        );
        if (decision.action === "go") {
          if (pausing) options.log.info(`▶️ Purge resumes (${pausing} pause over)`);
          pausing = undefined;
          purgedBefore = counts.purged;
          lastChunk = { at: clock, orders: 0 };
          return "go";
        }
        if (decision.action === "stop") {
          gate.stopped = decision.reason;
          options.log.info(`⏹️ Purge stops at a chunk's end: ${decision.detail}`, {
            stopped: decision.reason,
          });
          return "stop";
        }
        const detail = decision.reason === "lag"
          ? `${decision.detail} (${reading.text})`
          : decision.detail;
        if (pausing !== decision.reason) {
          gate.pauses[decision.reason].count++;
          options.log.warn(`⏸️ Purge paused: ${detail}`, {
            pause_reason: decision.reason,
            lag_seconds: reading.lagMs / 1000,
          });
        }
        pausing = decision.reason;
        gate.pauses[decision.reason].seconds += decision.ms / 1000;
        await wait(decision.ms, options.signal);
      }
    },
  };
  return gate;
}
