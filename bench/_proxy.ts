/**
 * A loopback TCP proxy that counts the bytes going each way, for the batch benchmark's "bytes
 * per archived order": the driver connects to the proxy, the proxy to the sandbox process, and
 * every byte is counted as it is copied, in total and by the command it belongs to (the wire
 * protocol's message headers and the first key of an `OP_MSG` body name it; a reply is matched
 * to its request by `responseTo`).
 *
 * Written here rather than taken from a library: it is measurement plumbing of sixty lines on
 * `Deno.listen` and `Deno.connect`, and what it must count (whole wire messages, by command) is
 * what a generic proxy does not report.
 *
 * @module
 */

/** Bytes of one command's messages, each way. */
export interface CommandBytes {
  /** Request messages sent (client → server). */
  requests: number;
  /** Bytes of its requests, client → server. */
  toServer: number;
  /** Bytes of its replies, server → client. */
  toClient: number;
}

/** What went through the proxy since it started or was last reset. */
export interface ProxyCounts {
  /** Bytes client → server. */
  toServer: number;
  /** Bytes server → client. */
  toClient: number;
  /** The same bytes by command name (`hello` holds the driver's handshakes and heartbeats). */
  byCommand: Record<string, CommandBytes>;
}

/** A running proxy. */
export interface LoopbackProxy extends AsyncDisposable {
  /** The port it listens on, on 127.0.0.1. */
  port: number;
  /** `uri` with its host and port replaced by the proxy's. */
  uriFor(uri: string): string;
  /** A copy of the counts so far. */
  counts(): ProxyCounts;
  /** Sets the counts back to zero. */
  reset(): void;
  /** Stops listening and closes every connection. */
  close(): Promise<void>;
}

// Enough of a message to read its header (16 bytes), OP_MSG flags (4), section kind (1), the
// body's length (4), its first element's type (1) and name.
const _HEAD = 64;
const _OP_MSG = 2013;
const _OP_COMPRESSED = 2012;
const _MORE_TO_COME = 1 << 1;

/**
 * Starts a proxy on 127.0.0.1 (a free port) to `target`.
 *
 * @param target Where to forward connections.
 * @returns The running proxy.
 */
export function startProxy(target: { hostname: string; port: number }): LoopbackProxy {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  let counts: ProxyCounts = { toServer: 0, toClient: 0, byCommand: {} };
  const conns = new Set<Deno.Conn>();
  const command = (name: string) =>
    counts.byCommand[name] ??= { requests: 0, toServer: 0, toClient: 0 };

  const serve = async (client: Deno.Conn) => {
    let server: Deno.Conn;
    try {
      server = await Deno.connect(target);
    } catch {
      client.close();
      return;
    }
    conns.add(client);
    conns.add(server);
    // Request ids of this connection → command name, for the replies.
    const pending = new Map<number, string>();
    const requests = new _Framer((head, length) => {
      const name = _commandName(head);
      pending.set(_int32(head, 4), name);
      const bytes = command(name);
      bytes.requests++;
      bytes.toServer += length;
    });
    const replies = new _Framer((head, length) => {
      const responseTo = _int32(head, 8);
      const name = pending.get(responseTo) ?? "(unmatched reply)";
      pending.delete(responseTo);
      // A streamed reply (the monitor's awaited hello) answers the reply before it.
      if (_int32(head, 12) === _OP_MSG && (_int32(head, 16) & _MORE_TO_COME)) {
        pending.set(_int32(head, 4), name);
      }
      command(name).toClient += length;
    });
    const close = () => {
      for (const conn of [client, server]) {
        if (!conns.delete(conn)) continue;
        try {
          conn.close();
        } catch {
          // Already closed.
        }
      }
    };
    await Promise.all([
      _pump(client, server, (chunk) => {
        counts.toServer += chunk.length;
        requests.push(chunk);
      }).finally(close),
      _pump(server, client, (chunk) => {
        counts.toClient += chunk.length;
        replies.push(chunk);
      }).finally(close),
    ]);
  };

  const accepting = (async () => {
    try {
      for await (const conn of listener) serve(conn);
    } catch {
      // Closed.
    }
  })();

  const close = async () => {
    try {
      listener.close();
    } catch {
      // Already closed.
    }
    for (const conn of conns) {
      try {
        conn.close();
      } catch {
        // Already closed.
      }
    }
    conns.clear();
    await accepting;
  };
  return {
    port,
    uriFor: (uri) => uri.replace(/^mongodb:\/\/[^/?]+/, `mongodb://127.0.0.1:${port}`),
    counts: () => structuredClone(counts),
    reset: () => {
      counts = { toServer: 0, toClient: 0, byCommand: {} };
    },
    close,
    [Symbol.asyncDispose]: close,
  };
}

