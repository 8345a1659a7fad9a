import assert from "node:assert/strict";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { recordRun } from "../../../core/archive/history.ts";
import { emptyReport } from "../../../core/archive/report.ts";
import type { WatchStatus } from "../../../core/stream/watch_status.ts";
import { dashboard } from "../../../plugins/dashboard/mod.ts";
import { renderDashboard, statusText } from "../../../plugins/dashboard/dashboard_view.ts";
import { cpuPercent, parseRss, sampleProcess } from "../../../plugins/dashboard/process_stats.ts";
import { parseProcStat } from "../../../core/runtime/proc.ts";
import { cli, tempDir } from "../../support/cli.ts";
import { assertSnapshot } from "../../support/snapshot.ts";
import { testDatabase } from "../../support/test_db.ts";

const TMUX = "/usr/bin/tmux";
const ROOT = fileURLToPath(new URL("../../../", import.meta.url));
const plugins = [dashboard()];

function status(overrides: Partial<WatchStatus> = {}, metrics = {}): WatchStatus {
  const now = new Date();
  return {
    pid: Deno.pid,
    state: "streaming",
    started_at: new Date(now.getTime() - (12 * 60 + 34) * 60_000).toISOString(),
    updated_at: now.toISOString(),
    last_event_at: new Date(2026, 0, 1, 12, 45, 23).toISOString(),
    last_read_at: now.toISOString(),
    max_await_ms: 1000,
    recent_connection_errors: [],
    metrics: {
      events_processed: 2402,
      events_archived: 2345,
      orders_duplicates: 12,
      orders_incomplete: 45,
      orders_errors: 0,
      orders_invalid: 0,
      orders_conflicts: 0,
      orders_recovered: 0,
      stream_lag_seconds: 2.3,
      connection_errors: 0,
      resume_token_age_seconds: 1,
      uptime_seconds: 45_240,
      token_save_errors: 0,
      ...metrics,
    },
    ...overrides,
  };
}

Deno.test("parseProcStat() and parseRss() read /proc lines, command names with spaces included", () => {
  const stat = "4242 (deno worker) S 1 4242 4242 0 -1 4194560 100 0 0 0 1200 300 0 0 20 0 9 0 " +
    "5000 1000000 20000 18446744073709551615";
  assert.deepEqual(parseProcStat(stat), { utime: 1200, stime: 300, starttime: 5000 });
  assert.equal(parseRss("Name:\tdeno\nVmRSS:\t  250880 kB\n"), 250880 * 1024);
  assert.equal(parseRss("Name:\tzombie\n"), null);
  assert.throws(() => parseProcStat("garbage"), SyntaxError);
});

Deno.test("cpuPercent() compares two samples, or averages over the process's life", () => {
  const first = { cpuSeconds: 10, ageSeconds: 100, rssBytes: null, takenAt: 1_000 };
  assert.equal(cpuPercent(first), 10);
  assert.equal(cpuPercent({ ...first, cpuSeconds: 10.5, takenAt: 2_000 }, first), 50);
});

Deno.test("renderDashboard() shows the plan's live figures with percentages of what was handled", () => {
  // One clock for the status and the frame: two `new Date()` a millisecond apart made the uptime
  // 12h 33m 59.999s now and then.
  const now = new Date();
  const frame = renderDashboard({
    now,
    source: "archiver-status.json",
    status: status({
      started_at: new Date(now.getTime() - (12 * 60 + 34) * 60_000).toISOString(),
    }),
    process: { cpuPercent: 12.2, rssBytes: 245 * 1024 * 1024 },
    dayCount: 7,
    historyError: "connect ECONNREFUSED",
  });
  for (
    const expected of [
      "Uptime: 12h 34m",
      "Status: ✅ Running (streaming)",
      "Last event: 12:45:23",
      "Archived: 2,345 orders",
      "Duplicates: 12 (0.5%)",
      "Incomplete: 45 (1.9%)",
      "Errors: 0 (0.0%)",
      "Stream lag: 2.3s",
      "CPU: 12% | RAM: 245 MB",
      "History unavailable: connect ECONNREFUSED",
    ]
  ) assert.ok(frame.includes(expected), `${expected}\n${frame}`);
  assert.ok(frame.startsWith("┌") && frame.trimEnd().endsWith("┘"));
});

