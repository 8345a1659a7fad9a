/**
 * Authentication and user management: saslStart / saslContinue (SCRAM-SHA-1, SCRAM-SHA-256),
 * logout, connectionStatus, createUser, updateUser, dropUser, dropAllUsersFromDatabase,
 * createRole, updateRole, dropRole, dropAllRolesFromDatabase, grantRolesToUser,
 * revokeRolesFromUser, grantRolesToRole, revokeRolesFromRole, grantPrivilegesToRole,
 * revokePrivilegesFromRole, usersInfo, rolesInfo, with mongod's checks and error codes.
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
import {
  builtinRole,
  builtinRoleNames,
  isBuiltinRole,
  mergePrivileges,
  type Privilege,
  resourceKey,
  type RoleRef,
} from "../auth/roles.ts";
import {
  isScramMechanism,
  ScramConversation,
  scramCredential,
  ScramError,
  type ScramMechanism,
} from "../auth/scram.ts";
import {
  type AuthStore,
  newUserId,
  parseMechanisms,
  parsePrivileges,
  parseRoles,
  roleName,
  roleNotFound,
  type StoredRole,
  type StoredUser,
  uniqueRoles,
} from "../auth/users.ts";
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

// ---- users ---------------------------------------------------------------------------------

function _name(ctx: CommandContext, what: "user" | "role"): string {
  const name = ctx.body[ctx.name];
  if (typeof name !== "string" || name === "") {
    throw new CommandError(
      2,
      `${what === "user" ? "User" : "Role"} name must be a non-empty string`,
    );
  }
  if (name.includes("@") && what === "role") {
    throw new CommandError(2, `Role names cannot contain "@": ${name}`);
  }
  return name;
}

function _password(ctx: CommandContext): string {
  const pwd = ctx.body.pwd;
  if (typeof pwd !== "string" || pwd === "") {
    throw new CommandError(
      2,
      ctx.db === "$external"
        ? "Cannot set the password for users defined on the '$external' database"
        : "Must provide a 'pwd' field for all user documents, except those with '$external' as the user's source db",
    );
  }
  if (ctx.body.digestPassword === false) {
    throw new CommandError(2, "Use of SCRAM-SHA-256 requires undigested passwords");
  }
  return pwd;
}

function _credentials(
  user: string,
  password: string,
  mechanisms: readonly ScramMechanism[],
): StoredUser["credentials"] {
  const credentials: StoredUser["credentials"] = {};
  for (const mechanism of mechanisms) {
    credentials[mechanism] = scramCredential(mechanism, user, password);
  }
  return credentials;
}

function _checkRoles(store: AuthStore, roles: RoleRef[]): RoleRef[] {
  return store.requireRoles(uniqueRoles(roles));
}

/** mongod's IDL error for a required field left out (code 40414). */
function _required(ctx: CommandContext, field: string): unknown {
  const value = ctx.body[field];
  if (value === undefined) {
    throw new CommandError(
      40414,
      `BSON field '${ctx.name}.${field}' is missing but a required field`,
    );
  }
  return value;
}

function _createUser(ctx: CommandContext): Doc {
  const store = ctx.state.auth;
  const user = _name(ctx, "user");
  if (store.user(ctx.db, user)) {
    throw new CommandError(51003, `User "${user}@${ctx.db}" already exists`);
  }
  if (ctx.body.roles === undefined) {
    throw new CommandError(2, '"createUser" command requires a "roles" array');
  }
  const roles = _checkRoles(store, parseRoles(ctx.body.roles, ctx.db));
  const mechanisms = parseMechanisms(ctx.body.mechanisms);
  const stored: StoredUser = {
    _id: `${ctx.db}.${user}`,
    userId: newUserId(),
    user,
    db: ctx.db,
    credentials: _credentials(user, _password(ctx), mechanisms),
    roles,
    ...(isPlainDoc(ctx.body.customData) ? { customData: ctx.body.customData } : {}),
  };
  store.users.set(stored._id, stored);
  store.changed();
  return {};
}

/**
 * `updateUser`: what is given replaces the user's (`roles` the whole array, `pwd` the
 * credentials, for `mechanisms` or both); `mechanisms` alone keeps a subset of them.
 */
