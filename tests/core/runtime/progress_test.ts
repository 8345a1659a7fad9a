/**
 * The progress bar and the log lines share standard error: in a real terminal (tmux) no line
 * mixes the two, and without a terminal no bar is drawn at all.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { selfCommand } from "../../../core/runtime/child_process.ts";
import {
  besideProgressBar,
  progressBar,
  progressBarShown,
} from "../../../core/runtime/progress.ts";
import { tempDir } from "../../support/cli.ts";
import { seedOrders } from "../../support/orders.ts";
import { testDatabase } from "../../support/test_db.ts";

const TMUX = "/usr/bin/tmux";
const BAR = /[\u2588\u2591]/;
const LOG_LINE = /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \[(INFO|WARNING|ERROR)\] \[[\w.]+\] /;

function _hasTmux(): boolean {
  try {
    return Deno.statSync(TMUX).isFile;
  } catch {
    return false;
  }
}

function _quote(arg: string): string {
  return `'${arg.replaceAll("'", `'\\''`)}'`;
}

/** A tmux server of its own (its own socket), killed when disposed. */
function tmux(): AsyncDisposable & { run(...args: string[]): Promise<string> } {
  const socket = `archiver-progress-${Deno.pid}-${crypto.randomUUID().slice(0, 8)}`;
  const run = async (...args: string[]) => {
    const { stdout, stderr, success } = await new Deno.Command(TMUX, {
      args: ["-L", socket, ...args],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const text = new TextDecoder().decode(stdout);
    if (!success) throw new Error(`tmux ${args[0]} failed: ${new TextDecoder().decode(stderr)}`);
    return text;
  };
  return {
    run,
    async [Symbol.asyncDispose]() {
      await run("kill-server").catch(() => {});
    },
  };
}

/** Runs `archiver batch` in a 120×40 tmux pane and returns the pane's whole text. */
async function batchInTerminal(
  uri: string,
  dbName: string,
  cwd: string,
  redirect = "",
): Promise<string> {
  await using server = tmux();
  const self = selfCommand();
  const command = [
    self.command,
    ...self.args,
    "batch",
    "--uri",
    uri,
    "--db",
    dbName,
    "--batch-size",
    "10",
    "--log-dir",
    join(cwd, "logs"),
  ].map(_quote).join(" ");
  const script = `cd ${_quote(cwd)} && NO_COLOR=1 ${command} ${redirect}; echo "EXIT $?"; sleep 60`;
  await server.run("new-session", "-d", "-s", "batch", "-x", "120", "-y", "40", "sh", "-c", script);
  const deadline = Date.now() + 60_000;
  for (;;) {
    const pane = await server.run("capture-pane", "-p", "-J", "-t", "batch", "-S", "-2000");
    if (/^EXIT \d+$/m.test(pane)) return pane;
    if (Date.now() > deadline) throw new Error(`archiver batch did not end:\n${pane}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

Deno.test({
  name: "in a terminal the bar is drawn and no line mixes it with a log line",
  ignore: !_hasTmux(),
  async fn() {
    await using db = await testDatabase("progress");
    await using dir = await tempDir();
    await seedOrders(db.db, { complete: 300, incomplete: 0 });
    const pane = await batchInTerminal(db.uri, db.dbName, dir.path);
    assert.match(pane, /^EXIT 0$/m, pane);
    const lines = pane.split("\n");
    const bars = lines.filter((line) => BAR.test(line));
    const progress = lines.filter((line) => /📊 Progress: \d+\/300 processed/.test(line));
    assert.ok(bars.length >= 1, `the bar was drawn:\n${pane}`);
    // Progress is logged at most every 5 s (PROGRESS_LOG_PERIOD_MS), bar or no bar: a run of a
    // few seconds logs one line at most.
    assert.ok(progress.length <= 1, `progress logged more than every 5 s:\n${pane}`);
    for (const line of lines) {
      if (BAR.test(line)) {
        assert.match(
          line,
          /^📊 [\u2588\u2591]+ \d+\/300 orders \| /,
          `a bar line holds only the bar:\n${pane}`,
        );
      }
      if (/\[(INFO|WARNING|ERROR)\]/.test(line)) {
        assert.match(line, LOG_LINE, `a log line starts at its line's start:\n${pane}`);
      }
    }
    assert.ok(lines.some((line) => /✅ Archived 300 orders/.test(line)), pane);
  },
});

Deno.test({
  name: "with standard error not a terminal, no bar is drawn, only log lines",
  ignore: !_hasTmux(),
  async fn() {
    await using db = await testDatabase("progress");
    await using dir = await tempDir();
    await seedOrders(db.db, { complete: 50, incomplete: 0 });
    // Standard output stays the terminal: the bar follows standard error, not standard output.
    const pane = await batchInTerminal(db.uri, db.dbName, dir.path, "2>stderr.txt");
    assert.match(pane, /^EXIT 0$/m, pane);
    const stderr = await Deno.readTextFile(join(dir.path, "stderr.txt"));
    assert.doesNotMatch(stderr, BAR);
    assert.ok(!stderr.includes("\x1b["), "no cursor or erase sequences");
    assert.ok(
      (stderr.match(/📊 Progress: /g) ?? []).length <= 1,
      `progress logged more than every 5 s:\n${stderr}`,
    );
    assert.match(stderr, /✅ Archived 50 orders/);
    for (const line of stderr.trimEnd().split("\n")) assert.match(line, LOG_LINE);
  },
});

Deno.test("progressBar() is a no-op off a terminal, and lines are written straight through", async () => {
  const bar = await progressBar(10, "📊", { terminal: false });
  assert.equal(progressBarShown(), false);
  bar.update(5);
  bar.stop();
  const written: string[] = [];
  assert.equal(besideProgressBar(() => written.push("line")), 1);
  assert.deepEqual(written, ["line"]);
});
