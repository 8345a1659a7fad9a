/**
 * MongoDB's privileges as the tool reads them: the resource and privilege documents, which held
 * privilege covers which resource (manual, "Resource Document"), what a user lacks from a table of
 * needs or holds beyond it, what `connectionStatus` says of the connection, and the Unauthorized
 * code. Nothing here knows the tool's collections: the tool's own table — what its commands need
 * on them — is core/tool_privileges.ts, above core/archive and core/stream whose collections it
 * names.
 *
 * @module
 */

/** A privilege action a table of needs names (MongoDB's names, those the tool's table uses). */
export type RequiredAction =
  | "find"
  | "insert"
  | "update"
  | "remove"
  | "createIndex"
  | "listIndexes"
  | "changeStream"
  | "listCollections"
  | "collStats"
  | "collMod";

/** A database (`collection: ""`) or one collection of it, as MongoDB's resource documents. */
export interface NamespaceResource {
  /** The database; `""` in a held privilege means every database. */
  db: string;
  /** The collection; `""` means the database itself (its non-system collections). */
  collection: string;
}

/** A resource document as `connectionStatus` reports it. */
export type Resource = NamespaceResource | { cluster: true } | { anyResource: true };

/** A privilege: a resource and the actions allowed on it. */
export interface Privilege {
  /** Where. */
  resource: Resource;
  /** What. */
  actions: string[];
}

/** A role as `connectionStatus` names it. */
export interface RoleName {
  /** The role's name. */
  role: string;
  /** The database it is defined on. */
  db: string;
}

/**
 * One row of a table of needs: the actions wanted on a resource and what they are for.
 *
 * @typeParam U The words naming what a resource is used for (the tool's `ResourceUse`).
 */
export interface RequiredPrivilege<U extends string = string> {
  /** The database or collection. */
  resource: NamespaceResource;
  /** The actions, in the table's order. */
  actions: RequiredAction[];
  /** What the tool keeps there (several when two settings name the same collection). */
  uses: U[];
  /** Which commands need it, and why, in a few words. */
  why: string;
}

/** Write actions: more than needed on a collection the user should only read. */
export const WRITE_ACTIONS: readonly string[] = [
  "insert",
  "update",
  "remove",
  "createIndex",
  "dropIndex",
  "dropCollection",
  "dropDatabase",
  "renameCollectionSameDB",
  "renameCollection",
  "convertToCapped",
  "collMod",
  "compact",
  "bypassDocumentValidation",
];

/** Built-in roles no application user should hold. */
export const OVERPOWERED_ROLES: readonly string[] = ["root", "__system", "dbOwner"];

/**
 * Whether MongoDB refused a command for want of a privilege (code 13, Unauthorized), as opposed
 * to refusing the credentials.
 *
 * @param error What the driver threw.
 * @returns True for Unauthorized.
 */
export function isUnauthorized(error: unknown): boolean {
  return typeof error === "object" && error !== null && (error as { code?: unknown }).code === 13;
}

/**
 * The privileges of the table as `createRole` and `updateRole` take them.
 *
 * @param required The table.
 * @returns `{ resource, actions }` documents.
 */
export function rolePrivileges(required: readonly RequiredPrivilege[]): Privilege[] {
  return required.map((row) => ({ resource: { ...row.resource }, actions: [...row.actions] }));
}

/**
 * Whether a privilege's resource covers a database or collection, as MongoDB matches them
 * (manual, "Resource Document"): an exact collection; `{ db, collection: "" }` for the database
 * and its non-system collections; `{ db: "", collection }` for that name in every database;
 * `{ db: "", collection: "" }` for every database and non-system collection except those of
 * `local` and `config` (MongoDB keeps those databases out of the "any normal resource" pattern,
 * which is why `readAnyDatabase` cannot read the oplog); `anyResource` for everything.
 *
 * @param held The resource of a held privilege.
 * @param wanted The database or collection.
 * @returns True when the privilege applies to it.
 */
export function coversResource(held: Resource, wanted: NamespaceResource): boolean {
  if ("anyResource" in held) return held.anyResource === true;
  if ("cluster" in held) return false;
  const system = wanted.collection.startsWith("system.");
  const special = wanted.db === "local" || wanted.db === "config";
  if (held.db === "" && held.collection === "") return !system && !special;
  if (held.collection === "") return held.db === wanted.db && !system;
  if (held.db === "") return held.collection === wanted.collection;
  return held.db === wanted.db && held.collection === wanted.collection;
}

