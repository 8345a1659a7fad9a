/**
 * Authorization: which action on which resource each implemented command needs, and the
 * check dispatch runs before a command when `auth` is on (mongod's `Unauthorized`, code 13).
 *
 * {@link COMMAND_PRIVILEGES} names every command of the sandbox: `"public"` ones run
 * unauthenticated (as mongod allows for the handshake and authentication itself),
 * `"authenticated"` ones need a user but no privilege, and the others list their
 * requirements. A test checks that the table covers every command, so a new command cannot
 * skip authorization.
 *
 * @module
 */

import { type Doc, isPlainDoc } from "../bson_values.ts";
import { CommandError } from "../errors.ts";
import { renderValue } from "../render.ts";
import type { AuthenticatedUser, ConnectionInfo, SandboxState } from "../engine/state.ts";
import { grants, type Privilege, type RoleRef, type Target } from "./roles.ts";
import { parseRoles } from "./users.ts";

/** Actions a command needs on a target (all of them). */
export interface Requirement {
  /** Namespace, database or cluster. */
  target: Target;
  /** Actions, all required. */
  actions: string[];
}

/** What a rule sees of a command. */
export interface RuleContext {
  /** Server state. */
  state: SandboxState;
  /** The command's database. */
  db: string;
  /** The command. */
  body: Doc;
  /** The command name. */
  name: string;
  /** Users authenticated on the connection. */
  users: readonly AuthenticatedUser[];
  /** Roles those users hold, inherited ones included. */
  roles: readonly RoleRef[];
  /** The privileges those roles grant. */
  privileges: readonly Privilege[];
}

/** How a command is authorized. */
export type Rule = "public" | "authenticated" | ((ctx: RuleContext) => Requirement[]);

const _cluster: Target = { kind: "cluster" };
const _database = (db: string): Target => ({ kind: "database", db });
const _namespace = (db: string, collection: string): Target => ({
  kind: "namespace",
  db,
  collection,
});

/** The collection named by the command's first field, or its database when it is not a name. */
function _targetOf(ctx: RuleContext): Target {
  const value = ctx.body[ctx.name];
  return typeof value === "string" ? _namespace(ctx.db, value) : _database(ctx.db);
}

function _on(...actions: string[]): (ctx: RuleContext) => Requirement[] {
  return (ctx) => [{ target: _targetOf(ctx), actions }];
}

function _onDatabase(...actions: string[]): (ctx: RuleContext) => Requirement[] {
  return (ctx) => [{ target: _database(ctx.db), actions }];
}

function _onCluster(...actions: string[]): () => Requirement[] {
  return () => [{ target: _cluster, actions }];
}

function _bypass(body: Doc): string[] {
  return body.bypassDocumentValidation === true ? ["bypassDocumentValidation"] : [];
}

/** A `{ db, coll }` or name of another collection a stage reads or writes. */
function _foreign(db: string, value: unknown, field = "coll"): Target | undefined {
  if (typeof value === "string") return _namespace(db, value);
  if (isPlainDoc(value) && typeof value[field] === "string") {
    return _namespace(typeof value.db === "string" ? value.db : db, value[field]);
  }
  return undefined;
}

/** What the stages of a pipeline need beyond reading its own collection. */
function _pipeline(db: string, pipeline: unknown, out: Requirement[]): void {
  if (!Array.isArray(pipeline)) return;
  for (const stage of pipeline) {
    if (!isPlainDoc(stage)) continue;
    const [name] = Object.keys(stage);
    const spec = stage[name!];
    switch (name) {
      case "$lookup":
      case "$graphLookup": {
        const from = isPlainDoc(spec) ? _foreign(db, spec.from) : undefined;
        if (from) out.push({ target: from, actions: ["find"] });
        if (isPlainDoc(spec)) _pipeline(db, spec.pipeline, out);
        break;
      }
      case "$unionWith": {
        const from = _foreign(db, spec);
        if (from) out.push({ target: from, actions: ["find"] });
        if (isPlainDoc(spec)) _pipeline(db, spec.pipeline, out);
        break;
      }
      case "$facet":
        if (isPlainDoc(spec)) { for (const sub of Object.values(spec)) _pipeline(db, sub, out); }
        break;
      case "$out": {
        const into = _foreign(db, spec);
        if (into) out.push({ target: into, actions: ["insert", "remove"] });
        break;
      }
      case "$merge": {
        const into = _foreign(db, isPlainDoc(spec) ? spec.into : spec);
        if (into) out.push({ target: into, actions: ["insert", "update"] });
        break;
      }
      case "$currentOp":
        if (isPlainDoc(spec) && spec.allUsers === true) {
          out.push({ target: _cluster, actions: ["inprog"] });
        }
        break;
      case "$listLocalSessions":
        if (isPlainDoc(spec) && spec.allUsers === true) {
          out.push({ target: _cluster, actions: ["listSessions"] });
        }
        break;
    }
  }
}

