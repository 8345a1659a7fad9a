import assert from "node:assert/strict";
import { emptyCounts, type VerifyReport } from "../../../core/archive/verify.ts";
import { formatVerifyReport, plural } from "../../../plugins/verify/table.ts";

const q = (incomplete: number, invalid: number, error: number) => ({
  incomplete,
  invalid,
  conflict: 0,
  error,
});

function report(overrides: Partial<VerifyReport> = {}): VerifyReport {
  return {
    days: [
      { day: "2025-10-14", delivered: 1204, archived: 1190, quarantined: q(12, 0, 2), missing: 0 },
      { day: "unknown", delivered: 1, archived: 0, quarantined: q(0, 0, 0), missing: 1 },
    ],
    totals: { delivered: 1205, archived: 1190, quarantined: q(12, 0, 2), missing: 1 },
    missing_sample: ["CMD-004300"],
    orphans: 0,
    orphans_sample: [],
    ...overrides,
  };
}

Deno.test("formatVerifyReport() aligns one line per day, then the totals, then the missing numbers", () => {
  assert.equal(
    formatVerifyReport(report()),
    [
      "Archive verification",
      "  day         delivered  archived  incomplete  invalid  error  missing",
      "  2025-10-14       1204      1190          12        0      2        0",
      "  unknown             1         0           0        0      0        1",
      "  total            1205      1190          12        0      2        1",
      "  (incomplete, invalid, error: quarantined, by reason)",
      "",
      "Missing: 1 delivered order neither archived nor quarantined",
      "  CMD-004300",
      "",
      "Orphans: 0 archive documents without a delivered order",
    ].join("\n"),
  );
});

Deno.test("formatVerifyReport() says what --since leaves out, how many missing are listed, and what --repair did", () => {
  const since = "2025-10-15T00:00:00.000Z";
  const text = formatVerifyReport(
    report({
      days: [],
      totals: { ...emptyCounts(), delivered: 30, missing: 30 },
      missing_sample: Array.from({ length: 20 }, (_, i) => `CMD-${i}`),
      orphans: 12,
      orphans_sample: Array.from({ length: 10 }, (_, i) => `OLD-${i}`),
      since,
    }),
    { repaired: { found: 30, archived: 28, quarantined: 2 } },
  );
  const lines = text.split("\n");
  assert.equal(lines[0], `Archive verification (orders delivered at or after ${since})`);
  assert.ok(lines.includes("  Orders without a valid date_livraison are left out (--since)"));
  assert.ok(
    lines.includes(
      "Missing: 30 delivered orders neither archived nor quarantined, first 20 listed",
    ),
  );
  assert.equal(lines.filter((l) => /^ {2}CMD-\d+$/.test(l)).length, 20);
  assert.ok(lines.some((l) => l.startsWith("Orphans: 12 archive documents") && l.endsWith(", …)")));
  assert.equal(
    lines.at(-1),
    "Repaired: 30 missing orders handed to the archiver: 28 archived, 2 quarantined",
  );
});

Deno.test("plural() adds an s unless the count is 1", () => {
  assert.deepEqual([0, 1, 2].map((n) => plural(n, "order")), ["0 orders", "1 order", "2 orders"]);
});
