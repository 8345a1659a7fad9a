/**
 * What commands run against: the server's shared state, the connection, the request.
 *
 * @module
 */

import type { Logger } from "@logtape/logtape";
import { Binary, Long, type ObjectId, type Timestamp } from "bson";
import type { Doc } from "./bson_values.ts";
import type { CursorManager } from "./cursors.ts";
import type { FailPoints } from "./fail_points.ts";
import type { LocalSessions } from "./sessions.ts";
import type { Storage } from "./storage.ts";

/** Shared state of one sandbox server. */
export interface SandboxState {
  /** Databases, collections and oplog. */
  storage: Storage;
  /** Open cursors. */
  cursors: CursorManager;
  /** Configured fail points. */
  failPoints: FailPoints;
  /** `host:port` the server presents itself as. */
  me: string;
  /** Replica set name. */
  setName: string;
  /** Process id reported in `hello`. */
  processId: ObjectId;
  /** Election id reported in `hello`. */
  electionId: ObjectId;
  /** Start time. */
  startedAt: Date;
  /** Aborted when the server stops (ends getMore waits). */
  signal: AbortSignal;
  /** Logger. */
  log: Logger;
  /** Open connections count. */
  connections: { current: number; totalCreated: number };
  /** Logical sessions seen (`$listLocalSessions`). */
  sessions: LocalSessions;
}

/** One client connection. */
export interface ConnectionInfo {
  /** Connection id (as `hello` reports it). */
  id: number;
  /** Application name from the handshake's client metadata. */
  appName?: string;
  /** Peer address. */
  remote: string;
}

/** A command invocation. */
export interface CommandContext {
  /** Server state. */
  state: SandboxState;
  /** The calling connection. */
  connection: ConnectionInfo;
  /** Database (`$db`). */
  db: string;
  /** Command name (first key). */
  name: string;
  /** The full command document. */
  body: Doc;
}

/** A command implementation. */
export type CommandHandler = (ctx: CommandContext) => Doc | Promise<Doc>;

/**
 * Builds the `$clusterTime` document replies carry (unsigned: a zero key id and hash).
 *
 * @param ts The cluster time.
 * @returns The document.
 */
export function clusterTimeDoc(ts: Timestamp): Doc {
  return {
    clusterTime: ts,
    signature: { hash: new Binary(new Uint8Array(20), 0), keyId: Long.fromNumber(0) },
  };
}
