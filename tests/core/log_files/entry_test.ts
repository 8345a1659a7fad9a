import assert from "node:assert/strict";
import {
  classify,
  isMonitoringLine,
  type LogEntry,
  ordersSettled,
  parseLogLine,
} from "../../../core/log_files/entry.ts";

const entry = (
  message: string,
  properties: Record<string, unknown> = {},
  level = "INFO",
): LogEntry => ({
  time: Date.parse("2025-10-16T12:00:00Z"),
  level,
  message,
  logger: "archiver.batch",
  properties,
  format: "legacy",
});

Deno.test("parseLogLine() reads the tool's JSON-lines record", () => {
  const line = JSON.stringify({
    "@timestamp": "2025-10-16T12:34:56.000Z",
    level: "WARN",
    message: "⚠️ Order CMD-000042 is incomplete",
    logger: "archiver.batch",
    properties: { missing: ["client"] },
  });
  assert.deepEqual(parseLogLine(line), {
    time: Date.parse("2025-10-16T12:34:56.000Z"),
    level: "WARN",
    message: "⚠️ Order CMD-000042 is incomplete",
    logger: "archiver.batch",
    properties: { missing: ["client"] },
    format: "legacy",
  });
});

Deno.test("parseLogLine() reads an ECS line: log.level, log.logger, event.*, error.type, archiver.*", () => {
  const line = JSON.stringify({
    "@timestamp": "2025-10-16T12:34:56.000Z",
    "log.level": "warning",
    "log.logger": "archiver.watch",
    message: "⚠️ Order CMD-000042 is incomplete: client missing",
    "service.name": "archiver",
    "event.action": "watch",
    "event.outcome": "failure",
    "error.type": "MongoServerError",
    archiver: { reason: "incomplete", order_id: "42" },
  });
  assert.deepEqual(parseLogLine(line), {
    time: Date.parse("2025-10-16T12:34:56.000Z"),
    level: "WARN",
    message: "⚠️ Order CMD-000042 is incomplete: client missing",
    logger: "archiver.watch",
    properties: { reason: "incomplete", order_id: "42" },
    action: "watch",
    outcome: "failure",
    errorType: "MongoServerError",
    format: "ecs",
  });
});

Deno.test("classify() reads an ECS line's counts from its fields, not its text", () => {
  const ecs = (message: string, archiver: Record<string, unknown>) =>
    classify(
      parseLogLine(JSON.stringify({
        "@timestamp": "2025-10-16T12:00:00Z",
        "log.level": "info",
        message,
        archiver,
      }))!,
    );
  const cases: Array<[string, Record<string, unknown>, Partial<ReturnType<typeof classify>>]> = [
    ["done", {
      orders_archived: 150,
      orders_duplicates: 3,
      orders_incomplete: 9,
      orders_invalid: 1,
      orders_errors: 2,
      orders_found: 165,
    }, { archived: 150, duplicates: 3, incomplete: 9, invalid: 1, errors: 2, found: 165 }],
    ["Archived 999 orders", {}, { archived: 0 }],
    // Per-order warnings precede their run's summary, which counts them: never counted alone.
    ["x", { reason: "incomplete", order_id: "1", numero_commande: "CMD-1" }, { incomplete: 0 }],
    // A dry run logs the same start line: the found count is its summary's.
    ["Found 7 delivered orders", { orders_delivered: 150 }, { found: 0 }],
    ["🔍 Dry run: would archive 5 orders", {
      orders_archived: 5,
      orders_incomplete: 5,
      orders_found: 10,
      dry_run: true,
    }, { archived: 0, incomplete: 0, found: 0, dryRun: true }],
    ["lag", { stream_lag_seconds: 42 }, { lagSeconds: 42 }],
  ];
  for (const [message, fields, expected] of cases) {
    const signals = ecs(message, fields);
    for (const [key, value] of Object.entries(expected)) {
      assert.equal(signals[key as keyof typeof signals], value, `${message}: ${key}`);
    }
  }
});

