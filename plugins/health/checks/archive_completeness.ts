/**
 * `archive_completeness`: delivered orders past the grace period neither archived, quarantined nor
 * released, counted as `archiver verify` counts them. Pure: a function of what was read, the time
 * and the thresholds.
 *
 * @module
 */

import type { ArchiveIndexState } from "../../../core/archive/archive_index.ts";
import { formatAge } from "../format.ts";
import { type CheckResult, result } from "../state.ts";

/** The delivered orders past the grace period, as `archiver verify` counts them. */
export interface CompletenessSeen {
  /** Delivered orders older than the grace period. */
  delivered: number;
  /** Of those, archived. */
  archived: number;
  /** Of those, in the quarantine (any reason). */
  quarantined: number;
  /** Of those, released by the operator. */
  released: number;
  /** Of those, neither archived, quarantined nor released. */
  missing: number;
  /** The first missing orders (numbers, or `_id`s without one). */
  sample: readonly string[];
}

/**
 * Delivered orders past the grace period that are neither archived, quarantined nor released,
 * counted as `archiver verify` counts them.
 *
 * @param seen The counts and the first missing orders.
 * @param options The grace period, how many orders to show, and the archive index's state:
 *   without a sound one, "every order settled" is no longer a clean bill.
 * @returns The `archive_completeness` check.
 */
export function completenessCheck(
  seen: CompletenessSeen,
  options: { graceMs: number; shown?: number; archiveIndex?: ArchiveIndexState },
): CheckResult {
  const name = "archive_completeness";
  const shown = options.shown ?? 5;
  const grace = formatAge(options.graceMs);
  const data = {
    missing_orders: seen.missing,
    delivered_orders: seen.delivered,
    archived_orders: seen.archived,
    quarantined_orders: seen.quarantined,
    released_orders: seen.released,
  };
  if (seen.missing === 0) {
    const text =
      `Every delivered order older than ${grace} is archived, quarantined or released (${seen.archived} of ${seen.delivered} archived)`;
    if (options.archiveIndex && !options.archiveIndex.ok) {
      return result(
        name,
        "WARNING",
        `${text}, but without sound unique indexes on order_id and numero_commande some may be there twice (see archive_index)`,
        data,
      );
    }
    return result(name, "OK", text, data);
  }
  const examples = seen.sample.slice(0, shown);
  const listed = examples.join(", ") + (seen.missing > examples.length ? ", …" : "");
  return result(
    name,
    "CRITICAL",
    `${seen.missing} delivered order${
      seen.missing === 1 ? "" : "s"
    } older than ${grace} neither archived, quarantined nor released: ${listed}`,
    { ...data, examples },
  );
}
