/**
 * The `local` database as a replica set member shows it: `local.oplog.rs`, read-only, served
 * from the bounded oplog, each entry shaped as MongoDB shapes it (`op` "i", "u", "d", "c";
 * `ns`, `ui`, `o`, `o2`, `ts`, `t`, `v`, `wall`). Its first entry moves forward as entries fall
 * out of the bounded oplog, so the window (newest `ts` − oldest `ts`) shrinks as a real one does.
 * `local` is listed by `listDatabases`, `oplog.rs` by its `listCollections` as a capped
 * collection, and `collStats` / `$collStats` give its `size` and `maxSize`: what mongosh's
 * `db.getReplicationInfo()` and `rs.printReplicationInfo()` read.
 *
 * @module
 */

import { Long, UUID } from "bson";
import type { Options } from "mingo/types";
import type { Doc } from "../bson_values.ts";
import { CommandError } from "../errors.ts";
import { compileFilter } from "../query/mingo_context.ts";
import type { Oplog, OplogEntry } from "./oplog.ts";

/** The database holding the oplog. */
export const LOCAL_DB = "local";
/** The oplog collection's name. */
export const OPLOG_COLLECTION = "oplog.rs";

/**
 * Whether a namespace is the oplog.
 *
 * @param db Database name.
 * @param collection Collection name.
 * @returns True for `local.oplog.rs`.
 */
export function isOplogNamespace(db: string, collection: unknown): boolean {
  return db === LOCAL_DB && collection === OPLOG_COLLECTION;
}

/**
 * The error a write to `local.oplog.rs` gets on a replica set member (InvalidNamespace).
 *
 * @returns The error.
 */
export function oplogWriteError(): CommandError {
  return new CommandError(73, `cannot write to '${LOCAL_DB}.${OPLOG_COLLECTION}'`);
}

/**
 * The entries the oplog holds, oldest first, as `local.oplog.rs` documents.
 *
 * @param oplog The bounded oplog.
 * @returns The documents in natural (insertion) order.
 */
export function oplogDocuments(oplog: Oplog): Doc[] {
  const out: Doc[] = [];
  const oldest = oplog.oldest;
  if (!oldest) return out;
  for (let seq = oldest.seq; seq < oplog.nextSeq; seq++) {
    const entry = oplog.at(seq);
    if (entry) out.push(oplogDocument(entry));
  }
  return out;
}

/**
 * The `local.oplog.rs` documents a filter matches, oldest first.
 *
 * @param oplog The bounded oplog.
 * @param filter The query filter.
 * @param options Mingo options (variables, collation).
 * @returns The matching documents in natural order.
 */
export function oplogMatching(oplog: Oplog, filter: Doc, options: Partial<Options>): Doc[] {
  const docs = oplogDocuments(oplog);
  if (Object.keys(filter).length === 0) return docs;
  const predicate = compileFilter(filter, options);
  return docs.filter((doc) => predicate(doc));
}

/**
 * The rough size of the oplog's documents, for `collStats`' `size`.
 *
 * @param docs The documents.
 * @returns Bytes (an estimate: the JSON length).
 */
export function approximateSize(docs: readonly Doc[]): number {
  let size = 0;
  for (const doc of docs) size += JSON.stringify(doc)?.length ?? 0;
  return size;
}

/** The size of an entry assumed while the oplog is empty (for its configured `maxSize`). */
const _NOMINAL_ENTRY_BYTES = 256;

const _oplogUuids = new WeakMap<Oplog, UUID>();

function _oplogUuid(oplog: Oplog): UUID {
  let uuid = _oplogUuids.get(oplog);
  if (!uuid) _oplogUuids.set(oplog, uuid = new UUID());
  return uuid;
}

/**
 * `local.oplog.rs` as a capped collection's storage statistics (`collStats`, and the
 * `storageStats` of `$collStats`). The sandbox bounds its oplog by entries, so `maxSize` is its
 * capacity at the entries' average size (a nominal one while it is empty), never below `size`:
 * `size / maxSize` is how full it is, as on mongod.
 *
 * @param oplog The bounded oplog.
 * @param scale The `scale` option (bytes per unit).
 * @returns `size`, `count`, `avgObjSize`, `storageSize`, `capped`, `max`, `maxSize`, ….
 */
export function oplogStorageStats(oplog: Oplog, scale = 1): Doc {
  const docs = oplogDocuments(oplog);
  const size = approximateSize(docs);
  const average = docs.length > 0 ? size / docs.length : _NOMINAL_ENTRY_BYTES;
  const maxSize = Math.max(size, Math.round(average * oplog.capacity));
  return {
    size: Math.round(size / scale),
    count: docs.length,
    avgObjSize: docs.length > 0 ? Math.round(average) : 0,
    numOrphanDocs: 0,
    storageSize: Math.round(size / scale),
    freeStorageSize: 0,
    capped: true,
    max: oplog.capacity,
    maxSize: Math.round(maxSize / scale),
    nindexes: 0,
    indexDetails: {},
    indexBuilds: [],
    totalIndexSize: 0,
    totalSize: Math.round(size / scale),
    indexSizes: {},
    scaleFactor: scale,
  };
}

