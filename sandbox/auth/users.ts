/**
 * The sandbox's users and user-defined roles, kept as mongod keeps them in
 * `admin.system.users` and `admin.system.roles` (credentials per mechanism, never a password),
 * and the resolution of a user's roles into privileges.
 *
 * @module
 */

import { type Binary, UUID } from "bson";
import type { Doc } from "../bson_values.ts";
import { CommandError } from "../errors.ts";
import {
  builtinRole,
  isBuiltinRole,
  KNOWN_ACTIONS,
  mergePrivileges,
  type Privilege,
  type Resource,
  type RoleRef,
} from "./roles.ts";
import { SCRAM_MECHANISMS, type ScramCredential, type ScramMechanism } from "./scram.ts";

/** A user, as stored. */
export interface StoredUser {
  /** `<db>.<user>`. */
  _id: string;
  /** A UUID, as mongod gives each user. */
  userId: Binary;
  /** Name. */
  user: string;
  /** Authentication database. */
  db: string;
  /** One credential per mechanism. */
  credentials: Partial<Record<ScramMechanism, ScramCredential>>;
  /** Granted roles. */
  roles: RoleRef[];
  /** Free data given at creation. */
  customData?: Doc;
}

/** A user-defined role, as stored. */
export interface StoredRole {
  /** `<db>.<role>`. */
  _id: string;
  /** Name. */
  role: string;
  /** Database. */
  db: string;
  /** Its own privileges. */
  privileges: Privilege[];
  /** Roles it inherits. */
  roles: RoleRef[];
}

/** A role with everything it inherits. */
export interface ResolvedRoles {
  /** Every role reached, the given ones included. */
  roles: RoleRef[];
  /** Every privilege of those roles, merged by resource. */
  privileges: Privilege[];
}

/**
 * A role as mongod names it in messages.
 *
 * @param ref The role.
 * @returns `<role>@<db>`.
 */
export function roleName(ref: RoleRef): string {
  return `${ref.role}@${ref.db}`;
}

/**
 * mongod's `RoleNotFound` (31) for roles that do not exist, all named in one message.
 *
 * @param refs The unknown roles (at least one).
 * @returns `Could not find role: a@db` (`roles: a@db, b@db` for several).
 */
export function roleNotFound(...refs: RoleRef[]): CommandError {
  const names = refs.map(roleName).join(", ");
  return new CommandError(31, `Could not find role${refs.length > 1 ? "s" : ""}: ${names}`);
}

/**
 * Removes repeated roles, as mongod resolves a `roles` array.
 *
 * @param refs Roles, possibly repeated.
 * @returns Each role once, in first-seen order.
 */
