/**
 * What the tool may do on MongoDB, in one table: the privileges (a resource and its actions) that
 * `batch`, `watch`, `health`, `verify` and `quarantine` need on the configured collections, read
 * off the commands they send. `archiver setup role` grants exactly these, `health`'s `privileges` check compares them
 * with what the connected user holds (`connectionStatus` with `showPrivileges`), and `watch`
 * names the missing one when MongoDB refuses it.
 *
 * | resource | actions | why |
 * | --- | --- | --- |
 * | `<db>.<orders>` | find, changeStream | read and enrich the delivered orders; watch opens its change stream there |
 * | `<db>.<orders>` (purge's role only) | insert, remove | `archiver purge` deletes, `purge restore` inserts: never in the role of batch, watch and health |
 * | `<db>.<clients, couriers, restaurants, menu>` | find | the enrichment's `$lookup`s |
 * | `<db>.<archive>` | find, insert, update, createIndex, listIndexes | upserts with `$setOnInsert`, the unique index on `numero_commande` and its check |
 * | `<db>.<quarantine>` | find, insert, update, remove | upserts; an order archived (or released by the operator) leaves it (`deleteMany`) |
 * | `<db>.<released>` | find, insert | `quarantine release` records the orders it releases (insert, never an update); verify, health and the quarantine command read them |
 * | `<db>.<runs>`, `<db>.<tokens>`, `<db>.<leases>` | find, insert, update | run history, shared resume token, `--ha` lease: upserts and `findOneAndUpdate`, never a delete |
 * | `<db>` (the database) | listCollections | health's `collections` check; watch waits for a dropped orders collection |
 * | `local.oplog.rs` | find, collStats | the oplog window (first and last entries, size and maxSize) for the resume headroom |
 *
 * The actions are MongoDB's (manual, "Privilege Actions"): an upsert needs `insert` and `update`,
 * `findAndModify` needs `find` too, `aggregate` and `count` are `find`, `createIndexes` is
 * `createIndex` (an existing index makes it a no-op, still authorised the same), `listIndexes`,
 * `listCollections` (on the database) and `collStats` are actions of their own. `ping`, `hello`,
 * `connectionStatus`, `getMore` and `killCursors` on the user's own cursors, and `endSessions`
 * need no privilege. The token and lease collections are in the table whatever
 * `ARCHIVER_TOKEN_STORE` says: `health` reads the lease collection on every run, and moving to
 * `--token-store mongo` or `--ha` must not need a new role.
 *
 * @module
 */

import { type CollectionNames, collectionNames } from "../archive/collections.ts";
import type { GlobalConfig } from "../runtime/config.ts";
import { leaseCollectionSetting } from "../stream/lease.ts";
import { tokenCollectionSetting } from "../runtime/state_files.ts";

/** A privilege action the tool needs (MongoDB's names). */
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

/** What the tool uses a resource for, naming its row in the table. */
export type ResourceUse =
  | "orders"
  | "references"
  | "archive"
  | "quarantine"
  | "released"
  | "runs"
  | "tokens"
  | "leases"
  | "database"
  | "oplog";

/** One row of the table. */
export interface RequiredPrivilege {
  /** The database or collection. */
  resource: NamespaceResource;
  /** The actions, in the table's order. */
  actions: RequiredAction[];
  /** What the tool keeps there (several when two settings name the same collection). */
  uses: ResourceUse[];
  /** Which commands need it, and why, in a few words. */
  why: string;
}

/** The names the table is computed from. */
export interface PrivilegeTarget {
  /** The database of the orders and of the tool's own collections. */
  db: string;
  /** The source, archive and quarantine collections. */
  names: CollectionNames;
  /** The run history collection (`ARCHIVER_RUNS_COLLECTION`). */
  runs: string;
  /** The Mongo token store's collection (`ARCHIVER_TOKEN_COLLECTION`). */
  tokens: string;
  /** The `--ha` lease collection (`ARCHIVER_LEASE_COLLECTION`). */
  leases: string;
}

/** The `local.oplog.rs` resource. */
export const OPLOG_RESOURCE: NamespaceResource = { db: "local", collection: "oplog.rs" };

/** Write actions that are more than needed on the orders and reference collections. */
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
 * The names of the table from a configuration: the collection settings, and the token and lease
 * collections at their defaults when the command does not read those settings.
 *
 * @param config The global configuration, with the token and lease collections when known.
 * @returns The names.
 */
