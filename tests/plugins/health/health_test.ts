import assert from "node:assert/strict";
import { join } from "node:path";
import { ObjectId } from "mongodb";
import { saveBatchReport } from "../../../core/archive/report.ts";
import { logger, setupLogging } from "../../../core/runtime/logging.ts";
import { MongoTokenStore } from "../../../core/stream/token_store.ts";
import { writeWatchStatus } from "../../../core/stream/watch_status.ts";
import { health } from "../../../plugins/health/mod.ts";
import { verify } from "../../../plugins/verify/mod.ts";
import { cli, tempDir } from "../../support/cli.ts";
import { seedOrders } from "../../support/orders.ts";
import { assertSnapshot } from "../../support/snapshot.ts";
import { testDatabase } from "../../support/test_db.ts";

const plugins = [health()];
const ago = (ms: number) => new Date(Date.now() - ms).toISOString();

interface HealthJson {
  state: string;
  duration_ms: number;
  checks: Array<{ name: string; state: string; reason: string; skipped?: boolean }>;
}

function parse(stdout: string): HealthJson & { byName: Record<string, HealthJson["checks"][0]> } {
  assert.equal(stdout.trim().split("\n").length, 1, "--json prints one line");
  const json = JSON.parse(stdout) as HealthJson;
  return { ...json, byName: Object.fromEntries(json.checks.map((c) => [c.name, c])) };
}

/** A port nothing listens on: bound, then released. */
function closedPort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

async function writeStatus(
  path: string,
  updatedAgo: number,
  lag = 1.2,
  errors: string[] = [],
  readAgo = updatedAgo,
) {
  await writeWatchStatus(path, {
    pid: Deno.pid,
    state: "streaming",
    started_at: ago(7_200_000),
    updated_at: ago(updatedAgo),
    last_event_at: ago(updatedAgo),
    last_read_at: ago(readAgo),
    max_await_ms: 1_000,
    recent_connection_errors: errors,
    metrics: {
      events_processed: 100,
      events_archived: 98,
      orders_duplicates: 1,
      orders_incomplete: 1,
      orders_errors: 0,
      orders_invalid: 0,
      orders_conflicts: 0,
      orders_recovered: 0,
      stream_lag_seconds: lag,
      connection_errors: errors.length,
      resume_token_age_seconds: 3,
      uptime_seconds: 7_200,
      token_save_errors: 0,
    },
  });
}

async function writeToken(path: string, savedAgo: number) {
  await Deno.writeTextFile(
    path,
    JSON.stringify({
      token: { _data: "8263F0A1B2000000012B022C0100296E5A1004" },
      cluster_time: ago(savedAgo),
      saved_at: ago(savedAgo),
      namespace: "food_delivery.Commande",
    }),
  );
}

async function writeReport(path: string, figures: { errors?: number; archived?: number } = {}) {
  await saveBatchReport(path, {
    orders_found: 100,
    orders_archived: figures.archived ?? 100,
    orders_duplicates: 0,
    orders_incomplete: 0,
    orders_errors: figures.errors ?? 0,
    orders_invalid: 0,
    orders_conflicts: 0,
    orders_recovered: 0,
    batch_duration_ms: 1_200,
    started_at: ago(120_000),
    finished_at: ago(118_800),
    dry_run: false,
  });
}

Deno.test("health --help lists the thresholds and the exit codes", async () => {
  const { code, stdout } = await cli(["health", "--help"], { plugins });
  assert.equal(code, 0);
  assert.match(
    stdout,
    /--max-token-age <duration>[\s\S]*?ARCHIVER_HEALTH_MAX_TOKEN_AGE, default 1h/,
  );
  assert.match(stdout, /exit code 0 OK, 1 WARNING, 2\s+CRITICAL, 3 UNKNOWN/);
  assert.match(stdout, /--timeout <duration>/);
  await assertSnapshot("health_help", stdout);
});