function _updateUser(ctx: CommandContext): Doc {
  const store = ctx.state.auth;
  const name = _name(ctx, "user");
  const { pwd, roles, mechanisms, customData, authenticationRestrictions } = ctx.body;
  if (mechanisms !== undefined) parseMechanisms(mechanisms);
  if (customData !== undefined && !isPlainDoc(customData)) {
    throw new CommandError(
      14,
      "BSON field 'updateUser.customData' is the wrong type, expected type 'object'",
    );
  }
  if (
    pwd === undefined && roles === undefined && mechanisms === undefined &&
    customData === undefined && authenticationRestrictions === undefined
  ) {
    throw new CommandError(2, "Must specify at least one field to update in updateUser");
  }
  const nextRoles = roles === undefined ? undefined : _checkRoles(store, parseRoles(roles, ctx.db));
  const user = store.user(ctx.db, name);
  if (!user) throw new CommandError(11, `User ${name}@${ctx.db} not found`);
  let credentials = user.credentials;
  if (pwd !== undefined) {
    credentials = _credentials(user.user, _password(ctx), parseMechanisms(mechanisms));
  } else if (mechanisms !== undefined) {
    const kept = parseMechanisms(mechanisms);
    for (const mechanism of kept) {
      if (!credentials[mechanism]) {
        throw new CommandError(
          2,
          "mechanisms field must be a subset of previously set mechanisms",
        );
      }
    }
    credentials = Object.fromEntries(kept.map((m) => [m, user.credentials[m]!]));
  }
  store.users.set(user._id, {
    ...user,
    credentials,
    roles: nextRoles ?? user.roles,
    ...(isPlainDoc(customData) ? { customData } : {}),
  });
  store.changed();
  return {};
}

function _dropUser(ctx: CommandContext): Doc {
  const store = ctx.state.auth;
  const name = _name(ctx, "user");
  if (!store.users.delete(`${ctx.db}.${name}`)) {
    throw new CommandError(11, `User '${name}@${ctx.db}' not found`);
  }
  store.changed();
  return {};
}

function _dropAllUsersFromDatabase(ctx: CommandContext): Doc {
  const store = ctx.state.auth;
  let n = 0;
  for (const [id, user] of store.users) {
    if (user.db === ctx.db) {
      store.users.delete(id);
      n++;
    }
  }
  store.changed();
  return { n };
}

function _grantRolesToUser(ctx: CommandContext): Doc {
  const store = ctx.state.auth;
  const user = store.requireUser(ctx.db, _name(ctx, "user"));
  const added = _checkRoles(store, parseRoles(ctx.body.roles, ctx.db));
  const roles = [...user.roles];
  for (const role of added) {
    if (!roles.some((r) => r.role === role.role && r.db === role.db)) roles.push(role);
  }
  store.users.set(user._id, { ...user, roles });
  store.changed();
  return {};
}

function _revokeRolesFromUser(ctx: CommandContext): Doc {
  const store = ctx.state.auth;
  const user = store.requireUser(ctx.db, _name(ctx, "user"));
  const removed = _checkRoles(store, parseRoles(ctx.body.roles, ctx.db));
  const roles = user.roles.filter((r) => !removed.some((x) => x.role === r.role && x.db === r.db));
  store.users.set(user._id, { ...user, roles });
  store.changed();
  return {};
}

function _userDoc(store: AuthStore, user: StoredUser, body: Doc): Doc {
  const doc: Doc = {
    _id: user._id,
    userId: user.userId,
    user: user.user,
    db: user.db,
    roles: user.roles.map((r) => ({ role: r.role, db: r.db })),
    mechanisms: Object.keys(user.credentials).sort(),
  };
  if (user.customData) doc.customData = user.customData;
  if (body.showCredentials === true) {
    doc.credentials = Object.fromEntries(
      Object.entries(user.credentials).map(([m, c]) => [m, { ...c }]),
    );
  }
  if (body.showPrivileges === true) {
    const resolved = store.resolve(user.roles);
    doc.inheritedRoles = resolved.roles;
    doc.inheritedPrivileges = resolved.privileges;
    doc.inheritedAuthenticationRestrictions = [];
    doc.authenticationRestrictions = [];
  }
  return doc;
}

