/**
 * Runs `archiver history`: reads the batch runs of the last days from the runs collection and
 * prints the operators' 7-day view, or one line of JSON.
 *
 * @module
 */

import { runsByDay } from "../../core/archive/history.ts";
import type { GlobalConfig } from "../../core/runtime/config.ts";
import { connectMongo } from "../../core/mongo/client.ts";
import type { PluginContext } from "../../core/runtime/plugin.ts";
import { historyJson, historyLines } from "../../core/archive/history_view.ts";

/** The flags of `archiver history`. */
export interface HistoryFlags {
  /** How many days, today included. */
  days: number;
  /** Print one JSON object on one line. */
  json?: boolean;
}

/**
 * Prints the batch history.
 *
 * @param ctx The plugin context.
 * @param config The resolved global settings.
 * @param flags Days and output form.
 */
export async function runHistory(
  ctx: PluginContext,
  config: GlobalConfig,
  flags: HistoryFlags,
): Promise<void> {
  const client = await connectMongo(config, { signal: ctx.lifecycle.signal });
  ctx.lifecycle.onStop(() => client.close());
  const days = await runsByDay(client.db(config.db).collection(config.runsCollection), {
    days: flags.days,
    maxTimeMs: config.operationTimeout,
  });
  if (flags.json) {
    ctx.out(historyJson(days));
    return;
  }
  const title = `📦 Batch Archiving - Last ${flags.days} ${flags.days === 1 ? "day" : "days"}`;
  ctx.out([title, ...historyLines(days)].join("\n"));
}