export function uniqueRoles(refs: readonly RoleRef[]): RoleRef[] {
  const seen = new Set<string>();
  return refs.filter((r) => {
    const key = `${r.db}.${r.role}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

/** Users, roles and whether authorization is enforced. */
export class AuthStore {
  /** Whether commands are authorized (`--auth`). */
  readonly enabled: boolean;
  /** Users by `<db>.<user>`. */
  readonly users = new Map<string, StoredUser>();
  /** User-defined roles by `<db>.<role>`. */
  readonly roles = new Map<string, StoredRole>();
  /** Which users opened each cursor (by id), so only they may continue or kill it. */
  readonly cursorOwners = new Map<string, string>();
  /** Bumped by every change to users or roles, so cached privileges are recomputed. */
  generation = 0;

  /**
   * @param enabled Whether to enforce authorization.
   */
  constructor(enabled: boolean) {
    this.enabled = enabled;
  }

  /** Whether no user and no role exists yet: the localhost exception is open. */
  get empty(): boolean {
    return this.users.size === 0 && this.roles.size === 0;
  }

  /**
   * Finds a user.
   *
   * @param db Authentication database.
   * @param user Name.
   * @returns The user, or `undefined`.
   */
  user(db: string, user: string): StoredUser | undefined {
    return this.users.get(`${db}.${user}`);
  }

  /**
   * Finds a user or throws mongod's UserNotFound.
   *
   * @param db Authentication database.
   * @param user Name.
   * @returns The user.
   */
  requireUser(db: string, user: string): StoredUser {
    const found = this.user(db, user);
    if (!found) throw new CommandError(11, `Could not find user "${user}" for db "${db}"`);
    return found;
  }

  /**
   * Checks that a role exists (built in or user-defined).
   *
   * @param ref The role.
   * @returns The same role.
   */
  requireRole(ref: RoleRef): RoleRef {
    if (!this.hasRole(ref)) throw roleNotFound(ref);
    return ref;
  }

  /**
   * Whether a role exists (built in or user-defined).
   *
   * @param ref The role.
   * @returns Whether it exists.
   */
  hasRole(ref: RoleRef): boolean {
    return isBuiltinRole(ref) || this.roles.has(`${ref.db}.${ref.role}`);
  }

  /**
   * Checks that roles exist, as mongod's `rolesExist`: one RoleNotFound naming every unknown one.
   *
   * @param refs The roles.
   * @returns The same roles.
   */
  requireRoles(refs: RoleRef[]): RoleRef[] {
    const unknown = refs.filter((ref) => !this.hasRole(ref));
    if (unknown.length > 0) throw roleNotFound(...unknown);
    return refs;
  }

  /**
   * Records a change, so that privileges cached by connections are recomputed.
   */
  changed(): void {
    this.generation++;
  }

  /**
   * A role's own privileges and the roles it includes.
   *
   * @param ref The role.
   * @returns Its definition, or `undefined` if it does not exist.
   */
  definition(ref: RoleRef): { privileges: Privilege[]; roles: RoleRef[] } | undefined {
    if (isBuiltinRole(ref)) return builtinRole(ref);
    return this.roles.get(`${ref.db}.${ref.role}`);
  }

  /**
   * Resolves roles into every role they reach and every privilege they grant (a role that was
   * dropped meanwhile grants nothing).
   *
   * @param start The roles granted directly.
   * @returns The roles reached and the merged privileges.
   */
  resolve(start: readonly RoleRef[]): ResolvedRoles {
    const seen = new Map<string, RoleRef>();
    const privileges: Privilege[] = [];
    const queue = [...start];
    while (queue.length > 0) {
      const ref = queue.shift()!;
      const key = `${ref.db}.${ref.role}`;
      if (seen.has(key)) continue;
      const definition = this.definition(ref);
      if (!definition) continue;
      seen.set(key, { role: ref.role, db: ref.db });
      privileges.push(...definition.privileges);
      queue.push(...definition.roles);
    }
    return { roles: [...seen.values()], privileges: mergePrivileges(privileges) };
  }
}

/**
 * Reads a list of roles as commands give them: names (on the command's database) or
 * `{ role, db }`.
 *
 * @param value The `roles` field.
 * @param db The command's database.
 * @param field The field name, for errors.
 * @returns The roles.
 */
export function parseRoles(value: unknown, db: string, field = "roles"): RoleRef[] {
  if (!Array.isArray(value)) {
    throw new CommandError(14, `BSON field '${field}' is the wrong type, expected type 'array'`);
  }
  return value.map((entry) => {
    if (typeof entry === "string") return { role: entry, db };
    if (
      entry && typeof entry === "object" && typeof entry.role === "string" &&
      typeof entry.db === "string"
    ) {
      return { role: entry.role, db: entry.db };
    }
    throw new CommandError(2, `Role names must be either strings or objects with "role" and "db"`);
  });
}

/**
 * Reads and checks the privileges of `createRole` / `grantPrivilegesToRole`.
 *
 * @param value The `privileges` field.
 * @returns The privileges.
 */
export function parsePrivileges(value: unknown): Privilege[] {
  if (!Array.isArray(value)) {
    throw new CommandError(14, "BSON field 'privileges' is the wrong type, expected type 'array'");
  }
  return value.map((entry) => {
    const resource = entry?.resource;
    let parsed: Resource;
    if (resource?.cluster === true) parsed = { cluster: true };
    else if (resource?.anyResource === true) parsed = { anyResource: true };
    else if (typeof resource?.db === "string" && typeof resource?.collection === "string") {
      parsed = { db: resource.db, collection: resource.collection };
    } else {
      throw new CommandError(
        2,
        "resource must have either 'db' and 'collection' fields, or 'cluster' or 'anyResource'",
      );
    }
    if (!Array.isArray(entry.actions)) {
      throw new CommandError(2, "privilege actions must be an array of strings");
    }
    for (const action of entry.actions) {
      if (typeof action !== "string" || !KNOWN_ACTIONS.has(action)) {
        throw new CommandError(2, `Unrecognized action privilege string: ${String(action)}`);
      }
    }
    return { resource: parsed, actions: [...entry.actions] as string[] };
  });
}

/**
 * Reads the `mechanisms` option of `createUser` / `updateUser`.
 *
 * @param value The field, or `undefined` for both SCRAM mechanisms.
 * @returns The mechanisms.
 */
export function parseMechanisms(value: unknown): ScramMechanism[] {
  if (value === undefined) return [...SCRAM_MECHANISMS];
  if (!Array.isArray(value) || value.length === 0) {
    throw new CommandError(2, "mechanisms field must not be empty");
  }
  for (const mechanism of value) {
    if (!(SCRAM_MECHANISMS as readonly unknown[]).includes(mechanism)) {
      throw new CommandError(2, `Unknown auth mechanism '${String(mechanism)}'`);
    }
  }
  return [...new Set(value as ScramMechanism[])];
}

/**
 * A new user id.
 *
 * @returns A UUID as BSON binary subtype 4.
 */
export function newUserId(): Binary {
  return new UUID().toBinary();
}
