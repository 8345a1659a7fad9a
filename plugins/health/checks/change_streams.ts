/**
 * `change_streams`: whether the server can serve change streams (a replica set or sharded cluster),
 * from the same `hello` as the `mongodb` check. Pure: a function of what MongoDB answered.
 *
 * @module
 */

import { type CheckResult, result } from "../state.ts";
import type { MongoProbe } from "./mongodb.ts";

/**
 * Whether change streams are possible on the server that answered.
 *
 * @param probe The ping and `hello` outcome.
 * @returns The `change_streams` check: UNKNOWN when MongoDB did not answer, CRITICAL on a
 *   standalone server.
 */
export function changeStreamsCheck(probe: MongoProbe): CheckResult {
  const name = "change_streams";
  if (!probe.ok) return result(name, "UNKNOWN", "MongoDB unreachable");
  const data = { topology: probe.topology, set_name: probe.setName ?? null };
  if (probe.topology === "replicaSet") {
    return result(name, "OK", `Replica set "${probe.setName}"`, data);
  }
  if (probe.topology === "sharded") return result(name, "OK", "Sharded cluster", data);
  return result(
    name,
    "CRITICAL",
    "Standalone server: change streams need a replica set or sharded cluster",
    data,
  );
}
