/**
 * One client connection: reads frames, runs their commands one at a time, writes replies.
 * A malformed message closes the connection (with a logged reason), never the server.
 *
 * @module
 */

import type { Doc } from "../bson_values.ts";
import { CLOSE_CONNECTION, dispatch } from "./dispatch.ts";
import type { ConnectionInfo, SandboxState } from "../engine/state.ts";
import {
  encodeMsg,
  encodeReply,
  frameLength,
  OP_QUERY,
  parseMessage,
  WireProtocolError,
  type WireRequest,
} from "./wire.ts";

let _nextResponseId = 1;

async function _writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  let written = 0;
  while (written < bytes.byteLength) written += await conn.write(bytes.subarray(written));
}

function _database(request: WireRequest): string | undefined {
  if (request.opCode === OP_QUERY) {
    const namespace = request.namespace ?? "";
    if (!namespace.endsWith(".$cmd")) {
      throw new WireProtocolError(`Legacy OP_QUERY on '${namespace}' is not supported`);
    }
    return namespace.slice(0, -".$cmd".length);
  }
  const db = request.body.$db;
  return typeof db === "string" ? db : undefined;
}

/**
 * Serves a connection until the peer closes it, it sends a malformed message, a fail point
 * closes it, or the server stops.
 *
 * @param conn The accepted connection.
 * @param state Server state.
 * @param info Connection details.
 * @returns When the connection is closed.
 */
export async function serveConnection(
  conn: Deno.Conn,
  state: SandboxState,
  info: ConnectionInfo,
): Promise<void> {
  const readBuffer = new Uint8Array(256 * 1024);
  let pending = new Uint8Array(256 * 1024);
  let start = 0;
  let end = 0;
  let reason: string | undefined;
  try {
    while (true) {
      const n = await conn.read(readBuffer);
      if (n === null) {
        if (end > start) {
          reason = `truncated frame: connection ended ${end - start} bytes into a message`;
        }
        break;
      }
      if (end + n > pending.byteLength) {
        const live = end - start;
        if (live + n <= pending.byteLength) {
          pending.copyWithin(0, start, end);
        } else {
          const next = new Uint8Array(Math.max(pending.byteLength * 2, live + n));
          next.set(pending.subarray(start, end), 0);
          pending = next;
        }
        start = 0;
        end = live;
      }
      pending.set(readBuffer.subarray(0, n), end);
      end += n;
      while (end - start >= 4) {
        const length = frameLength(pending.subarray(start, start + 4));
        if (end - start < length) break;
        const frame = pending.slice(start, start + length);
        start += length;
        if (start === end) start = end = 0;
        const request = parseMessage(frame);
        const db = _database(request);
        const reply = await dispatch(state, info, request.body as Doc, db);
        if (reply === CLOSE_CONNECTION) {
          reason = "closed by the failCommand fail point";
          return;
        }
        if (request.moreToCome) continue;
        const id = _nextResponseId++;
        const bytes = request.opCode === OP_QUERY
          ? encodeReply(id, request.requestId, reply)
          : encodeMsg(id, request.requestId, reply);
        await _writeAll(conn, bytes);
      }
    }
  } catch (error) {
    if (error instanceof WireProtocolError) {
      reason = error.message;
    } else if (
      !(error instanceof Deno.errors.BadResource || error instanceof Deno.errors.ConnectionReset ||
        error instanceof Deno.errors.BrokenPipe || error instanceof Deno.errors.Interrupted)
    ) {
      reason = `unexpected error: ${(error as Error).message}`;
      state.log.error("Connection {connectionId} failed: {error}", {
        connectionId: info.id,
        error,
      });
    }
  } finally {
    if (reason !== undefined && !reason.startsWith("closed by")) {
      state.log.warn("Closing connection {connectionId} from {remote}: {reason}", {
        connectionId: info.id,
        remote: info.remote,
        reason,
      });
    } else if (reason !== undefined) {
      state.log.debug("Closing connection {connectionId}: {reason}", {
        connectionId: info.id,
        reason,
      });
    }
    try {
      conn.close();
    } catch {
      // Already closed by the server's stop().
    }
  }
}