Deno.test("parseLogLine() rejects what is not a log record, without throwing", () => {
  assert.equal(parseLogLine('{"@timestamp":"2025-10-16T12:34:56.000Z","level":"IN'), undefined);
  assert.equal(parseLogLine("2025-10-16 12:34:56 [INFO] [batch] ✅ Archived 3 orders"), undefined);
  assert.equal(parseLogLine("[1,2,3]"), undefined);
  assert.equal(parseLogLine('{"level":"INFO","message":"no time"}'), undefined);
  assert.equal(parseLogLine('{"@timestamp":"yesterday","message":"x"}'), undefined);
});

Deno.test("parseLogLine() reads WARNING as WARN", () => {
  const line = '{"@timestamp":"2025-10-16T12:00:00Z","level":"WARNING","message":"x"}';
  assert.equal(parseLogLine(line)?.level, "WARN");
});

Deno.test("classify() recognises the operators' patterns", () => {
  assert.equal(classify(entry("✅ Archived 150 orders")).archived, 150);
  assert.equal(classify(entry("✅ Change Stream opened successfully")).changeStreamOpened, true);
  assert.equal(classify(entry("✅ Connected to database at mongodb://h")).connected, true);
  assert.equal(classify(entry("⚠️  Order CMD-000042 is incomplete")).incomplete, 0);
  assert.equal(classify(entry("3 orders incomplete")).incomplete, 3);
  assert.equal(classify(entry("⚠️ Could not load resume token: bad JSON")).tokenNotLoaded, true);
  assert.equal(classify(entry("❌ Failed to connect to MongoDB at h: x")).connectionFailure, true);
  assert.equal(classify(entry("❌ Error enriching order CMD-1")).enrichError, true);
  assert.equal(classify(entry("❌ Change Stream error: cursor killed")).changeStreamError, true);
  assert.equal(classify(entry("📦 Found 150 delivered orders")).found, 150);
  assert.equal(classify(entry("♻️ 12 orders already archived")).duplicates, 12);
});

Deno.test("classify() prefers the counts in a summary line's properties", () => {
  const signals = classify(
    entry("✅ Archived 150 orders", {
      orders_archived: 148,
      orders_duplicates: 3,
      orders_incomplete: 7,
    }),
  );
  assert.deepEqual([signals.archived, signals.duplicates, signals.incomplete], [148, 3, 7]);
  assert.equal(ordersSettled(signals), 158);
});

Deno.test("incomplete orders logged by a batch run are counted once each", () => {
  const lines = [
    entry("⚠️ Order CMD-000011 is incomplete: missing client"),
    entry("⚠️ Order CMD-000012 is incomplete: missing menu item 65f0"),
    entry("✅ Archived 10 orders", { orders_archived: 10, orders_incomplete: 2 }),
  ];
  const total = lines.map(classify).reduce((sum, s) => sum + s.incomplete, 0);
  assert.equal(total, 2);
});

Deno.test("classify() does not count running totals of progress lines", () => {
  const signals = classify(entry("📊 Progress: 100/150 processed", { orders_archived: 100 }));
  assert.equal(signals.archived, 0);
});

Deno.test("classify() reads the stream lag from a line's properties", () => {
  assert.equal(
    classify(entry("✅ Archived 1 orders", { stream_lag_seconds: 2.5 })).lagSeconds,
    2.5,
  );
  assert.equal(classify(entry("x", { stream_lag_seconds: "2" })).lagSeconds, undefined);
});

Deno.test("isMonitoringLine() knows the lines of health and logs by command or category", () => {
  const cases: Array<[string | undefined, string, boolean]> = [
    ["health", "archiver.health", true],
    ["health", "archiver", true], // the CLI's own error line of a health run
    ["logs check", "archiver.logs", true],
    ["logs follow", "archiver", true],
    ["logs prune", "archiver.logs", true],
    [undefined, "archiver.health", true], // a line without its command: its category says
    [undefined, "archiver.logs", true],
    ["watch", "archiver.watch", false],
    ["batch", "archiver.health", false], // the command decides when the line names it
    [undefined, "archiver.batch", false],
    [undefined, "archiver", false],
    [undefined, "other.health", false],
    ["healthz", "archiver", false],
  ];
  for (const [action, logger, expected] of cases) {
    const line: LogEntry = {
      ...entry("x", {}, "ERROR"),
      logger,
      ...(action === undefined ? {} : { action }),
    };
    assert.equal(isMonitoringLine(line), expected, `${action} ${logger}`);
  }
});
