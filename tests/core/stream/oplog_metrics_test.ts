import assert from "node:assert/strict";
import { createWatchMetrics } from "../../../core/stream/metrics.ts";

Deno.test("the oplog window and headroom gauges are absent until known, then scraped", async () => {
  const metrics = createWatchMetrics({ processMetrics: false });
  const before = await metrics.registry.metrics();
  assert.doesNotMatch(before, /^archiver_oplog_window_seconds \d/m);
  assert.doesNotMatch(before, /^archiver_resume_headroom_seconds \d/m);
  metrics.setOplogHeadroom(172_800, 90_000);
  const after = await metrics.registry.metrics();
  assert.match(after, /^archiver_oplog_window_seconds 172800$/m);
  assert.match(after, /^archiver_resume_headroom_seconds 90000$/m);
});