/**
 * Whether held privileges allow an action on a resource (`anyAction` allows every action).
 *
 * @param held The privileges held.
 * @param resource The database or collection.
 * @param action The action.
 * @returns True when some privilege allows it.
 */
export function isGranted(
  held: readonly Privilege[],
  resource: NamespaceResource,
  action: string,
): boolean {
  return held.some((privilege) =>
    coversResource(privilege.resource, resource) &&
    (privilege.actions.includes(action) || privilege.actions.includes("anyAction"))
  );
}

/** The actions of one resource that the user lacks. */
export interface MissingPrivilege<U extends string = string> {
  /** The database or collection. */
  resource: NamespaceResource;
  /** The actions not granted. */
  actions: RequiredAction[];
  /** What the resource is used for, as its row of the table says. */
  uses: U[];
}

/**
 * The rows of the table the held privileges do not cover, with only the actions lacking.
 *
 * @param required The table (or the rows one command needs).
 * @param held The privileges the user holds.
 * @returns One entry per resource with something lacking, in the table's order.
 */
export function missingPrivileges<U extends string>(
  required: readonly RequiredPrivilege<U>[],
  held: readonly Privilege[],
): MissingPrivilege<U>[] {
  return required.flatMap((row) => {
    const actions = row.actions.filter((action) => !isGranted(held, row.resource, action));
    return actions.length === 0 ? [] : [{ resource: row.resource, actions, uses: row.uses }];
  });
}

/**
 * What the user holds beyond need that an audit flags: the roles `root`, `__system` and
 * `dbOwner`; any privilege on `anyResource`; the action `anyAction`; a write action (insert,
 * update, remove, index and collection changes) on a collection the user should only read (the
 * tool's orders and reference collections: `sourceResources` of core/tool_privileges.ts). Other
 * extra read privileges (a `read` role on the database, say) are not flagged: they expose nothing
 * the tool could not already read.
 *
 * @param held The privileges held.
 * @param roles The roles held.
 * @param readOnly The collections the user should only read.
 * @returns One sentence-case phrase per finding, such as
 *   `update on food_delivery.Commande (granted on database food_delivery)`.
 */
export function excessPrivileges(
  held: readonly Privilege[],
  roles: readonly RoleName[],
  readOnly: readonly NamespaceResource[],
): string[] {
  const found: string[] = [];
  for (const role of roles) {
    if (OVERPOWERED_ROLES.includes(role.role)) found.push(`role ${role.role}@${role.db}`);
  }
  for (const privilege of held) {
    const where = formatResource(privilege.resource);
    if (privilege.actions.includes("anyAction")) {
      found.push(`anyAction on ${where}`);
      continue;
    }
    if ("anyResource" in privilege.resource) {
      found.push(`${_actionList(privilege.actions)} on anyResource`);
      continue;
    }
    const writes = privilege.actions.filter((action) => WRITE_ACTIONS.includes(action));
    if (writes.length === 0) continue;
    const covered = readOnly.filter((source) => coversResource(privilege.resource, source));
    if (covered.length === 0) continue;
    const on = covered.map(formatResource).join(", ");
    const exact = covered.length === 1 && formatResource(covered[0]!) === where;
    found.push(`${writes.join(", ")} on ${on}${exact ? "" : ` (granted on ${where})`}`);
  }
  return [...new Set(found)];
}

/**
 * A resource in words: `food_delivery.Commande`, `database food_delivery`, `every database's
 * Commande`, `every database`, `cluster`, `anyResource`.
 *
 * @param resource The resource.
 * @returns The words.
 */
export function formatResource(resource: Resource): string {
  if ("anyResource" in resource) return "anyResource";
  if ("cluster" in resource) return "cluster";
  if (resource.db === "" && resource.collection === "") return "every database";
  if (resource.collection === "") return `database ${resource.db}`;
  if (resource.db === "") return `every database's ${resource.collection}`;
  return `${resource.db}.${resource.collection}`;
}

/**
 * Missing privileges in words, one phrase per resource.
 *
 * @param missing What {@link missingPrivileges} found.
 * @returns Phrases such as `missing changeStream on food_delivery.Commande`.
 */