/** `aggregate`: the first stage decides what reading the collection means. */
function _aggregate(ctx: RuleContext): Requirement[] {
  const { body, db } = ctx;
  const pipeline = Array.isArray(body.pipeline) ? body.pipeline : [];
  const first = isPlainDoc(pipeline[0]) ? pipeline[0] : {};
  const out: Requirement[] = [];
  const target = _targetOf(ctx);
  if ("$changeStream" in first) {
    const spec = isPlainDoc(first.$changeStream) ? first.$changeStream : {};
    const where = spec.allChangesForCluster === true
      ? { kind: "database" as const, db: "" }
      : target;
    out.push({ target: where, actions: ["changeStream", "find"] });
  } else if ("$indexStats" in first) {
    out.push({ target, actions: ["indexStats"] });
  } else if ("$collStats" in first) {
    out.push({ target, actions: ["collStats"] });
  } else if (target.kind === "namespace") {
    out.push({ target, actions: ["find"] });
  }
  _pipeline(db, pipeline, out);
  if (body.bypassDocumentValidation === true) {
    for (const r of out) {
      if (r.actions.includes("insert")) r.actions.push("bypassDocumentValidation");
    }
  }
  return out;
}

function _update(ctx: RuleContext): Requirement[] {
  const updates = Array.isArray(ctx.body.updates) ? ctx.body.updates : [];
  const upsert = updates.some((u: unknown) => isPlainDoc(u) && u.upsert === true);
  return [{
    target: _targetOf(ctx),
    actions: ["update", ...(upsert ? ["insert"] : []), ..._bypass(ctx.body)],
  }];
}

function _findAndModify(ctx: RuleContext): Requirement[] {
  const { body } = ctx;
  const actions = body.remove === true
    ? ["find", "remove"]
    : ["find", "update", ...(body.upsert === true ? ["insert"] : []), ..._bypass(body)];
  return [{ target: _targetOf(ctx), actions }];
}

function _create(ctx: RuleContext): Requirement[] {
  const out: Requirement[] = [{ target: _targetOf(ctx), actions: ["createCollection"] }];
  if (typeof ctx.body.viewOn === "string") {
    out.push({ target: _namespace(ctx.db, ctx.body.viewOn), actions: ["find"] });
    _pipeline(ctx.db, ctx.body.pipeline, out);
  }
  return out;
}

function _split(ns: unknown): Target | undefined {
  if (typeof ns !== "string" || !ns.includes(".")) return undefined;
  const dot = ns.indexOf(".");
  return _namespace(ns.slice(0, dot), ns.slice(dot + 1));
}

function _renameCollection(ctx: RuleContext): Requirement[] {
  const from = _split(ctx.body.renameCollection);
  const to = _split(ctx.body.to);
  if (!from || !to || from.kind !== "namespace" || to.kind !== "namespace") {
    return [{ target: _cluster, actions: ["renameCollection"] }];
  }
  const dropTarget = ctx.body.dropTarget === true
    ? [{ target: to, actions: ["dropCollection"] }]
    : [];
  if (from.db === to.db) {
    return [{ target: _database(from.db), actions: ["renameCollectionSameDB"] }, ...dropTarget];
  }
  return [
    { target: from, actions: ["find", "dropCollection"] },
    { target: to, actions: ["insert", "createIndex", "createCollection"] },
    ...dropTarget,
  ];
}

