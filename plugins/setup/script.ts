/**
 * The mongosh script of `archiver setup role --print`: the role granting exactly the table of
 * core/tool_privileges.ts, each privilege with what it is for, and the user holding only that
 * role. Idempotent, like `--apply`: the role is created or updated, the user created (its password
 * asked for by `passwordPrompt()`, never written in the file) or given that role alone. Pure.
 *
 * @module
 */

import { formatResource, type RequiredPrivilege } from "../../core/mongo/privileges.ts";
import type { PrivilegeTarget } from "../../core/tool_privileges.ts";

/** The database the role and user are created in: roles naming other databases must live there. */
export const ROLE_DATABASE = "admin";

/** What the script creates. */
export interface RoleScriptOptions {
  /** The role's name. */
  role: string;
  /** The user's name. */
  user: string;
  /** The database and collection names the privileges are on. */
  target: PrivilegeTarget;
  /** The table. */
  privileges: readonly RequiredPrivilege[];
  /** Whose needs the role grants, for the header. @default "batch, watch and health" */
  purpose?: string;
}

/**
 * The whole script.
 *
 * @param options Role, user, names and table.
 * @returns mongosh lines, ending with a line break.
 * @example
 * ```ts
 * // archiver setup role --print > archiver-role.js
 * // mongosh "mongodb://admin@db.example.net/?authSource=admin" --file archiver-role.js
 * ```
 */
export function roleScript(options: RoleScriptOptions): string {
  const { role, user } = options;
  const lines = [
    `// archiver setup role: the role "${role}" with the privileges ${
      options.purpose ?? "batch, watch and health"
    } need`,
    `// on the database ${options.target.db}${
      options.purpose ? "" : " and local.oplog.rs"
    }, no more, and the user "${user}"`,
    `// holding only that role. Run it as an administrator (userAdminAnyDatabase or root):`,
    `//   mongosh "mongodb://<admin>@<host>/?authSource=admin" --file archiver-role.js`,
    `// Run it again after changing a collection setting: the role is updated in place.`,
    `const admin = db.getSiblingDB(${_js(ROLE_DATABASE)});`,
    "const privileges = [",
    ...options.privileges.flatMap((row) => [
      `  // ${formatResource(row.resource)}: ${row.why}`,
      `  ${_privilege(row)},`,
    ]),
    "];",
    `if (admin.getRole(${_js(role)}) === null) {`,
    `  admin.createRole({ role: ${_js(role)}, privileges, roles: [] });`,
    "} else {",
    `  admin.updateRole(${_js(role)}, { privileges, roles: [] });`,
    "}",
    `if (admin.getUser(${_js(user)}) === null) {`,
    `  ${createUserLine(role, user)}`,
    "} else {",
    `  // The user keeps its password and holds this role only.`,
    `  admin.updateUser(${_js(user)}, { roles: [${_roleRef(role)}] });`,
    "}",
    `// The tool then connects with MONGODB_URI=mongodb://${user}:<password>@<host>/?authSource=${ROLE_DATABASE}`,
  ];
  return `${lines.join("\n")}\n`;
}

/**
 * The mongosh line creating the user, its password asked for at the prompt.
 *
 * @param role The role it holds.
 * @param user The user's name.
 * @returns One line, run on `admin`.
 */
export function createUserLine(role: string, user: string): string {
  return `admin.createUser({ user: ${_js(user)}, pwd: passwordPrompt(), roles: [${
    _roleRef(role)
  }] });`;
}

function _privilege(row: RequiredPrivilege): string {
  const resource = `{ db: ${_js(row.resource.db)}, collection: ${_js(row.resource.collection)} }`;
  return `{ resource: ${resource}, actions: [${row.actions.map(_js).join(", ")}] }`;
}

function _roleRef(role: string): string {
  return `{ role: ${_js(role)}, db: ${_js(ROLE_DATABASE)} }`;
}

function _js(value: string): string {
  return JSON.stringify(value);
}
