import assert from "node:assert/strict";
import { join } from "node:path";
import { MongoClient, type Timestamp } from "mongodb";
import { globalSettings } from "../../../core/runtime/config.ts";
import type { GlobalConfig } from "../../../core/runtime/config.ts";
import { FileTokenStore, MongoTokenStore } from "../../../core/stream/token_store.ts";
import { readOplogWindow, resumeHeadroom } from "../../../core/stream/oplog_window.ts";
import { readOplogHeadroom } from "../../../plugins/health/read/oplog_headroom.ts";
import {
  oplogHeadroomCheck,
  type OplogHeadroomSeen,
} from "../../../plugins/health/checks/oplog_headroom.ts";
import { defaultThresholds, type HealthThresholds } from "../../../plugins/health/thresholds.ts";
import { perfData } from "../../../plugins/health/status_line.ts";
import { tempDir } from "../../support/cli.ts";
import { dedicatedSandbox } from "../../support/test_db.ts";

const HOUR = 3_600;
const limits: HealthThresholds = { ...defaultThresholds };

Deno.test("oplog_headroom is WARNING under 24 h, CRITICAL under 1 h once the oplog is full; a young oplog not full never alarms", () => {
  const ok = (windowSeconds: number, tokenAgeSeconds: number): OplogHeadroomSeen => ({
    kind: "ok",
    headroom: {
      windowSeconds,
      tokenAgeSeconds,
      headroomSeconds: windowSeconds - tokenAgeSeconds,
      fill: 1,
      full: true,
    },
  });
  const young = (windowSeconds: number, tokenAgeSeconds: number, fill: number) => ({
    kind: "ok" as const,
    headroom: { windowSeconds, tokenAgeSeconds, headroomSeconds: null, fill, full: false },
  });
  const cases: Array<[string, OplogHeadroomSeen, string, boolean]> = [
    // The sandbox quick start: 13 % full, a projected window under the hour.
    ["young oplog 13 % full, projection under 1 h", young(2_170, 282, 0.13), "OK", false],
    ["young oplog 1 % full, token far behind", young(600, 590, 0.01), "OK", false],
    ["48 h window, fresh token", ok(48 * HOUR, 10), "OK", false],
    ["exactly 24 h left", ok(48 * HOUR, 24 * HOUR), "OK", false],
    ["23 h left", ok(30 * HOUR, 7 * HOUR), "WARNING", false],
    ["59 min left", ok(10 * HOUR, 10 * HOUR - 59 * 60), "CRITICAL", false],
    ["token already out", ok(HOUR, 2 * HOUR), "CRITICAL", false],
    ["no token", { kind: "no-token", where: "token file x" }, "OK", true],
    [
      "no privilege",
      {
        kind: "unauthorized",
        message: "unknown (needs read on local: clusterMonitor role)",
      },
      "UNKNOWN",
      false,
    ],
    ["empty oplog", { kind: "empty" }, "UNKNOWN", false],
    ["unreachable", { kind: "error", reason: "timed out" }, "UNKNOWN", false],
  ];
  for (const [name, seen, state, skipped] of cases) {
    const check = oplogHeadroomCheck(seen, limits);
    assert.equal(check.name, "oplog_headroom", name);
    assert.equal(check.state, state, name);
    assert.equal(check.skipped === true, skipped, name);
    if (seen.kind === "ok") {
      assert.deepEqual(check.data, {
        oplog_window_seconds: seen.headroom.windowSeconds,
        resume_headroom_seconds: seen.headroom.headroomSeconds,
        token_age_seconds: seen.headroom.tokenAgeSeconds,
        oplog_fill_percent: Math.round(seen.headroom.fill * 1000) / 10,
      }, name);
      if (!seen.headroom.full) {
        assert.match(check.reason, /^Oplog \d+% full: no entry dropped yet/, name);
      }
    }
  }
  const unknown = oplogHeadroomCheck({
    kind: "unauthorized",
    message: "unknown (needs read on local: clusterMonitor role)",
  }, limits);
  assert.match(unknown.reason, /needs read on local: clusterMonitor role/);
});