Deno.test("statusText() tells a stopped, stale, gone or reconnecting watcher", () => {
  const now = new Date();
  const cases: Array<[string, Parameters<typeof statusText>[0], RegExp]> = [
    [
      "no file",
      { now, source: "f", dayCount: 7, statusError: "No watcher status file at f" },
      /^❌ No watcher status file at f$/,
    ],
    ["stopped", { now, source: "f", dayCount: 7, status: status({ state: "stopped" }) }, /Stopped/],
    ["stale", {
      now,
      source: "f",
      dayCount: 7,
      status: status({ updated_at: new Date(now.getTime() - 120_000).toISOString() }),
    }, /^❌ Not responding \(last heartbeat 2m 00s ago/],
    [
      "gone",
      { now, source: "f", dayCount: 7, status: status(), process: "gone" },
      /^❌ Not running \(process \d+ is gone\)$/,
    ],
    [
      "reconnecting",
      { now, source: "f", dayCount: 7, status: status({ state: "reconnecting" }) },
      /Reconnecting/,
    ],
    [
      "standby",
      { now, source: "f", dayCount: 7, status: status({ state: "standby" }) },
      /^💤 Standby/,
    ],
  ];
  for (const [name, model, pattern] of cases) assert.match(statusText(model), pattern, name);
});

Deno.test("dashboard prints one frame with the 7-day panel when output is not a terminal", async () => {
  await using tdb = await testDatabase("dashboard");
  await using dir = await tempDir();
  await recordRun(tdb.db.collection("archiver_runs"), {
    mode: "batch",
    started_at: new Date(),
    finished_at: new Date(),
    host: "h",
    pid: 1,
    dry_run: false,
    exit_code: 0,
    ...emptyReport(),
    orders_archived: 1_234,
    batch_duration_ms: 754_000,
  });
  await Deno.writeTextFile(join(dir.path, "status.json"), JSON.stringify(status()));
  const { code, stdout, stderr } = await cli(
    ["--uri", tdb.uri, "--db", tdb.dbName, "dashboard", "--status-file", "status.json"],
    { plugins, cwd: dir.path },
  );
  assert.equal(code, 0, stderr);
  assert.match(stdout, /Status: ✅ Running \(streaming\)/);
  assert.match(stdout, /Archived: 2,345 orders/);
  assert.match(stdout, /📦 Batch Archiving - Last 7 days/);
  assert.match(stdout, /█{20} 1,234 orders {2}100\.0% ok {2}avg 12m 34s/);
  assert.ok(!stdout.includes("\u001b["), "no escape sequences in the one-shot print");
});

Deno.test("archiver dashboard --help", async () => {
  const { stdout } = await cli(["dashboard", "--help"], { plugins });
  await assertSnapshot("dashboard_help", stdout);
});

async function tmux(...args: string[]): Promise<string> {
  const { code, stdout, stderr } = await new Deno.Command(TMUX, {
    args,
    stdout: "piped",
    stderr: "piped",
  })
    .output();
  const text = new TextDecoder().decode(stdout);
  if (code !== 0) {
    throw new Error(`tmux ${args.join(" ")} failed: ${new TextDecoder().decode(stderr)}`);
  }
  return text;
}

async function waitForScreen(
  session: string,
  pattern: RegExp,
  timeoutMs = 30_000,
): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  let screen = "";
  while (Date.now() < deadline) {
    screen = await tmux("capture-pane", "-p", "-t", session).catch(() => screen);
    if (pattern.test(screen)) return screen;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`The screen never showed ${pattern}:\n${screen}`);
}

const hasTmux = await Deno.stat(TMUX).then(() => true, () => false);

Deno.test({
  name: "dashboard in a real terminal redraws when the status file changes and quits on q",
  ignore: !hasTmux,
  async fn() {
    await using tdb = await testDatabase("dashboard");
    await using dir = await tempDir();
    const statusFile = join(dir.path, "status.json");
    await Deno.writeTextFile(statusFile, JSON.stringify(status()));
    const session = `archiver-dashboard-${Deno.pid}-${Date.now()}`;
    const codeFile = join(dir.path, "exit-code");
    const command = [
      "cd",
      ROOT,
      "&&",
      Deno.execPath(),
      "run",
      "-A",
      "--no-check",
      "cli/main.ts",
      "--uri",
      `'${tdb.uri}'`,
      "--db",
      tdb.dbName,
      "--log-dir",
      join(dir.path, "logs"),
      "dashboard",
      "--status-file",
      statusFile,
      ";",
      "echo",
      "$?",
      ">",
      codeFile,
      ";",
      "sleep",
      "30",
    ].join(" ");
    await tmux("new-session", "-d", "-s", session, "-x", "120", "-y", "45", command);
    try {
      const first = await waitForScreen(session, /Archived: 2,345 orders/);
      assert.match(first, /Status: ✅ Running \(streaming\)/);
      assert.match(first, /Stream lag: 2\.3s/);
      assert.match(first, /q quits/);

      await Deno.writeTextFile(
        statusFile,
        JSON.stringify(
          status({ state: "reconnecting" }, { events_archived: 3000, stream_lag_seconds: 7.5 }),
        ),
      );
      const second = await waitForScreen(session, /Archived: 3,000 orders/);
      assert.match(second, /Reconnecting to MongoDB/);
      assert.match(second, /Stream lag: 7\.5s/);
      assert.doesNotMatch(second, /2,345/, "the frame is redrawn in place, not appended");

      await tmux("send-keys", "-t", session, "q");
      const deadline = Date.now() + 15_000;
      let code: string | undefined;
      while (Date.now() < deadline) {
        code = await Deno.readTextFile(codeFile).catch(() => undefined);
        if (code !== undefined && code.trim() !== "") break;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      assert.equal(code?.trim(), "0", "q quits with exit code 0");
    } finally {
      await tmux("kill-session", "-t", session).catch(() => {});
    }
  },
});

Deno.test({
  name: "sampleProcess() reads a live process's CPU and memory without --allow-all",
  ignore: Deno.build.os !== "linux",
  async fn() {
    // `deno task test` grants --allow-read and --allow-run but not --allow-all, as the archiver
    // task does: Deno alone cannot read /proc then, the core reader goes through cat.
    const sample = await sampleProcess(Deno.pid);
    assert.ok(sample && sample !== "gone", `a sample of this process: ${sample}`);
    assert.ok(sample.cpuSeconds > 0 && sample.ageSeconds > 0);
    assert.ok(sample.rssBytes !== null && sample.rssBytes > 1024 * 1024);
    assert.equal(await sampleProcess(2 ** 22 + 7), "gone");
  },
});
