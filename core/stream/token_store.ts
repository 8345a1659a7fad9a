/**
 * Where the watcher keeps its resume token: a file replaced atomically (the default), or a
 * MongoDB collection for watchers on several hosts. Each saved token carries the cluster time of
 * the event it follows, when it was saved, and the namespace it belongs to, so a token from
 * another collection is never used to resume.
 *
 * @module
 */

import { BSON, type Collection, type Document, Timestamp } from "mongodb";
import { readJsonFile, writeFileAtomic } from "../runtime/atomic_file.ts";

const { EJSON } = BSON;

/** A resume token with what it follows. */
export interface SavedToken {
  /** The change stream's resume token (its `_id`). */
  token: Document;
  /** Cluster time of the last event the token follows, if known. */
  clusterTime: Timestamp | null;
  /** When it was saved. */
  savedAt: Date;
  /** `<db>.<collection>` of the stream it belongs to. */
  namespace: string;
}

/** Loads and saves a resume token. */
export interface TokenStore {
  /** Where the token lives, for messages. */
  readonly description: string;
  /**
   * Loads the saved token.
   *
   * @returns The token, or `undefined` when none was saved.
   * @throws {CorruptTokenError} When something is saved but unusable.
   */
  load(): Promise<SavedToken | undefined>;
  /**
   * Saves a token, replacing the previous one only once the new one is safely written.
   *
   * @param token The token to save.
   */
  save(token: SavedToken, options?: SaveOptions): Promise<void>;
}

/** Options of {@link TokenStore.save}. */
export interface SaveOptions {
  /**
   * The lease epoch the save is made under (`watch --ha`): the store refuses it when it holds a
   * token of a later epoch, so a holder that lost its lease never writes a token backwards.
   */
  fence?: { epoch: number };
}

/** A token save refused because a later lease holder saved or fenced first. */
export class FencedTokenError extends Error {
  /** The epoch the refused save was made under. */
  readonly epoch: number;

  /**
   * Creates the error.
   *
   * @param where The token document.
   * @param epoch The epoch of the refused save.
   */
  constructor(where: string, epoch: number) {
    super(`${where} belongs to a lease epoch after ${epoch}: not saved`);
    this.name = "FencedTokenError";
    this.epoch = epoch;
  }
}

/** A saved token that cannot be used: empty, truncated, garbage, or of another shape. */
export class CorruptTokenError extends Error {
  /**
   * Creates the error.
   *
   * @param message What is wrong with the token.
   * @param options The cause.
   */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "CorruptTokenError";
  }
}

/** The file format: the token in Extended JSON, times in ISO form. */
interface _TokenFile {
  token: unknown;
  cluster_time: { t: number; i: number } | null;
  saved_at: string;
  namespace: string;
}

function _fromStored(value: unknown, where: string): SavedToken {
  const file = value as _TokenFile;
  if (
    typeof file !== "object" || file === null || typeof file.token !== "object" ||
    file.token === null || typeof file.namespace !== "string" || typeof file.saved_at !== "string"
  ) {
    throw new CorruptTokenError(`${where} does not hold a resume token`);
  }
  const token = EJSON.deserialize(file.token as Document, { relaxed: false }) as Document;
  if (!("_data" in token)) throw new CorruptTokenError(`${where} holds a token without _data`);
  const clusterTime = file.cluster_time
    ? _timestamp(file.cluster_time.t, file.cluster_time.i)
    : null;
  return { token, clusterTime, savedAt: new Date(file.saved_at), namespace: file.namespace };
}

function _toStored(saved: SavedToken): _TokenFile {
  return {
    token: EJSON.serialize(saved.token, { relaxed: false }),
    cluster_time: saved.clusterTime
      ? { t: saved.clusterTime.getHighBitsUnsigned(), i: saved.clusterTime.getLowBitsUnsigned() }
      : null,
    saved_at: saved.savedAt.toISOString(),
    namespace: saved.namespace,
  };
}

function _timestamp(t: number, i: number): Timestamp {
  return new Timestamp({ t, i });
}

/** A token kept in a file, replaced atomically (temp file, flush, rename). */
export class FileTokenStore implements TokenStore {
  readonly #path: string;

  /**
   * A store keeping the token in one file.
   *
   * @param path The token file.
   */
  constructor(path: string) {
    this.#path = path;
  }

  /** The file path. */
  get description(): string {
    return `token file ${JSON.stringify(this.#path)}`;
  }

