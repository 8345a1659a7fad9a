import assert from "node:assert/strict";
import { parseDateBound } from "../../../core/runtime/dates.ts";

const now = new Date(2025, 9, 16, 14, 30, 0); // 16 Oct 2025 14:30 local

Deno.test("a bare date and a named day cover the whole local day", () => {
  assert.deepEqual(parseDateBound("2025-10-01", now), {
    start: new Date(2025, 9, 1),
    end: new Date(2025, 9, 2),
  });
  assert.deepEqual(parseDateBound("today", now), {
    start: new Date(2025, 9, 16),
    end: new Date(2025, 9, 17),
  });
  assert.deepEqual(parseDateBound("yesterday", now), {
    start: new Date(2025, 9, 15),
    end: new Date(2025, 9, 16),
  });
});

Deno.test("durations count back from now; date-times are exact instants", () => {
  assert.deepEqual(parseDateBound("7d", now).start, new Date(now.getTime() - 7 * 86_400_000));
  assert.deepEqual(parseDateBound("12h", now).end, new Date(now.getTime() - 12 * 3_600_000));
  const at = parseDateBound("2025-10-16T08:00:00Z", now);
  assert.equal(at.start.toISOString(), "2025-10-16T08:00:00.000Z");
  assert.equal(at.end.toISOString(), "2025-10-16T08:00:00.000Z");
});

Deno.test("impossible dates and unknown forms are rejected with the expected forms", () => {
  assert.throws(() => parseDateBound("2025-13-01", now), /month must be 1-12/);
  assert.throws(() => parseDateBound("2025-02-30", now), /day 30 is not in that month/);
  assert.throws(() => parseDateBound("last tuesday", now), /an ISO date \(2025-10-16\)/);
  assert.throws(() => parseDateBound("3 weeks", now), /duration back from now/);
});
