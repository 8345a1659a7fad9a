/**
 * Snapshot reads (`readConcern: { level: "snapshot" }` outside a transaction): `find`,
 * `aggregate` and `distinct` read the data as it was at one cluster time — `atClusterTime`
 * when given, else the latest — and answer that time (`cursor.atClusterTime`, or a top-level
 * `atClusterTime` for `distinct`), which a snapshot session then sends with every later read.
 * Any other command with that read concern fails with InvalidOptions, as on mongod.
 *
 * The sandbox keeps one version of each document; a collection as it was at a time is rebuilt
 * from the current documents by undoing, newest first, the oplog's writes after that time
 * (every update, replace and delete entry holds the document before it). A time older than the
 * oplog still holds fails with SnapshotTooOld; a collection dropped or renamed since fails with
 * SnapshotUnavailable, as when mongod's catalog changed after the snapshot.
 *
 * @module
 */

import type { Timestamp } from "bson";
import { type Doc, isPlainDoc, valueKey } from "../bson_values.ts";
import { Collection } from "./collection.ts";
import { CommandError } from "../errors.ts";
import { compareTimestamps, Oplog, type OplogEntry } from "./oplog.ts";
import { Storage } from "./storage.ts";

/** Commands that read at a snapshot outside a transaction (mongod 5.0 and later). */
const _SNAPSHOT_COMMANDS: ReadonlySet<string> = new Set(["find", "aggregate", "distinct"]);

/** A command's snapshot read, once checked ({@link snapshotRead}). */
export interface SnapshotRead {
  /** The cluster time read at. */
  atClusterTime: Timestamp;
}

/**
 * Tells whether a command reads at a snapshot, checking that it may.
 *
 * @param name The command name.
 * @param body The command.
 * @param now The latest cluster time.
 * @returns The time to read at, or `undefined` when the command does not ask for a snapshot
 *   (or runs in a transaction, which the sandbox rejects elsewhere).
 * @throws {CommandError} InvalidOptions (72) for a command that cannot read at a snapshot, a
 *   write stage in the pipeline, or a time in the future.
 */
export function snapshotRead(name: string, body: Doc, now: Timestamp): SnapshotRead | undefined {
  const readConcern = body.readConcern;
  if (!isPlainDoc(readConcern) || readConcern.level !== "snapshot") return undefined;
  if (body.startTransaction === true || body.autocommit === false) return undefined;
  if (!_SNAPSHOT_COMMANDS.has(name)) {
    throw new CommandError(72, `Command ${name} does not support { level: "snapshot" }`);
  }
  if (name === "aggregate" && Array.isArray(body.pipeline)) {
    for (const stage of body.pipeline) {
      if (isPlainDoc(stage) && ("$out" in stage || "$merge" in stage || "$changeStream" in stage)) {
        const stageName = Object.keys(stage)[0];
        throw new CommandError(
          72,
          `${stageName} cannot be used with a 'snapshot' read concern level outside a transaction`,
        );
      }
    }
  }
  const at = readConcern.atClusterTime;
  if (at === undefined) return { atClusterTime: now };
  if (!_isTimestamp(at)) {
    throw new CommandError(14, "BSON field 'readConcern.atClusterTime' must be a timestamp");
  }
  if (compareTimestamps(at, now) > 0) {
    throw new CommandError(
      72,
      `readConcern atClusterTime value ${at.t}, ${at.i} must not be greater than the current clusterTime ${now.t}, ${now.i}`,
    );
  }
  return { atClusterTime: at };
}

function _isTimestamp(value: unknown): value is Timestamp {
  return (value as { _bsontype?: string } | null)?._bsontype === "Timestamp";
}

/**
 * Adds the time read at to a snapshot read's reply, where the driver looks for it.
 *
 * @param reply The command's reply.
 * @param read The snapshot read.
 */
export function stampSnapshotReply(reply: Doc, read: SnapshotRead): void {
  if (isPlainDoc(reply.cursor)) reply.cursor.atClusterTime = read.atClusterTime;
  else reply.atClusterTime = read.atClusterTime;
}

/**
 * The server's data as it was at a cluster time, for reads only: collections are rebuilt on
 * first use and kept for the command.
 */
export class SnapshotStorage extends Storage {
  readonly #base: Storage;
  readonly #at: Timestamp;
  readonly #rebuilt = new Map<string, Collection | undefined>();

  /**
   * @param base The server's storage.
   * @param at The cluster time to read at.
   * @throws {CommandError} SnapshotTooOld (239) when the oplog no longer reaches back to `at`.
   */
  constructor(base: Storage, at: Timestamp) {
    super(base.oplog);
    this.#base = base;
    this.#at = at;
    const dropped = base.oplog.lastDropped;
    if (dropped && compareTimestamps(dropped, at) > 0) {
      throw new CommandError(
        239,
        `Read timestamp ${at.t}, ${at.i} is older than the oldest available timestamp.`,
        { extra: { codeName: "SnapshotTooOld" } },
      );
    }
  }

  override collection(db: string, name: string): Collection | undefined {
    const key = `${db}.${name}`;
    if (!this.#rebuilt.has(key)) this.#rebuilt.set(key, this.#rebuild(db, name));
    return this.#rebuilt.get(key);
  }

  override ensureCollection(db: string, name: string): Collection {
    throw new CommandError(72, `Cannot write to ${db}.${name} in a snapshot read`);
  }

  override createCollection(db: string, name: string): Collection {
    return this.ensureCollection(db, name);
  }

  #rebuild(db: string, name: string): Collection | undefined {
    const current = this.#base.collection(db, name);
    const oplog = this.#base.oplog;
    const later: OplogEntry[] = [];
    for (let seq = oplog.seqAfter(this.#at, false); seq < oplog.nextSeq; seq++) {
      const entry = oplog.at(seq);
      if (entry && _touches(entry, db, name)) later.push(entry);
    }
    if (later.length === 0) return current;
    const docs = new Map(current?.docs);
    let created = false;
    for (const entry of later.reverse()) {
      switch (entry.op) {
        case "insert":
          docs.delete(valueKey(entry.documentKey?._id));
          break;
        case "update":
        case "replace":
        case "delete":
          if (entry.before) docs.set(valueKey(entry.before._id), entry.before);
          break;
        case "create":
          created = true;
          break;
        case "drop":
        case "rename":
        case "dropDatabase":
          throw new CommandError(
            246,
            `Unable to read from a snapshot due to pending collection catalog changes to ${db}.${name}; please retry the operation.`,
            { extra: { codeName: "SnapshotUnavailable" } },
          );
      }
    }
    if (created || !current) return undefined;
    const snapshot = new Collection(db, name, new Oplog(1), current.options);
    const ordered = [...docs].sort(([, a], [, b]) =>
      current.naturalPosition(a) - current.naturalPosition(b)
    );
    for (const [key, doc] of ordered) snapshot.docs.set(key, doc);
    return snapshot;
  }
}

function _touches(entry: OplogEntry, db: string, name: string): boolean {
  if (entry.op === "dropDatabase") return entry.db === db;
  if (entry.db === db && entry.coll === name) return true;
  return entry.op === "rename" && entry.to?.db === db && entry.to.coll === name;
}
