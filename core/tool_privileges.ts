/**
 * What the tool may do on MongoDB, in one table: the privileges (a resource and its actions) that
 * `batch`, `watch`, `health`, `verify` and `quarantine` need on the configured collections, read
 * off the commands they send. `archiver setup role` grants exactly these, `health`'s
 * `privileges` check compares them with what the connected user holds (`connectionStatus` with
 * `showPrivileges`), and `watch` names the missing one when MongoDB refuses it.
 *
 * Why here, at the top of `core/` rather than in `core/mongo/` or `plugins/setup/`: the table
 * names the collections of the archive (core/archive/collections.ts), of the stream (the `--ha`
 * lease, core/stream/lease.ts) and of the runtime (the token store), so it stands above all three;
 * and five plugins read it (setup grants it, health audits it, batch, watch and purge explain a
 * refusal with it), so it cannot live in one of them. What is MongoDB's and not the tool's — the
 * privilege documents, matching them against what a user holds, `connectionStatus`, the
 * Unauthorized code — stays below in core/mongo/privileges.ts.
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

import { type CollectionNames, collectionNames } from "./archive/collections.ts";
import type { NamespaceResource, RequiredAction, RequiredPrivilege } from "./mongo/privileges.ts";
import type { GlobalConfig } from "./runtime/config.ts";
import { tokenCollectionSetting } from "./runtime/state_files.ts";
import { leaseCollectionSetting } from "./stream/lease.ts";

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

/** One row of the tool's table: a {@link RequiredPrivilege} naming what the tool keeps there. */
export type ToolPrivilege = RequiredPrivilege<ResourceUse>;

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
): ToolPrivilege[] {
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
  const byResource = new Map<string, ToolPrivilege>();
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
): ToolPrivilege[] {
  return requiredPrivileges(target, { command: "watch" }).filter((row) =>
    row.uses.some((use) =>
      use !== "oplog" && (use !== "tokens" || options.tokenStore === "mongo") &&
      (use !== "leases" || options.ha)
    )
  );
}

/**
 * The collections the tool only reads — the orders and the reference collections — where a
 * write privilege is more than needed (`excessPrivileges`'s `readOnly`).
 *
 * @param target The database and collection names.
 * @returns The orders first, then the references.
 */
export function sourceResources(target: PrivilegeTarget): NamespaceResource[] {
  const { names } = target;
  return [names.orders, names.clients, names.couriers, names.restaurants, names.menu]
    .map((collection) => ({ db: target.db, collection }));
}
