/**
 * Runs `archiver dashboard`: reads the watcher's status (its status file, or `/healthz` with
 * `--url`) every second, its process's CPU and memory from `/proc`, and the run history every
 * few seconds, and redraws the live view in place (log-update). `q` or Ctrl+C quits; the
 * keyboard is read in raw mode. When standard output is not a terminal it prints one frame.
 *
 * @module
 */

import process from "node:process";
import { resolve } from "node:path";
import { createLogUpdate } from "log-update";
import type { MongoClient } from "mongodb";
import { runsByDay, watchDay } from "../../core/archive/history.ts";
import type { GlobalConfig } from "../../core/runtime/config.ts";
import { createMongoClient } from "../../core/mongo/client.ts";
import { describeError } from "../../core/mongo/errors.ts";
import type { PluginContext } from "../../core/runtime/plugin.ts";
import { readWatchStatus, type WatchStatus } from "../../core/stream/watch_status.ts";
import { type DashboardModel, renderDashboard } from "./dashboard_view.ts";
import { cpuPercent, type ProcessSample, sampleProcess } from "./process_stats.ts";

/** The dashboard's settings as resolved. */
export interface DashboardConfig extends GlobalConfig {
  statusFile: string;
}

/** How the dashboard runs. */
export interface DashboardOptions {
  /** Days of batch history. */
  days: number;
  /** A watcher's `/healthz` to read instead of the status file. */
  url?: URL;
  /** Redraw interval, in ms. */
  refreshMs: number;
  /** Run-history refresh interval, in ms. */
  historyRefreshMs: number;
}

const _HISTORY_CONNECT_MS = 3_000;

/**
 * Shows the dashboard until `q`, Ctrl+C or a shutdown signal, or prints one frame when standard
 * output is not a terminal.
 *
 * @param ctx The plugin context.
 * @param config The resolved settings.
 * @param options Days, URL and refresh intervals.
 */
export async function runDashboard(
  ctx: PluginContext,
  config: DashboardConfig,
  options: DashboardOptions,
): Promise<void> {
  const sources = new _Sources(ctx, config, options);
  try {
    if (!ctx.interactive) {
      await sources.refreshHistory();
      ctx.out(renderDashboard(await sources.read()));
      return;
    }
    await _live(ctx, sources, options);
  } finally {
    await sources.close();
  }
}

async function _live(ctx: PluginContext, sources: _Sources, options: DashboardOptions) {
  const draw = createLogUpdate(process.stdout, { showCursor: false });
  const stop = new AbortController();
  const onAbort = () => stop.abort();
  ctx.lifecycle.signal.addEventListener("abort", onAbort, { once: true });
  const keys = _readKeys(stop);
  let historyAt = 0;
  try {
    while (!stop.signal.aborted) {
      if (Date.now() - historyAt >= options.historyRefreshMs) {
        historyAt = Date.now();
        void sources.refreshHistory();
      }
      const model = await sources.read();
      model.footer = `  q quits · ${model.source} · ${new Date().toLocaleTimeString("en-GB")}`;
      draw(renderDashboard(model));
      await _sleep(options.refreshMs, stop.signal);
    }
  } finally {
    ctx.lifecycle.signal.removeEventListener("abort", onAbort);
    keys.restore();
    draw.done();
  }
}

/** Reads keys in raw mode; `q`, `Q` or Ctrl+C abort. */
function _readKeys(stop: AbortController): { restore(): void } {
  const stdin = Deno.stdin;
  let raw = false;
  try {
    if (stdin.isTerminal()) {
      stdin.setRaw(true, { cbreak: false });
      raw = true;
    }
  } catch {
    // No terminal to read keys from: Ctrl+C still arrives as a signal.
  }
  if (raw) {
    void (async () => {
      const buffer = new Uint8Array(64);
      while (!stop.signal.aborted) {
        let read: number | null;
        try {
          read = await stdin.read(buffer);
        } catch {
          return;
        }
        if (read === null) return;
        for (const byte of buffer.subarray(0, read)) {
          // q, Q, Ctrl+C (ETX), Ctrl+D (EOT)
          if (byte === 0x71 || byte === 0x51 || byte === 0x03 || byte === 0x04) stop.abort();
        }
      }
    })();
  }
  return {
    restore() {
      if (!raw) return;
      try {
        stdin.setRaw(false);
      } catch {
        // The terminal is gone.
      }
    },
  };
}

