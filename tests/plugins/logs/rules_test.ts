import assert from "node:assert/strict";
import { classify, type LogEntry } from "../../../core/log_files/entry.ts";
import { type Alert, alertsState, RuleEngine } from "../../../plugins/logs/rules.ts";

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

/** A run as the tool logs it: a warning per incomplete order, then the run's summary line. */
function run(engine: RuleEngine, at: number, counts: { archived: number; incomplete: number }) {
  const alerts: Alert[] = [];
  for (let i = 0; i < counts.incomplete; i++) {
    alerts.push(...feed(engine, at, `⚠️ Order CMD-${at}-${i} is incomplete: client missing`, {
      level: "WARN",
      properties: { order_id: `${at}-${i}`, reason: "incomplete", numero_commande: `CMD-${i}` },
    }));
  }
  alerts.push(...feed(engine, at, `✅ Archived ${counts.archived} orders`, {
    properties: { orders_archived: counts.archived, orders_incomplete: counts.incomplete },
  }));
  return alerts;
}

Deno.test("the incomplete rate: normal traffic stays silent, a real rate over enough orders fires", async (t) => {
  const cases: Array<{
    name: string;
    runs: Array<{ at: number; archived: number; incomplete: number }>;
    fired: RegExp[];
  }> = [
    {
      // The false alarm seen: 10 warnings read before their summary made "100 % (10 of 10)".
      name: "1 % incomplete over a run of 1,000 orders stays OK",
      runs: [{ at: 0, archived: 990, incomplete: 10 }],
      fired: [],
    },
    {
      name: "1 % incomplete over many small watcher batches stays OK",
      runs: Array.from({ length: 100 }, (_, i) => ({
        at: i * 30_000,
        archived: i % 10 === 0 ? 9 : 10,
        incomplete: i % 10 === 0 ? 1 : 0,
      })),
      fired: [],
    },
    {
      name: "20 % incomplete over 200 orders fires",
      runs: [{ at: 0, archived: 160, incomplete: 40 }],
      fired: [/^20% of orders incomplete within 1h \(40 of 200, max 10%\)$/],
    },
    {
      name: "20 % reached across runs fires once the window holds the minimum of 50 orders",
      runs: [
        { at: 0, archived: 30, incomplete: 5 },
        { at: 10 * MIN, archived: 10, incomplete: 5 },
      ],
      fired: [/^20% of orders incomplete within 1h \(10 of 50, max 10%\)$/],
    },
    {
      name: "100 % of too few orders (below the minimum of 50) stays OK",
      runs: [{ at: 0, archived: 0, incomplete: 10 }],
      fired: [],
    },
    {
      name: "orders older than the hour leave the window",
      runs: [
        { at: 0, archived: 40, incomplete: 20 },
        { at: 70 * MIN, archived: 100, incomplete: 0 },
        { at: 71 * MIN, archived: 40, incomplete: 20 },
      ],
      fired: [
        /\(20 of 60, max 10%\)$/,
        // Without expiry the window would hold 40 of 220.
        /\(20 of 160, max 10%\)$/,
      ],
    },
  ];
  for (const c of cases) {
    await t.step(c.name, () => {
      const engine = new RuleEngine();
      const alerts = c.runs.flatMap((r) => run(engine, r.at, r));
      assert.equal(alerts.length, c.fired.length, alerts.map((a) => a.message).join("\n"));
      c.fired.forEach((pattern, i) => {
        assert.equal(alerts[i]!.rule, "incomplete_rate");
        assert.equal(alerts[i]!.state, "WARNING");
        assert.match(alerts[i]!.message, pattern);
      });
    });
  }
});

Deno.test("a dry run's summary counts no order toward the incomplete rate", () => {
  const engine = new RuleEngine();
  const dry: LogEntry = {
    time: T0,
    level: "INFO",
    message: "🔍 Dry run: would archive 0 orders, nothing written",
    logger: "archiver.batch",
    properties: { orders_archived: 0, orders_incomplete: 200, dry_run: true },
    action: "batch",
    format: "ecs",
  };
  assert.deepEqual(engine.push(dry, classify(dry)), []);
  // A real run after it: 0 of 100 incomplete, the dry run's 200 not in the window.
  assert.deepEqual(run(engine, MIN, { archived: 100, incomplete: 0 }), []);
});

Deno.test("lines of the monitoring commands (health, logs) never fire a rule", () => {
  const engine = new RuleEngine();
  const line = (action: string | undefined, logger: string): LogEntry => ({
    time: T0,
    level: "ERROR",
    message: "❌ Health CRITICAL: stream_lag 45s",
    logger,
    properties: {},
    format: action === undefined ? "legacy" : "ecs",
    ...(action === undefined ? {} : { action }),
  });
  for (
    const [action, logger] of [
      ["health", "archiver.health"],
      ["health", "archiver"],
      ["logs check", "archiver"],
      [undefined, "archiver.health"],
      [undefined, "archiver.logs"],
    ] as const
  ) {
    const entry = line(action, logger);
    assert.deepEqual(engine.push(entry, classify(entry)), [], `${action} ${logger}`);
  }
  // The service's own ERROR still fires.
  const watch = line("watch", "archiver.watch");
  assert.equal(engine.push(watch, classify(watch))[0]?.rule, "error");
});

Deno.test("alertsState() maps alerts to OK 0, WARNING 1, CRITICAL 2", () => {
  assert.deepEqual(alertsState([]), { state: "OK", exitCode: 0 });
  assert.deepEqual(alertsState(["WARNING"]), { state: "WARNING", exitCode: 1 });
  assert.deepEqual(alertsState(["WARNING", "CRITICAL"]), { state: "CRITICAL", exitCode: 2 });
});
