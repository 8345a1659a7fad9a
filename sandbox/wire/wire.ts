/**
 * The MongoDB wire protocol: framing, OP_MSG (with kind-1 document sequences) and legacy
 * OP_QUERY requests, OP_MSG and OP_REPLY responses. Compression is not supported.
 *
 * @module
 */

import { deserialize, serialize } from "bson";
import type { Doc } from "../bson_values.ts";

/** OP_REPLY opcode (legacy replies, to OP_QUERY). */
export const OP_REPLY = 1;
/** OP_QUERY opcode (legacy; drivers use it for the first `hello`). */
export const OP_QUERY = 2004;
/** OP_COMPRESSED opcode (not supported). */
export const OP_COMPRESSED = 2012;
/** OP_MSG opcode. */
export const OP_MSG = 2013;
/** Largest message accepted, as advertised by `hello`. */
export const MAX_MESSAGE_SIZE = 48_000_000;
/** Largest BSON document accepted, as advertised by `hello`. */
export const MAX_BSON_SIZE = 16 * 1024 * 1024;

const _CHECKSUM_PRESENT = 1;
const _MORE_TO_COME = 2;

/** A malformed message: the connection that sent it is closed. */
export class WireProtocolError extends Error {
  /**
   * @param message What is wrong with the message.
   * @param options The cause.
   */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "WireProtocolError";
  }
}

/** A parsed request. */
export interface WireRequest {
  /** The request id, echoed as `responseTo`. */
  requestId: number;
  /** The opcode (OP_MSG or OP_QUERY). */
  opCode: number;
  /** The command document, with kind-1 sequences merged in as arrays. */
  body: Doc;
  /** OP_MSG moreToCome: the client expects no reply. */
  moreToCome: boolean;
  /** OP_QUERY namespace (`db.$cmd`). */
  namespace?: string;
}

const _DESERIALIZE_OPTIONS = {
  promoteLongs: false,
  promoteValues: true,
  promoteBuffers: false,
  bsonRegExp: false,
  validation: { utf8: true },
} as const;

/**
 * Decodes one BSON document at an offset, checking its declared length.
 *
 * @param bytes The message.
 * @param offset Where the document starts.
 * @param end Where the enclosing section ends.
 * @returns The document and its byte length.
 */
export function decodeDocument(bytes: Uint8Array, offset: number, end: number): [Doc, number] {
  if (offset + 5 > end) throw new WireProtocolError("Truncated BSON document");
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const size = view.getInt32(offset, true);
  if (size < 5 || offset + size > end) {
    throw new WireProtocolError(`Invalid BSON document length ${size}`);
  }
  if (size > MAX_BSON_SIZE + 16 * 1024) {
    throw new WireProtocolError(`BSON document of ${size} bytes exceeds the maximum size`);
  }
  try {
    const doc = deserialize(bytes.subarray(offset, offset + size), _DESERIALIZE_OPTIONS) as Doc;
    return [doc, size];
  } catch (error) {
    throw new WireProtocolError(`Invalid BSON: ${(error as Error).message}`, { cause: error });
  }
}

function _cstring(bytes: Uint8Array, offset: number, end: number): [string, number] {
  const zero = bytes.indexOf(0, offset);
  if (zero < 0 || zero >= end) throw new WireProtocolError("Unterminated C string");
  return [new TextDecoder().decode(bytes.subarray(offset, zero)), zero + 1];
}

/**
 * Reads the total length a frame declares, checking that it is possible.
 *
 * @param bytes At least 4 bytes: the start of a frame.
 * @returns The declared length.
 */
export function frameLength(bytes: Uint8Array): number {
  const length = new DataView(bytes.buffer, bytes.byteOffset, 4).getInt32(0, true);
  if (length < 16 || length > MAX_MESSAGE_SIZE) {
    throw new WireProtocolError(`Impossible message length ${length}`);
  }
  return length;
}

/**
 * Parses one complete frame.
 *
 * @param frame The frame, header included.
 * @returns The request.
 */
export function parseMessage(frame: Uint8Array): WireRequest {
  const view = new DataView(frame.buffer, frame.byteOffset, frame.byteLength);
  const length = view.getInt32(0, true);
  if (length !== frame.byteLength) throw new WireProtocolError("Frame length mismatch");
  const requestId = view.getInt32(4, true);
  const opCode = view.getInt32(12, true);
  if (opCode === OP_MSG) return _parseMsg(frame, view, requestId);
  if (opCode === OP_QUERY) return _parseQuery(frame, view, requestId);
  if (opCode === OP_COMPRESSED) {
    throw new WireProtocolError("OP_COMPRESSED is not supported (no compressor was negotiated)");
  }
  throw new WireProtocolError(`Unknown opcode ${opCode}`);
}

