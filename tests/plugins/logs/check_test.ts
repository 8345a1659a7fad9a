import assert from "node:assert/strict";
import { join } from "node:path";
import type { Logger } from "@logtape/logtape";
import { logger, setupLogging } from "../../../core/runtime/logging.ts";
import { connectMongo } from "../../../core/mongo/client.ts";
import { logs } from "../../../plugins/logs/mod.ts";
import { cli, tempDir } from "../../support/cli.ts";
import { otherUserRunner } from "../../support/other_user.ts";
import { assertSnapshot } from "../../support/snapshot.ts";

const plugins = [logs()];

/** Writes log lines through the tool's own logging, as a command run would. */
async function writeLogs(
  dir: string,
  name: string,
  write: (log: Logger) => void | Promise<void>,
  maxSize = 10 * 1024 * 1024,
  action = name,
): Promise<void> {
  const close = await setupLogging({
    level: "debug",
    write: () => {},
    action,
    file: { dir, name, maxSize, maxFiles: 10 },
  });
  try {
    await write(logger(name));
  } finally {
    await close();
  }
}

function closedPort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

interface CheckJson {
  state: string;
  lines: number;
  invalid_lines: number;
  levels: Record<string, number>;
  patterns: Record<string, number>;
  max_stream_lag_seconds: number | null;
  files: Array<{ name: string; read: boolean }>;
  alerts: Array<{ rule: string; state: string; count: number; last_message: string }>;
}

Deno.test("logs check counts each pattern the tool writes and applies every alert rule", async () => {
  await using dir = await tempDir();
  // A batch run, rotated twice by a small size limit.
  await writeLogs(dir.path, "batch", (log) => {
    log.info("📦 Found 22 delivered orders", { orders_delivered: 22 });
    for (let i = 1; i <= 3; i++) {
      log.warn(`⚠️ Order CMD-00000${i} is incomplete: client missing`, {
        numero_commande: `CMD-00000${i}`,
        order_id: String(i),
        reason: "incomplete",
        detail: "client missing",
      });
    }
    log.info("📊 Progress: 22/22 processed", { processed: 22, total: 22 });
    log.info("✅ Archived 16 orders", {
      orders_found: 22,
      orders_archived: 16,
      orders_duplicates: 3,
      orders_incomplete: 3,
    });
    // A later run with many incomplete orders: 30 of 193 orders in the hour, over 10 %.
    log.info("✅ Archived 160 orders", {
      orders_found: 190,
      orders_archived: 160,
      orders_incomplete: 27,
    });
    for (let i = 0; i < 20; i++) log.debug(`batch detail ${i}`, { padding: "x".repeat(100) });
  }, 1024);
  // A watcher: connects, opens its stream, lags once, fails.
  await writeLogs(dir.path, "watch", async (log) => {
    log.info("✅ Connected to database at mongodb://127.0.0.1:27017");
    log.warn("⚠️ Could not load resume token: file is empty");
    log.info("✅ Change Stream opened successfully");
    log.info("✅ Archived 1 orders", { stream_lag_seconds: 2.5, orders_archived: 1 });
    log.info("✅ Archived 1 orders", { stream_lag_seconds: 35, orders_archived: 1 });
    log.error("❌ Change Stream error: cursor killed");
    log.error("❌ Error enriching order CMD-000009: timeout");
    // Four real connection failures, logged by the core's connect.
    const uri = `mongodb://127.0.0.1:${closedPort()}`;
    for (let i = 0; i < 4; i++) {
      await connectMongo({ uri, connectTimeout: 100 }, { deadlineMs: 150 }).catch(() => {});
    }
  });
  // A truncated last line and a foreign file: counted, skipped, no crash.
  await Deno.writeTextFile(join(dir.path, "watch.jsonl"), '{"@timestamp":"2025-10-', {
    append: true,
  });
  await Deno.writeTextFile(join(dir.path, "notes.jsonl"), "not json\nstill not json\n");
  await Deno.writeTextFile(join(dir.path, "readme.txt"), "ignored: not a log file\n");

  const { code, stdout } = await cli(["logs", "check", "--json", "--log-dir", dir.path], {
    plugins,
  });
  assert.equal(stdout.trim().split("\n").length, 1);
  const json = JSON.parse(stdout) as CheckJson;
  const names = json.files.map((f) => f.name).sort();
  assert.ok(names.includes("batch.jsonl.1") && names.includes("batch.jsonl.2"), names.join());
  assert.equal(json.invalid_lines, 3);
  assert.equal(json.patterns.found, 212);
  assert.equal(json.patterns.archived, 178);
  assert.equal(json.patterns.incomplete, 30);
  assert.equal(json.patterns.duplicate, 3);
  assert.equal(json.patterns.connection_failure, 4);
  assert.equal(json.patterns.change_stream_error, 1);
  assert.equal(json.patterns.enrich_error, 1);
  assert.equal(json.patterns.change_stream_opened, 1);
  assert.equal(json.patterns.connected, 1);
  assert.equal(json.patterns.resume_token_not_loaded, 1);
  assert.equal(json.max_stream_lag_seconds, 35);
  assert.equal(json.levels.DEBUG, 20);
  assert.equal(json.levels.ERROR, 6);
  const alerts = Object.fromEntries(json.alerts.map((a) => [a.rule, a]));
  assert.equal(alerts.error?.state, "CRITICAL");
  assert.equal(alerts.error?.count, 6);
  assert.equal(alerts.connection_errors?.state, "CRITICAL");
  assert.equal(alerts.connection_errors?.count, 1);
  assert.equal(alerts.stream_lag?.state, "WARNING");
  assert.equal(alerts.incomplete_rate?.state, "WARNING");
  assert.equal(json.state, "CRITICAL");
  assert.equal(code, 2);
});

