/**
 * The alert rules (ops/prometheus/archiver-rules.yml) are valid and behave as their unit tests
 * say, the Alertmanager routing sends each severity where the plan's escalation table does, and
 * the log-folder textfile script writes metrics promtool accepts.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { tempDir } from "../support/cli.ts";
import {
  AMTOOL,
  assertInstalled,
  OPS_DIR,
  PROMTOOL,
  runTool,
  skipWithout,
  type ToolRun,
} from "./tools.ts";

function assertSucceeded(run: ToolRun, what: string): void {
  assert.equal(run.code, 0, `${what} exited ${run.code}:\n${run.stdout}\n${run.stderr}`);
}

Deno.test({
  name: "promtool accepts the alert rules and every rule unit test passes",
  ignore: skipWithout(PROMTOOL),
  async fn() {
    assertInstalled(PROMTOOL);
    const check = await runTool(PROMTOOL, ["check", "rules", "prometheus/archiver-rules.yml"]);
    assertSucceeded(check, "promtool check rules");
    assert.match(check.stdout, /SUCCESS: \d+ rules found/);
    const test = await runTool(PROMTOOL, ["test", "rules", "prometheus/archiver-rules.test.yml"]);
    assertSucceeded(test, "promtool test rules");
    assert.match(test.stdout, /SUCCESS/);
  },
});

Deno.test({
  name:
    "every alert rule carries a P1-P3 severity, a summary and a description, and has a unit test",
  async fn() {
    const rules = await Deno.readTextFile(join(OPS_DIR, "prometheus/archiver-rules.yml"));
    const tests = await Deno.readTextFile(join(OPS_DIR, "prometheus/archiver-rules.test.yml"));
    const blocks = rules.split(/\n\s+- alert: /).slice(1);
    assert.ok(blocks.length >= 15, `only ${blocks.length} alert rules`);
    for (const block of blocks) {
      const name = block.split("\n")[0]!.trim();
      assert.match(block, /\n\s+severity: P[123]\n/, `${name} has no P1-P3 severity`);
      assert.match(block, /\n\s+summary: /, `${name} has no summary`);
      assert.match(block, /\n\s+description: /, `${name} has no description`);
      const tested = tests.match(new RegExp(`alertname: ${name}\\n`, "g"))?.length ?? 0;
      assert.ok(
        tested >= 2,
        `${name} has ${tested} evaluation(s) in the unit tests, want firing and silent`,
      );
    }
  },
});

Deno.test("every alert rule states its for: and says why beside it", async () => {
  const rules = await Deno.readTextFile(join(OPS_DIR, "prometheus/archiver-rules.yml"));
  for (const block of rules.split(/\n\s+- alert: /).slice(1)) {
    const name = block.split("\n")[0]!.trim();
    const stated = /\n(\s+# .*\n)\s+for: (\d+[smh])\n/.exec(block);
    assert.ok(stated, `${name} has no for: with a comment above it`);
  }
});

Deno.test("the unit tests hold the table of scenarios an operator lives through", async () => {
  const tests = await Deno.readTextFile(join(OPS_DIR, "prometheus/archiver-rules.test.yml"));
  const scenarios = [
    "a watcher restarted in a quiet hour",
    "normal traffic with 1 % incomplete and a restart is silent",
    "a stopped watcher whose idle token ages",
    "a healthy watcher on a young oplog that is not full is silent",
    "two HA watchers, both standby",
    "two HA watchers, none up",
    "a batch that never succeeded",
    "a batch refused by the server (exit 2",
    "a batch interrupted by Ctrl+C (exit 130)",
  ];
  for (const scenario of scenarios) {
    assert.ok(tests.includes(`name: "scenario: ${scenario}`), `no scenario "${scenario}"`);
  }
});

Deno.test({
  name:
    "amtool accepts the Alertmanager config, which mails P1 and P2 and sends every alert to the chat",
  ignore: skipWithout(AMTOOL),
  async fn() {
    assertInstalled(AMTOOL);
    const config = "alertmanager/alertmanager.yml";
    assertSucceeded(await runTool(AMTOOL, ["check-config", config]), "amtool check-config");
    const expected = [
      ["P1", "oncall-email,chat"],
      ["P2", "data-team-email,chat"],
      ["P3", "chat"],
    ];
    for (const [severity, receivers] of expected) {
      const routed = await runTool(AMTOOL, [
        "config",
        "routes",
        "test",
        `--config.file=${config}`,
        `severity=${severity}`,
        "alertname=ArchiverWatcherDown",
      ]);
      assertSucceeded(routed, `amtool config routes test severity=${severity}`);
      assert.equal(routed.stdout.trim(), receivers, `receivers of a ${severity} alert`);
    }
  },
});

Deno.test({
  name: "the log-folder script writes archiver_log_dir_bytes in a textfile promtool accepts",
  ignore: Deno.build.os === "windows" || skipWithout(PROMTOOL),
  async fn() {
    assertInstalled(PROMTOOL);
    await using dir = await tempDir();
    const logs = join(dir.path, "logs with space");
    await Deno.mkdir(join(logs, "rotated"), { recursive: true });
    await Deno.writeFile(join(logs, "watch.log"), new Uint8Array(1500));
    await Deno.writeFile(join(logs, "rotated", "watch.1.log"), new Uint8Array(500));
    const script = join(OPS_DIR, "node_exporter/archiver-log-dir.sh");
    const run = await new Deno.Command("sh", { args: [script, logs, dir.path] }).output();
    assert.equal(run.code, 0, new TextDecoder().decode(run.stderr));
    const text = await Deno.readTextFile(join(dir.path, "archiver_log_dir.prom"));
    assert.match(text, new RegExp(`^archiver_log_dir_bytes\\{dir="${logs}"\\} 2000$`, "m"));
    assert.match(text, new RegExp(`^archiver_log_dir_files\\{dir="${logs}"\\} 2$`, "m"));
    const checked = await new Deno.Command(PROMTOOL.path, {
      args: ["check", "metrics"],
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const writer = checked.stdin.getWriter();
    await writer.write(new TextEncoder().encode(text));
    await writer.close();
    const result = await checked.output();
    assert.equal(
      result.code,
      0,
      new TextDecoder().decode(result.stdout) + new TextDecoder().decode(result.stderr),
    );
  },
});