Deno.test("the headroom's perfdata carries the configured thresholds", () => {
  const check = oplogHeadroomCheck({
    kind: "ok",
    headroom: {
      windowSeconds: 7_200,
      tokenAgeSeconds: 200,
      headroomSeconds: 7_000,
      fill: 1,
      full: true,
    },
  }, limits);
  const data = perfData([check], limits);
  assert.deepEqual(data, [
    { label: "oplog_window", uom: "s", min: 0, value: 7_200 },
    { label: "resume_headroom", uom: "s", warn: "86400:", crit: "3600:", value: 7_000 },
  ]);
});

function config(uri: string): GlobalConfig {
  const defaults = Object.fromEntries(
    Object.entries(globalSettings).map(([key, setting]) => [key, setting.default]),
  ) as GlobalConfig;
  return { ...defaults, uri, db: "shop", connectTimeout: 2_000 };
}

Deno.test("health reads a real token from the file or Mongo store and the sandbox's oplog window", async () => {
  await using sandbox = await dedicatedSandbox({ oplogSize: 100 });
  if (!sandbox) return; // a real server's window is hours: the thresholds below would not fit
  await using dir = await tempDir();
  const client = new MongoClient(sandbox.uri);
  try {
    const orders = client.db("shop").collection("Commande");
    // A full oplog (100 entries): its window is its span, not a projection of how fast it fills.
    await orders.insertMany(Array.from({ length: 150 }, (_, i) => ({ fill: i })));
    await orders.insertOne({ n: 1 });
    const at = async () => {
      const read = await readOplogWindow(client);
      assert.equal(read.kind, "ok");
      return (read as { window: { last: Timestamp } }).window.last;
    };
    const oldest = await at();
    await new Promise((resolve) => setTimeout(resolve, 2_100));
    await orders.insertOne({ n: 2 });
    const newest = await at();
    const tokenFile = join(dir.path, "token.json");
    const options = { tokenFile, tokenCollection: "archiver_resume_tokens", budgetMs: 5_000 };
    const seconds = (s: number) => s * 1000;
    const cases: Array<[string, Timestamp, Partial<HealthThresholds>, string]> = [
      // The token at the oldest entry has no headroom left; at the newest, the whole window.
      ["token at the oldest entry", oldest, { oplogHeadroomCriticalMs: seconds(1) }, "CRITICAL"],
      ["token at the newest entry, warning above the window", newest, {
        oplogHeadroomWarningMs: seconds(60),
        oplogHeadroomCriticalMs: seconds(1),
      }, "WARNING"],
      ["token at the newest entry, thresholds below the window", newest, {
        oplogHeadroomWarningMs: seconds(1),
        oplogHeadroomCriticalMs: seconds(0),
      }, "OK"],
    ];
    for (const store of ["file", "mongo"] as const) {
      for (const [name, clusterTime, overrides, state] of cases) {
        const saved = {
          token: { _data: "8263" },
          clusterTime,
          savedAt: new Date(),
          namespace: "shop.Commande",
        };
        if (store === "file") await new FileTokenStore(tokenFile).save(saved);
        else {
          await new MongoTokenStore(
            client.db("shop").collection("archiver_resume_tokens"),
            "shop.Commande",
          ).save(saved);
        }
        const seen = await readOplogHeadroom(config(sandbox.uri), {
          ...options,
          tokenStore: store,
        });
        const check = oplogHeadroomCheck(seen, { ...limits, ...overrides });
        assert.equal(check.state, state, `${store}: ${name}: ${check.reason}`);
        assert.equal(typeof check.data?.oplog_window_seconds, "number", name);
        assert.ok((check.data!.oplog_window_seconds as number) >= 2, name);
      }
    }
    // No token saved: not applicable.
    await Deno.remove(tokenFile);
    const none = await readOplogHeadroom(config(sandbox.uri), { ...options, tokenStore: "file" });
    assert.equal(oplogHeadroomCheck(none, limits).skipped, true);
    // Without the privilege on local: UNKNOWN, with what it needs.
    await new FileTokenStore(tokenFile).save({
      token: { _data: "8263" },
      clusterTime: newest,
      savedAt: new Date(),
      namespace: "shop.Commande",
    });
    await client.db("admin").command({
      configureFailPoint: "failCommand",
      mode: "alwaysOn",
      data: { failCommands: ["find"], errorCode: 13, namespace: "local.oplog.rs" },
    });
    const refused = await readOplogHeadroom(config(sandbox.uri), {
      ...options,
      tokenStore: "file",
    });
    const unknown = oplogHeadroomCheck(refused, limits);
    assert.equal(unknown.state, "UNKNOWN");
    assert.match(unknown.reason, /unknown \(needs read on local: clusterMonitor role\)/);
  } finally {
    await client.close();
  }
});

