/**
 * `archiver setup role --apply`: creates or updates the role and the user with an
 * administrator's connection, so running it again (after a collection setting changed) brings
 * the role back to the table. The administrator's secret and the new password are never printed.
 *
 * @module
 */

import type { Db } from "mongodb";
import { ConfigError } from "../../core/runtime/errors.ts";
import { describeError } from "../../core/mongo/errors.ts";
import {
  formatResource,
  isUnauthorized,
  type RequiredPrivilege,
  rolePrivileges,
} from "../../core/mongo/privileges.ts";
import { createUserLine, ROLE_DATABASE } from "./script.ts";

/** What `--apply` creates. */
export interface ApplyOptions {
  /** The role's name. */
  role: string;
  /** The user's name. */
  user: string;
  /** The new user's password; empty: the user is not created, its mongosh line is returned. */
  password: string;
  /** The table. */
  privileges: readonly RequiredPrivilege[];
}

/** What `--apply` did, one line each, for the operator. */
export interface ApplyOutcome {
  /** Whether the role was created (else updated). */
  roleCreated: boolean;
  /** What happened to the user. */
  user: "created" | "updated" | "not-created";
  /** Lines to print. */
  lines: string[];
}

/**
 * Creates or updates the role, then creates the user with it or gives an existing user that role
 * alone (its password unchanged).
 *
 * @param admin The `admin` database of a client connected as an administrator.
 * @param options Role, user, password and table.
 * @returns What was done.
 * @throws {ConfigError} When the administrator may not manage roles or users (exit 2).
 */
export async function applyRole(admin: Db, options: ApplyOptions): Promise<ApplyOutcome> {
  const { role, user } = options;
  const privileges = rolePrivileges(options.privileges);
  const roleRef = { role, db: ROLE_DATABASE };
  const run = async (what: string, command: Record<string, unknown>) => {
    try {
      return await admin.command(command);
    } catch (error) {
      const hint = isUnauthorized(error)
        ? ": the --admin-uri user needs userAdminAnyDatabase or root"
        : "";
      throw new ConfigError(`Cannot ${what}: ${describeError(error)}${hint}`, { cause: error });
    }
  };
  const roles = await run(`read role "${role}"`, { rolesInfo: roleRef });
  const roleCreated = !(Array.isArray(roles.roles) && roles.roles.length > 0);
  if (roleCreated) {
    await run(`create role "${role}"`, { createRole: role, privileges, roles: [] });
  } else {
    await run(`update role "${role}"`, { updateRole: role, privileges, roles: [] });
  }
  const resources = options.privileges.map((row) => formatResource(row.resource));
  const lines = [
    `Role ${role}@${ROLE_DATABASE} ${roleCreated ? "created" : "updated"}: ${
      privileges.reduce((n, p) => n + p.actions.length, 0)
    } actions on ${resources.join(", ")}`,
  ];
  const users = await run(`read user "${user}"`, { usersInfo: { user, db: ROLE_DATABASE } });
  const exists = Array.isArray(users.users) && users.users.length > 0;
  if (exists) {
    await run(`update user "${user}"`, { updateUser: user, roles: [roleRef] });
    lines.push(`User ${user}@${ROLE_DATABASE} now holds ${role} only (password unchanged)`);
    return { roleCreated, user: "updated", lines };
  }
  if (!options.password) {
    lines.push(
      `User ${user}@${ROLE_DATABASE} not created: ARCHIVER_SETUP_PASSWORD is not set. Create it in mongosh on the admin database:`,
      `  ${createUserLine(role, user)}`,
    );
    return { roleCreated, user: "not-created", lines };
  }
  await run(`create user "${user}"`, {
    createUser: user,
    pwd: options.password,
    roles: [roleRef],
  });
  lines.push(
    `User ${user}@${ROLE_DATABASE} created with ${role}: connect with mongodb://${user}:<password>@<host>/?authSource=${ROLE_DATABASE}`,
  );
  return { roleCreated, user: "created", lines };
}
