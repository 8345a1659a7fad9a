/**
 * Authentication: saslStart / saslContinue (SCRAM-SHA-1, SCRAM-SHA-256), logout,
 * connectionStatus, and what a handshake's `hello` answers of them (`saslSupportedMechs`,
 * `speculativeAuthenticate`), with mongod's checks and error codes.
 *
 * Without `auth`, users and roles can still be managed but nobody authenticates: saslStart
 * answers CommandNotFound, as the sandbox always did, so a client given credentials fails to
 * connect rather than appearing to be checked.
 *
 * @module
 */

import { Binary } from "bson";
import { type Doc, isPlainDoc } from "../bson_values.ts";
import { CommandError } from "../errors.ts";
import { connectionPrivileges } from "../auth/privileges.ts";
import { isScramMechanism, ScramConversation, ScramError } from "../auth/scram.ts";
import type {
  CommandContext,
  CommandHandler,
  ConnectionAuth,
  ConnectionInfo,
} from "../engine/state.ts";

/** mongod's answer to any failed authentication, whatever the reason (it tells the log, not the client). */
function _authenticationFailed(cause?: unknown): CommandError {
  return new CommandError(18, "Authentication failed.", { cause });
}

function _connectionAuth(connection: ConnectionInfo): ConnectionAuth {
  return connection.auth ??= { users: [] };
}

function _payload(value: unknown): Uint8Array {
  if (value instanceof Binary) return value.buffer.subarray(0, value.position);
  if (value instanceof Uint8Array) return value;
  if (typeof value === "string") return new TextEncoder().encode(value);
  throw new CommandError(14, "BSON field 'payload' is the wrong type, expected type 'binData'");
}

function _requireAuthEnabled(ctx: CommandContext): void {
  if (!ctx.state.auth.enabled) throw new CommandError(59, `no such command: '${ctx.name}'`);
}

/**
 * Runs a `saslStart` (also the `speculativeAuthenticate` of a handshake).
 *
 * @param ctx The command context.
 * @param body The saslStart document.
 * @param db The authentication database.
 * @returns The reply: conversation id, `done: false` and the server-first payload.
 */
export function saslStart(ctx: CommandContext, body: Doc, db: string): Doc {
  const mechanism = body.mechanism;
  if (!isScramMechanism(mechanism)) {
    throw new CommandError(
      334,
      `Received authentication for mechanism ${String(mechanism)} which is not enabled`,
    );
  }
  const auth = _connectionAuth(ctx.connection);
  const scram = new ScramConversation(mechanism);
  let serverFirst: Uint8Array;
  try {
    serverFirst = scram.start(_payload(body.payload), (name) => {
      const user = ctx.state.auth.user(db, name);
      const credential = user?.credentials[mechanism];
      return user && credential ? { user: user.user, credential } : undefined;
    });
  } catch (error) {
    auth.conversation = undefined;
    if (error instanceof ScramError || error instanceof TypeError) {
      ctx.state.log.debug("Authentication failed on connection {id} for {db}: {reason}", {
        id: ctx.connection.id,
        db,
        reason: (error as Error).message,
      });
      throw _authenticationFailed(error);
    }
    throw error;
  }
  const options = isPlainDoc(body.options) ? body.options : {};
  auth.conversation = {
    id: 1,
    db,
    scram,
    done: false,
    skipEmptyExchange: options.skipEmptyExchange === true,
  };
  return { conversationId: 1, done: false, payload: new Binary(serverFirst) };
}

function _saslStart(ctx: CommandContext): Doc {
  _requireAuthEnabled(ctx);
  return saslStart(ctx, ctx.body, ctx.db);
}

