import assert from "node:assert/strict";
import denoJson from "../../deno.json" with { type: "json" };
import type { Plugin } from "../../core/runtime/plugin.ts";
import { cli, tempDir } from "../support/cli.ts";
import { assertSnapshot } from "../support/snapshot.ts";
import { fail, greet, wait } from "../fixtures/plugins.ts";

const plugins = [greet(), fail(), wait()];

Deno.test("--help lists the commands the plugins registered", async () => {
  const { code, stdout } = await cli(["--help"], { plugins });
  assert.equal(code, 0);
  assert.match(stdout, /^\s+greet \[options\]\s+Say hello \(test plugin\)$/m);
  assert.match(stdout, /^\s+fail /m);
  assert.match(stdout, /^\s+wait /m);
  assert.match(stdout, /^\s+config /m);
  await assertSnapshot("help_with_test_plugins", stdout);
});

Deno.test("a command's --help shows its settings and the global options", async () => {
  const { code, stdout } = await cli(["greet", "--help"], { plugins });
  assert.equal(code, 0);
  assert.match(stdout, /--times <n>\s+How many times \(env ARCHIVER_TIMES, default 1\)/);
  assert.match(stdout, /Global Options:[\s\S]*--uri <uri>/);
});

Deno.test("--version prints the version from deno.json", async () => {
  const { code, stdout } = await cli(["--version"], { plugins });
  assert.equal(code, 0);
  assert.equal(stdout.trim(), denoJson.version);
});

Deno.test("the program without plugins offers only config and help", async () => {
  const { stdout } = await cli(["--help"]);
  const commands = stdout.split("Commands:")[1]!.trim().split("\n").map((l) =>
    l.trim().split(" ")[0]
  );
  assert.deepEqual(commands, ["config", "help"]);
});

Deno.test("an unknown command suggests the closest one on a single line, exit 2", async () => {
  const { code, stderr } = await cli(["gret"], { plugins });
  assert.equal(code, 2);
  assert.equal(stderr.trim().split("\n").length, 1);
  assert.match(stderr, /unknown command 'gret'.*Did you mean greet\?/);
});

Deno.test("an unknown option suggests the closest one, exit 2", async () => {
  const { code, stderr } = await cli(["greet", "--time", "3"], { plugins });
  assert.equal(code, 2);
  assert.equal(stderr.trim().split("\n").length, 1);
  assert.match(stderr, /unknown option '--time'.*Did you mean --times\?/);
});

Deno.test("two plugins may not register the same command", async () => {
  const twin: Plugin = { ...greet(), name: "twin" };
  const { code, stderr } = await cli(["--help"], { plugins: [greet(), twin] });
  assert.equal(code, 70);
  assert.match(stderr, /Plugin "twin" cannot register its commands: .*command 'greet'/);
});

Deno.test("each domain error ends with its exit code and one line without a stack", async (t) => {
  await using dir = await tempDir();
  const cases: Array<[string, number, RegExp]> = [
    ["config", 2, /Invalid --thing "x": expected a thing/],
    ["partial", 1, /2 orders failed to archive/],
    ["unreachable", 3, /Failed to connect to MongoDB/],
    ["crash", 70, /Unexpected error: boom \(run with --log-level debug for details\)/],
  ];
  for (const [how, exitCode, message] of cases) {
    await t.step(how, async () => {
      const { code, stderr } = await cli(["--log-dir", dir.path, "fail", how], { plugins });
      assert.equal(code, exitCode);
      const lines = stderr.trim().split("\n");
      assert.equal(lines.length, 1, stderr);
      assert.match(lines[0]!, message);
      assert.doesNotMatch(stderr, /\bat .*\.ts:\d+/);
    });
  }
});

Deno.test("--log-level debug adds the stack trace", async () => {
  await using dir = await tempDir();
  const { code, stderr } = await cli(
    ["--log-dir", dir.path, "--log-level", "debug", "fail", "crash"],
    { plugins },
  );
  assert.equal(code, 70);
  assert.match(stderr, /Unexpected error: boom/);
  assert.match(stderr, /at .*plugins\.ts:\d+/);
});

Deno.test("a plugin runs another command of the program through ctx.runCommand and gets its output and exit code", async () => {
  const relay: Plugin = {
    name: "relay",
    description: "Run other commands (test plugin)",
    register(program, ctx) {
      program.command("relay").action(async () => {
        let greeted = "";
        const greetCode = await ctx.runCommand(["greet", "--times", "3"], {
          env: { ...ctx.env, ARCHIVER_GREETING: "hi" },
          stdout: (text) => (greeted += text),
          stderr: () => {},
        });
        const failCode = await ctx.runCommand(["fail", "partial"], { stderr: () => {} });
        const { values } = JSON.parse(greeted.trim()) as { values: Record<string, unknown> };
        ctx.out(
          JSON.stringify({ greetCode, failCode, greeting: values.greeting, times: values.times }),
        );
      });
    },
  };
  await using dir = await tempDir();
  const { code, stdout, stderr } = await cli(["relay"], {
    plugins: [...plugins, relay],
    env: { ARCHIVER_LOG_DIR: dir.path },
  });
  assert.equal(code, 0, stderr);
  assert.deepEqual(JSON.parse(stdout.trim()), {
    greetCode: 0,
    failCode: 1,
    greeting: "hi",
    times: 3,
  });
});
