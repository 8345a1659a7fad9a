import assert from "node:assert/strict";
import { backoffDelay, retry, sleep } from "../../../core/runtime/retry.ts";

Deno.test("backoffDelay() stays within the exponential ceiling and the maximum", () => {
  const top = () => 0.999999;
  const options = { baseDelayMs: 100, maxDelayMs: 5_000, random: top };
  const ceilings = [100, 200, 400, 800, 1600, 3200, 5000, 5000];
  ceilings.forEach((ceiling, i) => {
    const delay = backoffDelay(i + 1, options);
    assert.ok(delay < ceiling && delay >= ceiling - 1, `attempt ${i + 1}: ${delay}`);
  });
  assert.equal(backoffDelay(3, { ...options, random: () => 0 }), 0, "full jitter reaches zero");
  assert.ok(backoffDelay(10_000, options) <= 5_000, "no overflow on long outages");
});

Deno.test("retry() returns the first success and counts the attempts", async () => {
  const seen: number[] = [];
  const result = await retry((attempt) => {
    seen.push(attempt);
    return attempt < 3 ? Promise.reject(new Error("transient")) : Promise.resolve("ok");
  }, { baseDelayMs: 1 });
  assert.equal(result, "ok");
  assert.deepEqual(seen, [1, 2, 3]);
});

Deno.test("retry() gives up after maxAttempts with the last error", async () => {
  let calls = 0;
  await assert.rejects(
    retry(() => Promise.reject(new Error(`failure ${++calls}`)), {
      maxAttempts: 4,
      baseDelayMs: 1,
    }),
    /failure 4/,
  );
  assert.equal(calls, 4);
});

Deno.test("retry() never waits past its deadline", async () => {
  let clock = 0;
  const waits: number[] = [];
  let calls = 0;
  await assert.rejects(
    retry(() => {
      calls++;
      return Promise.reject(new Error("down"));
    }, {
      deadlineMs: 100,
      baseDelayMs: 10,
      random: () => 0.5,
      now: () => clock,
      onRetry: ({ delayMs }) => {
        waits.push(delayMs);
        clock += delayMs;
      },
    }),
    /down/,
  );
  // 5 + 10 + 20 + 40 = 75; the next wait (80) would end after the deadline.
  assert.deepEqual(waits, [5, 10, 20, 40]);
  assert.equal(calls, 5);
  assert.ok(waits.reduce((a, b) => a + b, 0) <= 100);
});

Deno.test("retry() throws a non-retryable error at once", async () => {
  let calls = 0;
  await assert.rejects(
    retry(() => {
      calls++;
      return Promise.reject(new TypeError("bad config"));
    }, { isRetryable: (e) => !(e instanceof TypeError) }),
    TypeError,
  );
  assert.equal(calls, 1);
});

Deno.test("retry() stops waiting as soon as its signal is aborted", async () => {
  const controller = new AbortController();
  const started = performance.now();
  setTimeout(() => controller.abort(new Error("shutdown")), 50);
  await assert.rejects(
    retry(() => Promise.reject(new Error("down")), {
      signal: controller.signal,
      baseDelayMs: 60_000,
      maxDelayMs: 60_000,
      random: () => 0.99,
    }),
    /shutdown/,
  );
  assert.ok(performance.now() - started < 5_000, "did not sit out the minute-long backoff");
});

Deno.test("sleep() rejects at once when the signal is already aborted", async () => {
  await assert.rejects(sleep(10_000, AbortSignal.abort(new Error("gone"))), /gone/);
});