Deno.test("health with a server that is down: mongodb CRITICAL, exit 2, within the deadline", async () => {
  await using dir = await tempDir();
  const started = Date.now();
  const { code, stdout, stderr } = await cli(
    ["health", "--json", "--uri", `mongodb://127.0.0.1:${closedPort()}`, "--timeout", "5s"],
    { plugins, cwd: dir.path, env: { ARCHIVER_CONNECT_TIMEOUT: "1s" } },
  );
  assert.ok(Date.now() - started < 5_000, "ends within the deadline");
  assert.equal(code, 2);
  const json = parse(stdout);
  assert.equal(json.state, "CRITICAL");
  assert.equal(json.byName.mongodb!.state, "CRITICAL");
  assert.match(json.byName.mongodb!.reason, /^MongoDB unreachable: .*ECONNREFUSED/);
  assert.equal(json.byName.change_streams!.state, "UNKNOWN");
  for (const name of ["collections", "archive_index", "archive_completeness", "quarantine"]) {
    assert.equal(json.byName[name]!.state, "UNKNOWN", name);
  }
  // No watcher and no batch here: those checks say so rather than fail.
  for (const name of ["watcher", "stream_lag", "connection_errors", "resume_token", "last_batch"]) {
    assert.equal(json.byName[name]!.state, "OK", name);
    assert.equal(json.byName[name]!.skipped, true, name);
  }
  assert.match(stderr, /❌ Failed to connect to MongoDB/);
});

Deno.test("health masks the password of an unreachable server", async () => {
  await using dir = await tempDir();
  const { code, stdout, stderr } = await cli(
    ["health", "--json", "--uri", `mongodb://app:s3cr3tpw@127.0.0.1:${closedPort()}`],
    { plugins, cwd: dir.path, env: { ARCHIVER_CONNECT_TIMEOUT: "500ms" } },
  );
  assert.equal(code, 2);
  assert.equal(`${stdout}${stderr}`.includes("s3cr3tpw"), false);
});

Deno.test("health with a stale status file, an old token and a batch report with errors", async () => {
  await using dir = await tempDir();
  await writeStatus(join(dir.path, "archiver-status.json"), 10 * 60_000, 45, [
    ago(50 * 60_000),
    ago(40 * 60_000),
    ago(30 * 60_000),
    ago(5 * 60_000),
  ]);
  await writeToken(join(dir.path, ".resume_token.json"), 3 * 3_600_000);
  await writeReport(join(dir.path, "last-batch.json"), { errors: 2, archived: 98 });
  const { code, stdout } = await cli(
    ["health", "--json", "--uri", `mongodb://127.0.0.1:${closedPort()}`],
    { plugins, cwd: dir.path, env: { ARCHIVER_CONNECT_TIMEOUT: "500ms" } },
  );
  assert.equal(code, 2);
  const json = parse(stdout);
  assert.equal(json.byName.watcher!.state, "CRITICAL");
  assert.match(json.byName.watcher!.reason, /No heartbeat for 10m \(max 15s\)/);
  assert.equal(json.byName.stream_lag!.state, "CRITICAL");
  assert.equal(json.byName.connection_errors!.state, "CRITICAL");
  assert.equal(json.byName.resume_token!.state, "CRITICAL");
  assert.match(json.byName.resume_token!.reason, /saved 3h ago \(max 1h\)/);
  assert.equal(json.byName.last_batch!.state, "CRITICAL");
  assert.match(json.byName.last_batch!.reason, /^Last batch had 2 errors/);
});

Deno.test("health: an unparsable token file is CRITICAL with a one-line reason", async () => {
  await using dir = await tempDir();
  await Deno.writeTextFile(join(dir.path, "token.json"), '{"token": {"_data": "82');
  const { stdout } = await cli(
    [
      "health",
      "--json",
      "--token-file",
      "token.json",
      "--uri",
      `mongodb://127.0.0.1:${closedPort()}`,
    ],
    { plugins, cwd: dir.path, env: { ARCHIVER_CONNECT_TIMEOUT: "500ms" } },
  );
  const check = parse(stdout).byName.resume_token!;
  assert.equal(check.state, "CRITICAL");
  assert.match(check.reason, /^Cannot parse token file token\.json: /);
  assert.equal(check.reason.includes("\n"), false);
});

Deno.test("health: thresholds come from flags and ARCHIVER_HEALTH_* variables", async () => {
  await using dir = await tempDir();
  await writeStatus(join(dir.path, "archiver-status.json"), 3 * 60_000, 12);
  await writeToken(join(dir.path, ".resume_token.json"), 2 * 3_600_000);
  const { stdout } = await cli(
    [
      "health",
      "--json",
      "--uri",
      `mongodb://127.0.0.1:${closedPort()}`,
      "--max-heartbeat-age",
      "5m",
      "--max-token-age",
      "3h",
    ],
    {
      plugins,
      cwd: dir.path,
      env: {
        ARCHIVER_CONNECT_TIMEOUT: "500ms",
        ARCHIVER_HEALTH_LAG_WARN: "20s",
        ARCHIVER_HEALTH_TOKEN_SAVE_AGE: "3h",
      },
    },
  );
  const json = parse(stdout);
  assert.equal(json.byName.watcher!.state, "OK");
  assert.equal(json.byName.stream_lag!.state, "OK");
  assert.equal(json.byName.resume_token!.state, "OK");
});

