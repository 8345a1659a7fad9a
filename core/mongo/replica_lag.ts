/**
 * How far the replica set's secondaries lag behind the primary, measured the two ways the
 * MongoDB manual allows. `replSetGetStatus` gives each member's `optimeDate`: the lag is the
 * primary's minus the slowest secondary's. It needs the `replSetGetStatus` action on the cluster
 * (the `clusterMonitor` role has it; the purge role of `archiver setup role` grants that one
 * action). Without it, a majority write bounded by the allowed lag (`w: "majority"`,
 * `wtimeoutMS`) tells whether a majority of the members applies a write within the bound:
 * a write-concern error 64 (`WriteConcernFailed`, wtimeout) means it does not.
 *
 * @module
 */

import type { Collection, Db } from "mongodb";
import { writeConcernErrorOf } from "./errors.ts";
import { isUnauthorized } from "./privileges.ts";
import { formatDuration } from "../runtime/parse.ts";

/** What one measurement found. */
export interface LagReading {
  /** The lag in ms; with a majority write, 0 within the bound or just past it when not. */
  lagMs: number;
  /** How it was measured. */
  how: "replSetGetStatus" | "majority_write";
  /** In words, for the pause line: `secondary db2:27017 is 21.0s behind`. */
  text: string;
}

/** A member of `replSetGetStatus`'s answer, the fields read here. */
interface _Member {
  name?: string;
  state?: number;
  optimeDate?: Date;
}

/**
 * The lag of the slowest secondary from a `replSetGetStatus` answer. Pure.
 *
 * @param reply The command's answer.
 * @returns The lag in ms (0 with no secondary) and the slowest member's name.
 */
export function lagFromStatus(reply: Record<string, unknown>): { lagMs: number; member?: string } {
  const members = (Array.isArray(reply.members) ? reply.members : []) as _Member[];
  const primary = members.find((m) => m.state === 1);
  if (!primary || !(primary.optimeDate instanceof Date)) return { lagMs: 0 };
  let worst: { lagMs: number; member?: string } = { lagMs: 0 };
  for (const member of members) {
    if (member.state !== 2 || !(member.optimeDate instanceof Date)) continue;
    const lag = primary.optimeDate.getTime() - member.optimeDate.getTime();
    if (lag > worst.lagMs) worst = { lagMs: lag, member: member.name };
  }
  return worst;
}

/**
 * Measures the lag: `replSetGetStatus` when the user may run it, else (and from then on, once
 * refused) a majority write on `probe` bounded by `maxLagMs`.
 *
 * @param admin The `admin` database.
 * @param options The probe collection, the bound, and whether the status was refused before.
 * @returns The reading, and whether the status command is refused (to skip it next time).
 */
export async function measureReplicaLag(
  admin: Db,
  options: { probe: Collection; maxLagMs: number; statusRefused?: boolean },
): Promise<LagReading & { statusRefused: boolean }> {
  if (!options.statusRefused) {
    try {
      const reply = await admin.command({ replSetGetStatus: 1 });
      const { lagMs, member } = lagFromStatus(reply);
      return {
        lagMs,
        how: "replSetGetStatus",
        text: member
          ? `secondary ${member} is ${(lagMs / 1000).toFixed(1)}s behind`
          : "no secondary behind",
        statusRefused: false,
      };
    } catch (error) {
      if (!isUnauthorized(error)) throw error;
    }
  }
  try {
    await options.probe.updateOne(
      { _id: "purge_lag_probe" as never },
      { $set: { at: new Date() } },
      { upsert: true, writeConcern: { w: "majority", wtimeoutMS: options.maxLagMs } },
    );
    return {
      lagMs: 0,
      how: "majority_write",
      text: "a majority confirmed a write within the bound",
      statusRefused: true,
    };
  } catch (error) {
    const unconfirmed = writeConcernErrorOf(error);
    if (!unconfirmed) throw error;
    return {
      lagMs: options.maxLagMs + 1,
      how: "majority_write",
      text: `a majority did not confirm a write within ${
        formatDuration(options.maxLagMs)
      } (code ${unconfirmed.code})`,
      statusRefused: true,
    };
  }
}
