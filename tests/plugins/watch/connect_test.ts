import assert from "node:assert/strict";
import { join } from "node:path";
import { failureLine, FailureLines, formatDelay } from "../../../plugins/watch/connect.ts";
import { tempDir } from "../../support/cli.ts";
import { freePort } from "../../support/ports.ts";
import { eventually, startWatcher } from "../../support/watcher.ts";

Deno.test("FailureLines: the first five attempts each get a line, then one a minute says how many failed since", () => {
  let now = 0;
  const lines = new FailureLines({ now: () => now });
  const said: Array<[number, number]> = [];
  // An attempt every 10 s for 5 minutes.
  for (let attempt = 1; attempt <= 30; attempt++) {
    const line = lines.failed(attempt);
    if (line) said.push([attempt, line.unsaid]);
    now += 10_000;
  }
  assert.deepEqual(said, [
    [1, 0],
    [2, 0],
    [3, 0],
    [4, 0],
    [5, 0],
    [11, 5], // a minute after the 5th line
    [17, 5],
    [23, 5],
    [29, 5],
  ]);
  assert.equal(lines.thinsAfter(5), true);
  assert.equal(lines.thinsAfter(6), false);
});

const texts: Array<[string, Parameters<typeof failureLine>[1], RegExp]> = [
  [
    "an attempt with its next delay",
    {
      attempt: 3,
      error: new Error("connect ECONNREFUSED"),
      delayMs: 4_000,
      unsaid: 0,
      thinning: false,
    },
    /^❌ Failed to connect to MongoDB at mongodb:\/\/h:1 \(attempt 3\): .*ECONNREFUSED.*; retrying in 4\.0 s$/,
  ],
  [
    "the last attempt said one by one",
    { attempt: 5, error: new Error("down"), delayMs: 360, unsaid: 0, thinning: true },
    /\(attempt 5\): .*; retrying in 0\.4 s \(from now on, one line a minute\)$/,
  ],
  [
    "a line a minute counts what it did not say",
    { attempt: 11, error: new Error("down"), delayMs: 29_600, unsaid: 5, thinning: false },
    /\(attempt 11, 5 more failed since the last line\): .*; retrying in 30 s$/,
  ],
];

for (const [name, options, expected] of texts) {
  Deno.test(`failureLine(): ${name}`, () => {
    assert.match(failureLine("mongodb://h:1", options), expected);
  });
}

Deno.test("formatDelay() says tenths under 10 s, whole seconds above", () => {
  assert.deepEqual([0, 450, 9_940, 10_000, 29_600].map(formatDelay), [
    "0.0 s",
    "0.5 s",
    "9.9 s",
    "10 s",
    "30 s",
  ]);
});

Deno.test("a watcher that cannot connect logs one ERROR line per attempt naming the attempt and the next delay, and counts each", async () => {
  await using dir = await tempDir();
  const uri = `mongodb://127.0.0.1:${freePort()}/?directConnection=true`;
  const watcher = startWatcher(uri, "nowhere", dir.path, ["--status-file", "status.json"], {
    env: { ARCHIVER_CONNECT_TIMEOUT: "500ms", ARCHIVER_WATCH_STATUS_INTERVAL_MS: "200" },
  });
  try {
    await watcher.waitFor(/\(attempt 3\)/, 20_000);
    await eventually(
      async () => {
        const status = JSON.parse(await Deno.readTextFile(join(dir.path, "status.json")));
        return status.metrics.connection_errors >= 3;
      },
      5_000,
      "3 connection errors in the status file",
    );
    const { code } = await watcher.stop("SIGTERM");
    assert.equal(code, 0, watcher.stderr());
  } finally {
    await watcher.stop("SIGKILL");
  }
  const errors = watcher.stderr().split("\n").filter((line) => line.includes("[ERROR]"));
  assert.ok(errors.length >= 3, watcher.stderr());
  errors.forEach((line, i) => {
    assert.match(
      line,
      new RegExp(
        `❌ Failed to connect to MongoDB at mongodb://127\\.0\\.0\\.1:\\d+/\\S* \\(attempt ${
          i + 1
        }\\): .+; retrying in \\d+\\.\\d s`,
      ),
    );
  });
  const status = JSON.parse(await Deno.readTextFile(join(dir.path, "status.json")));
  assert.ok(status.metrics.connection_errors >= errors.length, JSON.stringify(status.metrics));
});
