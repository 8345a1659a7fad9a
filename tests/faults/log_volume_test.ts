/**
 * Log volume: a watcher under steady traffic with orders that never become complete writes a
 * bounded number of lines — one summary per interval with activity, each stuck order once when
 * it enters the quarantine, never at a retry. The README's scenario (50 deliveries a second for a
 * minute, 20 stuck orders, ten one-minute retry intervals, one-minute summaries) scaled down ten
 * times in time, keeping its shape: 50 deliveries a second for 6 s, 20 of them stuck, ten retry
 * intervals of 3 s, a summary every 3 s. The bound is asserted on the JSON-lines file the watcher
 * writes under --log-dir.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { tempDir } from "../support/cli.ts";
import { deliver } from "../support/faults.ts";
import { seedOrders } from "../support/orders.ts";
import { testDatabase } from "../support/test_db.ts";
import { eventually, startWatcher } from "../support/watcher.ts";

const RATE_PER_SECOND = 50;
const DELIVERY_SECONDS = 6;
const STUCK = 20;
const INTERVAL_SECONDS = 3; // the retry and the summary interval
const RETRY_INTERVALS = 10;

// The lines a watcher writes at its start and stop whatever the traffic: connected, start plan,
// catch-up (start, summary), stream opened, stopped.
const START_STOP_LINES = 8;
// Summaries: one per interval with activity — deliveries over `seconds` span at most
// ceil(seconds / INTERVAL_SECONDS) + 1 intervals, the last micro-batches may end one more, and
// the stop logs the last partial interval. The deliveries take DELIVERY_SECONDS on an idle
// machine (5 summaries at most); on a loaded one (other test files run beside this one) they
// take longer, and the bound follows the time they really took.
const maxSummaries = (seconds: number) => Math.ceil(seconds / INTERVAL_SECONDS) + 3;
const bound = (seconds: number) => START_STOP_LINES + STUCK + maxSummaries(seconds);

Deno.test({
  name:
    "a watcher at 50 deliveries/s with 20 stuck orders over ten retry intervals writes a bounded log: each stuck order once, one summary per interval",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    await using tdb = await testDatabase("log_volume");
    await using dir = await tempDir();
    let deliverySeconds = DELIVERY_SECONDS;
    const total = RATE_PER_SECOND * DELIVERY_SECONDS;
    const seeded = await seedOrders(tdb.db, { complete: 0, incomplete: 0, notDelivered: total });
    const courier = [...seeded.couriers.values()][0]!._id;
    const numbers = seeded.notDelivered.slice(0, total);
    // Every fifteenth order is stuck: its client never exists.
    const stuck = new Set(numbers.filter((_, i) => i % (total / STUCK) === 7));
    assert.equal(stuck.size, STUCK);
    const watcher = startWatcher(tdb.uri, tdb.dbName, dir.path, [
      "--retry-interval",
      `${INTERVAL_SECONDS}s`,
    ], { env: { ARCHIVER_WATCH_SUMMARY_INTERVAL: `${INTERVAL_SECONDS}s` } });
    try {
      await watcher.waitFor(/✅ Change Stream opened successfully/, 20_000);
      const started = Date.now();
      for (const [i, number] of numbers.entries()) {
        const due = started + (i * 1000) / RATE_PER_SECOND;
        if (due > Date.now()) await new Promise((resolve) => setTimeout(resolve, due - Date.now()));
        await deliver(tdb.db, number, { courier, dangling: stuck.has(number) });
      }
      deliverySeconds = Math.max(DELIVERY_SECONDS, (Date.now() - started) / 1000);
      await eventually(
        async () => await tdb.db.collection("Historique").countDocuments() === total - STUCK,
        30_000,
        `${total - STUCK} orders archived`,
      );
      // Ten retry intervals: the stuck orders are tried again at each, and stay.
      const quarantine = tdb.db.collection("archiver_quarantine");
      await eventually(
        async () =>
          (await quarantine.countDocuments({ attempts: { $gte: RETRY_INTERVALS } })) === STUCK,
        (RETRY_INTERVALS + 4) * INTERVAL_SECONDS * 1000,
        `${STUCK} stuck orders tried ${RETRY_INTERVALS} times`,
      );
      assert.equal((await watcher.stop("SIGTERM")).code, 0, watcher.stderr());
    } finally {
      await watcher.stop("SIGKILL");
    }

    const text = await Deno.readTextFile(join(dir.path, "logs", "watch.jsonl"));
    const lines = text.trimEnd().split("\n").map((line) => JSON.parse(line));
    const messages = lines.map((line) => `${line["log.level"]} ${line.message}`).join("\n");
    const limit = bound(deliverySeconds);
    console.log(
      `log volume: ${lines.length} lines for ${total} deliveries over ${
        deliverySeconds.toFixed(1)
      } s (bound ${limit})`,
    );
    assert.ok(lines.length <= limit, `${lines.length} lines, bound ${limit}:\n${messages}`);

    // Each stuck order once, when it entered; never at a retry.
    for (const number of stuck) {
      const about = lines.filter((line) => line.message.includes(number));
      assert.equal(about.length, 1, `${number}:\n${messages}`);
      assert.match(about[0]!.message, /^⚠️ Order CMD-\d+ is incomplete: /);
    }

    // The summaries: few, and together they say every order once.
    const summaries = lines.filter((line) => / in the last \d+/.test(line.message));
    assert.ok(summaries.length >= 1 && summaries.length <= maxSummaries(deliverySeconds), messages);
    const sum = (field: string) =>
      summaries.reduce((n, line) => n + (line.archiver?.[field] ?? 0), 0);
    assert.equal(sum("orders_archived"), total - STUCK, messages);
    assert.equal(sum("orders_incomplete"), STUCK, messages);
    assert.equal(sum("events"), total, messages);
    for (const summary of summaries) {
      assert.equal(summary["log.level"], "info");
      assert.equal(typeof summary.archiver.stream_lag_seconds, "number");
    }
  },
});