function _usersInfo(ctx: CommandContext): Doc {
  const store = ctx.state.auth;
  const spec = ctx.body.usersInfo;
  let found: StoredUser[];
  if (spec === 1 || spec === true || (typeof spec === "number" && spec !== 0)) {
    found = [...store.users.values()].filter((u) => u.db === ctx.db);
  } else if (isPlainDoc(spec) && spec.forAllDBs === true) {
    found = [...store.users.values()];
  } else {
    const entries = Array.isArray(spec) ? spec : [spec];
    found = [];
    for (const entry of entries) {
      let db = ctx.db;
      let name: unknown = entry;
      if (isPlainDoc(entry)) {
        name = entry.user;
        if (typeof entry.db === "string") db = entry.db;
      }
      if (typeof name !== "string") {
        throw new CommandError(
          2,
          "User name must be either a string or an object of the form {user: <name>, db: <db>}",
        );
      }
      const user = store.user(db, name);
      if (user) found.push(user);
    }
  }
  found.sort((a, b) => a._id < b._id ? -1 : a._id > b._id ? 1 : 0);
  const filter = isPlainDoc(ctx.body.filter) ? ctx.body.filter : undefined;
  let users = found.map((u) => _userDoc(store, u, ctx.body));
  if (filter) {
    users = users.filter((u) =>
      Object.entries(filter).every(([k, v]) => JSON.stringify(u[k]) === JSON.stringify(v))
    );
  }
  return { users };
}

// ---- roles ---------------------------------------------------------------------------------

function _sameRole(a: RoleRef, b: RoleRef): boolean {
  return a.role === b.role && a.db === b.db;
}

/**
 * mongod's checkOkayToGrantRolesToRole: not itself, only its own database's roles unless it is
 * on `admin`, roles that exist, and no cycle.
 */
function _checkGrantRoles(store: AuthStore, role: RoleRef, adding: readonly RoleRef[]): void {
  for (const add of adding) {
    if (_sameRole(add, role)) {
      throw new CommandError(49, `Cannot grant role ${roleName(role)} to itself.`);
    }
    if (role.db !== "admin" && add.db !== role.db) {
      throw new CommandError(
        49,
        `Roles on the '${role.db}' database cannot be granted roles from other databases`,
      );
    }
  }
  const unknown = adding.filter((r) => !store.hasRole(r));
  if (unknown.length > 0) {
    throw new CommandError(
      31,
      `Cannot grant roles to '${roleName(role)}': ${roleNotFound(...unknown).message}`,
    );
  }
  if (store.resolve(adding).roles.some((r) => _sameRole(r, role))) {
    throw new CommandError(
      49,
      `Granting roles to ${roleName(role)} would introduce a cycle in the role graph`,
    );
  }
}

/**
 * mongod's checkOkayToGrantPrivilegesToRole: a role not on `admin` may hold privileges only on
 * its own database or its collections.
 */
function _checkGrantPrivileges(role: RoleRef, privileges: readonly Privilege[]): void {
  if (role.db === "admin") return;
  for (const { resource } of privileges) {
    if ("db" in resource && resource.db !== "" && resource.db === role.db) continue;
    throw new CommandError(
      49,
      `Roles on the '${role.db}' database cannot be granted privileges that target other databases or the cluster`,
    );
  }
}

function _roleRef(ctx: CommandContext): RoleRef {
  return { role: _name(ctx, "role"), db: ctx.db };
}

function _notBuiltin(ref: RoleRef): void {
  if (isBuiltinRole(ref)) {
    throw new CommandError(2, `${roleName(ref)} is a built-in role and cannot be modified`);
  }
}

/** A user-defined role the command modifies (mongod refuses built-in ones with BadValue). */
function _customRole(ctx: CommandContext, ref: RoleRef = _roleRef(ctx)): StoredRole {
  _notBuiltin(ref);
  const stored = ctx.state.auth.roles.get(`${ref.db}.${ref.role}`);
  if (!stored) throw roleNotFound(ref);
  return stored;
}

function _nonEmpty(ctx: CommandContext, field: "roles" | "privileges"): unknown[] {
  const value = _required(ctx, field);
  if (!Array.isArray(value)) {
    throw new CommandError(
      14,
      `BSON field '${ctx.name}.${field}' is the wrong type, expected type 'array'`,
    );
  }
  if (value.length === 0) {
    throw new CommandError(2, `${ctx.name} command requires a non-empty "${field}" array`);
  }
  return value;
}