function _explain(ctx: RuleContext): Requirement[] {
  const inner = ctx.body.explain;
  if (!isPlainDoc(inner)) return [];
  const name = Object.keys(inner)[0] ?? "";
  const rule = COMMAND_PRIVILEGES[name];
  if (typeof rule !== "function") return [{ target: _cluster, actions: ["internal"] }];
  return rule({ ...ctx, name, body: inner });
}

function _roleDatabases(ctx: RuleContext, field: string, action: string): Requirement[] {
  let roles: RoleRef[] = [];
  try {
    roles = parseRoles(ctx.body[field] ?? [], ctx.db, field);
  } catch {
    // The command itself reports the malformed field.
  }
  return [...new Set(roles.map((r) => r.db))].map((db) => ({
    target: _database(db),
    actions: [action],
  }));
}

/** Any normal database: what mongod's `forAnyNormalResource` stands for. */
const _anyDatabase: Target = { kind: "database", db: "" };

/**
 * The databases a privilege list's grant or revoke is checked on (mongod's
 * checkAuthorizedToGrantPrivilege): a database or collection privilege on its database,
 * anything wider (every database, the cluster, any resource) on `admin`.
 */
function _privilegeDatabases(ctx: RuleContext, field: string, action: string): Requirement[] {
  const value = ctx.body[field];
  if (!Array.isArray(value)) return [];
  const dbs = new Set<string>();
  for (const entry of value) {
    const resource = isPlainDoc(entry) && isPlainDoc(entry.resource) ? entry.resource : {};
    dbs.add(
      typeof resource.db === "string" && resource.db !== "" &&
        typeof resource.collection === "string"
        ? resource.db
        : "admin",
    );
  }
  return [...dbs].map((db) => ({ target: _database(db), actions: [action] }));
}

function _createUser(ctx: RuleContext): Requirement[] {
  const role = ctx.name === "createRole";
  return [
    { target: _database(ctx.db), actions: [role ? "createRole" : "createUser"] },
    ..._roleDatabases(ctx, "roles", "grantRole"),
    ...(role ? _privilegeDatabases(ctx, "privileges", "grantRole") : []),
    ..._restrictions(ctx),
  ];
}

function _restrictions(ctx: RuleContext): Requirement[] {
  return ctx.body.authenticationRestrictions === undefined
    ? []
    : [{ target: _database(ctx.db), actions: ["setAuthenticationRestriction"] }];
}

/**
 * `updateRole`: whatever it replaces may be revoked, so revokeRole on every database; then
 * grantRole for the roles and privileges given.
 */
function _updateRole(ctx: RuleContext): Requirement[] {
  return [
    { target: _anyDatabase, actions: ["revokeRole"] },
    ...(ctx.body.roles !== undefined ? _roleDatabases(ctx, "roles", "grantRole") : []),
    ..._privilegeDatabases(ctx, "privileges", "grantRole"),
    ..._restrictions(ctx),
  ];
}

/** Whether the user changes their own account and holds the `changeOwn*` action for it. */
function _ownChange(ctx: RuleContext, action: string): boolean {
  const name = ctx.body[ctx.name];
  if (typeof name !== "string" || !_isSelf(ctx, name, ctx.db)) return false;
  return grants(ctx.privileges, _database(ctx.db), action);
}

/**
 * `updateUser`: changePassword / changeCustomData on the user's database (or changeOwn* for
 * oneself); a new `roles` array may revoke any role, so revokeRole on every database, and
 * grantRole on the databases of the roles given.
 */
function _updateUser(ctx: RuleContext): Requirement[] {
  const out: Requirement[] = [];
  if (ctx.body.pwd !== undefined && !_ownChange(ctx, "changeOwnPassword")) {
    out.push({ target: _database(ctx.db), actions: ["changePassword"] });
  }
  if (ctx.body.customData !== undefined && !_ownChange(ctx, "changeOwnCustomData")) {
    out.push({ target: _database(ctx.db), actions: ["changeCustomData"] });
  }
  if (ctx.body.roles !== undefined) {
    out.push({ target: _anyDatabase, actions: ["revokeRole"] });
    out.push(..._roleDatabases(ctx, "roles", "grantRole"));
  }
  out.push(..._restrictions(ctx));
  return out;
}