function _parseMsg(frame: Uint8Array, view: DataView, requestId: number): WireRequest {
  if (frame.byteLength < 21) throw new WireProtocolError("OP_MSG too short");
  const flags = view.getUint32(16, true);
  // Bits 2-15 are required flags this server does not know: MongoDB rejects them too.
  if (flags & 0xfffc) throw new WireProtocolError(`Unsupported OP_MSG flag bits ${flags}`);
  const end = frame.byteLength - (flags & _CHECKSUM_PRESENT ? 4 : 0);
  let offset = 20;
  let body: Doc | undefined;
  const sequences: Array<[string, Doc[]]> = [];
  while (offset < end) {
    const kind = frame[offset++];
    if (kind === 0) {
      if (body) throw new WireProtocolError("OP_MSG has more than one body section");
      const [doc, size] = decodeDocument(frame, offset, end);
      body = doc;
      offset += size;
    } else if (kind === 1) {
      if (offset + 4 > end) throw new WireProtocolError("Truncated document sequence");
      const size = view.getInt32(offset, true);
      const sectionEnd = offset + size;
      if (size < 5 || sectionEnd > end) {
        throw new WireProtocolError(`Invalid document sequence length ${size}`);
      }
      const [identifier, afterName] = _cstring(frame, offset + 4, sectionEnd);
      const docs: Doc[] = [];
      let at = afterName;
      while (at < sectionEnd) {
        const [doc, docSize] = decodeDocument(frame, at, sectionEnd);
        docs.push(doc);
        at += docSize;
      }
      sequences.push([identifier, docs]);
      offset = sectionEnd;
    } else {
      throw new WireProtocolError(`Unknown OP_MSG section kind ${kind}`);
    }
  }
  if (!body) throw new WireProtocolError("OP_MSG has no body section");
  for (const [identifier, docs] of sequences) {
    if (identifier in body) {
      throw new WireProtocolError(`Document sequence '${identifier}' duplicates a body field`);
    }
    body[identifier] = docs;
  }
  return { requestId, opCode: OP_MSG, body, moreToCome: (flags & _MORE_TO_COME) !== 0 };
}

function _parseQuery(frame: Uint8Array, view: DataView, requestId: number): WireRequest {
  const end = frame.byteLength;
  const [namespace, afterName] = _cstring(frame, 20, end);
  if (afterName + 8 > end) throw new WireProtocolError("Truncated OP_QUERY");
  void view;
  const [query] = decodeDocument(frame, afterName + 8, end);
  const body = "$query" in query && typeof query.$query === "object" && query.$query !== null
    ? query.$query as Doc
    : "query" in query && Object.keys(query)[0] === "query"
    ? query.query as Doc
    : query;
  return { requestId, opCode: OP_QUERY, body, moreToCome: false, namespace };
}

const _SERIALIZE_OPTIONS = { ignoreUndefined: true, checkKeys: false } as const;

// Batches whose documents were encoded when the batch was cut (to measure them against the
// 16 MB limit): the reply reuses those bytes instead of encoding every document a second time.
const _encodedBatches = new WeakMap<Doc[], Uint8Array[]>();

/**
 * Encodes one document as a reply encodes it.
 *
 * @param doc The document.
 * @returns Its BSON.
 */
export function encodeDocument(doc: Doc): Uint8Array {
  return serialize(doc, _SERIALIZE_OPTIONS);
}

/**
 * Remembers the bytes of a batch's documents, so that a reply carrying that very array (a
 * cursor's `firstBatch` or `nextBatch`) is written from them; the array stays the documents.
 *
 * @param batch The batch's documents.
 * @param encoded Each document's BSON from {@link encodeDocument}, in order.
 * @returns The batch.
 */
export function keepEncoded(batch: Doc[], encoded: Uint8Array[]): Doc[] {
  _encodedBatches.set(batch, encoded);
  return batch;
}

/** One field's BSON element (type, name, value): a one-field document without its frame. */
function _element(name: string, value: unknown): Uint8Array {
  const doc = serialize({ [name]: value }, _SERIALIZE_OPTIONS);
  return doc.subarray(4, doc.byteLength - 1);
}

/** Writes BSON pieces one after another into one buffer. */
class _Writer {
  readonly bytes: Uint8Array;
  readonly #view: DataView;
  at: number;

  constructor(size: number, at: number) {
    this.bytes = new Uint8Array(size);
    this.#view = new DataView(this.bytes.buffer);
    this.at = at;
  }

  int32(value: number): void {
    this.#view.setInt32(this.at, value, true);
    this.at += 4;
  }

