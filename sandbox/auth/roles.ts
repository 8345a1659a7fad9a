/**
 * Privileges, resources and MongoDB's built-in roles, with the privileges mongod 7.0 gives
 * them (from the server's `builtin_roles.yml`; the sharding, search-index, queryable
 * encryption and multitenancy actions are left out since the sandbox has none of those).
 *
 * A resource is `{ db, collection }` (`""` meaning any), `{ cluster: true }` or
 * `{ anyResource: true }`, matched as mongod matches them: `{ db: "", collection: "" }` and
 * `{ db: D, collection: "" }` reach only normal collections (not `system.*`), and the former
 * never reaches `local` or `config`.
 *
 * @module
 */

/** A resource a privilege applies to. */
export type Resource =
  | { db: string; collection: string }
  | { cluster: true }
  | { anyResource: true };

/** A set of actions on a resource. */
export interface Privilege {
  /** Where. */
  resource: Resource;
  /** What. */
  actions: string[];
}

/** A role by name and database. */
export interface RoleRef {
  /** Role name. */
  role: string;
  /** Database the role is defined on. */
  db: string;
}

/** What a command needs: an action on a namespace, a database or the cluster. */
export type Target =
  | { kind: "namespace"; db: string; collection: string }
  | { kind: "database"; db: string }
  | { kind: "cluster" };

const READ = [
  "changeStream",
  "collStats",
  "dbHash",
  "dbStats",
  "find",
  "killCursors",
  "listCollections",
  "listIndexes",
  "listSearchIndexes",
  "planCacheRead",
];
const READ_WRITE = [
  ...READ,
  "convertToCapped",
  "createCollection",
  "createIndex",
  "dropCollection",
  "dropIndex",
  "insert",
  "remove",
  "renameCollectionSameDB",
  "update",
];
const USER_ADMIN = [
  "changeCustomData",
  "changePassword",
  "createUser",
  "createRole",
  "dropUser",
  "dropRole",
  "grantRole",
  "revokeRole",
  "setAuthenticationRestriction",
  "viewUser",
  "viewRole",
];
const DB_ADMIN = [
  "analyze",
  "bypassDocumentValidation",
  "collMod",
  "collStats",
  "compact",
  "convertToCapped",
  "createCollection",
  "dbStats",
  "dropCollection",
  "dropDatabase",
  "dropIndex",
  "createIndex",
  "enableProfiler",
  "listCollections",
  "listIndexes",
  "listSearchIndexes",
  "planCacheIndexFilter",
  "planCacheRead",
  "planCacheWrite",
  "reIndex",
  "renameCollectionSameDB",
  "storageDetails",
  "validate",
];
const DB_ADMIN_PROFILE = [...READ, "convertToCapped", "createCollection", "dropCollection"];
const CLUSTER_MONITOR_CLUSTER = [
  "connPoolStats",
  "getCmdLineOpts",
  "getDefaultRWConcern",
  "getLog",
  "getParameter",
  "getShardMap",
  "hostInfo",
  "listDatabases",
  "listSessions",
  "listShards",
  "netstat",
  "operationMetrics",
  "replSetGetConfig",
  "replSetGetStatus",
  "serverStatus",
  "top",
  "useUUID",
  "inprog",
  "shardingState",
];
const CLUSTER_MONITOR_DB = [
  "collStats",
  "dbStats",
  "getDatabaseVersion",
  "getShardVersion",
  "indexStats",
];
const HOST_MANAGER_CLUSTER = [
  "applicationMessage",
  "connPoolSync",
  "dropConnections",
  "logRotate",
  "setParameter",
  "shutdown",
  "touch",
  "unlock",
  "fsync",
  "invalidateUserCache",
  "killAnyCursor",
  "killAnySession",
  "killop",
  "replSetResizeOplog",
  "resync",
];
const CLUSTER_MANAGER_CLUSTER = [
  "appendOplogNote",
  "applicationMessage",
  "replSetConfigure",
  "replSetGetConfig",
  "replSetGetStatus",
  "replSetStateChange",
  "resync",
  "listSessions",
  "getDefaultRWConcern",
  "setDefaultRWConcern",
  "setFeatureCompatibilityVersion",
  "setClusterParameter",
  "getClusterParameter",
];
const RESTORE_WRITE = [
  "bypassDocumentValidation",
  "collMod",
  "convertToCapped",
  "createCollection",
  "createIndex",
  "dropCollection",
  "insert",
];

interface _Builtin {
  /** Defined only on `admin`. */
  adminOnly: boolean;
  /** Its own privileges, for the database it is defined on. */
  privileges: (db: string) => Privilege[];
  /** Roles it includes (a string is the same database). */
  roles?: (string | RoleRef)[];
}

