/**
 * `collections`: the source and archive collections present. Pure: a function of what was read, the
 * time and the thresholds.
 *
 * @module
 */

import { type CheckResult, result } from "../state.ts";

/** The collections found. */
export interface CollectionsSeen {
  /** Collection names in the database. */
  present: readonly string[];
  /** Orders collection name. */
  orders: string;
  /** Reference collection names (clients, couriers, restaurants, menu). */
  references: readonly string[];
  /** Archive collection name. */
  archive: string;
}

/**
 * Source and archive collections present. The archive's unique index is the `archive_index`
 * check's to judge: this one never says the archive is fine.
 *
 * @param seen What the database holds.
 * @returns The `collections` check.
 */
export function collectionsCheck(seen: CollectionsSeen): CheckResult {
  const name = "collections";
  const present = new Set(seen.present);
  const missingSources = [seen.orders, ...seen.references].filter((c) => !present.has(c));
  const data = { missing: missingSources, archive_present: present.has(seen.archive) };
  if (!present.has(seen.orders)) {
    return result(name, "CRITICAL", `Missing collections: ${missingSources.join(", ")}`, data);
  }
  if (missingSources.length > 0) {
    return result(name, "WARNING", `Missing collections: ${missingSources.join(", ")}`, data);
  }
  if (!present.has(seen.archive)) {
    return result(
      name,
      "WARNING",
      `Archive collection ${seen.archive} does not exist yet (nothing archived)`,
      data,
    );
  }
  return result(
    name,
    "OK",
    `${seen.orders}, ${seen.references.join(", ")} and ${seen.archive} present`,
    data,
  );
}