export function describeMissing(missing: readonly MissingPrivilege[]): string[] {
  return missing.map((entry) =>
    `missing ${entry.actions.join(", ")} on ${formatResource(entry.resource)}`
  );
}

/** What `connectionStatus` with `showPrivileges: true` says of the connection. */
export interface ConnectionPrivileges {
  /** The authenticated users, `user@db`; empty when no one is (authentication disabled). */
  users: string[];
  /** Their roles. */
  roles: RoleName[];
  /** Their privileges, roles' privileges included. */
  privileges: Privilege[];
}

/**
 * Reads `connectionStatus`'s answer (`authInfo.authenticatedUsers`,
 * `authenticatedUserRoles`, `authenticatedUserPrivileges`), tolerating absent fields.
 *
 * @param reply The command's reply.
 * @returns The users, roles and privileges.
 */
export function parseConnectionStatus(reply: Record<string, unknown>): ConnectionPrivileges {
  const info = (reply.authInfo ?? {}) as Record<string, unknown>;
  const list = (value: unknown) => (Array.isArray(value) ? value : []) as Record<string, unknown>[];
  return {
    users: list(info.authenticatedUsers).map((u) => `${u.user}@${u.db}`),
    roles: list(info.authenticatedUserRoles).map((r) => ({
      role: String(r.role),
      db: String(r.db),
    })),
    privileges: list(info.authenticatedUserPrivileges).map((p) => ({
      resource: _resource(p.resource),
      actions: Array.isArray(p.actions) ? p.actions.map(String) : [],
    })),
  };
}

/** Something that runs an admin command, such as the driver's `client.db("admin")`. */
export interface CommandRunner {
  /** Runs a command. */
  command(command: Record<string, unknown>): Promise<Record<string, unknown>>;
}

/**
 * Asks the server what the connection's user may do.
 *
 * @param admin The `admin` database of a connected client.
 * @param options The server-side time limit.
 * @returns The users, roles and privileges.
 */
export async function readConnectionPrivileges(
  admin: CommandRunner,
  options: { maxTimeMs?: number } = {},
): Promise<ConnectionPrivileges> {
  const reply = await admin.command({
    connectionStatus: 1,
    showPrivileges: true,
    ...(options.maxTimeMs ? { maxTimeMS: options.maxTimeMs } : {}),
  });
  return parseConnectionStatus(reply);
}

/**
 * Names what the connected user lacks among a command's needs, for the one line a refusal ends
 * with; `undefined` when it cannot tell (no authenticated user, the status unreadable, nothing
 * missing from the table).
 *
 * @param admin The `admin` database of the client that was refused.
 * @param needs The rows of the table the command needs.
 * @returns E.g. `the user archiver@admin lacks changeStream on food_delivery.Commande`.
 */
export async function explainRefusal(
  admin: CommandRunner,
  needs: readonly RequiredPrivilege[],
): Promise<string | undefined> {
  let status: ConnectionPrivileges;
  try {
    status = await readConnectionPrivileges(admin, { maxTimeMs: 5_000 });
  } catch {
    return undefined;
  }
  if (status.users.length === 0) return undefined;
  const missing = missingPrivileges(needs, status.privileges);
  if (missing.length === 0) return undefined;
  const what = missing.map((entry) =>
    `${entry.actions.join(", ")} on ${formatResource(entry.resource)}`
  );
  // One line: the first few by the table's order (the orders' changeStream leads), then a count.
  const shown = what.slice(0, 4).join("; ");
  const more = what.length > 4 ? `; and ${what.length - 4} more (archiver health lists them)` : "";
  return `the user ${status.users.join(", ")} lacks ${shown}${more}`;
}

function _resource(value: unknown): Resource {
  const resource = (value ?? {}) as Record<string, unknown>;
  if (resource.anyResource === true) return { anyResource: true };
  if (resource.cluster === true) return { cluster: true };
  return {
    db: typeof resource.db === "string" ? resource.db : "",
    collection: typeof resource.collection === "string" ? resource.collection : "",
  };
}

function _actionList(actions: readonly string[]): string {
  return actions.length > 4 ? `${actions.slice(0, 4).join(", ")}…` : actions.join(", ");
}
