/**
 * Runs one command: fail points first, then the implementation, then the reply decorations
 * a replica set member adds (`ok`, `operationTime`, `$clusterTime`, error labels).
 *
 * @module
 */

import { authorize, recordCursor } from "../auth/privileges.ts";
import { type Doc, isPlainDoc } from "../bson_values.ts";
import { COMMANDS } from "../commands/mod.ts";
import { asCommandError, CommandError } from "../errors.ts";
import {
  CloseConnectionSignal,
  type FailCommandAction,
  RESUMABLE_CHANGE_STREAM_CODES,
  RETRYABLE_WRITE_CODES,
} from "../engine/fail_points.ts";
import { countCommand } from "./metrics.ts";
import { snapshotRead, SnapshotStorage, stampSnapshotReply } from "../engine/snapshot.ts";
import { clusterTimeDoc, type ConnectionInfo, type SandboxState } from "../engine/state.ts";

/** Returned instead of a reply when the connection must be closed without answering. */
export const CLOSE_CONNECTION: unique symbol = Symbol("closeConnection");

const _RETRYABLE_WRITES = new Set([
  "insert",
  "update",
  "delete",
  "findAndModify",
  "findandmodify",
  "commitTransaction",
  "abortTransaction",
]);

function _isChangeStreamCommand(state: SandboxState, name: string, body: Doc): boolean {
  if (name === "getMore") return state.cursors.get(body.getMore)?.changeStream !== undefined;
  if (name === "aggregate" && Array.isArray(body.pipeline)) {
    const first = body.pipeline[0];
    return isPlainDoc(first) && "$changeStream" in first;
  }
  return false;
}

/** The labels mongod would attach to an error with this code, for this command. */
function _labels(state: SandboxState, name: string, body: Doc, code: number): string[] {
  const labels: string[] = [];
  if (
    RETRYABLE_WRITE_CODES.has(code) && _RETRYABLE_WRITES.has(name) &&
    (body.txnNumber !== undefined || name.endsWith("Transaction"))
  ) {
    labels.push("RetryableWriteError");
  }
  if (RESUMABLE_CHANGE_STREAM_CODES.has(code) && _isChangeStreamCommand(state, name, body)) {
    labels.push("ResumableChangeStreamError");
  }
  return labels;
}

function _failure(state: SandboxState, name: string, body: Doc, action: FailCommandAction): Doc {
  const code = action.errorCode!;
  // failCommand fires before a getMore checks its cursor out, so mongod cannot know the
  // cursor is a change stream's: such errors carry ResumableChangeStreamError only when the
  // fail point's errorLabels say so (failGetMoreAfterCursorCheckout is the fail point for that).
  const labels = _labels(state, name, body, code).filter((l) => l !== "ResumableChangeStreamError");
  const error = new CommandError(code, "Failing command via 'failCommand' failpoint", {
    labels: action.errorLabels ?? labels,
    ...(action.errInfo ? { extra: { errInfo: action.errInfo } } : {}),
  });
  return error.toReply();
}

/**
 * Runs a command and builds its reply.
 *
 * @param state Server state.
 * @param connection The calling connection.
 * @param body The command document.
 * @param db The database (`$db`, or from the OP_QUERY namespace).
 * @returns The reply, or {@link CLOSE_CONNECTION}.
 */
export async function dispatch(
  state: SandboxState,
  connection: ConnectionInfo,
  body: Doc,
  db: string | undefined,
): Promise<Doc | typeof CLOSE_CONNECTION> {
  const name = Object.keys(body)[0] ?? "";
  let reply: Doc;
  let action: FailCommandAction | undefined;
  try {
    if (db === undefined) throw new CommandError(40571, "OP_MSG requests require a $db argument");
    // Authorization (auth on only): before anything else runs or is counted.
    if (state.auth.enabled) authorize(state, connection, name, body, db);
    if (body.lsid !== undefined) state.sessions.touch(body.lsid);
    countCommand(state, name, body);
    const target = body[name];
    const ns = typeof target === "string" ? `${db}.${target}` : `${db}.$cmd`;
    action = state.failPoints.check(name, connection.appName, ns);
    if (action?.blockTimeMS) {
      await new Promise((resolve) => setTimeout(resolve, action!.blockTimeMS));
    }
    if (action?.closeConnection) return CLOSE_CONNECTION;
    if (action?.errorCode !== undefined) {
      reply = _failure(state, name, body, action);
    } else {
      const handler = COMMANDS.get(name);
      if (!handler) throw new CommandError(59, `no such command: '${name}'`);
      const snapshot = snapshotRead(name, body, state.storage.oplog.clock.now());
      const view = snapshot
        ? { ...state, storage: new SnapshotStorage(state.storage, snapshot.atClusterTime) }
        : state;
      reply = await handler({ state: view, connection, db, name, body });
      if (snapshot) stampSnapshotReply(reply, snapshot);
      if (state.auth.enabled) recordCursor(state, connection, name, body, reply);
      if (!("ok" in reply)) reply.ok = 1;
      if (action?.writeConcernError) {
        reply.writeConcernError = action.writeConcernError;
        const code = Number(action.writeConcernError.code);
        const labels = action.errorLabels ?? _labels(state, name, body, code);
        if (labels.length > 0) reply.errorLabels = labels;
      }
    }
  } catch (error) {
    // onPrimaryTransactionalWrite: the write ran, the connection closes without a reply.
    if (error instanceof CloseConnectionSignal) return CLOSE_CONNECTION;
    const e = asCommandError(error);
    if (!(error instanceof CommandError)) {
      state.log.debug("Command {name} failed: {message}", { name, message: e.message });
    }
    if (e.labels.length === 0) e.labels.push(..._labels(state, name, body, e.code));
    reply = e.toReply();
  }
  const now = state.storage.oplog.clock.now();
  if (!("operationTime" in reply)) reply.operationTime = now;
  reply.$clusterTime = clusterTimeDoc(now);
  return reply;
}