export function privilegeTarget(
  config: GlobalConfig & { tokenCollection?: string; leaseCollection?: string },
): PrivilegeTarget {
  return {
    db: config.db,
    names: collectionNames(config),
    runs: config.runsCollection,
    tokens: config.tokenCollection ?? tokenCollectionSetting.default,
    leases: config.leaseCollection ?? leaseCollectionSetting.default,
  };
}

/** A command of the tool that talks to MongoDB. */
export type ToolCommand = "batch" | "watch" | "health" | "verify" | "quarantine" | "purge";

/**
 * The commands of the tool's own role (`archiver setup role`): all but `purge`, whose role is
 * apart (`archiver setup role --purge`), so the role batch, watch and health run as can never
 * remove an order.
 */
export const ROLE_COMMANDS: readonly ToolCommand[] = [
  "batch",
  "watch",
  "health",
  "verify",
  "quarantine",
];

const ALL: readonly ToolCommand[] = ROLE_COMMANDS;
const PURGE: readonly ToolCommand[] = ["purge"];
// The commands that archive through the core: batch, watch, verify --repair, quarantine retry.
const WRITERS: readonly ToolCommand[] = ["batch", "watch", "verify", "quarantine"];

// The table. Each action lists the commands that send something needing it (read off their code:
// core/archive, core/stream, plugins/batch, plugins/watch, plugins/health, plugins/verify,
// plugins/quarantine).
const _TABLE: ReadonlyArray<{
  use: ResourceUse;
  actions: ReadonlyArray<readonly [RequiredAction, readonly ToolCommand[]]>;
  why: string;
}> = [
  {
    use: "orders",
    actions: [
      ["find", [...ALL, ...PURGE]],
      ["changeStream", ["watch"]],
      ["insert", PURGE],
      ["remove", PURGE],
    ],
    why:
      "batch, watch and health read and enrich the orders; watch opens its change stream; only purge removes (and restore inserts) orders",
  },
  {
    use: "references",
    actions: [["find", [...ALL, ...PURGE]]],
    why: "the enrichment's $lookup (batch, watch, health, purge --rearchive)",
  },
  {
    use: "archive",
    actions: [
      ["find", [...ALL, ...PURGE]],
      ["insert", WRITERS],
      ["update", [...WRITERS, ...PURGE]],
      ["createIndex", [...WRITERS, ...PURGE]],
      ["listIndexes", ALL],
      ["collMod", PURGE],
    ],
    why:
      "batch and watch upsert the archive and ensure its unique index; health checks both; purge marks what it purges",
  },
  {
    use: "quarantine",
    actions: [["find", ALL], ["insert", WRITERS], ["update", WRITERS], ["remove", WRITERS]],
    why:
      "batch, watch, verify --repair and quarantine retry record and release quarantined orders; quarantine release removes them; health reads them",
  },
  {
    use: "released",
    actions: [["find", ["health", "verify", "quarantine"]], ["insert", ["quarantine"]]],
    why:
      "quarantine release records the orders the operator releases; verify, health and quarantine read them",
  },
  {
    use: "runs",
    actions: [
      ["find", ["batch", "watch", "health"]],
      ["insert", ["batch", "watch", "quarantine", "purge"]],
      ["update", ["batch", "watch", "purge"]],
      ["createIndex", PURGE],
      ["collMod", PURGE],
    ],
    why:
      "the run history: batch, watch, quarantine actions and purge record, health reads the durations; purge's lag probe (a majority write)",
  },
  {
    use: "tokens",
    actions: [["find", ["watch", "health"]], ["insert", ["watch"]], ["update", ["watch"]]],
    why: "watch --token-store mongo saves the resume token there; health reads it",
  },
  {
    use: "leases",
    actions: [["find", ["watch", "health"]], ["insert", ["watch"]], ["update", ["watch"]]],
    why: "watch --ha takes and renews the lease there; health reads it",
  },
  {
    use: "database",
    actions: [["listCollections", ["watch", "health"]]],
    why: "health lists the collections; watch waits for a dropped orders collection to return",
  },
  {
    use: "oplog",
    actions: [["find", ["watch", "health"]], ["collStats", ["watch", "health"]]],
    why: "watch and health read the oplog window for the resume headroom",
  },
];

/**
 * The table: the privileges `batch`, `watch`, `health`, `verify` and `quarantine` need, one row
 * per resource (rows of two settings naming the same collection are merged); `purge`'s only
 * when asked for by name (its role is apart).
 *
 * @param target The database and collection names.
 * @param options Only what one command needs. @default the needs of every command but purge
 * @returns The rows, orders first, `local.oplog.rs` last.
 */
