import assert from "node:assert/strict";
import { join } from "node:path";
import { getLogger } from "@logtape/logtape";
import { tempDir } from "../../support/cli.ts";
import { createWatchMetrics } from "../../../core/stream/metrics.ts";
import { WatchFigures } from "../../../plugins/watch/figures.ts";
import { StatusReporter } from "../../../plugins/watch/status_reporter.ts";

Deno.test("StatusReporter writes on its timer and at a change of state, never per micro-batch; the final status at stop", async () => {
  await using dir = await tempDir();
  const path = join(dir.path, "status.json");
  const prom = createWatchMetrics({ processMetrics: false });
  const figures = new WatchFigures(prom);
  let beats = 0;
  const status = new StatusReporter({
    path,
    intervalMs: 3_600_000, // no heartbeat during the test
    metrics: figures.metrics,
    prom,
    maxAwaitMs: 1_000,
    tokenSavedAt: () => undefined,
    onBeat: () => Promise.resolve(void beats++),
    log: getLogger(["test"]),
  });
  status.start();
  await status.setState("streaming");
  const written = (await Deno.stat(path)).mtime!.getTime();
  const first = JSON.parse(await Deno.readTextFile(path));
  assert.equal(first.state, "streaming");
  for (let i = 0; i < 100; i++) {
    status.read(new Date());
    status.event(new Date());
    figures.connectionError();
  }
  status.connectionError();
  // The micro-batches changed nothing on disk.
  assert.deepEqual(JSON.parse(await Deno.readTextFile(path)), first);
  assert.equal((await Deno.stat(path)).mtime!.getTime(), written);
  await status.beat();
  assert.equal(beats, 1);
  const beat = JSON.parse(await Deno.readTextFile(path));
  assert.equal(beat.metrics.connection_errors, 100);
  assert.equal(beat.recent_connection_errors.length, 1);
  assert.notEqual(beat.last_event_at, null);
  await status.stop();
  const last = JSON.parse(await Deno.readTextFile(path));
  assert.equal(last.state, "stopped");
  assert.equal(last.metrics.connection_errors, 100);
});