Deno.test("logs check still reads files rotated before the ECS format, beside new ones", async () => {
  await using dir = await tempDir();
  const at = (minutes: number) => new Date(Date.now() - minutes * 60_000).toISOString();
  const legacy = (minutes: number, level: string, message: string, properties = {}) =>
    JSON.stringify({
      "@timestamp": at(minutes),
      level,
      message,
      logger: "archiver.batch",
      properties,
    });
  await Deno.writeTextFile(
    join(dir.path, "batch.jsonl.1"),
    [
      legacy(30, "INFO", "📦 Found 5 delivered orders"),
      legacy(30, "WARN", "⚠️ Order CMD-000001 is incomplete", { missing: ["client"] }),
      legacy(29, "INFO", "✅ Archived 4 orders", { orders_archived: 4, orders_incomplete: 1 }),
      legacy(29, "ERROR", "❌ Failed to connect to MongoDB at h: refused"),
    ].join("\n") + "\n",
  );
  await writeLogs(dir.path, "batch", (log) => {
    log.info("✅ Archived 6 orders", { orders_archived: 6, orders_duplicates: 1 });
  });
  const { code, stdout } = await cli(["logs", "check", "--json", "--log-dir", dir.path], {
    plugins,
  });
  const json = JSON.parse(stdout) as CheckJson;
  assert.equal(json.invalid_lines, 0);
  assert.equal(json.lines, 5);
  assert.equal(json.patterns.found, 5);
  assert.equal(json.patterns.archived, 10);
  assert.equal(json.patterns.incomplete, 1);
  assert.equal(json.patterns.duplicate, 1);
  assert.equal(json.patterns.connection_failure, 1);
  assert.equal(json.levels.ERROR, 1);
  assert.equal(code, 2);
});

Deno.test("logs check: a bad setting is UNKNOWN (exit 3), one status line on standard output", async () => {
  const { code, stdout, stderr } = await cli(["logs", "check", "--since", "soon"], { plugins });
  assert.equal(code, 3);
  assert.match(stdout, /^ARCHIVER UNKNOWN - Invalid --since "soon": expected a duration/);
  assert.equal(stdout.trim().split("\n").length, 1);
  assert.equal(stderr, "");
  const unknown = await cli(["logs", "check", "--bogus"], { plugins });
  assert.equal(unknown.code, 3);
  assert.match(unknown.stdout, /^ARCHIVER UNKNOWN - unknown option '--bogus'/);
  // Not a monitoring check: prune keeps the CLI's usual usage error.
  const prune = await cli(["logs", "prune", "--bogus"], { plugins });
  assert.equal(prune.code, 2);
  assert.match(prune.stderr, /^error: unknown option '--bogus'/);
});