Deno.test("health: a bad setting is UNKNOWN (exit 3), one status line on standard output", async () => {
  const cases: Array<[string[], RegExp]> = [
    [
      ["--max-token-age", "soon"],
      /^ARCHIVER UNKNOWN - Invalid --max-token-age "soon": expected a duration/,
    ],
    [["--log-format", "xml"], /^ARCHIVER UNKNOWN - Invalid --log-format "xml": expected one of/],
    [["--bogus"], /^ARCHIVER UNKNOWN - unknown option '--bogus'/],
  ];
  for (const [args, says] of cases) {
    const { code, stdout, stderr } = await cli(["health", ...args], { plugins });
    assert.equal(code, 3, args.join(" "));
    assert.match(stdout, says);
    assert.equal(stdout.trim().split("\n").length, 1);
    assert.equal(stderr, "");
  }
});

Deno.test("health against a database: OK, then CRITICAL when a delivered order is missing from the archive", async (t) => {
  await using db = await testDatabase("health");
  await using dir = await tempDir();
  const seeded = await seedOrders(db.db, {
    complete: 8,
    incomplete: 2,
    // The first order was delivered a minute ago: within the grace period.
    deliveredAt: (i) => new Date(Date.now() - (i === 0 ? 60_000 : (i + 1) * 3_600_000)),
  });
  const archive = db.db.collection("Historique");
  await archive.createIndex({ order_id: 1 }, { unique: true });
  await archive.createIndex({ numero_commande: 1 }, { unique: true });
  await archive.insertMany(
    seeded.complete.slice(1).map((numero_commande) => ({
      order_id: seeded.orders.get(numero_commande)!._id,
      numero_commande,
      archived_by: "batch",
    })),
  );
  // The incomplete orders wait in the quarantine, as batch and watch leave them.
  await db.db.collection("archiver_quarantine").insertMany(
    Object.keys(seeded.incomplete).map((numero_commande) => ({
      _id: seeded.orders.get(numero_commande)!._id as ObjectId,
      numero_commande,
      reason: "incomplete",
      detail: "client",
      first_seen: new Date(),
      last_attempt: new Date(),
      attempts: 1,
      next_attempt: new Date(Date.now() + 60_000),
    })),
  );
  await writeStatus(join(dir.path, "archiver-status.json"), 2_000);
  await writeToken(join(dir.path, ".resume_token.json"), 30_000);
  await writeReport(join(dir.path, "last-batch.json"));
  const run = (...extra: string[]) =>
    cli([
      "health",
      "--uri",
      db.uri,
      "--db",
      db.dbName,
      "--min-free-disk",
      "0",
      "--min-uptime",
      "1h",
      ...extra,
    ], {
      plugins,
      cwd: dir.path,
    });

  await t.step("everything archived or quarantined (recent orders excused): exit 0", async () => {
    const { code, stdout } = await run("--json");
    const json = parse(stdout);
    assert.deepEqual(
      json.checks.filter((c) => c.state !== "OK").map((c) => `${c.name}: ${c.reason}`),
      [],
    );
    assert.equal(json.state, "OK");
    assert.equal(code, 0);
    assert.match(json.byName.mongodb!.reason, /^Ping \d+ ms$/);
  });

  await t.step("a complete delivered order missing from the archive is CRITICAL", async () => {
    const missing = seeded.complete[3]!;
    await archive.deleteOne({ numero_commande: missing });
    const { code, stdout } = await run("--json");
    const check = parse(stdout).byName.archive_completeness!;
    assert.equal(check.state, "CRITICAL");
    assert.equal(
      check.reason,
      `1 delivered order older than 10m neither archived, quarantined nor released: ${missing}`,
    );
    assert.equal(code, 2);
  });

  await t.step(
    "the status line comes first, then every check aligned, and the overall state",
    async () => {
      const { code, stdout } = await run();
      assert.equal(code, 2);
      const lines = stdout.trimEnd().split("\n");
      assert.match(
        lines[0]!,
        /^ARCHIVER CRITICAL - archive_completeness: 1 delivered order older than 10m neither archived, quarantined nor released: \S+ \| /,
      );
      const perf = lines[0]!.split(" | ")[1]!.split(" ");
      assert.deepEqual(perf.map((datum) => datum.split("=")[0]), [
        "stream_lag",
        "resume_token_age",
        "disk_free",
        "quarantine_incomplete",
        "quarantine_invalid",
        "quarantine_error",
        "log_folder",
        "watcher_uptime",
        "log_errors",
      ]);
      assert.ok(perf.includes("stream_lag=1.2s;10;30;0"), perf.join(" "));
      // Started 2 h before the setup: the steps before this one may take a second or more.
      assert.ok(perf.some((d) => /^watcher_uptime=72\d\ds;3600:;;0$/.test(d)), perf.join(" "));
      assert.match(lines[1]!, /^STATE\s+CHECK\s+REASON$/);
      const reasonColumn = lines[1]!.indexOf("REASON");
      for (const line of lines.slice(2, 19)) assert.equal(line[reasonColumn - 1], " ");
      assert.match(lines.at(-1)!, /^Overall: CRITICAL \(20 checks in \d+\.\ds\)$/);
    },
  );

  await t.step("a grace period longer than the order's age excuses it", async () => {
    const { code, stdout } = await run("--json", "--grace", "30d");
    assert.equal(parse(stdout).byName.archive_completeness!.state, "OK");
    assert.equal(code, 0);
  });
});