const _db = (db: string, actions: string[]): Privilege => ({
  resource: { db, collection: "" },
  actions,
});
const _ns = (db: string, collection: string, actions: string[]): Privilege => ({
  resource: { db, collection },
  actions,
});
const _cluster = (actions: string[]): Privilege => ({ resource: { cluster: true }, actions });

const BUILTIN: Record<string, _Builtin> = {
  read: {
    adminOnly: false,
    privileges: (db) => [_db(db, READ), _ns(db, "system.js", READ)],
  },
  readWrite: {
    adminOnly: false,
    privileges: (db) => [_db(db, READ_WRITE), _ns(db, "system.js", READ_WRITE)],
  },
  userAdmin: { adminOnly: false, privileges: (db) => [_db(db, USER_ADMIN)] },
  dbAdmin: {
    adminOnly: false,
    privileges: (db) => [_db(db, DB_ADMIN), _ns(db, "system.profile", DB_ADMIN_PROFILE)],
  },
  dbOwner: { adminOnly: false, privileges: () => [], roles: ["readWrite", "dbAdmin", "userAdmin"] },
  readAnyDatabase: {
    adminOnly: true,
    privileges: () => [_db("", READ), _cluster(["listDatabases"]), _ns("", "system.js", READ)],
  },
  readWriteAnyDatabase: {
    adminOnly: true,
    roles: ["readAnyDatabase"],
    privileges: () => [_db("", READ_WRITE), _ns("", "system.js", READ_WRITE)],
  },
  userAdminAnyDatabase: {
    adminOnly: true,
    privileges: () => [
      _db("", [...USER_ADMIN, "listCachedAndActiveUsers"]),
      _db("local", USER_ADMIN),
      _db("config", USER_ADMIN),
      _cluster(["listDatabases", "authSchemaUpgrade", "invalidateUserCache", "viewUser"]),
      _ns("admin", "system.users", [...READ, "createIndex", "dropIndex"]),
      _ns("admin", "system.roles", [...READ, "createIndex", "dropIndex"]),
      _ns("", "system.users", READ),
      _ns("admin", "system.version", READ),
    ],
  },
  dbAdminAnyDatabase: {
    adminOnly: true,
    privileges: () => [
      _cluster(["listDatabases", "applyOps"]),
      _db("", DB_ADMIN),
      _ns("", "system.profile", DB_ADMIN_PROFILE),
    ],
  },
  clusterMonitor: {
    adminOnly: true,
    roles: [{ role: "read", db: "config" }, { role: "read", db: "local" }],
    privileges: () => [
      _cluster(CLUSTER_MONITOR_CLUSTER),
      _db("", CLUSTER_MONITOR_DB),
      _db("config", CLUSTER_MONITOR_DB),
      _ns("config", "system.sessions", CLUSTER_MONITOR_DB),
      _db("local", CLUSTER_MONITOR_DB),
      _ns("local", "system.replset", ["find"]),
      _ns("local", "replset.election", ["find"]),
      _ns("local", "replset.minvalid", ["find"]),
      _ns("", "system.profile", ["find"]),
    ],
  },
  hostManager: {
    adminOnly: true,
    privileges: () => [_cluster(HOST_MANAGER_CLUSTER), _db("", ["killCursors"])],
  },
  clusterManager: {
    adminOnly: true,
    roles: [{ role: "read", db: "config" }],
    privileges: () => [
      _cluster(CLUSTER_MANAGER_CLUSTER),
      _ns("local", "system.replset", READ),
      { resource: { anyResource: true }, actions: ["dbCheck"] },
      _db("config", ["insert", "update", "remove"]),
      _db("local", ["insert", "update", "remove"]),
    ],
  },
  clusterAdmin: {
    adminOnly: true,
    roles: ["clusterMonitor", "hostManager", "clusterManager"],
    privileges: () => [
      _db("", ["dropDatabase"]),
      { resource: { anyResource: true }, actions: ["importCollection", "exportCollection"] },
    ],
  },
  backup: {
    adminOnly: true,
    privileges: () => [
      { resource: { anyResource: true }, actions: ["collStats", "listCollections", "listIndexes"] },
      _db("", ["find"]),
      _cluster(["getParameter", "listDatabases", "useUUID", "appendOplogNote", "serverStatus"]),
      _db("config", ["find"]),
      _db("local", ["find"]),
      _ns("", "system.js", ["find"]),
      _ns("", "system.users", ["find"]),
      _ns("", "system.profile", ["find"]),
      _ns("admin", "system.roles", ["find"]),
      _ns("admin", "system.version", ["find"]),
    ],
  },
  restore: {
    adminOnly: true,
    privileges: () => [
      _cluster(["getParameter", "forceUUID", "useUUID", "applyOps"]),
      _db("local", RESTORE_WRITE),
      _db("config", RESTORE_WRITE),
      { resource: { anyResource: true }, actions: ["listCollections"] },
      _db("", [...RESTORE_WRITE, ...USER_ADMIN]),
      _ns("", "system.js", RESTORE_WRITE),
      _ns("", "system.users", [...RESTORE_WRITE, "find", "update", "remove"]),
      _ns("admin", "system.version", [...RESTORE_WRITE, "find"]),
      _ns("admin", "system.roles", ["createIndex"]),
    ],
  },
  root: {
    adminOnly: true,
    roles: [
      "clusterAdmin",
      "userAdminAnyDatabase",
      "dbAdminAnyDatabase",
      "readWriteAnyDatabase",
      "backup",
      "restore",
    ],
    privileges: () => [{ resource: { anyResource: true }, actions: ["validate"] }],
  },
};

