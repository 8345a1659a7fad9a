/**
 * Runs `archiver quarantine list`: the quarantined orders, oldest first, bounded, with the total.
 *
 * @module
 */

import type { QuarantineReason } from "../../core/archive/quarantine.ts";
import type { PluginContext } from "../../core/runtime/plugin.ts";
import { entryJson, formatEntryTable } from "./entry_view.ts";
import { limitFlag, reasonFlag } from "./flags.ts";
import { losingServerAs, openSession, type QuarantineConfig } from "./session.ts";

/** The flags of `list`. */
export interface ListFlags {
  reason?: string;
  limit?: string;
  json?: boolean;
}

/** What `list` will show, checked before it starts. */
export interface ListPlan {
  /** Only this reason. */
  reason?: QuarantineReason;
  /** How many entries at most. */
  limit: number;
}

/** The default of `--limit`. */
export const LIST_LIMIT = 100;

/**
 * Checks the flags.
 *
 * @param flags The flags.
 * @returns The plan.
 * @throws {ConfigError} On a bad `--reason` or `--limit`.
 */
export function planList(flags: ListFlags): ListPlan {
  return { reason: reasonFlag(flags.reason), limit: limitFlag(flags.limit, LIST_LIMIT) };
}

/**
 * Lists the quarantine: a table, or one JSON object per entry per line (`--json`); the total
 * goes to the log.
 *
 * @param ctx The plugin context.
 * @param config The resolved settings.
 * @param flags The flags.
 * @param plan The checked flags.
 */
export async function runList(
  ctx: PluginContext,
  config: QuarantineConfig,
  flags: ListFlags,
  plan: ListPlan,
): Promise<void> {
  const session = await openSession(ctx, config);
  const { total, entries } = await losingServerAs(
    "the listing",
    () => session.quarantine.list({ reason: plan.reason, limit: plan.limit }),
  );
  const what = plan.reason ? `quarantined as ${plan.reason}` : "in the quarantine";
  session.log.info(
    `📋 ${total} ${total === 1 ? "order" : "orders"} ${what}, ${entries.length} listed`,
    { orders_quarantined: total, orders_listed: entries.length, reason: plan.reason ?? null },
  );
  if (flags.json) {
    if (entries.length > 0) {
      ctx.out(entries.map((entry) => JSON.stringify(entryJson(entry))).join("\n"));
    }
  } else ctx.out(formatEntryTable(entries, { total, reason: plan.reason }));
}