  /**
   * Loads the saved token.
   *
   * @returns The token, or `undefined` when none was saved.
   * @throws {CorruptTokenError} When something is saved but unusable.
   */
  async load(): Promise<SavedToken | undefined> {
    let value: unknown;
    try {
      value = await readJsonFile(this.#path);
    } catch (error) {
      throw new CorruptTokenError(
        `${this.description} is unreadable: ${error instanceof Error ? error.message : error}`,
        { cause: error },
      );
    }
    if (value === undefined) return undefined;
    return _fromStored(value, this.description);
  }

  /**
   * Saves a token, replacing the previous one only once the new one is written.
   *
   * @param token The token to save.
   */
  async save(token: SavedToken): Promise<void> {
    await writeFileAtomic(this.#path, `${JSON.stringify(_toStored(token))}\n`);
  }
}

/** A token kept in a MongoDB collection, one document per watched namespace. */
export class MongoTokenStore implements TokenStore {
  readonly #collection: Collection;
  readonly #key: string;
  readonly #writeTimeoutMs: number;

  /**
   * A store keeping the token in a collection, keyed by the watched namespace.
   *
   * @param collection The collection holding tokens.
   * @param key The watched namespace, the document's `_id`.
   * @param options How long the majority may take to confirm a save (default 30 s): an
   *   unconfirmed save fails, and the previous token is kept.
   */
  constructor(collection: Collection, key: string, options: { writeTimeoutMs?: number } = {}) {
    this.#collection = collection;
    this.#key = key;
    this.#writeTimeoutMs = options.writeTimeoutMs ?? 30_000;
  }

  /** The collection and key. */
  get description(): string {
    return `token document "${this.#key}" in ${this.#collection.collectionName}`;
  }

  /**
   * Loads the saved token.
   *
   * @returns The token, or `undefined` when none was saved.
   * @throws {CorruptTokenError} When something is saved but unusable.
   */
  async load(): Promise<SavedToken | undefined> {
    const document = await this.#collection.findOne({
      _id: this.#key as unknown as Document["_id"],
    });
    // A document with only an epoch was fenced by a new holder before any token was saved.
    if (!document || !("token" in document)) return undefined;
    return _fromStored(document, this.description);
  }

  /**
   * The lease epoch of the stored token (or fence), 0 when there is none.
   *
   * @returns The epoch.
   */
  async epoch(): Promise<number> {
    const document = await this.#collection.findOne(
      { _id: this.#key as unknown as Document["_id"] },
      { projection: { epoch: 1 } },
    );
    return typeof document?.epoch === "number" ? document.epoch : 0;
  }

  /**
   * Raises the stored epoch to a new lease holder's, so saves of any earlier epoch are refused
   * from now on; the token itself is kept.
   *
   * @param epoch The new holder's epoch.
   * @throws {FencedTokenError} When the store already holds a later epoch.
   */
  async fence(epoch: number): Promise<void> {
    try {
      await this.#collection.updateOne(
        { _id: this.#key as unknown as Document["_id"], ..._notLater(epoch) },
        { $set: { epoch } },
        { upsert: true, writeConcern: this.#writeConcern() },
      );
    } catch (error) {
      if ((error as { code?: unknown }).code === 11000) {
        throw new FencedTokenError(this.description, epoch);
      }
      throw error;
    }
  }

  /**
   * Saves a token, replacing the previous one only once the new one is written.
   *
   * @param token The token to save.
   * @param options The lease epoch it is saved under: refused when the stored one is later.
   * @throws {FencedTokenError} When the fence refuses it; the stored token is kept.
   */
  async save(token: SavedToken, options: SaveOptions = {}): Promise<void> {
    const epoch = options.fence?.epoch;
    const stored = _toStored(token) as unknown as Document;
    if (epoch === undefined) {
      await this.#collection.replaceOne(
        { _id: this.#key as unknown as Document["_id"] },
        stored,
        { upsert: true, writeConcern: this.#writeConcern() },
      );
      return;
    }
    // The filter is the fence: a stored epoch later than ours leaves nothing to match, and the
    // upsert then collides with the document's _id (E11000) instead of overwriting it.
    try {
      await this.#collection.replaceOne(
        { _id: this.#key as unknown as Document["_id"], ..._notLater(epoch) },
        { ...stored, epoch },
        { upsert: true, writeConcern: this.#writeConcern() },
      );
    } catch (error) {
      if ((error as { code?: unknown }).code === 11000) {
        throw new FencedTokenError(this.description, epoch);
      }
      throw error;
    }
  }

  #writeConcern() {
    return { w: "majority" as const, wtimeoutMS: this.#writeTimeoutMs };
  }
}

/** Matches a token document whose epoch is absent or not after `epoch`. */
function _notLater(epoch: number): Document {
  return { $or: [{ epoch: { $exists: false } }, { epoch: { $lte: epoch } }] };
}
