import assert from "node:assert/strict";
import { Backoff } from "../../../plugins/watch/backoff.ts";

Deno.test("Backoff grows while failures come close together and starts over after a quiet period", () => {
  let now = 0;
  const backoff = new Backoff({
    baseDelayMs: 100,
    maxDelayMs: 1_000,
    now: () => now,
    random: () => 0.999,
  });
  const delays: number[] = [];
  for (let i = 0; i < 6; i++) {
    delays.push(backoff.next());
    now += 1_000;
  }
  assert.deepEqual(delays, [99, 199, 399, 799, 999, 999]);
  now += 60_001;
  assert.equal(backoff.next(), 99, "a quiet minute resets the backoff");
});

Deno.test("Backoff.wait() returns false when the watcher stops during the wait", async () => {
  const backoff = new Backoff({ baseDelayMs: 60_000, random: () => 0.5 });
  const controller = new AbortController();
  const waiting = backoff.wait(controller.signal);
  controller.abort();
  assert.equal(await waiting, false);
});