function _createRole(ctx: CommandContext): Doc {
  const store = ctx.state.auth;
  const ref = _roleRef(ctx);
  if (isBuiltinRole(ref)) {
    throw new CommandError(2, `Cannot create roles with the same name as a built-in role`);
  }
  if (ctx.body.privileges === undefined) {
    throw new CommandError(2, '"createRole" command requires a "privileges" array');
  }
  if (ctx.body.roles === undefined) {
    throw new CommandError(2, '"createRole" command requires a "roles" array');
  }
  const privileges = mergePrivileges(parsePrivileges(ctx.body.privileges));
  const roles = uniqueRoles(parseRoles(ctx.body.roles, ctx.db));
  _checkGrantRoles(store, ref, roles);
  _checkGrantPrivileges(ref, privileges);
  const id = `${ref.db}.${ref.role}`;
  if (store.roles.has(id)) {
    throw new CommandError(51002, `Role "${roleName(ref)}" already exists`);
  }
  store.roles.set(id, { _id: id, role: ref.role, db: ref.db, privileges, roles });
  store.changed();
  return {};
}

/**
 * `updateRole`: the given `privileges` and `roles` replace the role's (MongoDB's manual: "an
 * update to the privileges or roles array completely replaces the previous array's values").
 * A built-in role passes mongod's existence check but has no document to update: RoleNotFound.
 */
function _updateRole(ctx: CommandContext): Doc {
  const store = ctx.state.auth;
  const ref = _roleRef(ctx);
  const { privileges, roles, authenticationRestrictions } = ctx.body;
  if (privileges === undefined && roles === undefined && authenticationRestrictions === undefined) {
    throw new CommandError(2, "Must specify at least one field to update in updateRole");
  }
  const nextPrivileges = privileges === undefined
    ? undefined
    : mergePrivileges(parsePrivileges(privileges));
  const nextRoles = roles === undefined ? undefined : uniqueRoles(parseRoles(roles, ctx.db));
  if (!store.hasRole(ref)) throw roleNotFound(ref);
  if (nextRoles) _checkGrantRoles(store, ref, nextRoles);
  if (nextPrivileges) _checkGrantPrivileges(ref, nextPrivileges);
  const stored = store.roles.get(`${ref.db}.${ref.role}`);
  if (!stored) throw new CommandError(31, `Role ${roleName(ref)} not found`);
  store.roles.set(stored._id, {
    ...stored,
    privileges: nextPrivileges ?? stored.privileges,
    roles: nextRoles ?? stored.roles,
  });
  store.changed();
  return {};
}

function _dropRole(ctx: CommandContext): Doc {
  const store = ctx.state.auth;
  const role = _customRole(ctx);
  store.roles.delete(role._id);
  const other = (r: RoleRef) => !_sameRole(r, role);
  for (const user of store.users.values()) user.roles = user.roles.filter(other);
  for (const each of store.roles.values()) each.roles = each.roles.filter(other);
  store.changed();
  return {};
}

function _dropAllRolesFromDatabase(ctx: CommandContext): Doc {
  const store = ctx.state.auth;
  const dropped = [...store.roles.values()].filter((r) => r.db === ctx.db);
  for (const role of dropped) store.roles.delete(role._id);
  const kept = (r: RoleRef) => r.db !== ctx.db || store.roles.has(`${r.db}.${r.role}`);
  for (const user of store.users.values()) user.roles = user.roles.filter(kept);
  for (const each of store.roles.values()) each.roles = each.roles.filter(kept);
  store.changed();
  return { n: dropped.length };
}

function _grantPrivilegesToRole(ctx: CommandContext): Doc {
  const store = ctx.state.auth;
  const ref = _roleRef(ctx);
  const given = _nonEmpty(ctx, "privileges");
  _notBuiltin(ref);
  const added = parsePrivileges(given);
  _checkGrantPrivileges(ref, added);
  const role = _customRole(ctx, ref);
  store.roles.set(role._id, {
    ...role,
    privileges: mergePrivileges([...role.privileges, ...added]),
  });
  store.changed();
  return {};
}

/**
 * `revokePrivilegesFromRole`: removes the given actions from the privilege on exactly the same
 * resource (a privilege on a database is not narrowed by revoking on one of its collections),
 * dropping privileges left with no action.
 */