Deno.test("health's archive_completeness agrees with verify, whatever became of the orders", async (t) => {
  await using db = await testDatabase("health_agrees");
  await using dir = await tempDir();
  const seeded = await seedOrders(db.db, { complete: 6, incomplete: 0, notDelivered: 0 });
  const template = seeded.orders.get(seeded.complete[0]!)!;
  const [a, b, c] = seeded.complete.map((number) => seeded.orders.get(number)!);
  const archive = db.db.collection("Historique");
  await archive.createIndex({ order_id: 1 }, { unique: true });
  await archive.createIndex({ numero_commande: 1 }, { unique: true });
  const archiveOf = (order: Record<string, unknown>) => ({
    order_id: order._id,
    numero_commande: order.numero_commande,
  });
  await archive.insertMany([...seeded.orders.values()].map(archiveOf));
  const both = [health(), verify()];
  const cases: Array<[string, () => Promise<unknown>, number]> = [
    ["every order archived", () => Promise.resolve(), 0],
    ["an archive document deleted", () => archive.deleteOne({ order_id: a!._id }), 1],
    [
      "that order quarantined as a conflict",
      () =>
        db.db.collection("archiver_quarantine").insertOne({
          _id: a!._id as ObjectId,
          numero_commande: a!.numero_commande,
          reason: "conflict",
          first_seen: new Date(),
          next_attempt: new Date(),
        }),
      0,
    ],
    ["then released by the operator", async () => {
      await db.db.collection("archiver_quarantine").deleteMany({});
      await db.db.collection("archiver_released").insertOne({ _id: a!._id as ObjectId });
    }, 0],
    ["a number archived for another order", async () => {
      await archive.deleteOne({ order_id: b!._id });
      await archive.insertOne({ order_id: new ObjectId(), numero_commande: "OLD-1" });
      await archive.updateOne({ numero_commande: "OLD-1" }, {
        $set: { numero_commande: b!.numero_commande },
      });
    }, 1],
    ["an older archive document without order_id", async () => {
      await archive.deleteOne({ order_id: c!._id });
      await archive.insertOne({ numero_commande: "CMD-LEGACY" });
      await db.db.collection("Commande").updateOne({ _id: c!._id as ObjectId }, {
        $set: { numero_commande: "CMD-LEGACY" },
      });
    }, 1],
    ['1 beside "1" and a document _id, one archived', async () => {
      const ids: unknown[] = [1, "1", { shop: 3, n: 12 }];
      await db.db.collection("Commande").insertMany(ids.map((_id, i) => ({
        ...template,
        _id,
        numero_commande: `ID-${i}`,
      })) as Array<Record<string, unknown> & { _id: ObjectId }>);
      await archive.insertOne({ order_id: "1", numero_commande: "ID-1" });
    }, 3],
  ];
  for (const [name, change, missing] of cases) {
    await t.step(name, async () => {
      await change();
      const health = await cli(["health", "--json", "--uri", db.uri, "--db", db.dbName], {
        plugins: both,
        cwd: dir.path,
      });
      const check = parse(health.stdout).byName.archive_completeness! as {
        state: string;
        data?: { missing_orders: number; examples?: string[] };
      };
      const verified = await cli(["--uri", db.uri, "--db", db.dbName, "verify", "--json"], {
        plugins: both,
        cwd: dir.path,
      });
      const report = JSON.parse(verified.stdout);
      assert.equal(report.totals.missing, missing, verified.stderr);
      assert.equal(check.data?.missing_orders, missing, JSON.stringify(check));
      assert.equal(check.state, missing > 0 ? "CRITICAL" : "OK");
      assert.deepEqual([...(check.data?.examples ?? [])].sort(), [...report.missing_sample].sort());
      assert.equal(verified.code, missing > 0 ? 1 : 0);
    });
  }
});

