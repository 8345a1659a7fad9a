/**
 * What commands run against: the server's shared state, the connection, the request.
 *
 * @module
 */

import type { Logger } from "@logtape/logtape";
import { Binary, Long, type ObjectId, type Timestamp } from "bson";
import type { AuthStore } from "../auth/users.ts";
import type { Privilege, RoleRef } from "../auth/roles.ts";
import type { ScramConversation } from "../auth/scram.ts";
import type { Doc } from "../bson_values.ts";
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
  /** Users, roles, and whether authorization is enforced (`auth.enabled`). */
  auth: AuthStore;
  /**
   * How far the simulated secondary lags, in ms (`secondary_lag.ts`); 0 or absent: a set of one.
   */
  secondaryLagMs?: number;
}

/** A user authenticated on a connection. */
export interface AuthenticatedUser {
  /** Name. */
  user: string;
  /** Authentication database. */
  db: string;
}

/** What a connection knows about authentication (only with `auth` on). */
export interface ConnectionAuth {
  /** Users authenticated on the connection (one per database, as mongod allows). */
  users: AuthenticatedUser[];
  /** The SCRAM exchange in progress, between `saslStart` and its last `saslContinue`. */
  conversation?: {
    id: number;
    db: string;
    scram: ScramConversation;
    done: boolean;
    skipEmptyExchange: boolean;
  };
  /** Privileges of {@link users}, computed at {@link generation} of the store. */
  cache?: { generation: number; roles: RoleRef[]; privileges: Privilege[] };
}

/** One client connection. */
export interface ConnectionInfo {
  /** Connection id (as `hello` reports it). */
  id: number;
  /** Application name from the handshake's client metadata. */
  appName?: string;
  /** Peer address. */
  remote: string;
  /** Whether the peer is on a loopback address (the localhost exception applies). */
  loopback?: boolean;
  /** Authentication state, created by the first authentication command. */
  auth?: ConnectionAuth;
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
