import assert from "node:assert/strict";
import { purgeCheck, type PurgeSeen } from "../../../../plugins/health/checks/purge.ts";

const NOW = Date.parse("2026-12-06T06:00:00Z");
const run = (extra: Partial<NonNullable<PurgeSeen["last"]>> = {}) => ({
  finished_at: new Date(NOW - 3 * 3_600_000),
  exit_code: 0,
  orders_purged: 1200,
  orders_changed: 0,
  pauses: { lag: { count: 0, seconds: 0 }, rate: { count: 0, seconds: 0 } },
  lag_seconds: 0.4,
  stopped: null,
  ...extra,
});
const seen = (extra: Partial<PurgeSeen> = {}): PurgeSeen => ({
  stalePending: 0,
  expirySetting: 0,
  ...extra,
});

Deno.test("purgeCheck(): silent where nothing is wrong, loud where the purge failed or left work", () => {
  // [name, seen, state, reason]
  const cases: Array<[string, PurgeSeen, string, RegExp]> = [
    ["never run, no expiry", seen(), "OK", /^not applicable: archiver purge has not run$/],
    ["a clean run", seen({ last: run() }), "OK", /^Last purge 3h ago: 1200 orders purged$/],
    [
      "a clean run that waited for lag says so, and stays OK",
      seen({ last: run({ pauses: { lag: { count: 2, seconds: 41 } } }) }),
      "OK",
      /paused 2 times \(41 s\) for replica lag$/,
    ],
    [
      "a run stopped by its window is OK",
      seen({ last: run({ stopped: "window_closed" }) }),
      "OK",
      /stopped at window closed$/,
    ],
    [
      "orders changed since archived were left",
      seen({ last: run({ exit_code: 1, orders_changed: 3 }) }),
      "WARNING",
      /^Last purge 3h ago left 3 orders changed since archived/,
    ],
    [
      "refused (no remove privilege)",
      seen({ last: run({ exit_code: 2 }) }),
      "CRITICAL",
      /failed with exit code 2 \(refused by MongoDB or misconfigured\)/,
    ],
    [
      "interrupted",
      seen({ last: run({ exit_code: 130 }) }),
      "WARNING",
      /^Last purge 3h ago was interrupted/,
    ],
    [
      "marks a crashed run left",
      seen({ last: run(), stalePending: 4 }),
      "WARNING",
      /4 archive documents still marked purge_pending/,
    ],
    [
      "expiry set, no index yet",
      seen({ expirySetting: 365 * 86_400 }),
      "WARNING",
      /ARCHIVER_ARCHIVE_EXPIRE_AFTER is 365d but the archive has no expiry index/,
    ],
    [
      "an index the setting no longer asks for",
      seen({ expiryIndex: 30 * 86_400 }),
      "WARNING",
      /after 30d \(index archiver_archive_expiry\) but ARCHIVER_ARCHIVE_EXPIRE_AFTER is not set/,
    ],
    [
      "index and setting agree",
      seen({ last: run(), expirySetting: 3650 * 86_400, expiryIndex: 3650 * 86_400 }),
      "OK",
      /^Last purge/,
    ],
  ];
  for (const [name, input, state, reason] of cases) {
    const check = purgeCheck(input, NOW);
    const got = check.skipped ? "OK" : check.state;
    assert.equal(got, state, `${name}: ${check.reason}`);
    assert.match(check.reason, reason, name);
  }
  assert.equal(purgeCheck(seen(), NOW).skipped, true, "not applicable without a purge");
});
