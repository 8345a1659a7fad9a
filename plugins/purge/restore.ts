/**
 * Runs `archiver purge restore ID…|--purged-since D`: puts purged orders back into the source
 * exactly as they were, records it on their archive documents and in the run history.
 *
 * @module
 */

import { collectionNames } from "../../core/archive/collections.ts";
import { recordPurgeRun } from "../../core/archive/history.ts";
import { looksLikeOrderId, parseOrderId } from "../../core/archive/parse_order_id.ts";
import { restorePurged, type RestoreSelection } from "../../core/archive/purge_restore.ts";
import { connectMongo } from "../../core/mongo/client.ts";
import { describeError, isTransientError } from "../../core/mongo/errors.ts";
import { isUnauthorized } from "../../core/mongo/privileges.ts";
import type { GlobalConfig } from "../../core/runtime/config.ts";
import { parseDateBound } from "../../core/runtime/dates.ts";
import { ConfigError, ExitCode, UnreachableError } from "../../core/runtime/errors.ts";
import type { PluginContext } from "../../core/runtime/plugin.ts";

/** What a restore will do, checked before it starts. */
export interface RestorePlan {
  /** The orders to restore. */
  selection: RestoreSelection;
  /** Print JSON. */
  json: boolean;
}

/**
 * Reads the arguments: ids or numbers, or `--purged-since`, never both, never neither.
 *
 * @param orders The arguments.
 * @param flags The command's flags.
 * @returns The plan.
 * @throws {ConfigError} On a bad id or date, or no selection (exit 2).
 */
export function planRestore(
  orders: string[],
  flags: { purgedSince?: string; json?: boolean },
): RestorePlan {
  if (orders.length > 0 && flags.purgedSince !== undefined) {
    throw new ConfigError("Give either orders or --purged-since, not both");
  }
  if (flags.purgedSince !== undefined) {
    try {
      const since = parseDateBound(flags.purgedSince).start;
      return { selection: { purgedSince: since }, json: flags.json === true };
    } catch (error) {
      throw new ConfigError(
        `Invalid --purged-since ${JSON.stringify(flags.purgedSince)}: expected ${
          (error as Error).message
        }`,
      );
    }
  }
  if (orders.length === 0) {
    throw new ConfigError("Name the orders to restore (their _ids or numbers) or --purged-since");
  }
  const ids: unknown[] = [];
  const numbers: string[] = [];
  for (const text of orders) {
    if (!looksLikeOrderId(text)) {
      numbers.push(text.trim());
      continue;
    }
    try {
      ids.push(parseOrderId(text));
    } catch (error) {
      throw new ConfigError(
        `Cannot read ${JSON.stringify(text)} as an order _id: ${(error as Error).message}`,
      );
    }
  }
  return { selection: { ids, numbers }, json: flags.json === true };
}

/**
 * Restores, reports and records.
 *
 * @param ctx The plugin context.
 * @param config The resolved settings.
 * @param plan What {@link planRestore} read.
 */
export async function runRestore(
  ctx: PluginContext,
  config: GlobalConfig,
  plan: RestorePlan,
): Promise<void> {
  const log = ctx.logger.getChild("purge");
  const startedAt = new Date();
  const client = await connectMongo(config, { signal: ctx.lifecycle.signal });
  ctx.lifecycle.onStop(() => client.close());
  const db = client.db(config.db);
  const by = `${Deno.env.get("USER") ?? Deno.env.get("USERNAME") ?? "unknown"}@${_host()}`;
  let counts;
  try {
    counts = await restorePurged(db, collectionNames(config), {
      selection: plan.selection,
      by,
      log,
      timeoutMs: config.operationTimeout,
    });
  } catch (error) {
    if (isUnauthorized(error)) {
      throw new ConfigError(
        `MongoDB refused the restore: ${
          describeError(error)
        } (Unauthorized, code 13); archiver setup role --purge prints the purge role`,
        { cause: error },
      );
    }
    if (isTransientError(error)) {
      throw new UnreachableError(`Lost MongoDB during the restore: ${describeError(error)}`, {
        cause: error,
      });
    }
    throw error;
  }
  const exitCode = counts.notFound.length > 0 ? ExitCode.partialFailure : ExitCode.ok;
  ctx.out(
    plan.json ? JSON.stringify(counts) : [
      "Purge restore",
      `  orders_found             ${counts.found}`,
      `  orders_restored          ${counts.restored}`,
      `  orders_already_in_source ${counts.alreadyInSource}`,
      `  not_found                ${counts.notFound.length ? counts.notFound.join(", ") : "none"}`,
    ].join("\n"),
  );
  log.info(`↩️ Restored ${counts.restored} purged orders into the source`, {
    orders_restored: counts.restored,
    orders_already_in_source: counts.alreadyInSource,
  });
  if (counts.notFound.length > 0) {
    log.warn(`⚠️ Not purged orders of the archive: ${counts.notFound.join(", ")}`);
  }
  await recordPurgeRun(db.collection(config.runsCollection), {
    action: "restore",
    run_id: `${_host()}:${Deno.pid}:${startedAt.toISOString()}`,
    started_at: startedAt,
    finished_at: new Date(),
    exit_code: exitCode,
    user: by,
    orders_found: counts.found,
    orders_restored: counts.restored,
    orders_already_in_source: counts.alreadyInSource,
    orders_not_found: counts.notFound.length,
  }, { log, timeoutMs: config.operationTimeout });
  ctx.lifecycle.exitCode = exitCode;
}

function _host(): string {
  try {
    return Deno.hostname();
  } catch {
    return "unknown";
  }
}
