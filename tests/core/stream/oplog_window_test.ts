import assert from "node:assert/strict";
import { MongoClient, Timestamp } from "mongodb";
import { startSandbox } from "../../../sandbox/mod.ts";
import {
  headroomLevel,
  isUnauthorized,
  readOplogWindow,
  resumeHeadroom,
} from "../../../core/stream/oplog_window.ts";

const ts = (t: number) => new Timestamp({ t, i: 1 });
const HOUR = 3_600;

Deno.test("the headroom is the window minus the token's age against the newest entry", () => {
  const cases: Array<[string, number, number, number | null, number | null, number | null]> = [
    // name, first, last, token, token age, headroom
    ["token at the newest entry", 1_000, 1_000 + 48 * HOUR, 1_000 + 48 * HOUR, 0, 48 * HOUR],
    [
      "token 10 h old in a 48 h window",
      1_000,
      1_000 + 48 * HOUR,
      1_000 + 38 * HOUR,
      10 * HOUR,
      38 * HOUR,
    ],
    ["token at the oldest entry", 1_000, 1_000 + 5 * HOUR, 1_000, 5 * HOUR, 0],
    ["token already out of the oplog", 1_000, 1_000 + HOUR, 500, HOUR + 500, -500],
    ["no token time", 1_000, 2_000, null, null, null],
  ];
  for (const [name, first, last, token, age, headroom] of cases) {
    const got = resumeHeadroom(
      { last: ts(last), windowSeconds: last - first },
      token === null ? null : ts(token),
    );
    assert.deepEqual(got, {
      windowSeconds: last - first,
      tokenAgeSeconds: age,
      headroomSeconds: headroom,
      fill: 1,
      full: true,
    }, name);
  }
});

Deno.test("an oplog not yet full has no headroom to judge; from 90 % of its size it has", () => {
  const cases: Array<[number, boolean]> = [[0.01, false], [0.13, false], [0.89, false], [
    0.9,
    true,
  ], [1, true]];
  for (const [fill, full] of cases) {
    const got = resumeHeadroom({ last: ts(2_000), windowSeconds: 1_000, fill }, ts(1_500));
    assert.equal(got.full, full, `fill ${fill}`);
    assert.equal(got.tokenAgeSeconds, 500, `fill ${fill}`);
    assert.equal(got.headroomSeconds, full ? 500 : null, `fill ${fill}`);
  }
});

Deno.test("an oplog not yet full has the window its maximum size will hold, not its span", async () => {
  // A 10-minute span filling a tenth of the oplog: nothing has been dropped yet, and at this rate
  // the oplog holds 100 minutes. A span that fills it is the window as it is.
  await using sandbox = await startSandbox({ oplogSize: 1_000 });
  const client = new MongoClient(sandbox.uri);
  await client.connect();
  try {
    const orders = client.db("oplog_fill").collection("Commande");
    for (let i = 0; i < 100; i++) await orders.insertOne({ i });
    const read = await readOplogWindow(client);
    assert.equal(read.kind, "ok");
    if (read.kind !== "ok") return;
    assert.ok(read.window.fill > 0.05 && read.window.fill < 0.2, `fill ${read.window.fill}`);
    assert.equal(read.window.windowSeconds, Math.round(read.window.spanSeconds / read.window.fill));
    for (let i = 0; i < 1_200; i++) await orders.insertOne({ i });
    const full = await readOplogWindow(client);
    assert.ok(full.kind === "ok" && full.window.fill === 1);
    assert.ok(full.kind === "ok" && full.window.windowSeconds === full.window.spanSeconds);
  } finally {
    await client.close();
  }
});

Deno.test("a headroom under 24 h is a warning, under 1 h critical", () => {
  const limits = { warningSeconds: 24 * HOUR, criticalSeconds: HOUR };
  const cases: Array<[number, string]> = [
    [48 * HOUR, "ok"],
    [24 * HOUR, "ok"],
    [24 * HOUR - 1, "warning"],
    [HOUR, "warning"],
    [HOUR - 1, "critical"],
    [-10, "critical"],
  ];
  for (const [seconds, level] of cases) {
    assert.equal(headroomLevel(seconds, limits), level, `${seconds}s`);
  }
});

Deno.test("only code 13 counts as a missing privilege", () => {
  assert.equal(isUnauthorized({ code: 13 }), true);
  assert.equal(isUnauthorized({ code: 11600 }), false);
  assert.equal(isUnauthorized(new Error("x")), false);
});
