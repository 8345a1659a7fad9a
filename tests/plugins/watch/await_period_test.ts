import assert from "node:assert/strict";
import {
  MAX_IDLE_AWAIT_MS,
  MIN_AWAIT_MS,
  streamAwaitMs,
} from "../../../plugins/watch/await_period.ts";

const DEFAULTS = { batchWaitMs: 0, idleTokenSaveMs: 60_000, retryIntervalMs: 60_000 };

Deno.test("streamAwaitMs() reads an idle stream three times a minute with the defaults", () => {
  assert.equal(streamAwaitMs(DEFAULTS), 20_000);
  assert.equal(MAX_IDLE_AWAIT_MS, 20_000);
});

Deno.test("streamAwaitMs() waits a third of the shorter timer, so a due save or round waits one read at most", () => {
  assert.equal(streamAwaitMs({ ...DEFAULTS, idleTokenSaveMs: 3_000 }), 1_000);
  assert.equal(streamAwaitMs({ ...DEFAULTS, retryIntervalMs: 6_000 }), 2_000);
  assert.equal(streamAwaitMs({ ...DEFAULTS, retryIntervalMs: 3_600_000 }), MAX_IDLE_AWAIT_MS);
  assert.equal(streamAwaitMs({ ...DEFAULTS, idleTokenSaveMs: 100 }), MIN_AWAIT_MS);
});

Deno.test("streamAwaitMs() with --batch-wait-ms waits that long, at most 1 s, as a micro-batch's reads must end within it", () => {
  assert.equal(streamAwaitMs({ ...DEFAULTS, batchWaitMs: 50 }), 50);
  assert.equal(streamAwaitMs({ ...DEFAULTS, batchWaitMs: 300 }), 300);
  assert.equal(streamAwaitMs({ ...DEFAULTS, batchWaitMs: 5_000 }), 1_000);
  assert.equal(streamAwaitMs({ ...DEFAULTS, batchWaitMs: 10 }), MIN_AWAIT_MS);
});
