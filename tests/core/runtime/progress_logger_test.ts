import assert from "node:assert/strict";
import { counted } from "../../../core/runtime/plural.ts";
import {
  PROGRESS_LOG_PERIOD_MS,
  progressLogger,
  progressMessage,
} from "../../../core/runtime/progress.ts";

/** A progress logger on a hand-moved clock, and the lines it wrote. */
function clocked(periodMs?: number) {
  let clock = 1_000_000;
  const lines: string[] = [];
  const progress = progressLogger(
    { info: (message: string) => void lines.push(message) } as never,
    { now: () => clock, ...(periodMs === undefined ? {} : { periodMs }) },
  );
  return { lines, progress, advance: (ms: number) => void (clock += ms) };
}

Deno.test("progressLogger(): a fast run of 5,400 steps within the period logs no progress line", () => {
  const { lines, progress, advance } = clocked();
  for (let i = 1; i <= 5_400; i++) {
    progress(i, 5_400);
    advance(0.5); // 2.7 s in all: under the 5 s period
  }
  assert.deepEqual(lines, []);
});

Deno.test("progressLogger(): a long run logs at most one line per period", () => {
  const { lines, progress, advance } = clocked();
  // 27,000 orders, a step each 10 ms: 270 s.
  for (let i = 1; i <= 27_000; i++) {
    advance(10);
    progress(i, 27_000);
  }
  assert.equal(PROGRESS_LOG_PERIOD_MS, 5_000);
  assert.equal(lines.length, 270_000 / PROGRESS_LOG_PERIOD_MS);
  assert.equal(lines[0], "📊 Progress: 500/27000 orders processed");
});

Deno.test("progressLogger() honours its period", () => {
  const { lines, progress, advance } = clocked(1_000);
  progress(1, 3);
  advance(999);
  progress(2, 3);
  advance(1);
  progress(3, 3);
  assert.deepEqual(lines, ["📊 Progress: 3/3 orders processed"]);
});

Deno.test("counted() and progressMessage() write one order and many orders right", () => {
  const cases: Array<[number, string]> = [[0, "0 orders"], [1, "1 order"], [2, "2 orders"]];
  for (const [n, text] of cases) assert.equal(counted(n, "order"), text);
  assert.equal(counted(1, "entry", "entries"), "1 entry");
  assert.equal(counted(3, "entry", "entries"), "3 entries");
  assert.equal(progressMessage(1, 1), "📊 Progress: 1/1 order processed");
  assert.equal(progressMessage(1, 2, "🎲"), "🎲 Progress: 1/2 orders processed");
});
