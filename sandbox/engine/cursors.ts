/**
 * Server-side cursors: result sets handed out in batches the way MongoDB does (101 documents
 * in a first batch by default, 16 MiB at most per batch, id 0 once exhausted), and change
 * stream cursors.
 *
 * @module
 */

import { calculateObjectSize, Long } from "bson";
import type { Doc } from "../bson_values.ts";
import type { ChangeStream } from "./change_streams.ts";
import { CommandError } from "../errors.ts";
import { encodeDocument, keepEncoded, MAX_BSON_SIZE } from "../wire/wire.ts";

/** Default number of documents in a first batch. */
export const DEFAULT_FIRST_BATCH = 101;

/** A cursor over a computed result set. */
export interface DocumentCursor {
  /** Cursor id. */
  id: Long;
  /** Namespace reported in replies. */
  ns: string;
  /** Result set. */
  docs: Doc[];
  /** Next position in `docs`. */
  pos: number;
  /** Documents the cursor may still return (`limit`). */
  remaining: number;
  /** Last use, for the idle timeout. */
  lastUsed: number;
  /** Not a change stream. */
  changeStream?: undefined;
}

/** A change stream cursor. */
export interface ChangeStreamCursor {
  /** Cursor id. */
  id: Long;
  /** Namespace reported in replies. */
  ns: string;
  /** The stream. */
  changeStream: ChangeStream;
  /** Last use, for the idle timeout. */
  lastUsed: number;
  /** When it was opened (`$currentOp`). */
  createdDate: Date;
  /** The aggregate command that opened it, once known (`$currentOp`). */
  originatingCommand?: Doc;
  /** The connection that opened it, once known (`$currentOp`). */
  connection?: { id: number; remote: string; appName?: string };
}

/** Any cursor. */
export type Cursor = DocumentCursor | ChangeStreamCursor;

const _IDLE_TIMEOUT_MS = 10 * 60 * 1000;

/**
 * Takes the next batch from a document cursor.
 *
 * @param docs The result set.
 * @param start Where to start.
 * @param max Most documents to take.
 * @returns The batch.
 */
export function takeBatch(docs: Doc[], start: number, max: number): Doc[] {
  const end = Math.min(docs.length, start + max);
  let bytes = 0;
  // Each document is encoded once, here, to measure it; the reply is written from these bytes.
  const encoded: Uint8Array[] = [];
  for (let i = start; i < end; i++) {
    let doc: Uint8Array | undefined;
    try {
      doc = encodeDocument(docs[i]!);
    } catch (error) {
      // The encoder's buffer holds 17 MB: a larger document fails there, and is measured.
      if (calculateObjectSize(docs[i]!, { ignoreUndefined: true }) <= MAX_RESULT_SIZE) throw error;
    }
    const size = doc?.byteLength ?? calculateObjectSize(docs[i]!, { ignoreUndefined: true });
    if (size > MAX_RESULT_SIZE) throw _tooLarge(size);
    // In the reply's batch array each document also costs its type byte and its index as a key
    // ("123456" and a NUL): hundreds of thousands of small documents add megabytes, which once
    // took a reply past the encoder's buffer. MongoDB bounds the whole batch at 16 MB.
    bytes += size + 2 + String(i - start).length;
    if (bytes > MAX_BSON_SIZE && i > start) return keepEncoded(docs.slice(start, i), encoded);
    encoded.push(doc!);
  }
  return keepEncoded(docs.slice(start, end), encoded);
}

const MAX_RESULT_SIZE = MAX_BSON_SIZE + 16 * 1024;

/**
 * The size of a document a cursor returns. MongoDB refuses to return one over the BSON limit
 * (plus its 16 KB of headroom for internal fields): an aggregation that builds one, or a change
 * event that outgrows it (an update's description beside its post-image), fails with
 * BSONObjectTooLarge.
 *
 * @param doc The document.
 * @returns Its BSON size.
 * @throws {CommandError} 10334 when it is over the limit.
 */
export function resultSize(doc: Doc): number {
  const size = calculateObjectSize(doc, { ignoreUndefined: true });
  if (size > MAX_RESULT_SIZE) throw _tooLarge(size);
  return size;
}

/** MongoDB's error for a document a cursor would return over the BSON limit (and its headroom). */
function _tooLarge(size: number): CommandError {
  return new CommandError(
    10334,
    `BSONObj size: ${size} (0x${size.toString(16).toUpperCase()}) is invalid. ` +
      `Size must be between 0 and ${MAX_RESULT_SIZE}(16MB)`,
  );
}

/** The cursors of one server. */
export class CursorManager {
  readonly #cursors = new Map<string, Cursor>();

  /** Number of open cursors. */
  get size(): number {
    return this.#cursors.size;
  }

  #newId(): Long {
    let id: Long;
    do {
      id = Long.fromNumber(Math.floor(Math.random() * 2 ** 52) + 1);
    } while (this.#cursors.has(id.toString()));
    return id;
  }

  #sweep(): void {
    const now = Date.now();
    for (const [key, cursor] of this.#cursors) {
      if (now - cursor.lastUsed > _IDLE_TIMEOUT_MS) this.#cursors.delete(key);
    }
  }

  /**
   * Registers a document cursor for the rest of a result set.
   *
   * @param ns Namespace.
   * @param docs Result set.
   * @param pos Position after the first batch.
   * @param remaining Documents the cursor may still return.
   * @returns The cursor.
   */
  openDocuments(ns: string, docs: Doc[], pos: number, remaining: number): DocumentCursor {
    this.#sweep();
    const cursor: DocumentCursor = {
      id: this.#newId(),
      ns,
      docs,
      pos,
      remaining,
      lastUsed: Date.now(),
    };
    this.#cursors.set(cursor.id.toString(), cursor);
    return cursor;
  }

  /**
   * Registers a change stream cursor.
   *
   * @param ns Namespace.
   * @param changeStream The stream.
   * @returns The cursor.
   */
  openChangeStream(ns: string, changeStream: ChangeStream): ChangeStreamCursor {
    this.#sweep();
    const cursor: ChangeStreamCursor = {
      id: this.#newId(),
      ns,
      changeStream,
      lastUsed: Date.now(),
      createdDate: new Date(),
    };
    this.#cursors.set(cursor.id.toString(), cursor);
    return cursor;
  }

  /**
   * Finds a cursor by id.
   *
   * @param id Cursor id as received (Long or number).
   * @returns The cursor.
   */
  get(id: unknown): Cursor | undefined {
    const cursor = this.#cursors.get(String(id));
    if (cursor) cursor.lastUsed = Date.now();
    return cursor;
  }

  /**
   * Finds a cursor by id or fails with CursorNotFound.
   *
   * @param id Cursor id.
   * @returns The cursor.
   */
  require(id: unknown): Cursor {
    const cursor = this.get(id);
    if (!cursor) throw new CommandError(43, `cursor id ${String(id)} not found`);
    return cursor;
  }

  /**
   * Forgets a cursor.
   *
   * @param id Cursor id.
   * @returns Whether it existed.
   */
  kill(id: unknown): boolean {
    return this.#cursors.delete(String(id));
  }

  /** The open change stream cursors, oldest first. */
  changeStreams(): ChangeStreamCursor[] {
    return [...this.#cursors.values()].filter((c): c is ChangeStreamCursor =>
      c.changeStream !== undefined
    );
  }

  /** Forgets every cursor. */
  clear(): void {
    this.#cursors.clear();
  }
}
