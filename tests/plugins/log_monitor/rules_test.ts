import assert from "node:assert/strict";
import { classify, type LogEntry } from "../../../core/log_files/entry.ts";
import {
  type Alert,
  alertsState,
  defaultRules,
  RuleEngine,
} from "../../../plugins/log_monitor/rules.ts";

const T0 = Date.parse("2025-10-16T12:00:00Z");
const MIN = 60_000;

function feed(engine: RuleEngine, at: number, message: string, options: {
  level?: string;
  properties?: Record<string, unknown>;
} = {}): Alert[] {
  const entry: LogEntry = {
    time: T0 + at,
    level: options.level ?? "INFO",
    message,
    logger: "archiver.watch",
    properties: options.properties ?? {},
    format: "legacy",
  };
  return engine.push(entry, classify(entry));
}

Deno.test("the error rule fires CRITICAL for every ERROR or FATAL line", () => {
  const engine = new RuleEngine();
  assert.deepEqual(feed(engine, 0, "✅ Archived 3 orders"), []);
  const [alert] = feed(engine, 1, "❌ Error enriching order CMD-1", { level: "ERROR" });
  assert.equal(alert?.rule, "error");
  assert.equal(alert?.state, "CRITICAL");
  assert.equal(alert?.message, "ERROR archiver.watch: ❌ Error enriching order CMD-1");
  assert.equal(feed(engine, 2, "boom", { level: "FATAL" })[0]?.rule, "error");
});

Deno.test("more than 3 connection failures within 10 minutes fire once", () => {
  const engine = new RuleEngine();
  const fired: Alert[] = [];
  for (const minute of [0, 2, 4, 6, 7, 8]) {
    fired.push(...feed(engine, minute * MIN, "❌ Failed to connect to MongoDB at h: refused", {
      level: "WARN",
    }));
  }
  assert.deepEqual(fired.map((a) => [a.rule, a.at]), [
    ["connection_errors", new Date(T0 + 6 * MIN).toISOString()],
  ]);
  assert.match(fired[0]!.message, /^4 connection failures within 10m \(max 3\)$/);
  // Quiet for a while: the rule re-arms and fires again on the next burst.
  for (const minute of [30, 31, 32, 33]) {
    fired.push(...feed(engine, minute * MIN, "❌ Failed to connect to MongoDB", { level: "WARN" }));
  }
  assert.equal(fired.length, 2);
});

Deno.test("four connection failures spread over 40 minutes do not fire", () => {
  const engine = new RuleEngine();
  const fired = [0, 11, 22, 33].flatMap((minute) =>
    feed(engine, minute * MIN, "❌ Failed to connect to MongoDB", { level: "WARN" })
  );
  assert.deepEqual(fired, []);
});

Deno.test("stream lag over 30 s fires a WARNING once per episode", () => {
  const engine = new RuleEngine();
  const lag = (at: number, seconds: number) =>
    feed(engine, at, "✅ Archived 1 orders", { properties: { stream_lag_seconds: seconds } });
  assert.deepEqual(lag(0, 30), []);
  assert.equal(lag(1, 31)[0]?.state, "WARNING");
  assert.deepEqual(lag(2, 45), []);
  assert.deepEqual(lag(3, 5), []);
  assert.equal(lag(4, 40)[0]?.rule, "stream_lag");
});

Deno.test("more than 10 % incomplete in the last hour fires a WARNING", () => {
  const engine = new RuleEngine();
  assert.deepEqual(feed(engine, 0, "✅ Archived 18 orders"), []);
  assert.deepEqual(feed(engine, MIN, "⚠️ Order CMD-000001 is incomplete", { level: "WARN" }), []);
  assert.deepEqual(
    feed(engine, 2 * MIN, "⚠️ Order CMD-000002 is incomplete", { level: "WARN" }),
    [],
  );
  // 3 of 21 = 14 %.
  const [alert] = feed(engine, 3 * MIN, "⚠️ Order CMD-000003 is incomplete", { level: "WARN" });
  assert.equal(alert?.rule, "incomplete_rate");
  assert.match(alert!.message, /^14\.3% of orders incomplete within 1h \(3 of 21, max 10%\)$/);
});

Deno.test("incomplete orders older than the hour leave the window", () => {
  const engine = new RuleEngine();
  feed(engine, 0, "✅ Archived 5 orders", { properties: { orders_incomplete: 5 } });
  // An hour and more later, only the new orders count: 1 of 20 = 5 %.
  assert.deepEqual(
    feed(engine, 70 * MIN, "✅ Archived 19 orders", { properties: { orders_incomplete: 1 } }),
    [],
  );
});

Deno.test("the incomplete rate waits for enough orders", () => {
  const engine = new RuleEngine({ ...defaultRules, incompleteMinOrders: 10 });
  assert.deepEqual(feed(engine, 0, "⚠️ Order CMD-1 is incomplete", { level: "WARN" }), []);
});

Deno.test("alertsState() maps alerts to OK 0, WARNING 1, CRITICAL 2", () => {
  assert.deepEqual(alertsState([]), { state: "OK", exitCode: 0 });
  assert.deepEqual(alertsState(["WARNING"]), { state: "WARNING", exitCode: 1 });
  assert.deepEqual(alertsState(["WARNING", "CRITICAL"]), { state: "CRITICAL", exitCode: 2 });
});