Deno.test("health's resume_token reads the configured store: the token file, or the Mongo token with --token-store mongo", async (t) => {
  await using db = await testDatabase("health_token");
  await using dir = await tempDir();
  const tokenFile = join(dir.path, ".resume_token.json");
  const tokens = db.db.collection("archiver_resume_tokens");
  const mongoStore = new MongoTokenStore(tokens, `${db.dbName}.Commande`);
  const saveMongo = (savedAgo: number) =>
    mongoStore.save({
      token: { _data: "8263F0A1B2000000012B022C0100296E5A1004" },
      clusterTime: null,
      savedAt: new Date(Date.now() - savedAgo),
      namespace: `${db.dbName}.Commande`,
    });
  const HOUR = 3_600_000;
  const where = `token document "${db.dbName}.Commande" in archiver_resume_tokens`;
  // [name, store, file token age or none, Mongo token age or none, extra flags, state, reason]
  const cases: Array<
    [string, "file" | "mongo", number | null, number | null, string[], string, RegExp]
  > = [
    ["file, fresh", "file", 30_000, 2 * HOUR, [], "OK", /^Resume token saved 30s ago$/],
    ["file, stale", "file", 2 * HOUR, 30_000, [], "CRITICAL", /saved 2h ago \(max 1h\)/],
    ["file, none", "file", null, 30_000, [], "OK", /^not applicable: no token file /],
    [
      "mongo, fresh beside a stale left-over file",
      "mongo",
      2 * HOUR,
      30_000,
      [],
      "OK",
      /^Resume token saved 30s ago$/,
    ],
    [
      "mongo, stale beside a fresh left-over file",
      "mongo",
      30_000,
      2 * HOUR,
      [],
      "CRITICAL",
      /^Resume token saved 2h ago \(max 1h\)$/,
    ],
    [
      "mongo, none beside a fresh left-over file",
      "mongo",
      30_000,
      null,
      [],
      "OK",
      new RegExp(`^not applicable: no ${where.replace(/[.]/g, "\\.")} \\(no watcher`),
    ],
    [
      "mongo, none, watcher required",
      "mongo",
      30_000,
      null,
      ["ARCHIVER_HEALTH_REQUIRE_WATCHER"],
      "CRITICAL",
      /^No token document ".*" in archiver_resume_tokens: the watcher has not run here$/,
    ],
    [
      "mongo, fresh, watcher required",
      "mongo",
      null,
      30_000,
      ["ARCHIVER_HEALTH_REQUIRE_WATCHER"],
      "OK",
      /^Resume token saved 30s ago$/,
    ],
  ];
  for (const [name, store, fileAge, mongoAge, env, state, reason] of cases) {
    await t.step(name, async () => {
      await Deno.remove(tokenFile).catch(() => {});
      await tokens.deleteMany({});
      if (fileAge !== null) await writeToken(tokenFile, fileAge);
      if (mongoAge !== null) await saveMongo(mongoAge);
      const { stdout } = await cli(
        ["health", "--json", "--uri", db.uri, "--db", db.dbName, "--token-store", store],
        {
          plugins,
          cwd: dir.path,
          env: Object.fromEntries(env.map((variable) => [variable, "true"])),
        },
      );
      const check = parse(stdout).byName.resume_token!;
      assert.equal(check.state, state, `${name}: ${check.reason}`);
      assert.match(check.reason, reason);
    });
  }

  await t.step(
    "mongo, a token document with garbage for a token: CRITICAL, naming it",
    async () => {
      await tokens.deleteMany({});
      await tokens.insertOne({
        _id: `${db.dbName}.Commande` as unknown as ObjectId,
        token: "garbage",
        saved_at: "x",
        namespace: "n",
      });
      const { stdout } = await cli(
        ["health", "--json", "--uri", db.uri, "--db", db.dbName, "--token-store", "mongo"],
        { plugins, cwd: dir.path },
      );
      const check = parse(stdout).byName.resume_token!;
      assert.equal(check.state, "CRITICAL");
      assert.equal(check.reason, `Cannot parse ${where}: does not hold a resume token`);
    },
  );
});