export function requiredPrivileges(
  target: PrivilegeTarget,
  options: { command?: ToolCommand } = {},
): RequiredPrivilege[] {
  const { db, names } = target;
  const where: Record<ResourceUse, NamespaceResource[]> = {
    orders: [{ db, collection: names.orders }],
    references: [names.clients, names.couriers, names.restaurants, names.menu].map((
      collection,
    ) => ({ db, collection })),
    archive: [{ db, collection: names.archive }],
    quarantine: [{ db, collection: names.quarantine }],
    released: [{ db, collection: names.released }],
    runs: [{ db, collection: target.runs }],
    tokens: [{ db, collection: target.tokens }],
    leases: [{ db, collection: target.leases }],
    database: [{ db, collection: "" }],
    oplog: [OPLOG_RESOURCE],
  };
  const byResource = new Map<string, RequiredPrivilege>();
  for (const row of _TABLE) {
    const actions = row.actions
      .filter(([, commands]) =>
        options.command
          ? commands.includes(options.command)
          : commands.some((command) => ROLE_COMMANDS.includes(command))
      )
      .map(([action]) => action);
    if (actions.length === 0) continue;
    for (const resource of where[row.use]) {
      const key = `${resource.db}\0${resource.collection}`;
      const seen = byResource.get(key);
      if (!seen) {
        byResource.set(key, { resource, actions: [...actions], uses: [row.use], why: row.why });
        continue;
      }
      if (!seen.uses.includes(row.use)) seen.uses.push(row.use);
      for (const action of actions) if (!seen.actions.includes(action)) seen.actions.push(action);
      if (!seen.why.includes(row.why)) seen.why = `${seen.why}; ${row.why}`;
    }
  }
  return [...byResource.values()];
}

/**
 * What `watch` cannot run without, for naming what a refusal is about: its rows of the table,
 * the token collection only with the Mongo token store, the lease collection only with `--ha`,
 * and not `local.oplog.rs` (without it only the headroom gauge is lost, with a warning).
 *
 * @param target The database and collection names.
 * @param options The watcher's token store and `--ha`.
 * @returns The rows.
 */
export function watchNeeds(
  target: PrivilegeTarget,
  options: { tokenStore: "file" | "mongo"; ha: boolean },
): RequiredPrivilege[] {
  return requiredPrivileges(target, { command: "watch" }).filter((row) =>
    row.uses.some((use) =>
      use !== "oplog" && (use !== "tokens" || options.tokenStore === "mongo") &&
      (use !== "leases" || options.ha)
    )
  );
}

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
export interface MissingPrivilege {
  /** The database or collection. */
  resource: NamespaceResource;
  /** The actions not granted. */
  actions: RequiredAction[];
  /** What the tool keeps there. */
  uses: ResourceUse[];
}

/**
 * The rows of the table the held privileges do not cover, with only the actions lacking.
 *
 * @param required The table (or the rows one command needs).
 * @param held The privileges the user holds.
 * @returns One entry per resource with something lacking, in the table's order.
 */
export function missingPrivileges(
  required: readonly RequiredPrivilege[],
  held: readonly Privilege[],
): MissingPrivilege[] {
  return required.flatMap((row) => {
    const actions = row.actions.filter((action) => !isGranted(held, row.resource, action));
    return actions.length === 0 ? [] : [{ resource: row.resource, actions, uses: row.uses }];
  });
}

/**
 * What the user holds beyond need that an audit flags: the roles `root`, `__system` and
 * `dbOwner`; any privilege on `anyResource`; the action `anyAction`; a write action (insert,
 * update, remove, index and collection changes) on the orders or reference collections. Other
 * extra read privileges (a `read` role on the database, say) are not flagged: they expose nothing
 * the tool could not already read.
 *
 * @param held The privileges held.
 * @param roles The roles held.
 * @param target The database and collection names.
 * @returns One sentence-case phrase per finding, such as
 *   `update on food_delivery.Commande (granted on database food_delivery)`.
 */
export function excessPrivileges(
  held: readonly Privilege[],
  roles: readonly RoleName[],
  target: PrivilegeTarget,
): string[] {
  const found: string[] = [];
  for (const role of roles) {
    if (OVERPOWERED_ROLES.includes(role.role)) found.push(`role ${role.role}@${role.db}`);
  }
  const sources = [
    target.names.orders,
    target.names.clients,
    target.names.couriers,
    target.names.restaurants,
    target.names.menu,
  ].map((collection) => ({ db: target.db, collection }));
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
    const covered = sources.filter((source) => coversResource(privilege.resource, source));
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
