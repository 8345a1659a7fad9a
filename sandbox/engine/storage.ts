/**
 * The server's data: databases of collections, and the oplog every write goes to.
 *
 * @module
 */

import type { Doc } from "../bson_values.ts";
import { Collection } from "./collection.ts";
import { CommandError } from "../errors.ts";
import { type Namespace, Oplog } from "./oplog.ts";

/**
 * Checks a database name as MongoDB does.
 *
 * @param db The name.
 */
export function validateDbName(db: string): void {
  if (db.length === 0 || /[/\\. "$\0]/.test(db) || db.length > 63) {
    throw new CommandError(73, `Invalid database name: '${db}'`);
  }
}

/**
 * Checks a collection name as MongoDB does.
 *
 * @param db The database name.
 * @param name The collection name.
 */
export function validateCollectionName(db: string, name: unknown): asserts name is string {
  if (typeof name !== "string") {
    throw new CommandError(73, `collection name has invalid type ${typeof name}`);
  }
  if (name.length === 0 || name.includes("\0") || name.startsWith(".") || name.includes("$")) {
    throw new CommandError(73, `Invalid namespace specified '${db}.${name}'`);
  }
}

/** All databases and collections of one sandbox, and its oplog. */
export class Storage {
  /** The oplog. */
  readonly oplog: Oplog;
  /** Database name → collection name → collection. */
  readonly databases: Map<string, Map<string, Collection>> = new Map();

  /**
   * @param oplog Maximum number of oplog entries kept, or the oplog itself (a snapshot view
   *   shares its server's).
   */
  constructor(oplog: number | Oplog) {
    this.oplog = typeof oplog === "number" ? new Oplog(oplog) : oplog;
  }

  /**
   * Returns a collection if it exists.
   *
   * @param db Database name.
   * @param name Collection name.
   * @returns The collection.
   */
  collection(db: string, name: string): Collection | undefined {
    return this.databases.get(db)?.get(name);
  }

  /**
   * Returns a collection, creating it (and its database) when missing, as writes do.
   *
   * @param db Database name.
   * @param name Collection name.
   * @returns The collection.
   */
  ensureCollection(db: string, name: string): Collection {
    const existing = this.collection(db, name);
    if (existing) return existing;
    validateDbName(db);
    validateCollectionName(db, name);
    let collections = this.databases.get(db);
    if (!collections) this.databases.set(db, collections = new Map());
    const collection = new Collection(db, name, this.oplog);
    collections.set(name, collection);
    collection.recordDdl("create", { idIndex: { v: 2, key: { _id: 1 }, name: "_id_" } });
    return collection;
  }

  /**
   * Creates a collection explicitly.
   *
   * @param db Database name.
   * @param name Collection name.
   * @param options Creation options.
   * @returns The new collection.
   */
  createCollection(db: string, name: string, options: Doc): Collection {
    if (this.collection(db, name)) {
      throw new CommandError(48, `Collection ${db}.${name} already exists.`);
    }
    validateDbName(db);
    validateCollectionName(db, name);
    let collections = this.databases.get(db);
    if (!collections) this.databases.set(db, collections = new Map());
    const collection = new Collection(db, name, this.oplog, options);
    collections.set(name, collection);
    collection.recordDdl(
      "create",
      typeof options.viewOn === "string"
        ? { viewOn: options.viewOn, pipeline: options.pipeline ?? [] }
        : { ...options, idIndex: { v: 2, key: { _id: 1 }, name: "_id_" } },
    );
    return collection;
  }

  /**
   * Drops a collection, recording a `drop` in the oplog.
   *
   * @param db Database name.
   * @param name Collection name.
   * @returns Whether it existed.
   */
  dropCollection(db: string, name: string): boolean {
    const collections = this.databases.get(db);
    const collection = collections?.get(name);
    if (!collections || !collection) return false;
    collections.delete(name);
    if (collections.size === 0) this.databases.delete(db);
    this.oplog.append({ op: "drop", db, coll: name, uuid: collection.uuid });
    return true;
  }

  /**
   * Renames a collection, possibly into another database, keeping its documents, indexes,
   * options and UUID, and records one `rename` in the oplog (also when `dropTarget` replaced an
   * existing collection, as mongod does).
   *
   * @param from The current namespace.
   * @param to The new namespace.
   * @param dropTarget Whether an existing collection at `to` is dropped instead of failing.
   * @returns The renamed collection.
   * @throws {CommandError} NamespaceNotFound (26) when `from` does not exist, NamespaceExists
   * (48) when `to` exists and `dropTarget` is false, IllegalOperation (20) when both are the
   * same, InvalidNamespace (73) for a bad target name.
   */
  renameCollection(from: Namespace, to: Namespace, dropTarget: boolean): Collection {
    const source = this.collection(from.db, from.coll);
    if (!source) {
      throw new CommandError(26, `Source collection ${from.db}.${from.coll} does not exist`);
    }
    if (from.db === to.db && from.coll === to.coll) {
      throw new CommandError(20, "Can't rename a collection to itself");
    }
    validateDbName(to.db);
    validateCollectionName(to.db, to.coll);
    const target = this.collection(to.db, to.coll);
    if (target) {
      if (!dropTarget) throw new CommandError(48, "target namespace exists");
      this.databases.get(to.db)!.delete(to.coll);
    }
    const sources = this.databases.get(from.db)!;
    sources.delete(from.coll);
    if (sources.size === 0) this.databases.delete(from.db);
    let targets = this.databases.get(to.db);
    if (!targets) this.databases.set(to.db, targets = new Map());
    source.moveTo(to.db, to.coll);
    targets.set(to.coll, source);
    this.oplog.append({
      op: "rename",
      db: from.db,
      coll: from.coll,
      to: { db: to.db, coll: to.coll },
      ...(target ? { dropTarget: target.uuid } : {}),
      uuid: source.uuid,
    });
    return source;
  }

  /**
   * Drops a database: a `drop` per collection, then `dropDatabase`, in the oplog.
   *
   * @param db Database name.
   * @returns Whether it existed.
   */
  dropDatabase(db: string): boolean {
    const collections = this.databases.get(db);
    if (!collections) return false;
    for (const name of [...collections.keys()]) this.dropCollection(db, name);
    this.databases.delete(db);
    this.oplog.append({ op: "dropDatabase", db });
    return true;
  }
}