Deno.test("logs check exits 1 when only warning rules fire, and prints a summary", async () => {
  await using dir = await tempDir();
  await writeLogs(dir.path, "watch", (log) => {
    log.info("✅ Change Stream opened successfully");
    log.info("✅ Archived 2 orders", { stream_lag_seconds: 31, orders_archived: 2 });
  });
  const { code, stdout } = await cli(["logs", "check", "--log-dir", dir.path], { plugins });
  assert.equal(code, 1);
  assert.match(stdout, /^Lines: {4}2$/m);
  assert.match(stdout, /^ {2}WARNING {3}stream_lag {2}1x, last .*: Stream lag 31s \(max 30s\)/m);
  assert.match(stdout, /^State: {4}WARNING$/m);
});

Deno.test("logs check exits 0 on clean logs and reads only the --since window", async () => {
  await using dir = await tempDir();
  await writeLogs(dir.path, "batch", (log) => {
    log.error("❌ Error enriching order CMD-000001: timeout");
  });
  const later = [logs({ now: () => Date.now() + 2 * 3_600_000 })];
  const { code, stdout } = await cli([
    "logs",
    "check",
    "--json",
    "--since",
    "1h",
    "--log-dir",
    dir.path,
  ], {
    plugins: later,
  });
  const json = JSON.parse(stdout) as CheckJson;
  assert.equal(json.lines, 0);
  assert.equal(json.state, "OK");
  assert.equal(code, 0);
  const now = await cli(["logs", "check", "--since", "1h", "--log-dir", dir.path], { plugins });
  assert.equal(now.code, 2);
});

Deno.test("logs check on a missing log folder is OK with nothing read", async () => {
  await using dir = await tempDir();
  const { code, stdout } = await cli(
    ["logs", "check", "--json", "--log-dir", join(dir.path, "none")],
    { plugins },
  );
  assert.equal(code, 0);
  assert.equal((JSON.parse(stdout) as CheckJson).lines, 0);
});

Deno.test("logs check: a normal batch with 1 % incomplete is OK, its status line first", async () => {
  await using dir = await tempDir();
  await writeLogs(dir.path, "batch", (log) => {
    log.info("📦 Found 1000 delivered orders", { orders_delivered: 1000 });
    // Ten per-order warnings come before the summary: alone they once read as 100 %.
    for (let i = 0; i < 10; i++) {
      log.warn(`⚠️ Order CMD-${i} is incomplete: client missing`, {
        numero_commande: `CMD-${i}`,
        order_id: String(i),
        reason: "incomplete",
        detail: "client missing",
      });
    }
    log.info("✅ Archived 990 orders", {
      orders_found: 1000,
      orders_archived: 990,
      orders_incomplete: 10,
    });
  });
  const { code, stdout } = await cli(["logs", "check", "--log-dir", dir.path], { plugins });
  const [first] = stdout.split("\n");
  assert.match(
    first!,
    /^ARCHIVER LOGS OK - no alert since \S+ \(12 lines, 1000 orders\) \| errors=0;;0;0 warnings=10;;;0 connection_failures=0;;3;0 orders=1000;;;0 incomplete=1%;10;;0;100$/,
  );
  assert.match(stdout, /^Orders: {3}found 1000, archived 990, incomplete 10, duplicate 0/m);
  assert.equal(code, 0);
});

Deno.test("logs check: 20 % incomplete over 200 orders is a WARNING, named on the status line", async () => {
  await using dir = await tempDir();
  await writeLogs(dir.path, "batch", (log) => {
    log.info("✅ Archived 160 orders", { orders_archived: 160, orders_incomplete: 40 });
  });
  const { code, stdout } = await cli(["logs", "check", "--log-dir", dir.path], { plugins });
  assert.match(
    stdout.split("\n")[0]!,
    /^ARCHIVER LOGS WARNING - incomplete_rate: 20% of orders incomplete within 1h \(40 of 200, max 10%\) \| .*incomplete=20%;10;;0;100$/,
  );
  assert.equal(code, 1);
});

