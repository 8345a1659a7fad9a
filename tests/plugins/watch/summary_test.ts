import assert from "node:assert/strict";
import { createWatchMetrics } from "../../../core/stream/metrics.ts";
import { emptyOutcomeCounts, type OutcomeCounts } from "../../../core/runtime/outcome.ts";
import type { ArchiveOutcome } from "../../../core/archive/archiver.ts";
import { logger, setupLogging } from "../../../core/runtime/logging.ts";
import { type IntervalFigures, WatchFigures } from "../../../plugins/watch/figures.ts";
import { summaryLine, WatchSummary } from "../../../plugins/watch/summary.ts";
import { checkLogs } from "../../../plugins/logs/check.ts";
import { defaultRules } from "../../../plugins/logs/rules.ts";
import { tempDir } from "../../support/cli.ts";

const outcome = (over: Partial<ArchiveOutcome>): ArchiveOutcome => ({
  ...emptyOutcomeCounts(),
  documents: [],
  path: "server",
  stillQuarantined: { incomplete: 0, invalid: 0, conflict: 0, error: 0 },
  ...over,
});

const interval = (
  over: Omit<Partial<IntervalFigures>, "counts"> & { counts?: Partial<OutcomeCounts> },
): IntervalFigures => ({
  startedAt: 0,
  endedAt: 60_000,
  events: 0,
  microBatches: 0,
  lagP50Seconds: null,
  lagMaxSeconds: null,
  connectionErrors: 0,
  ...over,
  counts: { ...emptyOutcomeCounts(), ...over.counts },
});

const lines: Array<[string, IntervalFigures, RegExp | undefined, Record<string, unknown>]> = [
  ["an idle interval writes nothing", interval({}), undefined, {}],
  [
    "an idle interval with connection errors writes nothing (each error has its own line)",
    interval({ connectionErrors: 4 }),
    undefined,
    {},
  ],
  [
    "one order is singular",
    interval({
      events: 1,
      microBatches: 1,
      counts: { archived: 1 },
      lagP50Seconds: 0.25,
      lagMaxSeconds: 0.25,
    }),
    /^✅ Archived 1 order in the last 1m: 1 event; lag p50 0\.3 s, max 0\.3 s$/,
    { orders_archived: 1, events: 1, stream_lag_seconds: 0.25, summary_interval_seconds: 60 },
  ],
  [
    "quarantined orders are named by reason, duplicates and recoveries counted",
    interval({
      events: 3_000,
      microBatches: 400,
      counts: {
        archived: 2_960,
        alreadyArchived: 3,
        duplicates: 2,
        incomplete: 20,
        invalid: 1,
        conflicts: 1,
        errors: 2,
        recovered: 4,
      },
      lagP50Seconds: 0.4,
      lagMaxSeconds: 12.34,
    }),
    /^✅ Archived 2960 orders in the last 1m: 3000 events, 5 duplicates, 24 quarantined \(20 incomplete, 1 invalid, 1 conflict, 2 errors\), 4 recovered from the quarantine; lag p50 0\.4 s, max 12 s$/,
    {
      orders_archived: 2_960,
      orders_duplicates: 5,
      orders_incomplete: 20,
      orders_invalid: 1,
      orders_conflicts: 1,
      orders_errors: 2,
      orders_recovered: 4,
      micro_batches: 400,
      stream_lag_seconds: 12.34,
      stream_lag_p50_seconds: 0.4,
    },
  ],
  [
    "only quarantine retries: no event, no lag",
    interval({ endedAt: 45_000, counts: { archived: 2, recovered: 2 } }),
    /^✅ Archived 2 orders in the last 45s: 0 events, 2 recovered from the quarantine$/,
    { orders_archived: 2, orders_recovered: 2, events: 0, stream_lag_seconds: undefined },
  ],
];

for (const [name, figures, message, fields] of lines) {
  Deno.test(`summaryLine(): ${name}`, () => {
    const line = summaryLine(figures);
    if (!message) {
      assert.equal(line, undefined);
      return;
    }
    assert.ok(line);
    assert.match(line.message, message);
    for (const [key, value] of Object.entries(fields)) {
      assert.equal(line.properties[key], value, key);
    }
  });
}

