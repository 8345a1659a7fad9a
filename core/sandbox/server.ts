/**
 * Starting and stopping a sandbox server.
 *
 * @module
 */

import { getLogger } from "@logtape/logtape";
import { ObjectId } from "bson";
import { serveConnection } from "./connection.ts";
import { CursorManager } from "./cursors.ts";
import { FailPoints } from "./fail_points.ts";
import type { SandboxState } from "./state.ts";
import { Storage } from "./storage.ts";

/** Options of {@link startSandbox}. */
export interface SandboxOptions {
  /**
   * Interface to listen on.
   * @default {"127.0.0.1"}
   */
  host?: string;
  /**
   * TCP port; 0 picks a free one.
   * @default {0}
   */
  port?: number;
  /**
   * Oplog capacity in entries: change streams cannot resume from older ones.
   * @default {100000}
   */
  oplogSize?: number;
  /**
   * Replica set name the server presents.
   * @default {"sandbox"}
   */
  replicaSetName?: string;
}

/** Default options of {@link startSandbox}. */
export const SANDBOX_DEFAULTS = {
  host: "127.0.0.1",
  port: 0,
  oplogSize: 100_000,
  replicaSetName: "sandbox",
} satisfies Required<SandboxOptions>;

/** A running sandbox server. */
export interface Sandbox {
  /** Connection string for the driver, e.g. `mongodb://127.0.0.1:40123/?directConnection=true`. */
  readonly uri: string;
  /** Host the server listens on. */
  readonly host: string;
  /** Port the server listens on. */
  readonly port: number;
  /** Stops the server: closes the listener and every connection. */
  stop(): Promise<void>;
  /** Same as {@link stop}. */
  [Symbol.asyncDispose](): Promise<void>;
}

function _uriHost(host: string): string {
  if (host === "0.0.0.0" || host === "") return "127.0.0.1";
  if (host === "::") return "[::1]";
  return host.includes(":") ? `[${host}]` : host;
}

/**
 * Starts a MongoDB-compatible server in this process.
 *
 * @param options Host, port, oplog size.
 * @returns The running server.
 * @example
 * ```ts
 * await using sandbox = await startSandbox();
 * const client = new MongoClient(sandbox.uri);
 * ```
 */
export function startSandbox(options: SandboxOptions = {}): Promise<Sandbox> {
  try {
    return Promise.resolve(_start(options));
  } catch (error) {
    return Promise.reject(error);
  }
}

function _start(options: SandboxOptions): Sandbox {
  const settings = { ...SANDBOX_DEFAULTS, ...options };
  const listener = Deno.listen({ hostname: settings.host, port: settings.port, transport: "tcp" });
  const port = listener.addr.port;
  const uriHost = _uriHost(settings.host);
  const controller = new AbortController();
  const log = getLogger(["archiver", "sandbox"]);
  const state: SandboxState = {
    storage: new Storage(settings.oplogSize),
    cursors: new CursorManager(),
    failPoints: new FailPoints(),
    me: `${uriHost}:${port}`,
    setName: settings.replicaSetName,
    processId: new ObjectId(),
    electionId: new ObjectId("7fffffff0000000000000001"),
    startedAt: new Date(),
    signal: controller.signal,
    log,
    connections: { current: 0, totalCreated: 0 },
  };
  const connections = new Set<Deno.Conn>();
  const served = new Set<Promise<void>>();
  let nextId = 1;
  const accepting = (async () => {
    try {
      for await (const conn of listener) {
        if (controller.signal.aborted) {
          conn.close();
          break;
        }
        conn.setNoDelay(true);
        const addr = conn.remoteAddr as Deno.NetAddr;
        const info = { id: nextId++, remote: `${addr.hostname}:${addr.port}` };
        connections.add(conn);
        state.connections.current++;
        state.connections.totalCreated++;
        const serving = serveConnection(conn, state, info).finally(() => {
          connections.delete(conn);
          served.delete(serving);
          state.connections.current--;
        });
        served.add(serving);
      }
    } catch (error) {
      if (!controller.signal.aborted) {
        log.error("Sandbox listener failed: {error}", { error });
      }
    }
  })();
  log.info("Sandbox listening on {host}:{port}", { host: settings.host, port });
  let stopping: Promise<void> | undefined;
  const stop = () => {
    stopping ??= (async () => {
      controller.abort();
      try {
        listener.close();
      } catch {
        // Already closed.
      }
      for (const conn of connections) {
        try {
          conn.close();
        } catch {
          // Closed by its own handler meanwhile.
        }
      }
      await accepting;
      await Promise.allSettled([...served]);
      state.cursors.clear();
      log.info("Sandbox on port {port} stopped", { port });
    })();
    return stopping;
  };
  return {
    uri: `mongodb://${uriHost}:${port}/?directConnection=true`,
    host: settings.host,
    port,
    stop,
    [Symbol.asyncDispose]: stop,
  };
}