function _isSelf(ctx: RuleContext, user: string, db: string): boolean {
  return ctx.users.some((u) => u.user === user && u.db === db);
}

function _usersInfo(ctx: RuleContext): Requirement[] {
  const spec = ctx.body.usersInfo;
  if (isPlainDoc(spec) && spec.forAllDBs === true) {
    return [{ target: _cluster, actions: ["viewUser"] }];
  }
  const targets = (Array.isArray(spec) ? spec : [spec]).map((entry) =>
    typeof entry === "string"
      ? { user: entry, db: ctx.db }
      : isPlainDoc(entry) && typeof entry.user === "string"
      ? { user: entry.user, db: typeof entry.db === "string" ? entry.db : ctx.db }
      : undefined
  );
  if (targets.length > 0 && targets.every((t) => t && _isSelf(ctx, t.user, t.db))) return [];
  const dbs = new Set(targets.map((t) => t?.db ?? ctx.db));
  return [...dbs].map((db) => ({ target: _database(db), actions: ["viewUser"] }));
}

function _rolesInfo(ctx: RuleContext): Requirement[] {
  const spec = ctx.body.rolesInfo;
  const named = (Array.isArray(spec) ? spec : [spec]).map((entry) =>
    typeof entry === "string"
      ? { role: entry, db: ctx.db }
      : isPlainDoc(entry) && typeof entry.role === "string"
      ? { role: entry.role, db: typeof entry.db === "string" ? entry.db : ctx.db }
      : undefined
  );
  const held = (r: RoleRef | undefined) =>
    r !== undefined && ctx.roles.some((h) => h.role === r.role && h.db === r.db);
  if (named.length > 0 && named.every(held)) return [];
  const dbs = new Set(named.map((r) => r?.db ?? ctx.db));
  return [...dbs].map((db) => ({ target: _database(db), actions: ["viewRole"] }));
}

/**
 * Every command of the sandbox and how it is authorized (see the module doc).
 * getMore and killCursors are further limited to the users who opened the cursor.
 */
