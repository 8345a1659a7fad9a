import assert from "node:assert/strict";
import { join } from "node:path";
import { fileURLToPath as fromFileUrl } from "node:url";
import { spawnSelf } from "../../../core/runtime/child_process.ts";
import { Lifecycle, shutdownSignals } from "../../../core/runtime/lifecycle.ts";
import { tempDir } from "../../support/cli.ts";

const TEST_CLI = fromFileUrl(new URL("../../fixtures/test_cli.ts", import.meta.url));

Deno.test("stop() runs clean-up steps once, newest first", async () => {
  const lifecycle = new Lifecycle();
  const order: string[] = [];
  lifecycle.onStop(() => void order.push("close client"));
  lifecycle.onStop(() => Promise.resolve(void order.push("flush logs")));
  await lifecycle.stop();
  await lifecycle.stop();
  assert.deepEqual(order, ["flush logs", "close client"]);
});

Deno.test("Windows listens for Ctrl+C (what NSSM sends) and Ctrl+Break instead of SIGTERM", () => {
  assert.deepEqual(shutdownSignals("windows"), ["SIGINT", "SIGBREAK"]);
  assert.deepEqual(shutdownSignals("linux"), ["SIGINT", "SIGTERM"]);
});

for (const signal of ["SIGTERM", "SIGINT"] as const) {
  Deno.test(`${signal} aborts the running command, which ends cleanly with exit 0 and flushed logs`, async () => {
    await using dir = await tempDir();
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", "--allow-all", TEST_CLI, "--log-dir", dir.path, "wait"],
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const reader = child.stdout.getReader();
    const first = await reader.read();
    assert.match(new TextDecoder().decode(first.value), /ready/);
    const sent = performance.now();
    child.kill(signal);
    const status = await child.status;
    const elapsed = performance.now() - sent;
    reader.releaseLock();
    await child.stdout.cancel();
    const stderr = new TextDecoder().decode(await new Response(child.stderr).arrayBuffer());
    assert.equal(status.code, 0, stderr);
    assert.ok(elapsed < 2_000, `stopped in ${elapsed} ms`);
    const log = await Deno.readTextFile(join(dir.path, "wait.jsonl"));
    assert.match(log, new RegExp(`stopped: Received ${signal}, shutting down`));
  });
}

Deno.test("the real entry point exits 2 on an unknown command and 0 on --version", async () => {
  await using unknown = spawnSelf(["frobnicate"]);
  assert.equal(await unknown.exited, 2);
  assert.match(unknown.stderr(), /unknown command 'frobnicate'/);
  await using version = spawnSelf(["--version"], { stdout: "piped" });
  assert.equal(await version.exited, 0);
  assert.match(version.stdout(), /^\d+\.\d+\.\d+\n$/);
});
