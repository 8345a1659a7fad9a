import assert from "node:assert/strict";
import { type CheckResult, result, worstState } from "../../../plugins/health/state.ts";
import { formatPerfDatum, perfData, statusLine } from "../../../plugins/health/status_line.ts";
import { defaultThresholds } from "../../../plugins/health/thresholds.ts";

const limits = { ...defaultThresholds };
const report = (checks: CheckResult[]) => ({
  state: worstState(checks.map((check) => check.state)),
  checks,
});

Deno.test("statusLine() leads with ARCHIVER <STATE> and names the worst checks", () => {
  const cases: Array<[string, CheckResult[], string]> = [
    [
      "all OK",
      [result("mongodb", "OK", "Ping 2 ms"), result("watcher", "OK", "streaming")],
      "ARCHIVER OK - 2 checks OK",
    ],
    [
      "a warning",
      [result("mongodb", "OK", "Ping 2 ms"), result("watcher_uptime", "WARNING", "Watcher up 2h")],
      "ARCHIVER WARNING - watcher_uptime: Watcher up 2h",
    ],
    [
      "critical first, the others named after",
      [
        result("mongodb", "CRITICAL", "MongoDB unreachable: refused"),
        result("quarantine", "CRITICAL", "2 orders quarantined"),
        result("disk_space", "UNKNOWN", "no df"),
        result("log_errors", "WARNING", "3 errors"),
      ],
      "ARCHIVER CRITICAL - mongodb: MongoDB unreachable: refused; quarantine: 2 orders quarantined (also UNKNOWN: disk_space; WARNING: log_errors)",
    ],
    [
      "unknown above warning",
      [result("disk_space", "UNKNOWN", "no df"), result("log_errors", "WARNING", "3 errors")],
      "ARCHIVER UNKNOWN - disk_space: no df (also WARNING: log_errors)",
    ],
    [
      "no | in the text, it starts the perfdata",
      [result("log_errors", "WARNING", "last: a | b")],
      "ARCHIVER WARNING - log_errors: last: a / b",
    ],
  ];
  for (const [name, checks, expected] of cases) {
    assert.equal(statusLine(report(checks), limits), expected, name);
  }
});

Deno.test("perfData() gives each measured figure with the configured warn and crit", () => {
  const checks = [
    result("stream_lag", "OK", "", { stream_lag_seconds: 1.25 }),
    result("resume_token", "OK", "", { resume_token_age_seconds: 30 }),
    result("disk_space", "OK", "", { free_percent: 45.2 }),
    result("quarantine", "OK", "", { by_reason: { incomplete: 2, invalid: 0, error: 1 } }),
    result("log_folder", "OK", "", { log_dir_bytes: 2048 }),
    result("watcher_uptime", "OK", "", { uptime_seconds: 90_000 }),
    result("log_errors", "OK", "", { log_errors: 0 }),
    result("archive_rate", "OK", "", { archive_rate_percent: 99.5 }),
    result("mongodb", "OK", "Ping 2 ms", { ping_ms: 2 }),
  ];
  assert.deepEqual(perfData(checks, limits).map(formatPerfDatum), [
    "stream_lag=1.25s;10;30;0",
    "resume_token_age=30s;600;3600;0",
    "disk_free=45.2%;20:;;0;100",
    "quarantine_incomplete=2;;;0",
    "quarantine_invalid=0;;0;0",
    "quarantine_error=1;;0;0",
    "log_folder=2048B;1073741824;;0",
    "watcher_uptime=90000s;82800:;;0",
    "log_errors=0;0;;0",
    "archive_rate=99.5%;99:;;0;100",
  ]);
  // Thresholds follow the settings; figures not measured are left out.
  const custom = { ...limits, lagWarnSeconds: 5, lagCriticalSeconds: 20, minUptimeMs: 0 };
  assert.deepEqual(
    perfData([
      checks[0]!,
      checks[5]!,
      result("archive_rate", "OK", "", { archive_rate_percent: null }),
    ], custom)
      .map(formatPerfDatum),
    ["stream_lag=1.25s;5;20;0"],
  );
});

Deno.test("formatPerfDatum() follows the plugin guidelines' format", () => {
  const cases: Array<[Parameters<typeof formatPerfDatum>[0], string]> = [
    [
      { label: "stream_lag", value: 2, uom: "s", warn: "10", crit: "30", min: 0 },
      "stream_lag=2s;10;30;0",
    ],
    [{ label: "count", value: 3 }, "count=3"],
    [{ label: "free disk", value: 50, uom: "%" }, "'free disk'=50%"],
    [{ label: "it's", value: 1 }, "'it''s'=1"],
    [{ label: "x", value: 1 / 3, max: 1 }, "x=0.333;;;;1"],
  ];
  for (const [datum, expected] of cases) assert.equal(formatPerfDatum(datum), expected);
});

Deno.test("statusLine() puts the perfdata after ' | '", () => {
  const line = statusLine(
    report([result("stream_lag", "WARNING", "Stream lag 12s (> 10s)", { stream_lag_seconds: 12 })]),
    limits,
  );
  assert.equal(
    line,
    "ARCHIVER WARNING - stream_lag: Stream lag 12s (> 10s) | stream_lag=12s;10;30;0",
  );
});
