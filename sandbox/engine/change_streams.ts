/**
 * Change streams: resume tokens, the events built from oplog entries, and the cursor state
 * a `$changeStream` aggregation keeps between getMores.
 *
 * @module
 */

import { Aggregator } from "mingo/aggregator";
import { Timestamp } from "bson";
import { type Doc, isPlainDoc, valueKey } from "../bson_values.ts";
import { CommandError } from "../errors.ts";
import { mingoOptions } from "../query/mingo_context.ts";
import { MAX_BSON_SIZE } from "../wire/wire.ts";
import { resultSize } from "./cursors.ts";
import { compareTimestamps, type OplogEntry } from "./oplog.ts";
import type { Storage } from "./storage.ts";

/** What a resume token points at. */
export const enum TokenKind {
  /** A change event. */
  Event = 0,
  /** The invalidate event following a drop. */
  Invalidate = 1,
  /** A position in the oplog with no event (post-batch resume token). */
  HighWaterMark = 2,
}

/** A decoded resume token. */
export interface ResumePoint {
  /** Cluster time. */
  ts: Timestamp;
  /** What it points at. */
  kind: TokenKind;
}

const _hex8 = (n: number) => n.toString(16).padStart(8, "0");

/**
 * Encodes a resume token (`{ _data: <hex> }`).
 *
 * @param ts Cluster time.
 * @param kind What the token points at.
 * @returns The token.
 */
export function encodeResumeToken(ts: Timestamp, kind: TokenKind): Doc {
  return { _data: `82${_hex8(ts.t)}${_hex8(ts.i)}${kind.toString(16).padStart(2, "0")}04` };
}

/**
 * Decodes a resume token made by {@link encodeResumeToken}.
 *
 * @param token The token.
 * @returns The resume point.
 */
export function decodeResumeToken(token: unknown): ResumePoint {
  const data = isPlainDoc(token) ? token._data : undefined;
  const match = typeof data === "string"
    ? /^82([0-9a-f]{8})([0-9a-f]{8})([0-9a-f]{2})04$/i.exec(data)
    : null;
  if (!match) throw new CommandError(260, `Bad resume token: ${JSON.stringify(token)}`);
  const kind = parseInt(match[3]!, 16);
  if (kind > 2) throw new CommandError(260, `Bad resume token: ${JSON.stringify(token)}`);
  return {
    ts: new Timestamp({ t: parseInt(match[1]!, 16), i: parseInt(match[2]!, 16) }),
    kind,
  };
}

/** Stages a change stream pipeline may contain after `$changeStream`. */
const _ALLOWED_STAGES = new Set([
  "$match",
  "$project",
  "$addFields",
  "$set",
  "$unset",
  "$replaceRoot",
  "$replaceWith",
  "$redact",
]);

/** What a change stream watches. */
export interface ChangeStreamScope {
  /** Database, or `undefined` for the whole cluster. */
  db?: string;
  /** Collection, or `undefined` for a whole database (or cluster). */
  coll?: string;
}

/** The `$changeStream` stage options the sandbox understands. */
export interface ChangeStreamSpec {
  fullDocument?: string;
  fullDocumentBeforeChange?: string;
  resumeAfter?: Doc;
  startAfter?: Doc;
  startAtOperationTime?: Timestamp;
  showExpandedEvents?: boolean;
  allChangesForCluster?: boolean;
}

/** One batch of a change stream. */
export interface ChangeStreamBatch {
  /** The events (after the user's pipeline). */
  events: Doc[];
  /** The post-batch resume token. */
  postBatchResumeToken: Doc;
  /** Whether the stream ended (invalidated): the cursor must be closed. */
  closed: boolean;
}

const _SYSTEM_DBS = new Set(["admin", "config", "local"]);

/** The state of one change stream cursor. */
export class ChangeStream {
  readonly #storage: Storage;
  readonly #scope: ChangeStreamScope;
  readonly #spec: ChangeStreamSpec;
  readonly #pipeline: Aggregator | undefined;
  #seq: number;
  /** Whether the next thing to emit is the invalidate of the entry at `#seq`. */
  #pendingInvalidate = false;
  #closed = false;
  #token: Doc;

