/**
 * One run of `archiver simulate`: checks the plain flags, asks before dropping anything, connects,
 * then writes a generated dataset (or runs live traffic) and prints the summary.
 *
 * @module
 */

import { resolve } from "node:path";
import { collectionNames } from "../../core/archive/collections.ts";
import type { GlobalConfig } from "../../core/runtime/config.ts";
import { ConfigError } from "../../core/runtime/errors.ts";
import { connectMongo } from "../../core/mongo/client.ts";
import type { PluginContext } from "../../core/runtime/plugin.ts";
import type { SettingValues } from "../../core/runtime/settings.ts";
import { OrderSample } from "./export.ts";
import { checkWritableFolder } from "../../core/runtime/atomic_file.ts";
import { writeExtendedJson } from "../../core/runtime/extended_json.ts";
import { progressBar } from "../../core/runtime/progress.ts";
import { type DatasetBatch, generateDataset, scaledReferenceCounts } from "./generator.ts";
import { runLiveTraffic } from "./live.ts";
import type { SimulateOptions, simulateSettings } from "./mod.ts";
import { DatasetTally, perSecond, renderSummary } from "./summary.ts";
import {
  emptyCollections,
  ensureSourceIndexes,
  highestOrderSequence,
  simulatedCollectionNames,
  writeDataset,
} from "./writer.ts";

/** The resolved configuration of a simulate run. */
export type SimulateConfig = GlobalConfig & SettingValues<typeof simulateSettings>;

/** The plain flags of `archiver simulate`, with the plugin's options. */
export interface SimulateFlags extends SimulateOptions {
  /** Empty the simulated collections first. */
  drop?: boolean;
  /** With `drop`, empty the archive too. */
  dropArchive?: boolean;
  /** Do not ask before dropping. */
  yes?: boolean;
  /** Where to write the Extended JSON sample. */
  export?: string;
  /** Print the summary as one JSON line. */
  json?: boolean;
  /** Run live traffic instead of generating a dataset. */
  live?: boolean;
  /** The anchor of the `--days` window, as given. */
  now?: string;
}

/**
 * Runs `archiver simulate` once the configuration is valid.
 *
 * @param ctx The plugin context.
 * @param config The resolved settings.
 * @param flags The plain flags and plugin options.
 * @throws {ConfigError} On a bad flag, or a drop that was not confirmed (exit 2).
 */
