import assert from "node:assert/strict";
import {
  parseTimeWindow,
  type ThrottleDecision,
  throttleDecision,
  type ThrottleLimits,
  untilWindowOpens,
} from "../../../core/archive/purge_throttle.ts";

const NO_LIMITS: ThrottleLimits = { maxLagMs: 10_000, maxRate: 0, runTimeMs: 0 };

/**
 * Runs the throttle against a fake clock: each "go" purges a chunk instantly; each wait moves the
 * clock. Returns the orders purged per whole second of the fake clock, and the decisions.
 */
function simulate(
  limits: ThrottleLimits,
  options: { chunk: number; total: number; start: Date; lag?: (now: Date) => number },
): { perSecond: Map<number, number>; decisions: ThrottleDecision[]; end: Date } {
  let now = options.start.getTime();
  let purged = 0;
  let lastChunk: { at: Date; orders: number } | undefined;
  let windowEnteredAt: Date | undefined;
  const perSecond = new Map<number, number>();
  const decisions: ThrottleDecision[] = [];
  for (let steps = 0; purged < options.total && steps < 100_000; steps++) {
    const clock = new Date(now);
    if (limits.window && !windowEnteredAt && untilWindowOpens(limits.window, clock) === 0) {
      windowEnteredAt = clock;
    }
    const decision = throttleDecision({
      now: clock,
      startedAt: options.start,
      windowEnteredAt,
      lastChunk,
      lagMs: options.lag?.(clock),
    }, limits);
    decisions.push(decision);
    if (decision.action === "stop") break;
    if (decision.action === "wait") {
      now += decision.ms;
      continue;
    }
    const orders = Math.min(options.chunk, options.total - purged);
    purged += orders;
    lastChunk = { at: clock, orders };
    const second = Math.floor((now - options.start.getTime()) / 1000);
    perSecond.set(second, (perSecond.get(second) ?? 0) + orders);
    now += 5; // the chunk itself takes 5 ms
  }
  return { perSecond, decisions, end: new Date(now) };
}

Deno.test("throttleDecision() keeps every second at or under --max-rate, chunk by chunk", () => {
  for (const [rate, chunk] of [[100, 100], [100, 25], [7, 7], [1000, 250]] as const) {
    const { perSecond } = simulate({ ...NO_LIMITS, maxRate: rate }, {
      chunk,
      total: rate * 10,
      start: new Date(2026, 0, 1, 2, 0, 0),
    });
    for (const [second, count] of perSecond) {
      assert.ok(count <= rate, `rate ${rate}, chunk ${chunk}: second ${second} saw ${count}`);
    }
    // And it does not crawl: ten seconds' worth in about ten seconds.
    assert.ok(perSecond.size <= 11, `rate ${rate}: ${perSecond.size} seconds`);
  }
});

Deno.test("throttleDecision() waits while the lag exceeds --max-lag, saying why, then goes", () => {
  const start = new Date(2026, 0, 1, 2, 0, 0);
  // The secondary is 20 s behind for the first 30 s, then caught up.
  const { decisions, perSecond } = simulate({ ...NO_LIMITS, maxLagMs: 10_000 }, {
    chunk: 10,
    total: 50,
    start,
    lag: (now) => now.getTime() - start.getTime() < 30_000 ? 20_000 : 500,
  });
  const waits = decisions.filter((d) => d.action === "wait");
  assert.equal(waits.length, 30, "one wait per second of lag");
  for (const wait of waits) {
    assert.equal(wait.action === "wait" && wait.reason, "lag");
    assert.match(
      wait.action === "wait" ? wait.detail : "",
      /lag by 20\.0s, more than --max-lag 10s/,
    );
  }
  assert.deepEqual([...perSecond.keys()], [30], "nothing purged before the lag fell");
});

Deno.test("throttleDecision() waits for the window to open, and stops at a chunk's end when it closes", () => {
  const window = parseTimeWindow("01:00-05:00");
  const limits = { ...NO_LIMITS, maxRate: 1, window };
  const { decisions, perSecond, end } = simulate(limits, {
    chunk: 1,
    total: 1_000_000,
    start: new Date(2026, 0, 1, 23, 30, 0),
  });
  assert.deepEqual(decisions[0], {
    action: "wait",
    ms: 90 * 60_000,
    reason: "window",
    detail: "outside the window 01:00-05:00 (local time)",
  });
  const last = decisions[decisions.length - 1]!;
  assert.equal(last.action, "stop");
  assert.equal(last.action === "stop" && last.reason, "window_closed");
  assert.equal(end.getHours(), 5);
  const purged = [...perSecond.values()].reduce((a, b) => a + b, 0);
  assert.equal(purged, 4 * 3600, "one order a second for four hours");
});

Deno.test("throttleDecision() stops at --run-time, and a window may span midnight", () => {
  const { decisions } = simulate({ ...NO_LIMITS, maxRate: 10, runTimeMs: 60_000 }, {
    chunk: 10,
    total: 1_000_000,
    start: new Date(2026, 0, 1, 2, 0, 0),
  });
  const last = decisions[decisions.length - 1]!;
  assert.equal(last.action === "stop" && last.reason, "run_time");
  const overnight = parseTimeWindow("22:00-04:00");
  assert.equal(untilWindowOpens(overnight, new Date(2026, 0, 1, 23, 0)), 0);
  assert.equal(untilWindowOpens(overnight, new Date(2026, 0, 1, 3, 59)), 0);
  assert.equal(untilWindowOpens(overnight, new Date(2026, 0, 1, 4, 0)), 18 * 3_600_000);
  for (const bad of ["1-5", "25:00-26:00", "01:00-01:00", "01:60-02:00"]) {
    assert.throws(() => parseTimeWindow(bad), TypeError, bad);
  }
});