Deno.test("health with a server that accepts connections but never answers ends by its deadline", async () => {
  await using dir = await tempDir();
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const held: Deno.Conn[] = [];
  const accepting = (async () => {
    try {
      for await (const conn of listener) held.push(conn);
    } catch {
      // Closed at the end of the test.
    }
  })();
  try {
    const port = (listener.addr as Deno.NetAddr).port;
    const started = Date.now();
    const { code, stdout } = await cli(
      ["health", "--json", "--uri", `mongodb://127.0.0.1:${port}`, "--timeout", "2s"],
      { plugins, cwd: dir.path, env: { ARCHIVER_CONNECT_TIMEOUT: "30s" } },
    );
    assert.ok(Date.now() - started < 4_000, `ended after ${Date.now() - started} ms`);
    assert.equal(code, 2);
    assert.equal(parse(stdout).byName.mongodb!.state, "CRITICAL");
  } finally {
    listener.close();
    for (const conn of held) {
      try {
        conn.close();
      } catch {
        // Already closed by the driver.
      }
    }
    await accepting;
  }
});

Deno.test("health: a streaming watcher whose heartbeat goes on without a stream read for 2 min is stalled", async () => {
  await using dir = await tempDir();
  await writeStatus(join(dir.path, "archiver-status.json"), 2_000, 1.2, [], 120_000);
  const { stdout } = await cli(
    ["health", "--json", "--uri", `mongodb://127.0.0.1:${closedPort()}`],
    { plugins, cwd: dir.path, env: { ARCHIVER_CONNECT_TIMEOUT: "500ms" } },
  );
  const watcher = parse(stdout).byName.watcher!;
  assert.equal(watcher.state, "CRITICAL");
  assert.match(
    watcher.reason,
    /^Watcher stalled: no stream read for 1m 58s \(max 30s\), heartbeat 2s ago$/,
  );
});