  /**
   * Opens a change stream, checking the resume options against the oplog.
   *
   * @param storage The server storage (oplog and collections for update lookups).
   * @param scope What the stream watches.
   * @param spec The `$changeStream` options.
   * @param pipeline The stages after `$changeStream`.
   */
  constructor(storage: Storage, scope: ChangeStreamScope, spec: ChangeStreamSpec, pipeline: Doc[]) {
    this.#storage = storage;
    this.#scope = scope;
    this.#spec = spec;
    for (const stage of pipeline) {
      const name = Object.keys(stage)[0] ?? "";
      if (name === "$changeStream") {
        throw new CommandError(
          40602,
          "$changeStream is only valid as the first stage in a pipeline.",
        );
      }
      if (!_ALLOWED_STAGES.has(name)) {
        if (!SANDBOX_KNOWN_STAGES.has(name)) {
          throw new CommandError(40324, `Unrecognized pipeline stage name: '${name}'`);
        }
        throw new CommandError(
          2,
          `${name} is not permitted in a $changeStream pipeline`,
        );
      }
    }
    this.#pipeline = pipeline.length > 0
      ? new Aggregator(pipeline as never, mingoOptions())
      : undefined;
    const oplog = storage.oplog;
    const resume = spec.resumeAfter ?? spec.startAfter;
    if (resume !== undefined) {
      const point = decodeResumeToken(resume);
      if (point.kind === TokenKind.Invalidate && spec.startAfter === undefined) {
        throw new CommandError(
          260,
          "Attempting to resume a change stream using 'resumeAfter' is not allowed from an invalidate notification.",
        );
      }
      this.#checkHistory(point.ts, point.kind === TokenKind.Event);
      if (point.kind === TokenKind.HighWaterMark || point.kind === TokenKind.Invalidate) {
        this.#seq = oplog.seqAfter(point.ts, false);
      } else {
        const seq = oplog.seqAfter(point.ts, true);
        const entry = oplog.at(seq);
        if (!entry || compareTimestamps(entry.ts, point.ts) !== 0) {
          throw new CommandError(
            280,
            "cannot resume stream; the resume token was not found.",
            { labels: ["NonResumableChangeStreamError"] },
          );
        }
        if (this.#invalidates(entry)) {
          this.#seq = seq;
          this.#pendingInvalidate = true;
        } else {
          this.#seq = seq + 1;
        }
      }
      this.#token = resume;
    } else if (spec.startAtOperationTime !== undefined) {
      this.#checkHistory(spec.startAtOperationTime, true);
      this.#seq = oplog.seqAfter(spec.startAtOperationTime, true);
      const ts = spec.startAtOperationTime;
      this.#token = encodeResumeToken(
        ts.i > 0 ? new Timestamp({ t: ts.t, i: ts.i - 1 }) : new Timestamp({ t: ts.t - 1, i: 0 }),
        TokenKind.HighWaterMark,
      );
    } else {
      this.#seq = oplog.nextSeq;
      this.#token = encodeResumeToken(oplog.clock.now(), TokenKind.HighWaterMark);
    }
  }

  /** Whether the stream has been invalidated. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Fails when an entry the stream needs (after `ts`, or at it when `inclusive`) was dropped. */
  #checkHistory(ts: Timestamp, inclusive: boolean): void {
    const lost = this.#storage.oplog.lastDropped;
    if (!lost) return;
    const c = compareTimestamps(lost, ts);
    if (c > 0 || (c === 0 && inclusive)) {
      throw new CommandError(
        286,
        "Resume of change stream was not possible, as the resume point may no longer be in the oplog.",
      );
    }
  }

  /**
   * Reads events after the stream's position, without waiting.
   *
   * @param batchSize Maximum number of events.
   * @returns The batch.
   */
  next(batchSize: number): ChangeStreamBatch {
    const events: Doc[] = [];
    const oplog = this.#storage.oplog;
    if (this.#seq < (oplog.oldest?.seq ?? oplog.nextSeq) && !this.#closed) {
      throw new CommandError(
        286,
        "Resume of change stream was not possible, as the resume point may no longer be in the oplog.",
      );
    }
    let bytes = 0;
    while (!this.#closed && events.length < batchSize && this.#seq < oplog.nextSeq) {
      const entry = oplog.at(this.#seq)!;
      const before = [this.#seq, this.#token, this.#pendingInvalidate] as const;
      if (this.#pendingInvalidate) {
        this.#pendingInvalidate = false;
        this.#seq++;
        this.#closed = true;
        const token = encodeResumeToken(entry.ts, TokenKind.Invalidate);
        events.push({
          _id: token,
          operationType: "invalidate",
          clusterTime: entry.ts,
          wallTime: entry.wall,
        });
        this.#token = token;
        break;
      }
      const event = this.#event(entry);
      if (this.#invalidates(entry)) this.#pendingInvalidate = true;
      else this.#seq++;
      if (!event) continue;
      const output = this.#apply(event);
      if (output) {
        // An event over 16 MB fails the read that reaches it, and a reply holds at most 16 MB
        // of events (the rest wait for the next read); either way the stream stays before it.
        let size: number;
        try {
          size = resultSize(output);
        } catch (error) {
          [this.#seq, this.#token, this.#pendingInvalidate] = before;
          if (events.length > 0) break; // the events before it are returned, the next read fails
          throw error;
        }
        if (bytes + size > MAX_BSON_SIZE && events.length > 0) {
          [this.#seq, this.#token, this.#pendingInvalidate] = before;
          break;
        }
        bytes += size;
        events.push(output);
      }
      this.#token = event._id as Doc;
    }
    if (!this.#closed && this.#seq >= oplog.nextSeq && !this.#pendingInvalidate) {
      this.#token = encodeResumeToken(oplog.clock.now(), TokenKind.HighWaterMark);
    }
    return { events, postBatchResumeToken: this.#token, closed: this.#closed };
  }

  /**
   * Reads events, waiting up to `maxAwaitMs` for the first one to arrive.
   *
   * @param batchSize Maximum number of events.
   * @param maxAwaitMs How long to wait for an event.
   * @param signal Ends the wait early (server stop).
   * @returns The batch.
   */
  async nextAwait(
    batchSize: number,
    maxAwaitMs: number,
    signal?: AbortSignal,
  ): Promise<ChangeStreamBatch> {
    const deadline = Date.now() + maxAwaitMs;
    let batch = this.next(batchSize);
    while (batch.events.length === 0 && !batch.closed && !signal?.aborted) {
      const remaining = deadline - Date.now();
      if (remaining <= 0) break;
      await this.#storage.oplog.waitForAppend(remaining, signal);
      batch = this.next(batchSize);
    }
    return batch;
  }

  #apply(event: Doc): Doc | undefined {
    if (!this.#pipeline) return event;
    const [output] = this.#pipeline.run([event]) as Doc[];
    if (!output) return undefined;
    if (!("_id" in output) || valueKey(output._id) !== valueKey(event._id)) {
      throw new CommandError(
        280,
        "Encountered an event whose _id field, which contains the resume token, was modified by the pipeline. Modifying the _id field of an event makes it impossible to resume the stream from that point. Only transformations that retain the unmodified _id field are allowed.",
        { labels: ["NonResumableChangeStreamError"] },
      );
    }
    return output;
  }

  /** Whether the stream sees an entry; a rename is seen from its source and its target. */
  #watches(entry: OplogEntry): boolean {
    if (this.#watchesNamespace(entry.db, entry.coll)) return true;
    return entry.to !== undefined && this.#watchesNamespace(entry.to.db, entry.to.coll);
  }

  #watchesNamespace(entryDb: string, entryColl: string | undefined): boolean {
    const { db, coll } = this.#scope;
    if (db === undefined) return !_SYSTEM_DBS.has(entryDb);
    if (entryDb !== db) return false;
    if (coll === undefined) return !entryColl?.startsWith("system.");
    return entryColl === coll;
  }

  #invalidates(entry: OplogEntry): boolean {
    if (!this.#watches(entry)) return false;
    if (this.#scope.db === undefined) return false;
    if (this.#scope.coll !== undefined) return entry.op === "drop" || entry.op === "rename";
    return entry.op === "dropDatabase";
  }

  #event(entry: OplogEntry): Doc | undefined {
    if (!this.#watches(entry)) return undefined;
    if (entry.op === "dropDatabase" && this.#scope.coll !== undefined) return undefined;
    const expanded = this.#spec.showExpandedEvents === true;
    if (_EXPANDED_ONLY.has(entry.op) && !expanded) return undefined;
    const base: Doc = {
      _id: encodeResumeToken(entry.ts, TokenKind.Event),
      operationType: entry.op,
      clusterTime: entry.ts,
      wallTime: entry.wall,
    };
    if (expanded && entry.uuid) base.collectionUUID = entry.uuid;
    const ns = entry.coll === undefined ? { db: entry.db } : { db: entry.db, coll: entry.coll };
    const before = this.#spec.fullDocumentBeforeChange;
    const withBefore = (event: Doc) => {
      if (before === "whenAvailable" || before === "required") {
        // Pre-images exist only for collections with changeStreamPreAndPostImages enabled.
        const image = entry.images ? entry.before ?? null : null;
        if (image === null && before === "required") {
          throw new CommandError(
            47,
            `Change stream was configured to require a pre-image for all update, delete and replace events, but the pre-image was not found for event: ${
              JSON.stringify(event._id)
            }`,
          );
        }
        event.fullDocumentBeforeChange = image;
      }
      return event;
    };
    switch (entry.op) {
      case "insert":
        return { ...base, fullDocument: entry.after, ns, documentKey: entry.documentKey };
      case "replace":
        return withBefore({
          ...base,
          fullDocument: entry.after,
          ns,
          documentKey: entry.documentKey,
        });
      case "delete":
        return withBefore({ ...base, ns, documentKey: entry.documentKey });
      case "update": {
        const event: Doc = {
          ...base,
          ns,
          documentKey: entry.documentKey,
          updateDescription: expanded
            ? { ...entry.updateDescription, disambiguatedPaths: disambiguatedPaths(entry) }
            : entry.updateDescription,
        };
        const mode = this.#spec.fullDocument;
        if (mode === "updateLookup") {
          const coll = this.#storage.collection(entry.db, entry.coll!);
          event.fullDocument = coll?.docs.get(valueKey(entry.documentKey?._id)) ?? null;
        } else if (mode === "whenAvailable" || mode === "required") {
          const image = entry.images ? entry.after ?? null : null;
          if (image === null && mode === "required") {
            throw new CommandError(
              47,
              `Change stream was configured to require a post-image for all update events, but the post-image was not found for event: ${
                JSON.stringify(event._id)
              }`,
            );
          }
          event.fullDocument = image;
        }
        return withBefore(event);
      }
      case "create":
      case "createIndexes":
      case "dropIndexes":
      case "modify":
        return {
          ...base,
          ns,
          operationDescription: entry.operationDescription ?? {},
          ...(entry.stateBeforeChange ? { stateBeforeChange: entry.stateBeforeChange } : {}),
        };
      case "rename": {
        const event: Doc = { ...base, ns, to: { ...entry.to! } };
        if (this.#spec.showExpandedEvents) {
          event.operationDescription = {
            to: { ...entry.to! },
            ...(entry.dropTarget ? { dropTarget: entry.dropTarget } : {}),
          };
        }
        return event;
      }
      case "drop":
      case "dropDatabase":
        return { ...base, ns };
    }
  }
}

/**
 * The `disambiguatedPaths` of an update event (shown with `showExpandedEvents`): for each
 * path of `updatedFields`, `removedFields` and `truncatedArrays` that has a field name
 * containing a dot or a numeric field name that is not an array index, the path's components,
 * array indices as integers.
 *
 * @param entry The update's oplog entry.
 * @returns Path → components, for the ambiguous paths only.
 */
export function disambiguatedPaths(entry: OplogEntry): Doc {
  const out: Doc = {};
  const description = entry.updateDescription ?? {};
  const add = (path: string, doc: Doc | undefined) => {
    if (!doc) return;
    const parts = _pathParts(doc, path.split("."));
    if (!parts) return;
    const ambiguous = parts.some((part, i) =>
      typeof part === "string" && (part.includes(".") || (i > 0 && /^\d+$/.test(part)))
    );
    if (ambiguous) out[path] = parts;
  };
  for (const path of Object.keys((description.updatedFields as Doc | undefined) ?? {})) {
    add(path, entry.after);
  }
  for (const path of (description.removedFields as string[] | undefined) ?? []) {
    add(path, entry.before);
  }
  for (const truncated of (description.truncatedArrays as Doc[] | undefined) ?? []) {
    add(String(truncated.field), entry.after);
  }
  return out;
}

/** Splits dotted segments into the field names and indices a document actually has. */
function _pathParts(value: unknown, segments: string[]): Array<string | number> | undefined {
  if (segments.length === 0) return [];
  if (Array.isArray(value) && /^\d+$/.test(segments[0]!)) {
    const rest = _pathParts(value[Number(segments[0])], segments.slice(1));
    return rest ? [Number(segments[0]), ...rest] : undefined;
  }
  if (!isPlainDoc(value)) return segments.length === 1 ? [segments[0]!] : undefined;
  for (let n = 1; n <= segments.length; n++) {
    const key = segments.slice(0, n).join(".");
    if (!(key in value)) continue;
    const rest = _pathParts(value[key], segments.slice(n));
    if (rest) return [key, ...rest];
  }
  // A removed field is absent from the document it is resolved in: its last name stands.
  return segments.length === 1 ? [segments[0]!] : undefined;
}

/** Events a change stream shows only when opened with `showExpandedEvents`. */
const _EXPANDED_ONLY: ReadonlySet<string> = new Set([
  "create",
  "createIndexes",
  "dropIndexes",
  "modify",
]);

/** Every aggregation stage name the sandbox recognises (mingo's plus server-only ones). */
export const SANDBOX_KNOWN_STAGES: Set<string> = new Set([
  "$addFields",
  "$bucket",
  "$bucketAuto",
  "$changeStream",
  "$collStats",
  "$count",
  "$densify",
  "$documents",
  "$facet",
  "$fill",
  "$graphLookup",
  "$group",
  "$indexStats",
  "$limit",
  "$listLocalSessions",
  "$lookup",
  "$match",
  "$merge",
  "$out",
  "$project",
  "$redact",
  "$replaceRoot",
  "$replaceWith",
  "$sample",
  "$set",
  "$setWindowFields",
  "$skip",
  "$sort",
  "$sortByCount",
  "$unionWith",
  "$unset",
  "$unwind",
]);