async function _pump(from: Deno.Conn, to: Deno.Conn, seen: (chunk: Uint8Array) => void) {
  const buffer = new Uint8Array(256 * 1024);
  try {
    while (true) {
      const n = await from.read(buffer);
      if (n === null) return;
      const chunk = buffer.subarray(0, n);
      seen(chunk);
      for (let written = 0; written < n;) written += await to.write(chunk.subarray(written));
    }
  } catch {
    // One side closed: the other is closed by the caller.
  }
}

/** Splits a byte stream into wire messages, handing each one's head and length over once. */
class _Framer {
  #head = new Uint8Array(_HEAD);
  #consumed = 0;
  #length = 0;
  #told = false;

  constructor(private readonly onMessage: (head: Uint8Array, length: number) => void) {}

  push(chunk: Uint8Array): void {
    let offset = 0;
    while (offset < chunk.length) {
      const headWanted = this.#consumed < 4 ? 4 : Math.min(_HEAD, this.#length);
      if (this.#consumed < headWanted) {
        const take = Math.min(headWanted - this.#consumed, chunk.length - offset);
        this.#head.set(chunk.subarray(offset, offset + take), this.#consumed);
        this.#consumed += take;
        offset += take;
        if (this.#consumed === 4) this.#length = Math.max(4, _int32(this.#head, 0));
        continue;
      }
      if (!this.#told) {
        this.#told = true;
        this.onMessage(this.#head.subarray(0, this.#consumed), this.#length);
      }
      const take = Math.min(this.#length - this.#consumed, chunk.length - offset);
      this.#consumed += take;
      offset += take;
      if (this.#consumed >= this.#length) {
        this.#consumed = 0;
        this.#length = 0;
        this.#told = false;
      }
    }
    // A message whose head ended exactly with the chunk.
    if (!this.#told && this.#consumed >= 4 && this.#consumed === Math.min(_HEAD, this.#length)) {
      this.#told = true;
      this.onMessage(this.#head.subarray(0, this.#consumed), this.#length);
      if (this.#consumed >= this.#length) {
        this.#consumed = 0;
        this.#length = 0;
        this.#told = false;
      }
    }
  }
}

function _int32(bytes: Uint8Array, at: number): number {
  if (at + 4 > bytes.length) return 0;
  return new DataView(bytes.buffer, bytes.byteOffset + at, 4).getInt32(0, true);
}

/** The command a request is: its body's first key (OP_MSG), or what kind of message it is. */
function _commandName(head: Uint8Array): string {
  const opCode = _int32(head, 12);
  if (opCode === _OP_COMPRESSED) return "(compressed)";
  if (opCode !== _OP_MSG) return `(opCode ${opCode})`;
  // flagBits at 16, then the first section: kind 0 is the body document.
  if (head[20] !== 0) return "(document sequence first)";
  let end = 26;
  while (end < head.length && head[end] !== 0) end++;
  return new TextDecoder().decode(head.subarray(26, end)) || "(unknown)";
}
