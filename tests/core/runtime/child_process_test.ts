import assert from "node:assert/strict";
import { SELF_PERMISSIONS, selfCommand, spawnSelf } from "../../../core/runtime/child_process.ts";
import { tempDir } from "../../support/cli.ts";

const QUIET = { NO_COLOR: "1" };

Deno.test("selfCommand() runs cli/main.ts with the minimal permissions, plus those asked for", () => {
  const plain = selfCommand();
  assert.equal(plain.command, Deno.execPath());
  assert.deepEqual(plain.args.slice(0, 1 + SELF_PERMISSIONS.length), [
    "run",
    ...SELF_PERMISSIONS,
  ]);
  assert.ok(!plain.args.includes("--allow-run"), plain.args.join(" "));
  assert.match(plain.args.at(-1)!, /cli[/\\]main\.ts$/);
  assert.match(plain.args.at(-2)!, /deno\.json$/);

  const more = selfCommand(["--allow-run", "--allow-net"]);
  assert.equal(more.args.filter((arg) => arg === "--allow-net").length, 1, "no flag twice");
  assert.ok(more.args.includes("--allow-run"));
  assert.ok(more.args.indexOf("--allow-run") < more.args.indexOf("--config"));

  // Deno refuses --allow-all beside another --allow-* flag.
  const all = selfCommand(["--allow-all"]);
  assert.deepEqual(all.args.filter((arg) => arg.startsWith("--allow-")), ["--allow-all"]);
  assert.ok(all.args.includes("--no-prompt"));
});

Deno.test("spawnSelf() gives the exit code and the output of a command that ends", async (t) => {
  await using dir = await tempDir();
  const cases = [
    {
      args: ["config", "--json"],
      permissions: [],
      code: 0,
      check: (stdout: string, stderr: string) => {
        const settings = JSON.parse(stdout).settings as Array<{ setting: string; value: string }>;
        assert.equal(settings.find((s) => s.setting === "MONGODB_DB")?.value, "from_env");
        assert.equal(stderr, "");
      },
    },
    {
      args: ["batch", "--date-from", "bad"],
      permissions: ["--allow-all"],
      code: 2,
      check: (stdout: string, stderr: string) => {
        assert.equal(stdout, "");
        const lines = stderr.trimEnd().split("\n");
        assert.equal(lines.length, 1, stderr);
        assert.match(lines[0]!, /Invalid --date-from "bad"/);
      },
    },
  ];
  for (const { args, permissions, code, check } of cases) {
    await t.step(`archiver ${args.join(" ")} exits ${code}`, async () => {
      const lines: string[] = [];
      await using child = spawnSelf(args, {
        cwd: dir.path,
        // Added to this process's environment; an undefined value is left out.
        env: { ...QUIET, MONGODB_DB: "from_env", ARCHIVER_LOG_LEVEL: undefined },
        stdout: "piped",
        onLine: (line) => lines.push(line),
        permissions,
      });
      assert.equal(await child.exited, code, child.stderr());
      check(child.stdout(), child.stderr());
      assert.deepEqual(lines, child.stderr().split("\n").filter((line) => line !== ""));
    });
  }
});

Deno.test("waitFor() fails with the output so far, on a timeout or when the process ends", async () => {
  await using dir = await tempDir();
  await using sandbox = spawnSelf(["sandbox", "--port", "0"], {
    cwd: dir.path,
    env: QUIET,
    stdout: "piped",
  });
  const [uri] = await sandbox.waitFor(/^mongodb:\/\/\S+/m, 30_000, { stream: "stdout" });
  assert.match(uri, /^mongodb:\/\/127\.0\.0\.1:\d+/);
  await sandbox.waitFor(/Sandbox listening/);
  const waited = performance.now();
  await assert.rejects(sandbox.waitFor(/never printed this/, 300), (error: Error) => {
    assert.match(error.message, /never printed \/never printed this\/ within 300 ms/);
    assert.match(error.message, /Sandbox listening on 127\.0\.0\.1/);
    return true;
  });
  assert.ok(performance.now() - waited < 2_000);

  await using failing = spawnSelf(["batch", "--date-from", "bad"], { cwd: dir.path, env: QUIET });
  await assert.rejects(failing.waitFor(/never printed this/, 30_000), /before it exited/);
  assert.equal(await failing.exited, 2);
});

Deno.test("stop() ends a running sandbox cleanly, with exit 0, within two seconds", async () => {
  await using dir = await tempDir();
  await using sandbox = spawnSelf(["sandbox", "--port", "0"], { cwd: dir.path, env: QUIET });
  await sandbox.waitFor(/Sandbox listening/, 30_000);
  const stop = await sandbox.stop(5_000);
  assert.equal(stop.code, 0, sandbox.stderr());
  assert.equal(stop.killed, false);
  assert.ok(stop.ms < 2_000, `stopped in ${Math.round(stop.ms)} ms`);
  const again = await sandbox.stop(1_000);
  assert.deepEqual([again.code, again.killed], [0, false], "stopping it again changes nothing");
});

Deno.test(
  "stop() kills a process that does not stop in time (here: paused with SIGSTOP)",
  { ignore: Deno.build.os === "windows" },
  async () => {
    await using dir = await tempDir();
    await using sandbox = spawnSelf(["sandbox", "--port", "0"], { cwd: dir.path, env: QUIET });
    await sandbox.waitFor(/Sandbox listening/, 30_000);
    sandbox.kill("SIGSTOP");
    const stop = await sandbox.stop(300);
    assert.equal(stop.killed, true);
    assert.notEqual(stop.code, 0);
  },
);

Deno.test(
  "cpuSeconds() of an idle sandbox grows by less than 0.2 s over 2 s",
  { ignore: Deno.build.os !== "linux" },
  async () => {
    await using dir = await tempDir();
    await using sandbox = spawnSelf(["sandbox", "--port", "0"], { cwd: dir.path, env: QUIET });
    await sandbox.waitFor(/Sandbox listening/, 30_000);
    const before = await sandbox.cpuSeconds();
    assert.equal(typeof before, "number");
    assert.ok(before! > 0, "starting Deno takes some CPU");
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    const after = await sandbox.cpuSeconds();
    assert.ok(after! - before! < 0.2, `${after! - before!} s of CPU while idle`);
    await sandbox.stop(5_000);
    assert.equal(await sandbox.cpuSeconds(), undefined, "gone");
  },
);

Deno.test("disposing a process kills it and waits for it", async () => {
  await using dir = await tempDir();
  let code: number | undefined;
  {
    await using sandbox = spawnSelf(["sandbox", "--port", "0"], { cwd: dir.path, env: QUIET });
    sandbox.exited.then((exited) => (code = exited));
    await sandbox.waitFor(/Sandbox listening/, 30_000);
  }
  assert.notEqual(code, undefined, "it had exited when the scope ended");
  assert.notEqual(code, 0, "killed, not stopped");
});