export async function runSimulate(
  ctx: PluginContext,
  config: SimulateConfig,
  flags: SimulateFlags,
): Promise<void> {
  const now = _anchor(flags.now);
  if (flags.dropArchive && !flags.drop) {
    throw new ConfigError("--drop-archive empties the archive only together with --drop");
  }
  if (flags.live && flags.export !== undefined) {
    throw new ConfigError(
      "--export writes a sample of a generated dataset; it does not apply to --live",
    );
  }
  const exportPath = flags.export !== undefined ? resolve(ctx.cwd, flags.export) : undefined;
  if (exportPath) await checkWritableFolder(exportPath, "--export", flags.export!);
  const names = collectionNames(config);
  const log = ctx.logger.getChild("simulate");
  if (flags.drop) {
    const targets = simulatedCollectionNames(names, { archive: flags.dropArchive === true });
    const what = `${targets.join(", ")} in database ${config.db}`;
    if (!flags.yes) {
      if (!ctx.interactive || !_stdinIsTerminal()) {
        throw new ConfigError(`Refusing to drop ${what} without confirmation: pass --yes`);
      }
      if (!(await _confirm(`Drop ${what}? [y/N] `))) {
        throw new ConfigError(`Nothing dropped or written: --drop was not confirmed`);
      }
    }
  }

  const signal = ctx.lifecycle.signal;
  const client = await connectMongo(config, { signal, deadlineMs: config.connectTimeout });
  ctx.lifecycle.onStop(() => client.close());
  const db = client.db(config.db);
  const started = performance.now();
  let dropped: string[] = [];
  if (flags.drop) {
    dropped = await emptyCollections(db, names, { archive: flags.dropArchive === true });
    log.info(`🗑️ Emptied ${dropped.join(", ")}`);
  }
  await ensureSourceIndexes(db, names);
  const seed = config.seed ?? crypto.getRandomValues(new Uint32Array(1))[0]!;

  if (flags.live) {
    log.info(
      `🚦 Live traffic at ${config.rate} changes/s ${
        config.duration > 0 ? `for ${config.duration / 1000} s` : "until Ctrl+C"
      } (seed ${seed})`,
    );
    const progress = await runLiveTraffic(db, names, {
      rate: config.rate,
      durationMs: config.duration,
      seed,
      pIncomplete: config.pIncomplete,
      deliveredStatus: config.deliveredStatus,
      signal,
      onReferencesCreated: (counts) =>
        log.info(
          `🧑‍🍳 No reference data yet: created ${counts.clients} clients, ${counts.couriers} couriers, ${counts.restaurants} restaurants and ${counts.menu} menu items`,
        ),
      onProgress: (now) =>
        log.info(
          `🚦 ${now.changes} changes (${now.created} orders created), ${
            perSecond(now.changes, now.elapsedMs)
          } changes/s`,
        ),
    });
    log.info(`✅ Live traffic ended: ${progress.changes} changes`);
    ctx.out(renderSummary({
      mode: "live",
      seed,
      database: config.db,
      created: progress.created,
      statuses: progress.statuses,
      changes: progress.changes,
      durationMs: Math.round(progress.elapsedMs),
      targetRate: config.rate,
      changesPerSecond: Math.round((progress.changes * 10_000) / Math.max(1, progress.elapsedMs)) /
        10,
    }, { json: flags.json }));
    return;
  }

  const firstSequence = (await highestOrderSequence(db, names)) + 1;
  const scaled = scaledReferenceCounts(config.count);
  const batches = generateDataset({
    seed,
    count: config.count,
    pDelivered: config.pDelivered,
    pIncomplete: config.pIncomplete,
    clients: config.clients ?? scaled.clients,
    couriers: config.couriers ?? scaled.couriers,
    restaurants: config.restaurants ?? scaled.restaurants,
    days: config.days,
    now,
    firstSequence,
    deliveredStatus: config.deliveredStatus,
    batchSize: config.simulateBatchSize,
  });
  log.info(
    `🎲 Generating ${config.count} orders from CMD-${
      String(firstSequence).padStart(6, "0")
    } (seed ${seed})`,
  );
  const sample = exportPath ? new OrderSample(flags.exportSample, seed) : undefined;
  const tally = new DatasetTally(names);
  const bar = ctx.interactive && config.count > 0
    ? await progressBar(config.count, "🎲")
    : undefined;
  try {
    await writeDataset(db, names, _sampled(batches, sample), {
      concurrency: flags.insertConcurrency,
      signal,
      onWritten: (batch, inserted) => {
        tally.add(batch, inserted);
        if (batch.kind === "orders") bar?.update(tally.orders);
      },
    });
  } catch (error) {
    if (signal.aborted) log.warn(`Interrupted after ${tally.orders} orders`);
    throw error;
  } finally {
    bar?.stop();
  }
  if (exportPath && sample) {
    const orders = sample.orders();
    await writeExtendedJson(exportPath, orders);
    log.info(`📤 Exported ${orders.length} orders to ${flags.export}`);
  }
  const summary = tally.summary({
    seed,
    database: config.db,
    dropped,
    durationMs: performance.now() - started,
  });
  log.info(
    `✅ Simulated ${summary.collections[names.orders] ?? 0} orders in ${
      (summary.durationMs / 1000).toFixed(1)
    } s (${summary.ordersPerSecond} orders/s)`,
  );
  ctx.out(renderSummary(summary, { json: flags.json }));
}

function* _sampled(
  batches: Iterable<DatasetBatch>,
  sample: OrderSample | undefined,
): Generator<DatasetBatch> {
  for (const batch of batches) {
    if (sample && batch.kind === "orders") {
      for (const order of batch.documents) sample.offer(order);
    }
    yield batch;
  }
}

function _anchor(raw: string | undefined): Date {
  if (raw === undefined) return new Date();
  const date = new Date(raw.trim());
  if (raw.trim() === "" || Number.isNaN(date.getTime())) {
    throw new ConfigError(
      `Invalid --now ${JSON.stringify(raw)}: expected an ISO date such as 2025-10-16T12:00:00Z`,
    );
  }
  return date;
}

function _stdinIsTerminal(): boolean {
  try {
    return Deno.stdin.isTerminal();
  } catch {
    return false;
  }
}

async function _confirm(question: string): Promise<boolean> {
  await Deno.stderr.write(new TextEncoder().encode(question));
  const buffer = new Uint8Array(256);
  const read = await Deno.stdin.read(buffer);
  const answer = new TextDecoder().decode(buffer.subarray(0, read ?? 0)).trim().toLowerCase();
  return ["y", "yes", "o", "oui"].includes(answer);
}