class _Sources {
  readonly #ctx: PluginContext;
  readonly #config: DashboardConfig;
  readonly #options: DashboardOptions;
  #client: MongoClient | undefined;
  #previous: ProcessSample | undefined;
  #history: Pick<DashboardModel, "days" | "today" | "historyError"> = {};
  #refreshing: Promise<void> | undefined;

  constructor(ctx: PluginContext, config: DashboardConfig, options: DashboardOptions) {
    this.#ctx = ctx;
    this.#config = config;
    this.#options = options;
  }

  /** The status, the process and the last history read, as one frame's model. */
  async read(): Promise<DashboardModel> {
    const model: DashboardModel = {
      now: new Date(),
      source: this.#options.url?.href ?? this.#config.statusFile,
      dayCount: this.#options.days,
      ...this.#history,
    };
    try {
      const status = await this.#status();
      if (status) model.status = status;
      else model.statusError = `No watcher status file at ${this.#config.statusFile}`;
    } catch (error) {
      model.statusError = describeError(error).split("\n")[0];
    }
    model.now = new Date();
    if (model.status && this.#processIsLocal()) {
      const sample = await sampleProcess(model.status.pid);
      if (sample === "gone") {
        model.process = "gone";
        this.#previous = undefined;
      } else if (sample) {
        model.process = {
          cpuPercent: cpuPercent(sample, this.#previous),
          rssBytes: sample.rssBytes,
        };
        this.#previous = sample;
      }
    }
    return model;
  }

  /** Reads the batch history and today's watcher totals again (one read at a time). */
  refreshHistory(): Promise<void> {
    this.#refreshing ??= this.#readHistory().finally(() => (this.#refreshing = undefined));
    return this.#refreshing;
  }

  async close(): Promise<void> {
    await this.#refreshing?.catch(() => {});
    await this.#client?.close().catch(() => {});
  }

  async #readHistory(): Promise<void> {
    const timeout = Math.min(this.#config.operationTimeout, 5_000);
    try {
      if (!this.#client) {
        const client = createMongoClient({
          uri: this.#config.uri,
          connectTimeout: Math.min(this.#config.connectTimeout, _HISTORY_CONNECT_MS),
        });
        try {
          await client.connect();
        } catch (error) {
          await client.close().catch(() => {});
          throw error;
        }
        this.#client = client;
      }
      const runs = this.#client.db(this.#config.db).collection(this.#config.runsCollection);
      const [days, today] = await Promise.all([
        runsByDay(runs, { days: this.#options.days, maxTimeMs: timeout }),
        this.#processIsLocal() ? watchDay(runs, { maxTimeMs: timeout }) : undefined,
      ]);
      this.#history = today ? { days, today } : { days };
    } catch (error) {
      this.#history = { historyError: describeError(error).split("\n")[0] };
    }
  }

  async #status(): Promise<WatchStatus | undefined> {
    const url = this.#options.url;
    if (!url) return await readWatchStatus(resolve(this.#ctx.cwd, this.#config.statusFile));
    let response: Response;
    try {
      response = await fetch(url, { signal: AbortSignal.timeout(2_000) });
    } catch (error) {
      throw new Error(`No answer from ${url.href}: ${describeError(error)}`, { cause: error });
    }
    const body = await response.text();
    try {
      const status = JSON.parse(body) as WatchStatus;
      if (typeof status?.updated_at !== "string") throw new SyntaxError("no updated_at");
      return status;
    } catch {
      throw new Error(`${url.href} answered ${response.status} without a watcher status`);
    }
  }

  /** Whether the watcher runs on this host, so its `/proc` entry is ours to read. */
  #processIsLocal(): boolean {
    const url = this.#options.url;
    if (!url) return true;
    return ["127.0.0.1", "localhost", "[::1]", "::1"].includes(url.hostname);
  }
}

function _sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((done) => {
    if (signal.aborted) return done();
    const timer = setTimeout(finish, ms);
    function finish() {
      clearTimeout(timer);
      signal.removeEventListener("abort", finish);
      done();
    }
    signal.addEventListener("abort", finish, { once: true });
  });
}
