/**
 * The outcome counts: what became of the orders handed to the archiving core, one figure per
 * outcome. One type for every place that counts them — the core's result, the batch report, the
 * watcher's figures, the run history and both metric sets — and the one table that names each
 * figure in each of those places, so a new outcome (as `conflict` was) is added once.
 *
 * Why in core/runtime rather than core/archive, whose core produces the counts: core/stream's
 * watcher metrics and status file name them too, and core/stream stands beside core/archive, not
 * above it. A vocabulary both sides share sits below both, like the token file's format
 * (state_files.ts); this module imports nothing.
 *
 * @module
 */

/** What became of orders given to the archiving core. */
export interface OutcomeCounts {
  /** Written to the archive by this call (or, in a dry run, that would be). */
  archived: number;
  /** Found in the archive before this call wrote (another writer's, earlier). */
  alreadyArchived: number;
  /** Found in the archive when written (a concurrent writer won the race). */
  duplicates: number;
  /** Quarantined: a reference resolves to nothing. */
  incomplete: number;
  /** Quarantined: the order's own fields are missing or mistyped. */
  invalid: number;
  /** Quarantined: its number is archived for another order. */
  conflicts: number;
  /** Quarantined: the server refused it for a reason of its own. */
  errors: number;
  /** Of the archived ones, those that were in the quarantine. */
  recovered: number;
}

/** A count's name. */
export type OutcomeName = keyof OutcomeCounts;

/**
 * Each count with its names elsewhere: the `outcome` label of `archiver_orders_total` and
 * `archiver_batch_orders` (orders found archived before or at the write are both `duplicate`),
 * and the operators' plan name in reports, status files and the run history (`events_archived`
 * is the watcher's name for `orders_archived`).
 */
export const OUTCOME_NAMES = [
  { count: "archived", label: "archived", field: "orders_archived", watch: "events_archived" },
  { count: "alreadyArchived", label: "duplicate", field: "orders_duplicates" },
  { count: "duplicates", label: "duplicate", field: "orders_duplicates" },
  { count: "incomplete", label: "incomplete", field: "orders_incomplete" },
  { count: "invalid", label: "invalid", field: "orders_invalid" },
  { count: "conflicts", label: "conflict", field: "orders_conflicts" },
  { count: "errors", label: "error", field: "orders_errors" },
  { count: "recovered", label: "recovered", field: "orders_recovered" },
] as const satisfies ReadonlyArray<
  { count: OutcomeName; label: string; field: `orders_${string}`; watch?: string }
>;

/** The values of the `outcome` label, in the order metrics list them. */
export const ORDER_OUTCOMES = [
  "archived",
  "duplicate",
  "incomplete",
  "invalid",
  "conflict",
  "error",
  "recovered",
] as const;

/** One value of the `outcome` label. */
export type OrderOutcome = (typeof ORDER_OUTCOMES)[number];

/** The counts under the plan's names, as reports and files carry them. */
export type OrderFigures = { [N in (typeof OUTCOME_NAMES)[number]["field"]]: number };

/** The counts under the watcher's names (`events_archived` for `orders_archived`). */
export type WatchOrderFigures =
  & Omit<OrderFigures, "orders_archived">
  & { events_archived: number };

/**
 * Zero for every outcome.
 *
 * @returns Counts at 0.
 */
export function emptyOutcomeCounts(): OutcomeCounts {
  return {
    archived: 0,
    alreadyArchived: 0,
    duplicates: 0,
    incomplete: 0,
    invalid: 0,
    conflicts: 0,
    errors: 0,
    recovered: 0,
  };
}

/**
 * Adds counts to others.
 *
 * @param into The counts added to (changed).
 * @param from The counts to add (missing ones count 0).
 * @returns `into`.
 */
export function addOutcomeCounts(into: OutcomeCounts, from: Partial<OutcomeCounts>): OutcomeCounts {
  for (const { count } of OUTCOME_NAMES) into[count] += from[count] ?? 0;
  return into;
}

/**
 * The counts by `outcome` label.
 *
 * @param counts The counts.
 * @returns One figure per label.
 */
export function outcomeLabels(counts: OutcomeCounts): Record<OrderOutcome, number> {
  const labels = Object.fromEntries(ORDER_OUTCOMES.map((label) => [label, 0])) as Record<
    OrderOutcome,
    number
  >;
  for (const { count, label } of OUTCOME_NAMES) labels[label] += counts[count];
  return labels;
}

/**
 * The counts under the plan's names.
 *
 * @param counts The counts.
 * @returns `orders_archived`, `orders_duplicates`, …
 */
export function orderFigures(counts: OutcomeCounts): OrderFigures {
  const figures = Object.fromEntries(OUTCOME_NAMES.map(({ field }) => [field, 0])) as OrderFigures;
  for (const { count, field } of OUTCOME_NAMES) figures[field] += counts[count];
  return figures;
}

/**
 * The counts under the watcher's names.
 *
 * @param counts The counts.
 * @returns `events_archived`, `orders_duplicates`, …
 */
export function watchOrderFigures(counts: OutcomeCounts): WatchOrderFigures {
  const { orders_archived, ...rest } = orderFigures(counts);
  return { events_archived: orders_archived, ...rest };
}

/**
 * Counts read back from figures under the plan's names (a saved report, a status file); what a
 * file lacks (an older version's) counts 0. Found-before and found-at-write duplicates are one
 * figure there, read back as `duplicates`.
 *
 * @param figures Figures by plan name (`orders_archived` or `events_archived`).
 * @returns The counts.
 */
export function countsFromFigures(figures: object): OutcomeCounts {
  const counts = emptyOutcomeCounts();
  for (const { count, field } of OUTCOME_NAMES) {
    if (count === "alreadyArchived") continue;
    const named = figures as Record<string, unknown>;
    const value = named[field] ?? (count === "archived" ? named.events_archived : undefined);
    counts[count] = typeof value === "number" && Number.isFinite(value) ? value : 0;
  }
  return counts;
}

/**
 * What a quarantine retry adds to the counts: the orders it settled (archived, recovered, found
 * archived). Those still quarantined were counted when they were quarantined; counting them at
 * every retry would make one stuck order look like sixty an hour.
 *
 * @param counts The retry's counts.
 * @returns The same with every quarantine reason at 0.
 */
export function settledOutcome(counts: OutcomeCounts): OutcomeCounts {
  return { ...counts, incomplete: 0, invalid: 0, conflicts: 0, errors: 0 };
}
