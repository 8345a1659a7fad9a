import assert from "node:assert/strict";
import { createWatchMetrics, eventLagsSeconds } from "../../../core/stream/metrics.ts";
import { WATCH_STATES } from "../../../core/stream/watch_status.ts";
import { checkMetrics, sampleValue, skipWithoutPromtool } from "../../support/promtool.ts";

Deno.test("eventLagsSeconds() gives one lag per event, never negative", () => {
  const cases: Array<[number[], number, number[]]> = [
    [[1_000, 1_500, 2_000], 2_000, [1, 0.5, 0]],
    [[2_500], 2_000, [0]], // a clock ahead of the server's
    [[], 2_000, []],
  ];
  for (const [times, written, expected] of cases) {
    assert.deepEqual(eventLagsSeconds(times, written), expected);
  }
});

Deno.test("the state gauge is 1 for the current state only", async () => {
  const metrics = createWatchMetrics({ processMetrics: false });
  for (const current of WATCH_STATES) {
    metrics.setState(current);
    const text = await metrics.registry.metrics();
    for (const state of WATCH_STATES) {
      assert.equal(
        sampleValue(text, "archiver_watch_state", { state }),
        state === current ? 1 : 0,
        `${current}: ${state}`,
      );
    }
  }
});

Deno.test("a micro-batch observes one lag per event, its duration, and its latest event time", async () => {
  const metrics = createWatchMetrics({ processMetrics: false });
  metrics.countEvents(3);
  metrics.observeMicroBatch({
    eventTimesMs: [10_000, 10_020, 19_000],
    writtenAtMs: 20_000,
    durationSeconds: 0.04,
  });
  const text = await metrics.registry.metrics();
  assert.equal(sampleValue(text, "archiver_change_events_total"), 3);
  assert.equal(sampleValue(text, "archiver_change_event_lag_seconds_count"), 3);
  assert.equal(sampleValue(text, "archiver_change_event_lag_seconds_bucket", { le: "1" }), 1);
  assert.equal(sampleValue(text, "archiver_change_event_lag_seconds_bucket", { le: "10" }), 3);
  assert.equal(sampleValue(text, "archiver_micro_batch_duration_seconds_count"), 1);
  assert.equal(sampleValue(text, "archiver_micro_batch_duration_seconds_sum"), 0.04);
  assert.equal(sampleValue(text, "archiver_last_change_event_timestamp_seconds"), 19);
});

Deno.test("every outcome is exposed from the start, at 0, so rates exist before the first order", async () => {
  const metrics = createWatchMetrics({ processMetrics: false });
  const text = await metrics.registry.metrics();
  for (const outcome of ["archived", "duplicate", "incomplete", "invalid", "error", "recovered"]) {
    assert.equal(sampleValue(text, "archiver_orders_total", { outcome }), 0, outcome);
  }
});

Deno.test("'last time' gauges have no sample until the first time, then the time in seconds", async () => {
  const metrics = createWatchMetrics({
    processMetrics: false,
    startedAt: new Date("2026-01-01T00:00:00Z"),
  });
  const names = [
    "archiver_resume_token_saved_timestamp_seconds",
    "archiver_last_change_event_timestamp_seconds",
    "archiver_last_stream_read_timestamp_seconds",
  ];
  let text = await metrics.registry.metrics();
  for (const name of names) assert.equal(sampleValue(text, name), undefined, name);
  assert.equal(sampleValue(text, "archiver_watch_start_time_seconds"), 1767225600);
  metrics.tokenSaved(new Date("2026-01-01T00:01:00Z"));
  metrics.streamRead(new Date("2026-01-01T00:02:00.500Z"));
  text = await metrics.registry.metrics();
  assert.equal(sampleValue(text, names[0]!), 1767225660);
  assert.equal(sampleValue(text, names[2]!), 1767225720.5);
});

Deno.test("quarantine sizes replace the previous ones, by reason", async () => {
  const metrics = createWatchMetrics({ processMetrics: false });
  metrics.setQuarantine({ incomplete: 4, invalid: 1, conflict: 0, error: 0 });
  metrics.setQuarantine({ incomplete: 2, invalid: 0, conflict: 0, error: 1 });
  const text = await metrics.registry.metrics();
  assert.equal(sampleValue(text, "archiver_quarantine_orders", { reason: "incomplete" }), 2);
  assert.equal(sampleValue(text, "archiver_quarantine_orders", { reason: "invalid" }), 0);
  assert.equal(sampleValue(text, "archiver_quarantine_orders", { reason: "error" }), 1);
});

Deno.test({
  name: "the exposition, default process metrics included, passes promtool check metrics",
  ignore: skipWithoutPromtool(),
  async fn() {
    const metrics = createWatchMetrics({ version: "1.2.3" });
    metrics.countConnectionError();
    metrics.countTokenSaveError();
    const text = await metrics.registry.metrics();
    const checked = await checkMetrics(text);
    assert.equal(checked.code, 0, checked.output);
    assert.equal(checked.output, "");
    assert.equal(sampleValue(text, "archiver_build_info", { version: "1.2.3" }), 1);
    assert.equal(sampleValue(text, "archiver_connection_errors_total"), 1);
    assert.equal(sampleValue(text, "archiver_token_save_errors_total"), 1);
    assert.ok(sampleValue(text, "process_cpu_seconds_total")! >= 0);
  },
});
