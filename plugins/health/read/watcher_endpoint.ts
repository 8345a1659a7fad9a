/**
 * `archiver health --url`: the watcher's status read from its `/healthz` (`watch --metrics-port`)
 * instead of its status file, for a monitoring agent on another host or without a read on the
 * watcher's folder. The endpoint answers the status the watcher would write, taken at the
 * request: 200 while it archives, 503 otherwise, the body alike.
 *
 * @module
 */

import type { WatchStatus } from "../../../core/stream/watch_status.ts";

/**
 * Parses `--url`: an `http://` or `https://` address of a watcher's metrics endpoint; a URL
 * without a path means its `/healthz`.
 *
 * @param raw The text given.
 * @returns The `/healthz` URL as text, or `""` for none.
 * @throws {TypeError} Naming the expected form.
 */
export function parseWatcherUrl(raw: string): string {
  const value = raw.trim();
  if (value === "") return "";
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new TypeError("expected an http:// URL such as http://127.0.0.1:9464");
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new TypeError("expected an http:// URL such as http://127.0.0.1:9464");
  }
  if (url.pathname === "/" || url.pathname === "") url.pathname = "/healthz";
  return url.href;
}

/**
 * Reads a watcher's status from its `/healthz`.
 *
 * @param url The `/healthz` URL.
 * @param options How long to wait for the answer.
 * @returns The status.
 * @throws {Error} When nothing answers, or the answer is not a watcher status.
 */
export async function readWatcherEndpoint(
  url: string,
  options: { timeoutMs: number },
): Promise<WatchStatus> {
  let response: Response;
  try {
    response = await fetch(url, { signal: AbortSignal.timeout(options.timeoutMs) });
  } catch (error) {
    throw new Error(`No answer from ${url}: ${_reason(error)}`, { cause: error });
  }
  const body = await response.text();
  let status: WatchStatus | undefined;
  try {
    status = JSON.parse(body) as WatchStatus;
  } catch {
    status = undefined;
  }
  if (typeof status !== "object" || status === null || typeof status.updated_at !== "string") {
    throw new Error(`${url} answered ${response.status} without a watcher status`);
  }
  return status;
}

// Deno's fetch says "fetch failed" and keeps the reason in its cause: `… tcp connect error:
// Connection refused (os error 111)` → `connection refused`.
function _reason(error: unknown): string {
  if (error instanceof DOMException && error.name === "TimeoutError") return "timed out";
  const cause = (error as { cause?: unknown })?.cause;
  const message = cause instanceof Error
    ? cause.message
    : error instanceof Error
    ? error.message
    : String(error);
  const os = /([^:]+) \(os error \d+\)/.exec(message);
  const reason = (os?.[1] ?? message).split("\n")[0]!.trim();
  return reason.charAt(0).toLowerCase() + reason.slice(1);
}
