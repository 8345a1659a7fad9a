/**
 * The watcher's opt-in HTTP endpoint: Prometheus text at `/metrics` (core/stream/metrics.ts) and
 * the status as JSON at `/healthz`, a Kubernetes-style probe: 200 while the watcher archives
 * (streaming or catching up), 503 otherwise (starting, reconnecting, invalidated, standby,
 * stopped); it says the `--ha` role. `/readyz` is the readiness probe: with `--ha`, 200 for the
 * active holder while it archives and for a standby able to take over, 503 otherwise; without
 * it, as `/healthz`.
 *
 * @module
 */

import type { WatchMetricsRecorder } from "../../core/stream/metrics.ts";
import type { WatchStatus } from "../../core/stream/watch_status.ts";
import { ConfigError } from "../../core/runtime/errors.ts";

/** Options of {@link startMetricsServer}. */
export interface MetricsServerOptions {
  /** The port; 0 picks a free one. */
  port: number;
  /** The address to listen on. @default "127.0.0.1" */
  hostname?: string;
  /** Reads the current status for `/healthz`. */
  snapshot: () => WatchStatus;
  /**
   * Whether `/readyz` answers 200; `undefined` (or no function) judges by the state as
   * `/healthz` does. `watch --ha` says: the active holder while it archives, a standby able to
   * take over.
   */
  ready?: () => boolean | undefined;
}

/** A running metrics endpoint. */
export interface MetricsServer {
  /** The port it listens on. */
  port: number;
  /** Its base URL, e.g. `http://127.0.0.1:9464`. */
  url: string;
  /** Stops the server. */
  stop(): Promise<void>;
}

/**
 * Whether a watcher in this state is healthy for a probe: it archives what is delivered.
 *
 * @param state The watcher's state.
 * @returns True while streaming or catching up.
 */
export function isHealthy(state: WatchStatus["state"]): boolean {
  return state === "streaming" || state === "catching-up";
}

/**
 * Serves `/metrics`, `/healthz` and `/readyz`.
 *
 * @param metrics The watcher's metrics.
 * @param options Port, address and status.
 * @returns The running server.
 * @throws {ConfigError} When the address cannot be listened on (in use, not local): exit 2.
 */
export function startMetricsServer(
  metrics: WatchMetricsRecorder,
  options: MetricsServerOptions,
): MetricsServer {
  const hostname = options.hostname ?? "127.0.0.1";
  const { registry } = metrics;
  let server: Deno.HttpServer<Deno.NetAddr>;
  try {
    server = Deno.serve(
      { hostname, port: options.port, onListen: () => {} },
      async (request) => {
        const path = new URL(request.url).pathname;
        if (path === "/metrics") {
          return new Response(await registry.metrics(), {
            headers: { "content-type": registry.contentType },
          });
        }
        if (path === "/healthz") {
          const status = options.snapshot();
          return Response.json(status, {
            status: isHealthy(status.state) ? 200 : 503,
            headers: { "cache-control": "no-store" },
          });
        }
        if (path === "/readyz") {
          const status = options.snapshot();
          const ready = options.ready?.() ?? isHealthy(status.state);
          return Response.json(
            { ready, state: status.state, role: status.role ?? null },
            { status: ready ? 200 : 503, headers: { "cache-control": "no-store" } },
          );
        }
        return new Response("Not found: try /metrics, /healthz or /readyz\n", { status: 404 });
      },
    );
  } catch (error) {
    throw new ConfigError(
      `Cannot serve metrics on ${_hostPort(hostname, options.port)}: ${(error as Error).message}`,
      { cause: error },
    );
  }
  const port = server.addr.port;
  return {
    port,
    url: `http://${_hostPort(hostname, port)}`,
    stop: () => server.shutdown(),
  };
}

function _hostPort(hostname: string, port: number): string {
  return hostname.includes(":") ? `[${hostname}]:${port}` : `${hostname}:${port}`;
}
