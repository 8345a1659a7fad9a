import assert from "node:assert/strict";
import { createWatchMetrics } from "../../../core/stream/metrics.ts";
import { getLogger } from "@logtape/logtape";
import { testDatabase } from "../../support/test_db.ts";
import { WatchFigures } from "../../../plugins/watch/figures.ts";
import type { ArchiveOutcome } from "../../../core/archive/archiver.ts";

const outcome = (over: Partial<ArchiveOutcome>): ArchiveOutcome => ({
  archived: 0,
  alreadyArchived: 0,
  duplicates: 0,
  incomplete: 0,
  invalid: 0,
  errors: 0,
  recovered: 0,
  documents: [],
  path: "server",
  ...over,
} as ArchiveOutcome);

Deno.test("WatchFigures adds the outcomes in one place; the run totals are written on their timer or at stop, not per micro-batch", async () => {
  await using tdb = await testDatabase("watch_figures");
  const prom = createWatchMetrics({ processMetrics: false });
  const figures = new WatchFigures(prom);
  figures.recordTotals(tdb.db, {
    collection: "archiver_runs",
    intervalMs: 3_600_000,
    log: getLogger(["test"]),
  });
  for (let i = 0; i < 50; i++) {
    figures.microBatch({
      events: 3,
      outcome: outcome({ archived: 2, alreadyArchived: 1, incomplete: i === 0 ? 1 : 0 }),
      lagSeconds: 0.5,
    });
  }
  figures.retried(outcome({ archived: 1, recovered: 1, incomplete: 4 }));
  figures.caughtUp({
    orders_found: 7,
    orders_archived: 7,
    orders_duplicates: 0,
    orders_incomplete: 0,
    orders_invalid: 0,
    orders_errors: 0,
    orders_recovered: 0,
  } as never);
  assert.equal(figures.metrics.events_processed, 150);
  assert.equal(figures.metrics.events_archived, 100 + 1 + 7);
  assert.equal(figures.metrics.orders_duplicates, 50);
  assert.equal(figures.metrics.orders_recovered, 1);
  assert.equal(await tdb.db.collection("archiver_runs").countDocuments(), 0, "nothing written yet");
  await figures.stop();
  const [day] = await tdb.db.collection("archiver_runs").find().toArray();
  assert.equal(day?.events_processed, 150);
  assert.equal(day?.events_archived, 100);
  assert.equal(day?.micro_batches, 50);
  const text = await prom.registry.metrics();
  assert.match(text, /archiver_orders_total\{outcome="archived"\} 108/);
  assert.match(
    text,
    /archiver_orders_total\{outcome="incomplete"\} 1\b/,
    "a retry's still-incomplete is not counted again",
  );
});
