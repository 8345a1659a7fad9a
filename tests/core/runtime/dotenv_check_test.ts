import assert from "node:assert/strict";
import { closestName, editDistance } from "../../../core/runtime/closest_name.ts";
import { unknownSettings, unterminatedQuote } from "../../../core/runtime/dotenv_check.ts";

const KNOWN = new Set([
  "ARCHIVER_HEALTH_LAG_WARN",
  "ARCHIVER_HEALTH_LAG_CRITICAL",
  "ARCHIVER_LOG_LEVEL",
  "ARCHIVER_LOG_DIR",
  "ARCHIVER_BATCH_SIZE",
]);

Deno.test("editDistance() counts letters inserted, deleted or replaced", () => {
  const cases: Array<[string, string, number]> = [
    ["", "", 0],
    ["abc", "abc", 0],
    ["", "abc", 3],
    ["kitten", "sitting", 3],
    ["HEALT", "HEALTH", 1],
    ["LAG_WARN", "LAG_WRAN", 2],
  ];
  for (const [a, b, distance] of cases) {
    assert.equal(editDistance(a, b), distance, `${a} → ${b}`);
    assert.equal(editDistance(b, a), distance, `${b} → ${a}`);
  }
});

Deno.test("closestName() suggests the setting a typo meant, and nothing for an unrelated name", () => {
  const cases: Array<[string, string | undefined]> = [
    ["ARCHIVER_HEALT_LAG_WARN", "ARCHIVER_HEALTH_LAG_WARN"],
    ["ARCHIVER_HEALTH_LAG_CRITCAL", "ARCHIVER_HEALTH_LAG_CRITICAL"],
    ["ARCHIVER_LOG_LEVLE", "ARCHIVER_LOG_LEVEL"],
    ["archiver_log_dir", "ARCHIVER_LOG_DIR"], // case does not count
    ["ARCHIVER_BATCHSIZE", "ARCHIVER_BATCH_SIZE"],
    ["ARCHIVER_SOMETHING_ELSE_ENTIRELY", undefined],
    ["ARCHIVER_X", undefined],
  ];
  for (const [name, expected] of cases) assert.equal(closestName(name, KNOWN), expected, name);
});

Deno.test("unknownSettings() names the tool's variables no setting reads, never the others", () => {
  assert.deepEqual(
    unknownSettings(
      ["ARCHIVER_HEALT_LAG_WARN", "ARCHIVER_LOG_LEVEL", "PATH", "MONGODB_TEST_URI", "ARCHIVER_ZZZ"],
      KNOWN,
    ),
    [
      { name: "ARCHIVER_HEALT_LAG_WARN", suggestion: "ARCHIVER_HEALTH_LAG_WARN" },
      { name: "ARCHIVER_ZZZ" },
    ],
  );
});

Deno.test("unterminatedQuote() finds a quote never closed, and passes closed and multi-line ones", () => {
  const cases: Array<[string, ReturnType<typeof unterminatedQuote>]> = [
    ['ARCHIVER_LOG_DIR="/var/log/archiver\nARCHIVER_LOG_LEVEL=info\n', {
      key: "ARCHIVER_LOG_DIR",
      line: 1,
      quote: '"',
    }],
    ["A=1\n# note\nexport ARCHIVER_X='open\n", { key: "ARCHIVER_X", line: 3, quote: "'" }],
    ["A=1\nB = `tick\n", { key: "B", line: 2, quote: "`" }],
    ["A=\"closed\"\nB='closed'\nC=`closed`\n", undefined],
    ['A="two\nlines"\nB=2\n', undefined],
    ['A="escaped \\" quote"\n', undefined],
    ["A=no \"quote at start\nB=it's\n", undefined],
    ["", undefined],
  ];
  for (const [text, expected] of cases) {
    assert.deepEqual(unterminatedQuote(text), expected, JSON.stringify(text));
  }
});