  byte(value: number): void {
    this.bytes[this.at++] = value;
  }

  /** A field name (ASCII here: "cursor", "firstBatch", array indexes) and its NUL. */
  name(name: string): void {
    for (let i = 0; i < name.length; i++) this.bytes[this.at++] = name.charCodeAt(i);
    this.bytes[this.at++] = 0;
  }

  raw(bytes: Uint8Array): void {
    this.bytes.set(bytes, this.at);
    this.at += bytes.byteLength;
  }
}

/**
 * The body, with a cursor's batch written from its documents' bytes, after `offset` bytes left
 * for the frame's header; `undefined` when the body carries no such batch.
 */
function _serializeWithBatch(body: Doc, offset: number): Uint8Array | undefined {
  const cursor = body.cursor;
  if (typeof cursor !== "object" || cursor === null || Array.isArray(cursor)) return undefined;
  const field = Array.isArray((cursor as Doc).firstBatch) ? "firstBatch" : "nextBatch";
  const batch = (cursor as Doc)[field] as Doc[] | undefined;
  const encoded = batch && _encodedBatches.get(batch);
  if (!encoded || encoded.length !== batch!.length) return undefined;
  // Sizes first (array, cursor, body), then one pass writing them into one buffer.
  let arraySize = 5;
  for (let i = 0; i < encoded.length; i++) {
    arraySize += 2 + String(i).length + encoded[i]!.byteLength;
  }
  const cursorFields = Object.entries(cursor as Doc).map(([name, value]) =>
    [name, name === field ? undefined : _element(name, value)] as const
  );
  let cursorSize = 5;
  for (const [name, element] of cursorFields) {
    cursorSize += element ? element.byteLength : 2 + name.length + arraySize;
  }
  const bodyFields = Object.entries(body).map(([name, value]) =>
    [name, name === "cursor" ? undefined : _element(name, value)] as const
  );
  let bodySize = 5;
  for (const [name, element] of bodyFields) {
    bodySize += element ? element.byteLength : 2 + name.length + cursorSize;
  }
  const out = new _Writer(offset + bodySize, offset);
  out.int32(bodySize);
  for (const [name, element] of bodyFields) {
    if (element) {
      out.raw(element);
      continue;
    }
    out.byte(3);
    out.name(name);
    out.int32(cursorSize);
    for (const [name, element] of cursorFields) {
      if (element) {
        out.raw(element);
        continue;
      }
      out.byte(4);
      out.name(name);
      out.int32(arraySize);
      for (let i = 0; i < encoded.length; i++) {
        out.byte(3);
        out.name(String(i));
        out.raw(encoded[i]!);
      }
      out.byte(0);
    }
    out.byte(0);
  }
  out.byte(0);
  if (out.at !== out.bytes.byteLength) {
    throw new Error(`encoded ${out.at} bytes of ${out.bytes.byteLength}`);
  }
  return out.bytes;
}

/** The body's BSON after `offset` bytes left for the frame's header. */
function _serializeBody(body: Doc, offset: number): Uint8Array {
  const withBatch = _serializeWithBatch(body, offset);
  if (withBatch) return withBatch;
  const doc = serialize(body, _SERIALIZE_OPTIONS);
  const out = new Uint8Array(offset + doc.byteLength);
  out.set(doc, offset);
  return out;
}

function _header(bytes: Uint8Array, requestId: number, responseTo: number, opCode: number) {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  view.setInt32(0, bytes.byteLength, true);
  view.setInt32(4, requestId, true);
  view.setInt32(8, responseTo, true);
  view.setInt32(12, opCode, true);
  return view;
}

/**
 * Encodes an OP_MSG reply.
 *
 * @param requestId This message's id.
 * @param responseTo The request's id.
 * @param body The reply document.
 * @returns The frame.
 */
export function encodeMsg(requestId: number, responseTo: number, body: Doc): Uint8Array {
  const frame = _serializeBody(body, 21);
  _header(frame, requestId, responseTo, OP_MSG);
  frame[20] = 0;
  return frame;
}

/**
 * Encodes an OP_REPLY (answer to an OP_QUERY) carrying one document.
 *
 * @param requestId This message's id.
 * @param responseTo The request's id.
 * @param body The reply document.
 * @returns The frame.
 */
export function encodeReply(requestId: number, responseTo: number, body: Doc): Uint8Array {
  const frame = _serializeBody(body, 36);
  const view = _header(frame, requestId, responseTo, OP_REPLY);
  view.setInt32(16, 0, true);
  view.setBigInt64(20, 0n, true);
  view.setInt32(28, 0, true);
  view.setInt32(32, 1, true);
  return frame;
}
