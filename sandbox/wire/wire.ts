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

function _concat(parts: Uint8Array[], size: number, into: Uint8Array, at: number): void {
  for (const part of parts) {
    into.set(part, at);
    at += part.byteLength;
  }
  if (at !== size) throw new Error(`encoded ${at} bytes of ${size}`);
}

/** A document: its length, its elements, its NUL. */
function _document(elements: Uint8Array[]): Uint8Array {
  let size = 5;
  for (const element of elements) size += element.byteLength;
  const out = new Uint8Array(size);
  new DataView(out.buffer).setInt32(0, size, true);
  _concat(elements, size - 1, out, 4);
  return out;
}

/** An element holding an embedded document or array (`type` 3 or 4) already encoded. */
function _embedded(type: number, name: string, value: Uint8Array): Uint8Array {
  const out = new Uint8Array(name.length + 2 + value.byteLength);
  out[0] = type;
  for (let i = 0; i < name.length; i++) out[1 + i] = name.charCodeAt(i);
  out.set(value, name.length + 2);
  return out;
}

/** The body, with a cursor's batch written from its documents' bytes; `undefined` when none. */
function _serializeWithBatch(body: Doc): Uint8Array | undefined {
  const cursor = body.cursor;
  if (typeof cursor !== "object" || cursor === null || Array.isArray(cursor)) return undefined;
  const field = Array.isArray((cursor as Doc).firstBatch) ? "firstBatch" : "nextBatch";
  const batch = (cursor as Doc)[field] as Doc[] | undefined;
  const encoded = batch && _encodedBatches.get(batch);
  if (!encoded || encoded.length !== batch!.length) return undefined;
  const array = _document(encoded.map((doc, i) => _embedded(3, String(i), doc)));
  const cursorBytes = _document(
    Object.entries(cursor as Doc).map(([name, value]) =>
      name === field ? _embedded(4, name, array) : _element(name, value)
    ),
  );
  return _document(
    Object.entries(body).map(([name, value]) =>
      name === "cursor" ? _embedded(3, name, cursorBytes) : _element(name, value)
    ),
  );
}

function _serializeBody(body: Doc): Uint8Array {
  return _serializeWithBatch(body) ?? serialize(body, _SERIALIZE_OPTIONS);
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
  const doc = _serializeBody(body);
  const frame = new Uint8Array(21 + doc.byteLength);
  _header(frame, requestId, responseTo, OP_MSG);
  frame[20] = 0;
  frame.set(doc, 21);
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
  const doc = _serializeBody(body);
  const frame = new Uint8Array(36 + doc.byteLength);
  const view = _header(frame, requestId, responseTo, OP_REPLY);
  view.setInt32(16, 0, true);
  view.setBigInt64(20, 0n, true);
  view.setInt32(28, 0, true);
  view.setInt32(32, 1, true);
  frame.set(doc, 36);
  return frame;
}