Deno.test("WatchFigures.takeInterval() counts micro-batches and retries since the last take, not the catch-up", () => {
  let now = 1_000;
  const figures = new WatchFigures(createWatchMetrics({ processMetrics: false }), {
    now: () => now,
  });
  for (const lag of [0.1, 0.5, 0.2, 3, 0.3]) {
    figures.microBatch({ events: 2, outcome: outcome({ archived: 2 }), lagSeconds: lag });
  }
  figures.microBatch({
    events: 1,
    outcome: outcome({
      incomplete: 1,
      stillQuarantined: { incomplete: 0, invalid: 0, conflict: 0, error: 0 },
    }),
    lagSeconds: 0.4,
  });
  // A retry that left 20 orders where they were adds nothing; one that recovered adds them.
  figures.retried(
    outcome({ stillQuarantined: { incomplete: 20, invalid: 0, conflict: 0, error: 0 } }),
  );
  figures.retried(outcome({ archived: 1, recovered: 1 }));
  figures.caughtUp({ orders_archived: 500 } as never);
  figures.connectionError();
  now = 61_000;
  const first = figures.takeInterval();
  assert.deepEqual(
    {
      ...first,
      counts: { archived: first.counts.archived, incomplete: first.counts.incomplete },
    },
    {
      startedAt: 1_000,
      endedAt: 61_000,
      events: 11,
      microBatches: 6,
      counts: { archived: 11, incomplete: 1 },
      lagP50Seconds: 0.3,
      lagMaxSeconds: 3,
      connectionErrors: 1,
    },
  );
  assert.equal(first.counts.recovered, 1);
  assert.equal(figures.metrics.events_archived, 511, "the totals keep the catch-up");
  now = 121_000;
  const second = figures.takeInterval();
  assert.equal(second.startedAt, 61_000);
  assert.equal(summaryLine(second), undefined, "nothing happened since: no line");
});

Deno.test("WatchFigures keeps a bounded lag sample in a busy interval, and the exact max", () => {
  const figures = new WatchFigures(createWatchMetrics({ processMetrics: false }));
  for (let i = 0; i < 10_000; i++) {
    figures.microBatch({
      events: 1,
      outcome: outcome({ archived: 1 }),
      lagSeconds: i === 5_000 ? 99 : (i % 10) / 10,
    });
  }
  const taken = figures.takeInterval();
  assert.equal(taken.lagMaxSeconds, 99);
  assert.ok(taken.lagP50Seconds! >= 0.3 && taken.lagP50Seconds! <= 0.6, `${taken.lagP50Seconds}`);
});

// logs check reads the watcher's summary line as the run's summary: its orders are counted once
// and its lag judged, both ways (an alarm when the interval says so, none on normal traffic).
const checks: Array<[string, Partial<OutcomeCounts>, number, string[]]> = [
  ["1 % incomplete, lag 2 s: counted, no alert", { archived: 99, incomplete: 1 }, 2, []],
  [
    "25 % incomplete over 80 orders: incomplete_rate",
    { archived: 60, incomplete: 20 },
    1,
    ["incomplete_rate"],
  ],
  ["lag 45 s at worst: stream_lag", { archived: 100 }, 45, ["stream_lag"]],
];

for (const [name, counts, lagMax, alerts] of checks) {
  Deno.test(`logs check reads the watcher's summary line: ${name}`, async () => {
    await using dir = await tempDir();
    const close = await setupLogging({
      level: "info",
      action: "watch",
      write: () => {},
      file: { dir: dir.path, name: "watch", maxSize: 1_000_000, maxFiles: 1 },
    });
    const figures = new WatchFigures(createWatchMetrics({ processMetrics: false }));
    const summary = new WatchSummary(figures, { intervalMs: 60_000, log: logger("watch") });
    summary.start();
    const events = (counts.archived ?? 0) + (counts.incomplete ?? 0);
    figures.microBatch({ events, outcome: outcome(counts), lagSeconds: lagMax });
    summary.stop();
    summary.flush(); // nothing new: no second line
    await close();
    const text = await Deno.readTextFile(`${dir.path}/watch.jsonl`);
    assert.equal(text.trimEnd().split("\n").length, 1, text);
    const report = await checkLogs(dir.path, { since: 0, rules: defaultRules, now: Date.now() });
    assert.equal(report.patterns.archived, counts.archived ?? 0);
    assert.equal(report.patterns.incomplete, counts.incomplete ?? 0);
    assert.equal(report.max_stream_lag_seconds, lagMax);
    assert.deepEqual(report.alerts.map((alert) => alert.rule).sort(), alerts);
  });
}
