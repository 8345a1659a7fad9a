/**
 * `quarantine`: what waits in the quarantine, and for how long. Pure: a function of what was read,
 * the time and the thresholds.
 *
 * @module
 */

import type { QuarantineReason } from "../../../core/archive/quarantine.ts";
import { formatAge } from "../format.ts";
import { type CheckResult, result } from "../state.ts";
import type { HealthThresholds } from "../thresholds.ts";

/** One quarantined order, as the quarantine check shows it. */
export interface QuarantinedOrder {
  /** The order number, or null when it has none usable. */
  numero_commande: string | null;
  /** The order's `_id`, as text (shown when there is no number). */
  id: string;
  /** Why it is not archived. */
  reason: QuarantineReason;
  /** What is missing or wrong. */
  detail: string;
  /** When it was first quarantined, in ms since the epoch. */
  first_seen: number;
}

/** What the quarantine holds, as read for health. */
export interface QuarantineSeen {
  /** The quarantine collection's name. */
  collection: string;
  /** How many orders each reason holds. */
  counts: Readonly<Record<QuarantineReason, number>>;
  /** How many incomplete orders were first seen before the grace period. */
  incompleteOverdue: number;
  /** The oldest invalid or failing orders, oldest first (a few). */
  failing: readonly QuarantinedOrder[];
  /** The oldest incomplete orders, oldest first (a few). */
  incomplete: readonly QuarantinedOrder[];
}

/**
 * The quarantine: empty is OK; incomplete orders are OK while younger than the grace period
 * (their references may still arrive), a WARNING past it; any invalid or failing order is
 * CRITICAL (no retry will archive it without someone fixing its data or the server).
 *
 * @param seen Counts by reason and the oldest orders.
 * @param now The current time in ms.
 * @param limits The thresholds.
 * @param shown How many orders the reason lists. @default 5
 * @returns The `quarantine` check.
 */
export function quarantineCheck(
  seen: QuarantineSeen,
  now: number,
  limits: HealthThresholds,
  shown = 5,
): CheckResult {
  const name = "quarantine";
  const { incomplete, invalid, conflict, error } = seen.counts;
  const grace = formatAge(limits.quarantineGraceMs);
  const overdue = seen.incomplete.filter((order) =>
    now - order.first_seen > limits.quarantineGraceMs
  );
  const data = {
    by_reason: { incomplete, invalid, conflict, error },
    incomplete_overdue: seen.incompleteOverdue,
    examples: [...seen.failing, ...overdue].slice(0, shown).map((order) => ({
      numero_commande: order.numero_commande,
      _id: order.id,
      reason: order.reason,
      detail: order.detail,
      first_seen: new Date(order.first_seen).toISOString(),
    })),
  };
  const total = incomplete + invalid + conflict + error;
  const listed = (orders: readonly QuarantinedOrder[], count: number) =>
    orders.slice(0, shown).map((order) =>
      `${order.numero_commande ?? `_id ${order.id}`} (${order.reason}, ${
        formatAge(Math.max(0, now - order.first_seen))
      })`
    ).join(", ") + (count > Math.min(shown, orders.length) ? ", …" : "");
  if (total === 0) return result(name, "OK", `The quarantine ${seen.collection} is empty`, data);
  const young = incomplete - seen.incompleteOverdue;
  const waiting = young > 0 ? `; ${young} incomplete within the ${grace} grace` : "";
  // Orders that wait for someone: their own data, a number another order holds, or the server.
  if (invalid + conflict + error > 0) {
    const count = invalid + conflict + error;
    const reasons = [
      invalid > 0 ? `${invalid} invalid` : "",
      conflict > 0 ? `${conflict} conflict` : "",
      error > 0 ? `${error} error` : "",
    ].filter((part) => part !== "").join(", ");
    const late = seen.incompleteOverdue > 0
      ? `; ${seen.incompleteOverdue} incomplete for more than ${grace}`
      : "";
    return result(
      name,
      "CRITICAL",
      `${count} order${
        count === 1 ? "" : "s"
      } quarantined as invalid, conflict or in error (${reasons}): ${
        listed([...seen.failing, ...overdue], count + seen.incompleteOverdue)
      }${late}${waiting}`,
      data,
    );
  }
  if (seen.incompleteOverdue > 0) {
    const count = seen.incompleteOverdue;
    return result(
      name,
      "WARNING",
      `${count} incomplete order${count === 1 ? "" : "s"} quarantined for more than ${grace}: ${
        listed(overdue, count)
      }${waiting}`,
      data,
    );
  }
  return result(
    name,
    "OK",
    `${young} incomplete order${
      young === 1 ? "" : "s"
    } quarantined for less than ${grace}: waiting for their references`,
    data,
  );
}
