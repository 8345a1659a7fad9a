/**
 * User management: createUser, updateUser, dropUser, dropAllUsersFromDatabase,
 * grantRolesToUser, revokeRolesFromUser, usersInfo, with mongod's checks and error codes.
 *
 * @module
 */

import { type Doc, isPlainDoc } from "../bson_values.ts";
import { CommandError } from "../errors.ts";
import type { RoleRef } from "../auth/roles.ts";
import { scramCredential, type ScramMechanism } from "../auth/scram.ts";
import {
  type AuthStore,
  newUserId,
  parseMechanisms,
  parseRoles,
  type StoredUser,
  uniqueRoles,
} from "../auth/users.ts";
import type { CommandContext, CommandHandler } from "../engine/state.ts";
import { principalName } from "./_auth_names.ts";

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

function _createUser(ctx: CommandContext): Doc {
  const store = ctx.state.auth;
  const user = principalName(ctx, "user");
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
  const name = principalName(ctx, "user");
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
  const name = principalName(ctx, "user");
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
  const user = store.requireUser(ctx.db, principalName(ctx, "user"));
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
  const user = store.requireUser(ctx.db, principalName(ctx, "user"));
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

/** User management commands. */
export const USER_COMMANDS: Record<string, CommandHandler> = {
  createUser: _createUser,
  updateUser: _updateUser,
  dropUser: _dropUser,
  dropAllUsersFromDatabase: _dropAllUsersFromDatabase,
  grantRolesToUser: _grantRolesToUser,
  revokeRolesFromUser: _revokeRolesFromUser,
  usersInfo: _usersInfo,
};