export const COMMAND_PRIVILEGES: Readonly<Record<string, Rule>> = {
  // The handshake and authentication: mongod runs these unauthenticated.
  hello: "public",
  isMaster: "public",
  ismaster: "public",
  ping: "public",
  buildInfo: "public",
  buildinfo: "public",
  saslStart: "public",
  saslContinue: "public",
  logout: "public",
  connectionStatus: "public",
  // A user, but no privilege: their own sessions, their own address, test fail points.
  endSessions: "authenticated",
  killSessions: "authenticated",
  refreshSessions: "authenticated",
  whatsmyuri: "authenticated",
  configureFailPoint: "authenticated",
  // Without listDatabases, lists only the user's databases (mongod's authorizedDatabases).
  listDatabases: (ctx) =>
    ctx.body.authorizedDatabases === false
      ? [{ target: _cluster, actions: ["listDatabases"] }]
      : [],
  getMore: "authenticated", // the cursor's own users only (checked in authorize)
  killCursors: "authenticated", // the cursor's own users, or killAnyCursor
  // Cluster-wide.
  killAllSessions: _onCluster("killAnySession"),
  serverStatus: _onCluster("serverStatus"),
  replSetGetStatus: _onCluster("replSetGetStatus"),
  getParameter: _onCluster("getParameter"),
  hostInfo: _onCluster("hostInfo"),
  getCmdLineOpts: _onCluster("getCmdLineOpts"),
  getLog: _onCluster("getLog"),
  currentOp: (ctx) => ctx.body.$ownOps === true ? [] : [{ target: _cluster, actions: ["inprog"] }],
  // Reads.
  find: _on("find"),
  count: _on("find"),
  distinct: _on("find"),
  aggregate: _aggregate,
  explain: _explain,
  // Writes.
  insert: (ctx) => [{ target: _targetOf(ctx), actions: ["insert", ..._bypass(ctx.body)] }],
  update: _update,
  delete: _on("remove"),
  findAndModify: _findAndModify,
  findandmodify: _findAndModify,
  // Catalog.
  create: _create,
  drop: _on("dropCollection"),
  dropDatabase: _onDatabase("dropDatabase"),
  renameCollection: _renameCollection,
  listCollections: _onDatabase("listCollections"),
  createIndexes: _on("createIndex"),
  listIndexes: _on("listIndexes"),
  dropIndexes: _on("dropIndex"),
  deleteIndexes: _on("dropIndex"),
  collMod: _on("collMod"),
  // Diagnostics.
  collStats: _on("collStats"),
  dbStats: _onDatabase("dbStats"),
  dbstats: _onDatabase("dbStats"),
  validate: _on("validate"),
  // Users and roles.
  createUser: _createUser,
  updateUser: _updateUser,
  dropUser: _onDatabase("dropUser"),
  dropAllUsersFromDatabase: _onDatabase("dropUser"),
  createRole: _createUser,
  updateRole: _updateRole,
  dropRole: _onDatabase("dropRole"),
  dropAllRolesFromDatabase: _onDatabase("dropRole"),
  grantRolesToUser: (ctx) => _roleDatabases(ctx, "roles", "grantRole"),
  revokeRolesFromUser: (ctx) => _roleDatabases(ctx, "roles", "revokeRole"),
  grantRolesToRole: (ctx) => _roleDatabases(ctx, "roles", "grantRole"),
  revokeRolesFromRole: (ctx) => _roleDatabases(ctx, "roles", "revokeRole"),
  grantPrivilegesToRole: (ctx) => _privilegeDatabases(ctx, "privileges", "grantRole"),
  revokePrivilegesFromRole: (ctx) => _privilegeDatabases(ctx, "privileges", "revokeRole"),
  usersInfo: _usersInfo,
  rolesInfo: _rolesInfo,
};

/** The commands the localhost exception opens, on `admin`, while no user or role exists. */
const _LOCALHOST_EXCEPTION = new Set(["createUser", "createRole"]);

/**
 * The privileges of a connection's users, recomputed only after users or roles change.
 *
 * @param state Server state.
 * @param connection The connection.
 * @returns Roles reached and privileges granted.
 */
export function connectionPrivileges(
  state: SandboxState,
  connection: ConnectionInfo,
): { roles: RoleRef[]; privileges: Privilege[] } {
  const auth = connection.auth;
  if (!auth || auth.users.length === 0) return { roles: [], privileges: [] };
  const store = state.auth;
  if (auth.cache?.generation === store.generation) return auth.cache;
  const granted = auth.users.flatMap((u) => store.user(u.db, u.user)?.roles ?? []);
  const resolved = store.resolve(granted);
  auth.cache = { generation: store.generation, ...resolved };
  return auth.cache;
}

/** The owners of a cursor, as a key: the connection's users when it was opened. */
function _ownerKey(users: readonly AuthenticatedUser[]): string {
  return users.map((u) => `${u.db}.${u.user}`).sort().join("\u0000");
}

/** A cap of the sandbox's own, so a huge refused insert does not make a huge reply. */
const _MAX_LENGTH = 1 << 20;

/**
 * Renders a command as mongod's Unauthorized message shows it: `BSONObj::toString` of the
 * command after `snipForLogging`, which replaces a top-level `pwd` with `"xxx"`.
 *
 * @param body The command.
 * @returns e.g. `{ find: "Commande", filter: {}, lsid: { id: UUID("…") }, $db: "Orders" }`.
 */
export function renderCommand(body: Doc): string {
  const snipped = Object.hasOwn(body, "pwd") ? { ...body, pwd: "xxx" } : body;
  const text = renderValue(snipped);
  return text.length > _MAX_LENGTH ? `${text.slice(0, _MAX_LENGTH)}...` : text;
}

function _unauthorized(db: string, body: Doc): CommandError {
  return new CommandError(13, `not authorized on ${db} to execute command ${renderCommand(body)}`);
}

