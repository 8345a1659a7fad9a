/**
 * `archive_index`: the archive's unique indexes on `order_id` and `numero_commande`. Pure: a
 * function of what was read, the time and the thresholds.
 *
 * @module
 */

import type { ArchiveIndexState } from "../../../core/archive/archive_index.ts";
import { type CheckResult, result } from "../state.ts";

/**
 * The archive's unique index on `numero_commande`, as {@link inspectArchiveIndex} found it.
 *
 * @param archive The archive collection's name.
 * @param state The accepted index, or the problem.
 * @returns The `archive_index` check: CRITICAL on any problem (orders may be archived twice).
 */
export function archiveIndexCheck(archive: string, state: ArchiveIndexState): CheckResult {
  const name = "archive_index";
  if (!state.ok) return result(name, "CRITICAL", state.problem, { index: null });
  return result(
    name,
    "OK",
    `Archive ${archive} has its unique indexes on order_id and numero_commande (${
      state.name.split(", ").map((name) => `"${name}"`).join(", ")
    })`,
    { index: state.name },
  );
}