function _saslContinue(ctx: CommandContext): Doc {
  _requireAuthEnabled(ctx);
  const auth = _connectionAuth(ctx.connection);
  const conversation = auth.conversation;
  if (!conversation || conversation.db !== ctx.db) {
    throw new CommandError(17, "No SASL session state found");
  }
  const { scram } = conversation;
  if (conversation.done) {
    // The client's empty last step, when it did not ask to skip it.
    auth.conversation = undefined;
    return { conversationId: conversation.id, done: true, payload: new Binary(new Uint8Array()) };
  }
  let serverFinal: Uint8Array;
  try {
    serverFinal = scram.finish(_payload(ctx.body.payload));
  } catch (error) {
    auth.conversation = undefined;
    if (error instanceof ScramError || error instanceof TypeError) {
      ctx.state.log.debug("Authentication failed on connection {id} for {user}@{db}: {reason}", {
        id: ctx.connection.id,
        user: scram.user,
        db: ctx.db,
        reason: (error as Error).message,
      });
      throw _authenticationFailed(error);
    }
    throw error;
  }
  // One user per database: authenticating again replaces the previous one.
  auth.users = auth.users.filter((u) => u.db !== ctx.db);
  auth.users.push({ user: scram.user!, db: ctx.db });
  auth.cache = undefined;
  ctx.state.log.debug("Connection {id} authenticated as {user}@{db} ({mechanism})", {
    id: ctx.connection.id,
    user: scram.user,
    db: ctx.db,
    mechanism: scram.mechanism,
  });
  const skip = conversation.skipEmptyExchange;
  conversation.done = true;
  if (skip) auth.conversation = undefined;
  return { conversationId: conversation.id, done: skip, payload: new Binary(serverFinal) };
}

function _logout(ctx: CommandContext): Doc {
  const auth = ctx.connection.auth;
  if (auth) {
    auth.users = auth.users.filter((u) => u.db !== ctx.db);
    auth.cache = undefined;
  }
  return {};
}

function _connectionStatus(ctx: CommandContext): Doc {
  const users = ctx.connection.auth?.users ?? [];
  const { roles, privileges } = connectionPrivileges(ctx.state, ctx.connection);
  const authInfo: Doc = {
    authenticatedUsers: users.map((u) => ({ user: u.user, db: u.db })),
    authenticatedUserRoles: roles.map((r) => ({ role: r.role, db: r.db })),
  };
  if (ctx.body.showPrivileges === true) authInfo.authenticatedUserPrivileges = privileges;
  return { authInfo };
}

/**
 * The mechanisms a user has credentials for, as `hello` answers `saslSupportedMechs`.
 *
 * @param ctx The command context.
 * @param spec `"<db>.<user>"`.
 * @returns The mechanism names, or `undefined` when there is no such user.
 */
export function supportedMechanisms(ctx: CommandContext, spec: unknown): string[] | undefined {
  if (typeof spec !== "string" || !ctx.state.auth.enabled) return undefined;
  const dot = spec.indexOf(".");
  if (dot < 0) return undefined;
  const user = ctx.state.auth.user(spec.slice(0, dot), spec.slice(dot + 1));
  return user ? Object.keys(user.credentials).sort() : undefined;
}

/**
 * Runs the `speculativeAuthenticate` of a handshake: its saslStart, answered in `hello`. A
 * failure is left out of the reply, and the driver then runs saslStart itself and gets the
 * error.
 *
 * @param ctx The command context.
 * @param spec The `speculativeAuthenticate` document.
 * @returns The saslStart reply, or `undefined`.
 */
export function speculativeAuthenticate(ctx: CommandContext, spec: unknown): Doc | undefined {
  if (!ctx.state.auth.enabled || !isPlainDoc(spec) || spec.saslStart === undefined) {
    return undefined;
  }
  try {
    const db = typeof spec.db === "string" ? spec.db : ctx.db;
    return saslStart(ctx, spec, db);
  } catch {
    return undefined;
  }
}

/** Authentication commands. */
export const AUTHENTICATION_COMMANDS: Record<string, CommandHandler> = {
  saslStart: _saslStart,
  saslContinue: _saslContinue,
  logout: _logout,
  connectionStatus: _connectionStatus,
};
