/**
 * Runs `archiver quarantine release`: the operator accepts that some orders will not be
 * archived. Each is recorded in the released collection (who, when, why), then leaves the
 * quarantine; verify counts it as released. Without `--yes` nothing runs.
 *
 * @module
 */

import type { Document } from "mongodb";
import { describeOrderId, orderIdKey } from "../../core/archive/order_id.ts";
import { emptyReasonCounts, type ReleasedRecord } from "../../core/archive/quarantine.ts";
import { ConfigError, ExitCode } from "../../core/runtime/errors.ts";
import type { PluginContext } from "../../core/runtime/plugin.ts";
import { describeRelease, formatTime } from "./entry_view.ts";
import { describeSelector, type OrderArgument, parseOrderArguments } from "./order_argument.ts";
import {
  openSession,
  operatorName,
  type QuarantineConfig,
  type QuarantineSession,
  runRecordedAction,
} from "./session.ts";

/** The flags of `release`. */
export interface ReleaseFlags {
  yes?: boolean;
  note?: string;
}

/** What a release will do, checked before it starts. */
export interface ReleasePlan {
  /** The orders named. */
  orders: OrderArgument[];
  /** The operator's note. */
  note?: string;
}

/** What a release did. */
export interface ReleaseSummary {
  /** Released now. */
  released: ReleasedRecord[];
  /** Released by an earlier run. */
  alreadyReleased: ReleasedRecord[];
  /** Arguments naming no order of the quarantine, and why. */
  refused: Array<{ order: OrderArgument; why: string }>;
}

/**
 * Checks the arguments; without `--yes`, says what would be released and stops (exit 2).
 *
 * @param ids The arguments.
 * @param flags The flags.
 * @returns The plan.
 * @throws {ConfigError} Without `--yes`, on an argument that parses to nothing, on an empty note.
 */
export function planRelease(ids: readonly string[], flags: ReleaseFlags): ReleasePlan {
  const orders = parseOrderArguments(ids);
  if (flags.note !== undefined && flags.note.trim() === "") {
    throw new ConfigError(`Invalid --note "": expected a few words saying why`);
  }
  if (!flags.yes) {
    const named = orders.map((o) => describeSelector(o.selector)).join(", ");
    throw new ConfigError(
      `Would release ${orders.length} ${
        orders.length === 1 ? "order" : "orders"
      } (${named}): a released order is never archived; add --yes to release`,
    );
  }
  return { orders, note: flags.note?.trim() };
}

/**
 * Releases the orders of the plan, logs one line per order, records the action. Exit 1 when
 * some argument named no order of the quarantine (the others are still released).
 *
 * @param ctx The plugin context.
 * @param config The resolved settings.
 * @param plan What to release.
 */
export async function runRelease(
  ctx: PluginContext,
  config: QuarantineConfig,
  plan: ReleasePlan,
): Promise<void> {
  const session = await openSession(ctx, config);
  const by = operatorName(ctx.env);
  await runRecordedAction(ctx, session, {
    name: "release",
    user: by,
    runsCollection: config.runsCollection,
    timeoutMs: config.operationTimeout,
    work: () => _release(session, plan, by),
    exitCode: (summary) => summary.refused.length > 0 ? ExitCode.partialFailure : ExitCode.ok,
    report: (summary) => _report(ctx, session, summary),
    figures: (summary) => ({
      orders_requested: plan.orders.length,
      orders_archived: 0,
      orders_released: summary?.released.length ?? 0,
      orders_still_quarantined: emptyReasonCounts(),
      orders_not_found: summary?.refused.length ?? 0,
      ...(plan.note ? { note: plan.note } : {}),
    }),
  });
}

async function _release(
  session: QuarantineSession,
  plan: ReleasePlan,
  by: string,
): Promise<ReleaseSummary> {
  const { quarantine, db, names } = session;
  const released = db.collection(names.released);
  const summary: ReleaseSummary = { released: [], alreadyReleased: [], refused: [] };
  const ids: unknown[] = [];
  const askedById: OrderArgument[] = [];
  for (const order of plan.orders) {
    if ("_id" in order.selector) {
      ids.push(order.selector._id);
      askedById.push(order);
      continue;
    }
    // A number names the order the quarantine holds under it, when it holds exactly one.
    const entries = await quarantine.find(order.selector);
    if (entries.length === 1) ids.push(entries[0]!._id);
    else if (entries.length > 1) {
      summary.refused.push({
        order,
        why: `it names ${entries.length} quarantined orders (${
          entries.map((e) => describeOrderId(e._id)).join(", ")
        }): release them by _id`,
      });
    } else {
      const before = await released.find(
        { numero_commande: order.selector.numero_commande } as Document,
      ).toArray() as unknown as ReleasedRecord[];
      if (before.length > 0) summary.alreadyReleased.push(...before);
      else summary.refused.push({ order, why: "not in the quarantine" });
    }
  }
  const result = await quarantine.releaseToRecord(ids, { into: released, by, note: plan.note });
  summary.released = result.released;
  summary.alreadyReleased.push(...result.alreadyReleased);
  const notFound = new Set(result.notFound.map(orderIdKey));
  for (const order of askedById) {
    if ("_id" in order.selector && notFound.has(orderIdKey(order.selector._id))) {
      summary.refused.push({ order, why: "not in the quarantine" });
    }
  }
  return summary;
}

function _report(ctx: PluginContext, session: QuarantineSession, summary: ReleaseSummary): void {
  const { log, names } = session;
  for (const record of summary.released) {
    log.info(
      `🔓 Released order ${record.numero_commande ?? "(no number)"} (_id ${
        describeOrderId(record._id)
      }), quarantined as ${record.reason} since ${
        formatTime(record.first_seen)
      }: recorded in ${names.released}, it will not be archived`,
      {
        numero_commande: record.numero_commande,
        order_id: describeOrderId(record._id),
        reason: record.reason,
        released_by: record.released_by,
      },
    );
  }
  for (const record of summary.alreadyReleased) {
    log.info(
      `Order ${record.numero_commande ?? "(no number)"} (_id ${
        describeOrderId(record._id)
      }) was already ${describeRelease(record)}`,
    );
  }
  for (const { order, why } of summary.refused) {
    log.error(`❌ Not released: the order with ${describeSelector(order.selector)}: ${why}`);
  }
  const lines = [
    `Released ${summary.released.length} ${
      summary.released.length === 1 ? "order" : "orders"
    } (recorded in ${names.released}), ${summary.alreadyReleased.length} already released, ${summary.refused.length} not released`,
    ...summary.released.map((r) =>
      `  ${r.numero_commande ?? "(no number)"}  ${describeOrderId(r._id)}  ${r.reason}`
    ),
  ];
  ctx.out(lines.join("\n"));
}
