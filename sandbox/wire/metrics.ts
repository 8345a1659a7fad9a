/**
 * Per-server counters `serverStatus` reports (`opcounters`, `network.numRequests`), kept
 * beside the server state so the state's shape stays as it is.
 *
 * @module
 */

import type { Doc } from "../bson_values.ts";
import type { SandboxState } from "../engine/state.ts";

/** Operation counters, as `serverStatus.opcounters`. */
export interface OpCounters {
  /** Documents inserted. */
  insert: number;
  /** `find` commands. */
  query: number;
  /** Update statements. */
  update: number;
  /** Delete statements. */
  delete: number;
  /** `getMore` commands. */
  getmore: number;
  /** Every other command. */
  command: number;
}

/** The counters of one server. */
export interface ServerMetrics {
  /** Operation counters. */
  opcounters: OpCounters;
  /** Commands received. */
  numRequests: number;
}

const _metrics = new WeakMap<SandboxState, ServerMetrics>();

/**
 * Returns a server's counters, creating them at zero.
 *
 * @param state The server state.
 * @returns Its counters.
 */
export function serverMetrics(state: SandboxState): ServerMetrics {
  let metrics = _metrics.get(state);
  if (!metrics) {
    metrics = {
      opcounters: { insert: 0, query: 0, update: 0, delete: 0, getmore: 0, command: 0 },
      numRequests: 0,
    };
    _metrics.set(state, metrics);
  }
  return metrics;
}

/**
 * Counts one command the way mongod's opcounters do (inserts per document, updates and
 * deletes per statement).
 *
 * @param state The server state.
 * @param name The command name.
 * @param body The command.
 */
export function countCommand(state: SandboxState, name: string, body: Doc): void {
  const metrics = serverMetrics(state);
  const counters = metrics.opcounters;
  metrics.numRequests++;
  const statements = (field: string) => Array.isArray(body[field]) ? body[field].length : 1;
  if (name === "insert") counters.insert += statements("documents");
  else if (name === "find") counters.query++;
  else if (name === "update") counters.update += statements("updates");
  else if (name === "delete") counters.delete += statements("deletes");
  else if (name === "getMore") counters.getmore++;
  else counters.command++;
}
