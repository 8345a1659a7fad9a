/**
 * Role management: createRole, updateRole, dropRole, dropAllRolesFromDatabase,
 * grantPrivilegesToRole, revokePrivilegesFromRole, grantRolesToRole, revokeRolesFromRole,
 * rolesInfo, with mongod's checks and error codes.
 *
 * @module
 */

import type { Doc } from "../bson_values.ts";
import { CommandError } from "../errors.ts";
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
  type AuthStore,
  parsePrivileges,
  parseRoles,
  roleName,
  roleNotFound,
  type StoredRole,
  uniqueRoles,
} from "../auth/users.ts";
import type { CommandContext, CommandHandler } from "../engine/state.ts";
import { principalName } from "./_auth_names.ts";

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
  return { role: principalName(ctx, "role"), db: ctx.db };
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

/** Role management commands. */
export const ROLE_COMMANDS: Record<string, CommandHandler> = {
  createRole: _createRole,
  updateRole: _updateRole,
  dropRole: _dropRole,
  dropAllRolesFromDatabase: _dropAllRolesFromDatabase,
  grantPrivilegesToRole: _grantPrivilegesToRole,
  revokePrivilegesFromRole: _revokePrivilegesFromRole,
  grantRolesToRole: _grantRolesToRole,
  revokeRolesFromRole: _revokeRolesFromRole,
  rolesInfo: _rolesInfo,
};