Deno.test("health against a database: the quarantine and the archive's unique index", async (t) => {
  await using db = await testDatabase("health");
  await using dir = await tempDir();
  const seeded = await seedOrders(db.db, {
    complete: 3,
    incomplete: 0,
    deliveredAt: (i) => new Date(Date.now() - (i + 1) * 3_600_000),
  });
  const archive = db.db.collection("Historique");
  await archive.createIndex({ order_id: 1 }, { unique: true });
  await archive.createIndex({ numero_commande: 1 }, { unique: true });
  await archive.insertMany(
    seeded.complete.map((numero_commande) => ({
      order_id: seeded.orders.get(numero_commande)!._id,
      numero_commande,
      archived_by: "batch",
    })),
  );
  const quarantine = db.db.collection("archiver_quarantine");
  const quarantined = (
    numero: string | null,
    reason: string,
    firstSeenAgo: number,
  ) => {
    const firstSeen = new Date(Date.now() - firstSeenAgo);
    return {
      _id: new ObjectId(),
      numero_commande: numero,
      reason,
      detail: `${reason}: client_id resolves to nothing`,
      first_seen: firstSeen,
      last_attempt: firstSeen,
      attempts: 1,
      next_attempt: new Date(Date.now() + 60_000),
    };
  };
  const run = async (...extra: string[]) => {
    const { code, stdout } = await cli(
      ["health", "--json", "--uri", db.uri, "--db", db.dbName, "--min-free-disk", "0", ...extra],
      { plugins, cwd: dir.path },
    );
    return { code, json: parse(stdout) };
  };

  await t.step(
    "an empty quarantine and a unique index under an older tool's name are OK",
    async () => {
      const { code, json } = await run();
      assert.equal(json.byName.quarantine!.state, "OK");
      assert.equal(json.byName.quarantine!.reason, "The quarantine archiver_quarantine is empty");
      assert.equal(json.byName.archive_index!.state, "OK");
      assert.match(json.byName.archive_index!.reason, /"numero_commande_1"/);
      assert.equal(code, 0);
    },
  );

  await t.step("an incomplete order within the grace is OK, and said", async () => {
    await quarantine.insertOne(quarantined("CMD-900001", "incomplete", 10 * 60_000));
    const { code, json } = await run();
    const check = json.byName.quarantine!;
    assert.equal(check.state, "OK");
    assert.equal(
      check.reason,
      "1 incomplete order quarantined for less than 1h: waiting for their references",
    );
    assert.equal(code, 0);
  });

  await t.step(
    "an incomplete order past the grace is a WARNING (the grace is a setting)",
    async () => {
      await quarantine.insertOne(quarantined("CMD-900002", "incomplete", 2 * 3_600_000));
      const { code, json } = await run();
      const check = json.byName.quarantine! as HealthJson["checks"][0] & {
        data: { by_reason: Record<string, number> };
      };
      assert.equal(check.state, "WARNING");
      assert.equal(
        check.reason,
        "1 incomplete order quarantined for more than 1h: CMD-900002 (incomplete, 2h); 1 incomplete within the 1h grace",
      );
      assert.deepEqual(check.data.by_reason, { incomplete: 2, invalid: 0, conflict: 0, error: 0 });
      assert.equal(code, 1);
      const longer = await cli(
        ["health", "--json", "--uri", db.uri, "--db", db.dbName, "--min-free-disk", "0"],
        { plugins, cwd: dir.path, env: { ARCHIVER_HEALTH_QUARANTINE_GRACE: "3h" } },
      );
      assert.equal(parse(longer.stdout).byName.quarantine!.state, "OK");
    },
  );

  await t.step("an invalid order, or one in error without a number, is CRITICAL", async () => {
    await quarantine.insertMany([
      quarantined("CMD-900003", "invalid", 30 * 60_000),
      quarantined(null, "error", 5 * 60_000),
    ]);
    const { code, json } = await run();
    const check = json.byName.quarantine! as HealthJson["checks"][0] & {
      data: { by_reason: Record<string, number> };
    };
    assert.equal(check.state, "CRITICAL");
    assert.match(
      check.reason,
      /^2 orders quarantined as invalid, conflict or in error \(1 invalid, 1 error\): CMD-900003 \(invalid, 30m\), _id [0-9a-f]{24} \(error, 5m\), CMD-900002 \(incomplete, 2h\); 1 incomplete for more than 1h; 1 incomplete within the 1h grace$/,
    );
    assert.deepEqual(check.data.by_reason, { incomplete: 2, invalid: 1, conflict: 0, error: 1 });
    assert.equal(code, 2);
    await quarantine.deleteMany({});
  });

  await t.step(
    "a non-unique archive index is CRITICAL, and completeness no longer says fine",
    async () => {
      await archive.dropIndex("numero_commande_1");
      await archive.createIndex({ numero_commande: 1 });
      const { code, json } = await run();
      const index = json.byName.archive_index!;
      assert.equal(index.state, "CRITICAL");
      assert.equal(
        index.reason,
        'The archive Historique has index "numero_commande_1" on numero_commande that is not unique: drop it (db.Historique.dropIndex("numero_commande_1")) and re-run, and the archiver creates the unique index',
      );
      assert.equal(json.byName.collections!.state, "OK");
      assert.equal(json.byName.collections!.reason.includes("index"), false);
      assert.equal(json.byName.archive_completeness!.state, "WARNING");
      assert.match(json.byName.archive_completeness!.reason, /see archive_index/);
      assert.equal(code, 2);
    },
  );

  await t.step("no index at all is CRITICAL, saying batch and watch create it", async () => {
    await archive.dropIndex("numero_commande_1");
    const { json } = await run();
    assert.equal(json.byName.archive_index!.state, "CRITICAL");
    assert.match(json.byName.archive_index!.reason, /batch and watch create it when they start$/);
  });
});

