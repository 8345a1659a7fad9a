import assert from "node:assert/strict";
import { emptyCounts, type VerifyReport } from "../../../core/archive/verify.ts";
import { formatVerifyReport, plural } from "../../../plugins/verify/table.ts";

const q = (incomplete: number, invalid: number, conflict: number, error: number) => ({
  incomplete,
  invalid,
  conflict,
  error,
});

const none = { count: 0, sample: [] };

function report(overrides: Partial<VerifyReport> = {}): VerifyReport {
  return {
    days: [
      {
        day: "2025-10-14",
        delivered: 1204,
        archived: 1189,
        quarantined: q(12, 0, 1, 2),
        released: 0,
        missing: 0,
        purged: 0,
      },
      {
        day: "unknown",
        delivered: 2,
        archived: 0,
        quarantined: q(0, 0, 0, 0),
        released: 1,
        missing: 1,
        purged: 0,
      },
    ],
    totals: {
      delivered: 1206,
      archived: 1189,
      quarantined: q(12, 0, 1, 2),
      released: 1,
      missing: 1,
      purged: 0,
    },
    missing_sample: ["CMD-004300"],
    archived_by_number: 0,
    anomalies: {
      order_gone: none,
      not_delivered: none,
      number_mismatch: none,
      duplicate_order_id: none,
    },
    ...overrides,
  };
}

Deno.test("formatVerifyReport() aligns one line per day, then the totals, the missing numbers and the anomalies", () => {
  assert.equal(
    formatVerifyReport(report()),
    [
      "Archive verification",
      "  day         delivered  archived  incomplete  invalid  conflict  error  released  missing",
      "  2025-10-14       1204      1189          12        0         1      2         0        0",
      "  unknown             2         0           0        0         0      0         1        1",
      "  total            1206      1189          12        0         1      2         1        1",
      "  (incomplete, invalid, conflict, error: quarantined, by reason; released: by the operator)",
      "",
      "Missing: 1 delivered order neither archived, quarantined nor released",
      "  CMD-004300",
      "",
      "Archive anomalies (reported, never repaired):",
      "  order gone:                      0 archive documents",
      "  order no longer delivered:       0 archive documents",
      "  order renumbered since:          0 archive documents",
      "  several documents for one order: 0 orders",
    ].join("\n"),
  );
});

Deno.test("formatVerifyReport() says what --since leaves out, how many are listed, what matched by number, and what --repair did", () => {
  const since = "2025-10-15T00:00:00.000Z";
  const text = formatVerifyReport(
    report({
      days: [],
      totals: { ...emptyCounts(), delivered: 30, missing: 30 },
      missing_sample: Array.from({ length: 20 }, (_, i) => `CMD-${i}`),
      archived_by_number: 4,
      anomalies: {
        order_gone: { count: 12, sample: Array.from({ length: 10 }, (_, i) => `OLD-${i}`) },
        not_delivered: none,
        number_mismatch: { count: 1, sample: ["CMD-1 → CMD-101 (order 7)"] },
        duplicate_order_id: { count: 1, sample: ["7: CMD-1, CMD-2"] },
      },
      since,
    }),
    { repaired: { found: 30, archived: 28, quarantined: 2 } },
  );
  const lines = text.split("\n");
  assert.equal(lines[0], `Archive verification (orders delivered at or after ${since})`);
  assert.ok(lines.includes("  Orders without a valid date_livraison are left out (--since)"));
  assert.ok(
    lines.includes(
      "Missing: 30 delivered orders neither archived, quarantined nor released, first 20 listed",
    ),
  );
  assert.equal(lines.filter((l) => /^ {2}CMD-\d+$/.test(l)).length, 20);
  assert.ok(
    lines.includes(
      "Archived by number: 4 orders found only through an archive document without order_id (an older version's)",
    ),
  );
  assert.ok(lines.some((l) => /^ {2}order gone: +12 archive documents \(OLD-0, .*, …\)$/.test(l)));
  assert.ok(
    lines.includes(
      "  order renumbered since:          1 archive document (CMD-1 → CMD-101 (order 7))",
    ),
  );
  assert.ok(lines.includes("  several documents for one order: 1 order (7: CMD-1, CMD-2)"));
  assert.equal(
    lines.at(-1),
    "Repaired: 30 missing orders handed to the archiver: 28 archived, 2 quarantined",
  );
});

Deno.test("plural() adds an s unless the count is 1", () => {
  assert.deepEqual([0, 1, 2].map((n) => plural(n, "order")), ["0 orders", "1 order", "2 orders"]);
});