/**
 * `oplog.rs` as `listCollections` on `local` lists it (a capped collection without an `_id`
 * index).
 *
 * @param oplog The bounded oplog.
 * @param nameOnly Whether only the name and type are asked for.
 * @returns The entry.
 */
export function oplogCollectionInfo(oplog: Oplog, nameOnly: boolean): Doc {
  if (nameOnly) return { name: OPLOG_COLLECTION, type: "collection" };
  const stats = oplogStorageStats(oplog);
  return {
    name: OPLOG_COLLECTION,
    type: "collection",
    options: { capped: true, size: stats.maxSize, autoIndexId: false },
    info: { readOnly: false, uuid: _oplogUuid(oplog) },
  };
}

/**
 * Adds `local` (holding the oplog) to `listDatabases`' entries, as a replica set member lists
 * it, merged with a `local` the storage holds.
 *
 * @param databases The entries (`name`, `sizeOnDisk`, `empty`), sorted by name.
 * @param oplog The bounded oplog.
 * @returns The entries with `local`, still sorted.
 */
export function withLocalDatabase(databases: Doc[], oplog: Oplog): Doc[] {
  const size = Number(oplogStorageStats(oplog).size);
  const existing = databases.find((d) => d.name === LOCAL_DB);
  if (existing) {
    existing.sizeOnDisk = Number(existing.sizeOnDisk) + size;
    existing.empty = false;
    return databases;
  }
  return [...databases, { name: LOCAL_DB, sizeOnDisk: size, empty: false }]
    .sort((a, b) => String(a.name) < String(b.name) ? -1 : 1);
}

/**
 * One oplog entry as `local.oplog.rs` holds it.
 *
 * @param entry The sandbox's entry.
 * @returns The document.
 */
export function oplogDocument(entry: OplogEntry): Doc {
  const ns = entry.coll !== undefined ? `${entry.db}.${entry.coll}` : `${entry.db}.$cmd`;
  const cmdNs = `${entry.db}.$cmd`;
  const tail = { ts: entry.ts, t: Long.fromNumber(1), v: Long.fromNumber(2), wall: entry.wall };
  const ui = entry.uuid ? { ui: entry.uuid } : {};
  const key = entry.documentKey ?? {};
  switch (entry.op) {
    case "insert":
      return { op: "i", ns, ...ui, o: entry.after ?? {}, o2: key, ...tail };
    case "replace":
      return { op: "u", ns, ...ui, o: entry.after ?? {}, o2: key, ...tail };
    case "update": {
      const description = entry.updateDescription ?? {};
      const diff: Doc = {};
      const updated = description.updatedFields as Doc | undefined;
      const removed = description.removedFields as string[] | undefined;
      if (updated && Object.keys(updated).length > 0) diff.u = updated;
      if (removed && removed.length > 0) {
        diff.d = Object.fromEntries(removed.map((field) => [field, false]));
      }
      return { op: "u", ns, ...ui, o: { $v: 2, diff }, o2: key, ...tail };
    }
    case "delete":
      return { op: "d", ns, ...ui, o: key, ...tail };
    case "drop":
      return { op: "c", ns: cmdNs, ...ui, o: { drop: entry.coll }, ...tail };
    case "dropDatabase":
      return { op: "c", ns: cmdNs, o: { dropDatabase: 1 }, ...tail };
    case "rename":
      return {
        op: "c",
        ns: cmdNs,
        ...ui,
        o: {
          renameCollection: ns,
          to: entry.to ? `${entry.to.db}.${entry.to.coll}` : ns,
          stayTemp: false,
          ...(entry.dropTarget ? { dropTarget: entry.dropTarget } : {}),
        },
        ...tail,
      };
    case "create":
      return {
        op: "c",
        ns: cmdNs,
        ...ui,
        o: { create: entry.coll, ...(entry.operationDescription ?? {}) },
        ...tail,
      };
    case "createIndexes": {
      const indexes = (entry.operationDescription?.indexes as Doc[] | undefined) ?? [{}];
      return {
        op: "c",
        ns: cmdNs,
        ...ui,
        o: { createIndexes: entry.coll, ...(indexes[0] ?? {}) },
        ...tail,
      };
    }
    case "dropIndexes": {
      const indexes = (entry.operationDescription?.indexes as Doc[] | undefined) ?? [];
      return {
        op: "c",
        ns: cmdNs,
        ...ui,
        o: { dropIndexes: entry.coll, index: indexes[0]?.name ?? null },
        ...tail,
      };
    }
    case "modify":
      return {
        op: "c",
        ns: cmdNs,
        ...ui,
        o: { collMod: entry.coll, ...(entry.operationDescription ?? {}) },
        ...tail,
      };
  }
}