Deno.test("logs check does not count the lines of health and logs, nor the orders of dry runs", async () => {
  await using dir = await tempDir();
  // A CRITICAL health run logs an error, and the CLI one more at the root category.
  await writeLogs(dir.path, "health", (log) => {
    log.error("❌ Health CRITICAL: stream_lag 45s");
    logger().error("Cannot reach MongoDB");
  });
  await writeLogs(
    dir.path,
    "logs",
    (log) => {
      log.error("❌ logs check found errors");
    },
    undefined,
    "logs check",
  );
  // A dry run of a batch with many incomplete orders, then a clean real run.
  await writeLogs(dir.path, "batch", (log) => {
    log.info("🔍 Dry run: would archive 100 orders, nothing written", {
      orders_found: 300,
      orders_archived: 100,
      orders_incomplete: 200,
      dry_run: true,
    });
    log.info("✅ Archived 60 orders", { orders_found: 60, orders_archived: 60 });
  });
  const { code, stdout } = await cli(["logs", "check", "--json", "--log-dir", dir.path], {
    plugins,
  });
  const json = JSON.parse(stdout) as CheckJson & { monitoring_lines: number };
  assert.equal(json.monitoring_lines, 3);
  assert.equal(json.levels.ERROR, 0);
  assert.deepEqual(
    [json.patterns.found, json.patterns.archived, json.patterns.incomplete, json.patterns.dry_run],
    [60, 60, 0, 1],
  );
  assert.deepEqual(json.alerts, []);
  assert.equal(code, 0);
  // The same error written by the watcher is the service's: CRITICAL.
  await writeLogs(dir.path, "watch", (log) => log.error("❌ Change Stream error: cursor killed"));
  const after = await cli(["logs", "check", "--log-dir", dir.path], { plugins });
  assert.match(after.stdout, /^ARCHIVER LOGS CRITICAL - error: ERROR archiver\.watch: ❌ Change/);
  assert.equal(after.code, 2);
});

Deno.test("logs check never fails because it cannot write its own log: one warning, a true verdict", async (t) => {
  // The monitoring agent's user reads the service's log folder and cannot write into it.
  const runner = await otherUserRunner();
  if ("skip" in runner) {
    t.step({ name: `skipped: ${runner.skip}`, ignore: true, fn: () => {} });
    return;
  }
  await using _runner = runner;
  await using dir = await tempDir();
  await Deno.chmod(dir.path, 0o755);
  const logs = join(dir.path, "logs");
  await Deno.mkdir(logs);
  await writeLogs(logs, "batch", (log) => log.info("✅ Archived 3 orders"));
  await Deno.chmod(logs, 0o755);
  for await (const entry of Deno.readDir(logs)) await Deno.chmod(join(logs, entry.name), 0o644);
  const { code, stdout, stderr } = await runner.run(["logs", "check", "--log-dir", logs], {
    cwd: dir.path,
  });
  assert.equal(code, 0, `${stdout}\n${stderr}`);
  assert.match(stdout, /^ARCHIVER LOGS OK - /);
  assert.match(
    stderr,
    /\[WARNING\] \[archiver\] Cannot write logs to ".*": permission denied: logging to the console only\n$/,
  );
});

Deno.test("logs check on a log folder that is a file is UNKNOWN, one line naming it", async () => {
  await using dir = await tempDir();
  const file = join(dir.path, "logs");
  await Deno.writeTextFile(file, "a file where the folder should be");
  const { code, stdout } = await cli(["logs", "check", "--log-dir", file], { plugins });
  assert.equal(code, 3);
  assert.equal(stdout, `ARCHIVER UNKNOWN - Cannot read the log folder "${file}": not a folder\n`);
});

Deno.test("logs --help lists check, follow and prune", async () => {
  const { code, stdout } = await cli(["logs", "--help"], { plugins });
  assert.equal(code, 0);
  assert.match(stdout, /^\s+check \[options\]/m);
  assert.match(stdout, /^\s+follow \[options\]/m);
  assert.match(stdout, /^\s+prune \[options\]/m);
  await assertSnapshot("logs_help", stdout);
  const check = await cli(["logs", "check", "--help"], { plugins });
  assert.match(check.stdout, /--since <duration>[\s\S]*ARCHIVER_LOGS_SINCE, default 1d/);
  await assertSnapshot("logs_check_help", check.stdout);
  await assertSnapshot(
    "logs_follow_help",
    (await cli(["logs", "follow", "--help"], { plugins })).stdout,
  );
  await assertSnapshot(
    "logs_prune_help",
    (await cli(["logs", "prune", "--help"], { plugins })).stdout,
  );
});
