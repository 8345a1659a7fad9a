/**
 * The `batch_duration` check (the plan's P3 "Batch duration > 2x baseline"): the latest successful
 * batch run took more than twice the median of the successful runs before it (the last ten, at
 * least three) from the run history. A WARNING, never worse: a slow run is a reason to look, not an
 * outage.
 *
 * @module
 */

import type { MongoClient } from "mongodb";
import { lastSuccessfulRuns } from "../../../core/archive/history.ts";
import type { GlobalConfig } from "../../../core/runtime/config.ts";
import { createMongoClient } from "../../../core/mongo/client.ts";
import { describeError } from "../../../core/mongo/errors.ts";
import { type CheckResult, result, skipped } from "../state.ts";
import { formatAge } from "../format.ts";

/** The check's name. */
export const BATCH_DURATION_CHECK = "batch_duration";

/** How the baseline is taken. */
export const BATCH_DURATION_BASELINE = {
  /** Successful runs before the latest one whose median is the baseline. */
  runs: 10,
  /** Fewer earlier runs than this give no baseline: the check does not apply. */
  minRuns: 3,
  /** The latest run over this many times the baseline is a WARNING. */
  factor: 2,
} as const;

/**
 * The median of some numbers.
 *
 * @param values The numbers (not empty).
 * @returns Their median.
 */
export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

/**
 * Judges the latest successful run's duration against the median of the ones before it.
 *
 * @param durations Durations of successful runs in ms, newest first (the latest, then the
 *   baseline).
 * @returns OK, WARNING above twice the median, or not applicable without three earlier runs.
 */
export function batchDurationCheck(durations: readonly number[]): CheckResult {
  const [latest, ...earlier] = durations;
  const baseline = earlier.slice(0, BATCH_DURATION_BASELINE.runs);
  if (latest === undefined || baseline.length < BATCH_DURATION_BASELINE.minRuns) {
    return skipped(
      BATCH_DURATION_CHECK,
      `${durations.length} successful batch runs in the history, a baseline needs ${
        BATCH_DURATION_BASELINE.minRuns + 1
      }`,
    );
  }
  const typical = median(baseline);
  const data = { latest_ms: latest, median_ms: typical, baseline_runs: baseline.length };
  const limit = typical * BATCH_DURATION_BASELINE.factor;
  const text = `Last batch took ${formatAge(latest)}, median of the ${baseline.length} before ${
    formatAge(typical)
  }`;
  return latest > limit
    ? result(
      BATCH_DURATION_CHECK,
      "WARNING",
      `${text} (over ${BATCH_DURATION_BASELINE.factor}x)`,
      data,
    )
    : result(BATCH_DURATION_CHECK, "OK", text, data);
}

/**
 * Reads the successful runs from the run history and judges the latest one. Never throws: an
 * unreachable server or unreadable history is UNKNOWN.
 *
 * @param config The connection and the runs collection.
 * @param options The time the check may take, in ms.
 * @returns The check's result.
 */
export async function runBatchDurationCheck(
  config: GlobalConfig,
  options: { budgetMs: number },
): Promise<CheckResult> {
  const budget = Math.max(200, options.budgetMs);
  let client: MongoClient | undefined;
  try {
    client = createMongoClient(
      { uri: config.uri, connectTimeout: Math.min(config.connectTimeout, budget) },
      { connectTimeoutMS: budget, socketTimeoutMS: budget },
    );
    const runs = await lastSuccessfulRuns(client.db(config.db).collection(config.runsCollection), {
      limit: BATCH_DURATION_BASELINE.runs + 1,
      maxTimeMs: budget,
    });
    return batchDurationCheck(runs.map((run) => run.batch_duration_ms));
  } catch (error) {
    return result(
      BATCH_DURATION_CHECK,
      "UNKNOWN",
      `Cannot read the run history ${config.runsCollection}: ${describeError(error)}`,
    );
  } finally {
    await client?.close().catch(() => {});
  }
}
