/**
 * `mongodb`: the server answers a ping (the `change_streams` check reads the same `hello`). Pure: a
 * function of what MongoDB answered.
 *
 * @module
 */

import { type CheckResult, result } from "../state.ts";
import { changeStreamsCheck } from "./change_streams.ts";

/** What MongoDB answered, or why it did not. */
export type MongoProbe =
  | {
    ok: true;
    pingMs: number;
    topology: "replicaSet" | "sharded" | "standalone";
    setName?: string;
  }
  | { ok: false; reason: string };

/**
 * MongoDB reachability, with whether change streams are possible ({@link changeStreamsCheck})
 * from the same probe.
 *
 * @param probe The ping and `hello` outcome.
 * @returns The `mongodb` and `change_streams` checks.
 */
export function mongoChecks(probe: MongoProbe): [CheckResult, CheckResult] {
  const streams = changeStreamsCheck(probe);
  if (!probe.ok) {
    return [result("mongodb", "CRITICAL", `MongoDB unreachable: ${probe.reason}`), streams];
  }
  return [result("mongodb", "OK", `Ping ${probe.pingMs} ms`, { ping_ms: probe.pingMs }), streams];
}