/** Every action a built-in role grants, plus those only custom roles name; `createRole` checks against it. */
export const KNOWN_ACTIONS: ReadonlySet<string> = new Set([
  ...Object.values(BUILTIN).flatMap((role) => role.privileges("x").flatMap((p) => p.actions)),
  "anyAction",
  "changeOwnPassword",
  "changeOwnCustomData",
  "configureFailPoint",
  "internal",
  "listSessions",
]);

/**
 * Whether a role name is built in on a database (the `*AnyDatabase`, cluster roles and
 * `root` exist only on `admin`).
 *
 * @param ref The role.
 * @returns Whether mongod defines it.
 */
export function isBuiltinRole(ref: RoleRef): boolean {
  const role = Object.hasOwn(BUILTIN, ref.role) ? BUILTIN[ref.role] : undefined;
  return role !== undefined && (!role.adminOnly || ref.db === "admin");
}

/** The names of the built-in roles defined on a database. */
export function builtinRoleNames(db: string): string[] {
  return Object.keys(BUILTIN).filter((name) => isBuiltinRole({ role: name, db }));
}

/**
 * A built-in role's own privileges and included roles.
 *
 * @param ref A built-in role (see {@link isBuiltinRole}).
 * @returns Its privileges and the roles it includes.
 */
export function builtinRole(ref: RoleRef): { privileges: Privilege[]; roles: RoleRef[] } {
  const role = BUILTIN[ref.role]!;
  return {
    privileges: role.privileges(ref.db),
    roles: (role.roles ?? []).map((r) => typeof r === "string" ? { role: r, db: ref.db } : r),
  };
}

function _isSystem(db: string, collection: string): boolean {
  return collection.startsWith("system.") || (db === "local" && collection.startsWith("replset."));
}

/**
 * Whether a privilege's resource covers a target, as mongod's resource search list decides.
 *
 * @param resource The privilege's resource.
 * @param target What the command touches.
 * @returns Whether it matches.
 */
export function resourceCovers(resource: Resource, target: Target): boolean {
  if ("anyResource" in resource) return true;
  if ("cluster" in resource) return target.kind === "cluster";
  if (target.kind === "cluster") return false;
  const { db, collection } = resource;
  const special = target.db === "local" || target.db === "config";
  if (target.kind === "database") {
    return collection === "" && (db === "" ? !special : db === target.db);
  }
  const system = _isSystem(target.db, target.collection);
  if (collection === "") return !system && (db === "" ? !special : db === target.db);
  return collection === target.collection && (db === "" || db === target.db);
}

/**
 * Whether a set of privileges grants an action on a target (`anyAction` grants every action).
 *
 * @param privileges The user's privileges.
 * @param target What the command touches.
 * @param action The action.
 * @returns Whether it is granted.
 */
export function grants(privileges: readonly Privilege[], target: Target, action: string): boolean {
  for (const privilege of privileges) {
    if (
      (privilege.actions.includes(action) || privilege.actions.includes("anyAction")) &&
      resourceCovers(privilege.resource, target)
    ) {
      return true;
    }
  }
  return false;
}

/** A stable key of a resource, to group privileges by resource. */
export function resourceKey(resource: Resource): string {
  if ("anyResource" in resource) return "*";
  if ("cluster" in resource) return "cluster";
  return `${resource.db}\u0000${resource.collection}`;
}

/**
 * Merges privileges on the same resource, as `connectionStatus` and `rolesInfo` show them.
 *
 * @param privileges Privileges, possibly repeating resources.
 * @returns One privilege per resource, its actions sorted.
 */
export function mergePrivileges(privileges: readonly Privilege[]): Privilege[] {
  const byResource = new Map<string, { resource: Resource; actions: Set<string> }>();
  for (const privilege of privileges) {
    const key = resourceKey(privilege.resource);
    let entry = byResource.get(key);
    if (!entry) byResource.set(key, entry = { resource: privilege.resource, actions: new Set() });
    for (const action of privilege.actions) entry.actions.add(action);
  }
  return [...byResource.values()].map(({ resource, actions }) => ({
    resource: { ...resource },
    actions: [...actions].sort(),
  }));
}