function _revokePrivilegesFromRole(ctx: CommandContext): Doc {
  const store = ctx.state.auth;
  const ref = _roleRef(ctx);
  const given = _nonEmpty(ctx, "privileges");
  _notBuiltin(ref);
  const removed = parsePrivileges(given);
  const role = _customRole(ctx, ref);
  let privileges = role.privileges.map((p) => ({ resource: p.resource, actions: [...p.actions] }));
  for (const revoke of removed) {
    const key = resourceKey(revoke.resource);
    privileges = privileges
      .map((p) =>
        resourceKey(p.resource) === key
          ? { ...p, actions: p.actions.filter((a) => !revoke.actions.includes(a)) }
          : p
      )
      .filter((p) => p.actions.length > 0);
  }
  store.roles.set(role._id, { ...role, privileges });
  store.changed();
  return {};
}

function _grantRolesToRole(ctx: CommandContext): Doc {
  const store = ctx.state.auth;
  const ref = _roleRef(ctx);
  const given = _nonEmpty(ctx, "roles");
  _notBuiltin(ref);
  const adding = uniqueRoles(parseRoles(given, ctx.db));
  _checkGrantRoles(store, ref, adding);
  const role = _customRole(ctx, ref);
  store.roles.set(role._id, { ...role, roles: uniqueRoles([...role.roles, ...adding]) });
  store.changed();
  return {};
}

function _revokeRolesFromRole(ctx: CommandContext): Doc {
  const store = ctx.state.auth;
  const ref = _roleRef(ctx);
  const given = _nonEmpty(ctx, "roles");
  _notBuiltin(ref);
  const removing = parseRoles(given, ctx.db);
  const role = _customRole(ctx, ref);
  const roles = role.roles.filter((r) => !removing.some((x) => _sameRole(x, r)));
  store.roles.set(role._id, { ...role, roles });
  store.changed();
  return {};
}

function _roleDoc(store: AuthStore, ref: RoleRef, body: Doc): Doc {
  const builtin = isBuiltinRole(ref);
  const definition = builtin ? builtinRole(ref) : store.roles.get(`${ref.db}.${ref.role}`)!;
  const resolved = store.resolve([ref]);
  const doc: Doc = {
    _id: `${ref.db}.${ref.role}`,
    role: ref.role,
    db: ref.db,
    isBuiltin: builtin,
    roles: definition.roles.map((r) => ({ role: r.role, db: r.db })),
    inheritedRoles: resolved.roles.filter((r) => !(r.role === ref.role && r.db === ref.db)),
  };
  if (body.showPrivileges === true) {
    doc.privileges = mergePrivileges(definition.privileges) satisfies Privilege[];
    doc.inheritedPrivileges = resolved.privileges;
  }
  return doc;
}

function _rolesInfo(ctx: CommandContext): Doc {
  const store = ctx.state.auth;
  const spec = ctx.body.rolesInfo;
  const refs: RoleRef[] = [];
  if (spec === 1 || spec === true || (typeof spec === "number" && spec !== 0)) {
    refs.push(...[...store.roles.values()].filter((r) => r.db === ctx.db));
    if (ctx.body.showBuiltinRoles === true) {
      refs.push(...builtinRoleNames(ctx.db).map((role) => ({ role, db: ctx.db })));
    }
  } else {
    for (const ref of parseRoles(Array.isArray(spec) ? spec : [spec], ctx.db, "rolesInfo")) {
      if (isBuiltinRole(ref) || store.roles.has(`${ref.db}.${ref.role}`)) refs.push(ref);
    }
  }
  return { roles: refs.map((ref) => _roleDoc(store, { role: ref.role, db: ref.db }, ctx.body)) };
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

/** Authentication and user management commands. */
export const AUTH_COMMANDS: Record<string, CommandHandler> = {
  saslStart: _saslStart,
  saslContinue: _saslContinue,
  logout: _logout,
  connectionStatus: _connectionStatus,
  createUser: _createUser,
  updateUser: _updateUser,
  dropUser: _dropUser,
  dropAllUsersFromDatabase: _dropAllUsersFromDatabase,
  createRole: _createRole,
  dropRole: _dropRole,
  grantRolesToUser: _grantRolesToUser,
  revokeRolesFromUser: _revokeRolesFromUser,
  grantPrivilegesToRole: _grantPrivilegesToRole,
  revokePrivilegesFromRole: _revokePrivilegesFromRole,
  grantRolesToRole: _grantRolesToRole,
  revokeRolesFromRole: _revokeRolesFromRole,
  updateRole: _updateRole,
  dropAllRolesFromDatabase: _dropAllRolesFromDatabase,
  usersInfo: _usersInfo,
  rolesInfo: _rolesInfo,
};