Deno.test("health reads the last 24 h of logs: errors and the archive rate, not its own lines", async () => {
  await using dir = await tempDir();
  const logDir = join(dir.path, "logs");
  const write = async (action: string, lines: (log: ReturnType<typeof logger>) => void) => {
    const close = await setupLogging({
      level: "info",
      action,
      write: () => {},
      file: { dir: logDir, name: action, maxSize: 1e6, maxFiles: 2 },
    });
    lines(logger(action));
    await close();
  };
  await write("batch", (log) => {
    log.warn("⚠️ Order CMD-1 is incomplete: client missing", {
      numero_commande: "CMD-1",
      order_id: "1",
      reason: "incomplete",
      detail: "client missing",
    });
    log.error("❌ Order CMD-2 is invalid: no date", {
      numero_commande: "CMD-2",
      order_id: "2",
      reason: "invalid",
      detail: "no date",
    });
    log.info("✅ Archived 98 orders", { orders_archived: 98, orders_incomplete: 1 });
  });
  // A CRITICAL health run logs an error, a CRITICAL logs check too: the next run counts neither.
  await write("health", (log) => log.error("❌ Health CRITICAL: mongodb CRITICAL"));
  await write("logs check", (log) => log.error("❌ Logs CRITICAL: any_error"));
  const run = (...extra: string[]) =>
    cli([
      "health",
      "--json",
      "--uri",
      `mongodb://127.0.0.1:${closedPort()}`,
      "--timeout",
      "2s",
      ...extra,
    ], { plugins, cwd: dir.path });
  const json = parse((await run()).stdout);
  assert.equal(json.byName.log_errors!.state, "WARNING");
  assert.match(
    json.byName.log_errors!.reason,
    /^1 error in the logs of the last 1d \(max 0\), last archiver\.batch: ❌ Order CMD-2 is invalid/,
  );
  assert.equal(json.byName.archive_rate!.state, "WARNING");
  assert.match(
    json.byName.archive_rate!.reason,
    /^98\.9% of 99 orders archived in the last 1d \(invalid or in error 1; 1 incomplete left out\)/,
  );
  const relaxed = parse(
    (await cli([
      "health",
      "--json",
      "--uri",
      `mongodb://127.0.0.1:${closedPort()}`,
      "--timeout",
      "2s",
    ], {
      plugins,
      cwd: dir.path,
      env: { ARCHIVER_HEALTH_MAX_LOG_ERRORS: "1", ARCHIVER_HEALTH_ARCHIVE_RATE_MIN: "95" },
    })).stdout,
  );
  assert.equal(relaxed.byName.log_errors!.state, "OK");
  assert.equal(relaxed.byName.archive_rate!.state, "OK");
});

Deno.test("health --only and --skip run the checks named, in the table's order; the verdict is theirs", async () => {
  await using dir = await tempDir();
  await writeStatus(join(dir.path, "archiver-status.json"), 1_000);
  await writeToken(join(dir.path, ".resume_token.json"), 60_000);
  const down = `mongodb://127.0.0.1:${closedPort()}`;
  const cases: Array<{ args: string[]; names: string[]; code: number }> = [
    // MongoDB is down, but no check that reads it runs: OK.
    { args: ["--only", "resume_token,watcher"], names: ["watcher", "resume_token"], code: 0 },
    { args: ["--only", "resume_token", "watcher"], names: ["watcher", "resume_token"], code: 0 },
    { args: ["--only", "watcher", "mongodb"], names: ["mongodb", "watcher"], code: 2 },
    {
      args: ["--only", "watcher", "stream_lag", "mongodb", "--skip", "mongodb"],
      names: ["watcher", "stream_lag"],
      code: 0,
    },
  ];
  for (const item of cases) {
    const { code, stdout, stderr } = await cli(
      ["health", "--json", "--uri", down, "--timeout", "2s", ...item.args],
      { plugins, cwd: dir.path, env: { ARCHIVER_CONNECT_TIMEOUT: "300ms" } },
    );
    const json = parse(stdout);
    assert.deepEqual(json.checks.map((check) => check.name), item.names, item.args.join(" "));
    assert.equal(code, item.code, `${item.args.join(" ")}: ${stderr}`);
  }
  // --skip alone: every other check, still judged.
  const skipped = parse(
    (await cli(["health", "--json", "--uri", down, "--timeout", "2s", "--skip", "mongodb"], {
      plugins,
      cwd: dir.path,
      env: { ARCHIVER_CONNECT_TIMEOUT: "300ms" },
    })).stdout,
  );
  assert.equal(skipped.byName.mongodb, undefined);
  assert.ok(skipped.byName.change_streams, "the other MongoDB checks still run");
  assert.ok(skipped.byName.disk_space);
});
