/**
 * Runs `archiver quarantine show`: one order's entry in full (or every entry holding a number),
 * and for a conflict what the archive holds under its number.
 *
 * @module
 */

import type { Document } from "mongodb";
import type { QuarantineDocument, ReleasedRecord } from "../../core/archive/quarantine.ts";
import { ExitCode } from "../../core/runtime/errors.ts";
import type { PluginContext } from "../../core/runtime/plugin.ts";
import { type ArchivedUnderNumber, describeRelease, entryJson, formatEntry } from "./entry_view.ts";
import { describeSelector, type OrderArgument } from "./order_argument.ts";
import {
  losingServerAs,
  openSession,
  type QuarantineConfig,
  type QuarantineSession,
} from "./session.ts";

/** The flags of `show`. */
export interface ShowFlags {
  json?: boolean;
}

/**
 * Shows an order's entry; exit 1 when the quarantine holds none (saying when it was released,
 * if it was).
 *
 * @param ctx The plugin context.
 * @param config The resolved settings.
 * @param flags The flags.
 * @param order The order asked for.
 */
export async function runShow(
  ctx: PluginContext,
  config: QuarantineConfig,
  flags: ShowFlags,
  order: OrderArgument,
): Promise<void> {
  const session = await openSession(ctx, config);
  const shown = await losingServerAs("the lookup", async () => {
    const entries = await session.quarantine.find(order.selector);
    const views: Array<{ entry: QuarantineDocument; archived?: ArchivedUnderNumber | null }> = [];
    for (const entry of entries) {
      views.push({
        entry,
        archived: entry.reason === "conflict" ? await _archivedUnder(session, entry) : undefined,
      });
    }
    const released = entries.length === 0 ? await _released(session, order) : [];
    return { views, released };
  });
  if (shown.views.length === 0) {
    const why = shown.released.length > 0
      ? `: ${shown.released.map(describeRelease).join("; ")}`
      : "";
    session.log.error(
      `❌ No order with ${
        describeSelector(order.selector)
      } is in the quarantine ${session.names.quarantine}${why}`,
    );
    ctx.lifecycle.exitCode = ExitCode.partialFailure;
    return;
  }
  ctx.out(
    flags.json
      ? shown.views.map((v) => JSON.stringify(entryJson(v.entry, { archived: v.archived })))
        .join("\n")
      : shown.views.map((v) => formatEntry(v.entry, { archived: v.archived })).join("\n\n"),
  );
}

async function _archivedUnder(
  session: QuarantineSession,
  entry: QuarantineDocument,
): Promise<ArchivedUnderNumber | null> {
  if (entry.numero_commande === null || entry.numero_commande === undefined) return null;
  const found = await session.db.collection(session.names.archive).findOne(
    { numero_commande: entry.numero_commande },
    { projection: { _id: 0, order_id: 1, archived_at: 1, archived_by: 1 } },
  );
  return found as ArchivedUnderNumber | null;
}

async function _released(
  session: QuarantineSession,
  order: OrderArgument,
): Promise<ReleasedRecord[]> {
  const filter = "_id" in order.selector
    ? { _id: order.selector._id }
    : { numero_commande: order.selector.numero_commande };
  const found = await session.db.collection(session.names.released).find(filter as Document)
    .toArray();
  return found as unknown as ReleasedRecord[];
}