Deno.test("a young oplog, mostly empty, stays OK in health and has no headroom gauge; once full, a short window alarms", async () => {
  await using sandbox = await dedicatedSandbox({ oplogSize: 10_000 });
  if (!sandbox) return; // a real server's oplog is not ours to fill
  await using dir = await tempDir();
  const client = new MongoClient(sandbox.uri);
  try {
    const orders = client.db("shop").collection("Commande");
    await orders.insertOne({ n: 0 });
    const first = await readOplogWindow(client);
    assert.ok(first.kind === "ok");
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    await orders.insertMany(Array.from({ length: 50 }, (_, i) => ({ n: i })));
    const tokenFile = join(dir.path, "token.json");
    // The token at the oldest entry: under the old projection this was "under 1h".
    await new FileTokenStore(tokenFile).save({
      token: { _data: "8263" },
      clusterTime: first.window.last,
      savedAt: new Date(),
      namespace: "shop.Commande",
    });
    const options = {
      tokenFile,
      tokenCollection: "archiver_resume_tokens",
      budgetMs: 5_000,
      tokenStore: "file" as const,
    };
    const seen = await readOplogHeadroom(config(sandbox.uri), options);
    assert.equal(seen.kind, "ok");
    if (seen.kind !== "ok") return;
    assert.ok(seen.headroom.fill < 0.9, `fill ${seen.headroom.fill}`);
    assert.ok(seen.headroom.windowSeconds < HOUR, "the projection alone would have paged");
    const check = oplogHeadroomCheck(seen, limits);
    assert.equal(check.state, "OK", check.reason);
    assert.match(check.reason, /^Oplog \d+% full: no entry dropped yet/);
    // The watcher's gauges come from the same figure: no headroom while it fills.
    const read = await readOplogWindow(client);
    assert.ok(read.kind === "ok");
    assert.equal(resumeHeadroom(read.window, first.window.last).headroomSeconds, null);
    assert.equal(perfData([check], limits).some((d) => d.label === "resume_headroom"), false);

    // Filled past its size: the window is its span, and a token about to leave it pages.
    await orders.insertMany(Array.from({ length: 10_500 }, (_, i) => ({ fill: i })));
    const full = await readOplogWindow(client);
    assert.ok(full.kind === "ok" && full.window.fill === 1);
    await new FileTokenStore(tokenFile).save({
      token: { _data: "8263" },
      clusterTime: full.window.first,
      savedAt: new Date(),
      namespace: "shop.Commande",
    });
    const paged = oplogHeadroomCheck(await readOplogHeadroom(config(sandbox.uri), options), limits);
    assert.equal(paged.state, "CRITICAL", paged.reason);
    assert.match(paged.reason, /^Resume headroom .*: under 1h$/);
  } finally {
    await client.close();
  }
});