/**
 * Refuses a command the connection may not run (with `auth` on): mongod's code 13,
 * `Command <name> requires authentication` when nobody is authenticated, else
 * `not authorized on <db> to execute command { ... }`.
 *
 * @param state Server state.
 * @param connection The connection.
 * @param name The command name.
 * @param body The command.
 * @param db The command's database.
 * @throws {CommandError} When the command is not allowed.
 */
export function authorize(
  state: SandboxState,
  connection: ConnectionInfo,
  name: string,
  body: Doc,
  db: string,
): void {
  const rule = COMMAND_PRIVILEGES[name];
  if (rule === "public" || rule === undefined) return; // unknown: CommandNotFound follows
  const users = connection.auth?.users ?? [];
  if (users.length === 0) {
    if (
      _LOCALHOST_EXCEPTION.has(name) && db === "admin" && connection.loopback === true &&
      state.auth.empty
    ) {
      return;
    }
    throw new CommandError(13, `Command ${name} requires authentication`);
  }
  const { roles, privileges } = connectionPrivileges(state, connection);
  if (name === "getMore" || name === "killCursors") {
    _authorizeCursors(state, users, privileges, name, body, db);
    return;
  }
  if (rule === "authenticated") return;
  const ctx: RuleContext = { state, db, body, name, users, roles, privileges };
  for (const requirement of rule(ctx)) {
    for (const action of requirement.actions) {
      if (!grants(privileges, requirement.target, action)) throw _unauthorized(db, body);
    }
  }
}

function _authorizeCursors(
  state: SandboxState,
  users: readonly AuthenticatedUser[],
  privileges: readonly Privilege[],
  name: string,
  body: Doc,
  db: string,
): void {
  const owner = _ownerKey(users);
  const ids = name === "getMore" ? [body.getMore] : Array.isArray(body.cursors) ? body.cursors : [];
  for (const id of ids) {
    const recorded = state.auth.cursorOwners.get(String(id));
    if (recorded === undefined || recorded === owner) continue;
    const ns = state.cursors.get(id)?.ns ?? `${db}.${String(body.collection)}`;
    const target = _split(ns)!;
    if (name === "killCursors" && grants(privileges, target, "killAnyCursor")) continue;
    throw new CommandError(13, `cursor id ${String(id)} was not created by the authenticated user`);
  }
}

/**
 * Remembers who opened the cursor a reply returns (and forgets exhausted or killed ones), so
 * that only they may continue it.
 *
 * @param state Server state.
 * @param connection The connection.
 * @param name The command name.
 * @param body The command.
 * @param reply Its reply.
 */
export function recordCursor(
  state: SandboxState,
  connection: ConnectionInfo,
  name: string,
  body: Doc,
  reply: Doc,
): void {
  const owners = state.auth.cursorOwners;
  if (name === "killCursors" && Array.isArray(body.cursors)) {
    for (const id of body.cursors) owners.delete(String(id));
    return;
  }
  const cursor = isPlainDoc(reply.cursor) ? reply.cursor : undefined;
  if (!cursor || cursor.id === undefined) return;
  const id = String(cursor.id);
  if (id === "0") {
    if (name === "getMore") owners.delete(String(body.getMore));
    return;
  }
  if (name === "getMore") return;
  owners.set(id, _ownerKey(connection.auth?.users ?? []));
  if (owners.size > 10_000) {
    for (const key of owners.keys()) if (!state.cursors.get(key)) owners.delete(key);
  }
}

/**
 * Whether the connection may see a database in `listDatabases` (mongod's
 * `authorizedDatabases`): it holds `listDatabases` on the cluster, or any privilege there.
 *
 * @param state Server state.
 * @param connection The connection.
 * @param db The database.
 * @returns Whether to list it.
 */
export function mayListDatabase(
  state: SandboxState,
  connection: ConnectionInfo,
  db: string,
): boolean {
  const { privileges } = connectionPrivileges(state, connection);
  if (grants(privileges, _cluster, "listDatabases")) return true;
  return privileges.some((p) =>
    "anyResource" in p.resource ||
    ("db" in p.resource &&
      (p.resource.db === db || (p.resource.db === "" && db !== "local" && db !== "config")))
  );
}
