/**
 * Starting and stopping a sandbox server.
 *
 * @module
 */

import { installSecondaryLag } from "../engine/secondary_lag.ts";
import { getLogger } from "@logtape/logtape";
import { ObjectId } from "bson";
import { serveConnection } from "./connection.ts";
import { isLoopback } from "../auth/loopback.ts";
import { AuthStore } from "../auth/users.ts";
import { CursorManager } from "../engine/cursors.ts";
import { FailPoints } from "../engine/fail_points.ts";
import type { SandboxState } from "../engine/state.ts";
import { LocalSessions } from "../engine/sessions.ts";
import { Storage } from "../engine/storage.ts";

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
  /**
   * Require authentication (SCRAM-SHA-256 and SCRAM-SHA-1) and authorize every command by the
   * user's roles, as `mongod --auth`. The first user is created through the localhost exception.
   * @default {false}
   */
  auth?: boolean;
  /**
   * Simulate a secondary this far behind, in ms: `replSetGetStatus` lists it, and writes asking
   * for a majority wait for it (up to their `wtimeout`, then a write-concern error 64).
   * @default {0}
   */
  secondaryLagMs?: number;
}

/** Default options of {@link startSandbox}. */
export const SANDBOX_DEFAULTS = {
  host: "127.0.0.1",
  port: 0,
  oplogSize: 100_000,
  replicaSetName: "sandbox",
  auth: false,
  secondaryLagMs: 0,
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
  /**
   * Simulates a server outage: closes the listener and every connection and drops open cursors,
   * as a restarted mongod would, but keeps the data and the oplog. A no-op when already paused.
   */
  pause(): Promise<void>;
  /**
   * Ends an outage begun by {@link pause}: listens again on the same host and port, with the same
   * data. A no-op when not paused.
   *
   * @throws {Deno.errors.AddrInUse} When another process took the port meanwhile.
   */
  resume(): Promise<void>;
  /** Whether the server is paused. */
  readonly paused: boolean;
  /**
   * Sets how far the simulated secondary lags (0: none), as `secondaryLagMs` does at start.
   *
   * @param ms The lag in ms.
   */
  setSecondaryLag(ms: number): void;
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
  let listener = Deno.listen({ hostname: settings.host, port: settings.port, transport: "tcp" });
  const port = listener.addr.port;
  const uriHost = _uriHost(settings.host);
  // One controller per listening period: aborting it ends the getMore waits of that period.
  let controller = new AbortController();
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
    sessions: new LocalSessions(),
    auth: new AuthStore(settings.auth),
    secondaryLagMs: settings.secondaryLagMs,
  };
  // Only a sandbox with a lag wraps the write commands (once per process).
  if (settings.secondaryLagMs > 0) installSecondaryLag();
  const connections = new Set<Deno.Conn>();
  const served = new Set<Promise<void>>();
  let nextId = 1;
  const accept = (current: Deno.TcpListener, signal: AbortSignal) =>
    (async () => {
      try {
        for await (const conn of current) {
          if (signal.aborted) {
            conn.close();
            break;
          }
          conn.setNoDelay(true);
          const addr = conn.remoteAddr as Deno.NetAddr;
          const info = {
            id: nextId++,
            remote: `${addr.hostname}:${addr.port}`,
            loopback: isLoopback(addr.hostname),
          };
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
        if (!signal.aborted) {
          log.error("Sandbox listener failed: {error}", { error });
        }
      }
    })();
  let accepting = accept(listener, controller.signal);
  log.info("Sandbox listening on {host}:{port}", { host: settings.host, port });
  // Closes the listener and every connection, and waits until each has finished.
  const close = async () => {
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
  };
  let stopping: Promise<void> | undefined;
  let paused = false;
  let transition: Promise<void> = Promise.resolve();
  const stop = () => {
    stopping ??= (async () => {
      await transition;
      if (!paused) await close();
      paused = false;
      log.info("Sandbox on port {port} stopped", { port });
    })();
    return stopping;
  };
  const pause = () => {
    transition = transition.then(async () => {
      if (paused || stopping) return;
      paused = true;
      await close();
      log.info("Sandbox on port {port} paused", { port });
    });
    return transition;
  };
  const resume = () => {
    const next = transition.then(() => {
      if (!paused || stopping) return;
      listener = Deno.listen({ hostname: settings.host, port, transport: "tcp" });
      controller = new AbortController();
      state.signal = controller.signal;
      accepting = accept(listener, controller.signal);
      paused = false;
      log.info("Sandbox on port {port} resumed", { port });
    });
    // A failed resume leaves the server paused; later calls may try again.
    transition = next.catch(() => {});
    return next;
  };
  return {
    uri: `mongodb://${uriHost}:${port}/?directConnection=true`,
    host: settings.host,
    port,
    stop,
    pause,
    resume,
    get paused() {
      return paused;
    },
    setSecondaryLag(ms: number) {
      if (ms > 0) installSecondaryLag();
      state.secondaryLagMs = Math.max(0, ms);
    },
    [Symbol.asyncDispose]: stop,
  };
}
