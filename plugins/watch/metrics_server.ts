/**
 * The watcher's opt-in HTTP endpoint on loopback: Prometheus text at `/metrics` (prom-client) and
 * the status as JSON at `/healthz` (200 while it archives, 503 while it reconnects).
 *
 * @module
 */

import { collectDefaultMetrics, Counter, Gauge, Registry } from "prom-client";
import type { WatchMetrics, WatchStatus } from "../../core/stream/watch_status.ts";

const COUNTERS: Array<[keyof WatchMetrics, string]> = [
  ["events_processed", "Change events read from the stream"],
  ["events_archived", "Orders written to the archive"],
  ["orders_duplicates", "Orders already archived when written"],
  ["orders_incomplete", "Delivered orders left out because a reference resolves to nothing"],
  ["orders_errors", "Orders the server refused for a reason of their own (quarantined)"],
  ["orders_invalid", "Delivered orders quarantined as invalid (a field missing or mistyped)"],
  ["orders_recovered", "Quarantined orders archived at a retry"],
  ["connection_errors", "Connection and change stream errors"],
  ["token_save_errors", "Resume-token saves that failed; the previous token is kept"],
];

const GAUGES: Array<[keyof WatchMetrics, string]> = [
  ["stream_lag_seconds", "Seconds from the last event's cluster time to its archive write"],
  ["resume_token_age_seconds", "Age of the last saved resume token"],
  ["uptime_seconds", "Seconds since the watcher started"],
];

/**
 * Serves `/metrics` and `/healthz` on 127.0.0.1.
 *
 * @param port The port.
 * @param snapshot Reads the current status.
 * @returns A function that stops the server.
 */
export function startMetricsServer(
  port: number,
  snapshot: () => WatchStatus,
): { port: number; stop(): Promise<void> } {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  for (const [name, help] of COUNTERS) {
    new Counter({
      name,
      help,
      registers: [registry],
      collect() {
        this.reset();
        this.inc(snapshot().metrics[name]);
      },
    });
  }
  for (const [name, help] of GAUGES) {
    new Gauge({
      name,
      help,
      registers: [registry],
      collect() {
        this.set(snapshot().metrics[name]);
      },
    });
  }
  const server = Deno.serve(
    { hostname: "127.0.0.1", port, onListen: () => {} },
    async (request) => {
      const path = new URL(request.url).pathname;
      if (path === "/metrics") {
        return new Response(await registry.metrics(), {
          headers: { "content-type": registry.contentType },
        });
      }
      if (path === "/healthz") {
        const status = snapshot();
        const healthy = status.state === "streaming" || status.state === "catching-up";
        return Response.json(status, { status: healthy ? 200 : 503 });
      }
      return new Response("Not found: try /metrics or /healthz\n", { status: 404 });
    },
  );
  return { port: server.addr.port, stop: () => server.shutdown() };
}
