import assert from "node:assert/strict";
import {
  addOutcomeCounts,
  countsFromFigures,
  emptyOutcomeCounts,
  ORDER_OUTCOMES,
  orderFigures,
  OUTCOME_NAMES,
  outcomeLabels,
  settledOutcome,
  watchOrderFigures,
} from "../../../core/runtime/outcome.ts";

const sample = {
  archived: 5,
  alreadyArchived: 2,
  duplicates: 1,
  incomplete: 3,
  invalid: 4,
  conflicts: 6,
  errors: 7,
  recovered: 8,
};

Deno.test("every outcome count has a label and a plan name, and every label a count", () => {
  const counts = Object.keys(emptyOutcomeCounts()).sort();
  assert.deepEqual(OUTCOME_NAMES.map((n) => n.count).sort(), counts);
  assert.deepEqual(
    [...new Set(OUTCOME_NAMES.map((n) => n.label))].sort(),
    [...ORDER_OUTCOMES].sort(),
  );
});

Deno.test("the names of one count agree everywhere: labels, plan figures, watch figures", () => {
  assert.deepEqual(outcomeLabels(sample), {
    archived: 5,
    duplicate: 3,
    incomplete: 3,
    invalid: 4,
    conflict: 6,
    error: 7,
    recovered: 8,
  });
  const figures = orderFigures(sample);
  assert.deepEqual(figures, {
    orders_archived: 5,
    orders_duplicates: 3,
    orders_incomplete: 3,
    orders_invalid: 4,
    orders_conflicts: 6,
    orders_errors: 7,
    orders_recovered: 8,
  });
  const { orders_archived: _, ...rest } = figures;
  assert.deepEqual(watchOrderFigures(sample), { events_archived: 5, ...rest });
  // Read back from a file, found-before and found-at-write duplicates are one figure.
  assert.deepEqual(outcomeLabels(countsFromFigures(figures)), outcomeLabels(sample));
  assert.deepEqual(
    outcomeLabels(countsFromFigures(watchOrderFigures(sample))),
    outcomeLabels(sample),
  );
});

Deno.test("addOutcomeCounts() adds every count; settledOutcome() zeroes every quarantine reason", () => {
  const total = addOutcomeCounts(addOutcomeCounts(emptyOutcomeCounts(), sample), sample);
  for (const [name, value] of Object.entries(sample)) {
    assert.equal(total[name as keyof typeof sample], 2 * value, name);
  }
  assert.deepEqual(settledOutcome(sample), {
    ...sample,
    incomplete: 0,
    invalid: 0,
    conflicts: 0,
    errors: 0,
  });
  // An older status file without orders_conflicts reads as 0.
  assert.equal(countsFromFigures({ orders_archived: 1 }).conflicts, 0);
});
