/**
 * `archiver sandbox`: `--auth` (the printed URI carries no credentials, the first user is created
 * through the localhost exception), and the refusal to listen beyond loopback without it.
 */

import assert from "node:assert/strict";
import { MongoClient, MongoServerError } from "mongodb";
import { builtinPlugins } from "../../../cli/registry.ts";
import { spawnSelf } from "../../../core/runtime/child_process.ts";
import { cli, tempDir } from "../../support/cli.ts";

const plugins = [...builtinPlugins];

Deno.test("archiver sandbox refuses a non-loopback --host without --auth: exit 2, one line saying why", async (t) => {
  for (
    const [args, env] of [
      [["sandbox", "--host", "0.0.0.0", "--port", "0"], {}],
      [["sandbox", "--host", "192.0.2.10", "--port", "0"], {}],
      [["sandbox", "--port", "0"], { ARCHIVER_SANDBOX_HOST: "::" }],
      [["sandbox", "--port", "0"], {
        ARCHIVER_SANDBOX_HOST: "0.0.0.0",
        ARCHIVER_SANDBOX_AUTH: "no",
      }],
    ] as const
  ) {
    await t.step(`${args.join(" ")} ${JSON.stringify(env)}`, async () => {
      await using dir = await tempDir();
      const { code, stdout, stderr } = await cli([...args], { plugins, env, cwd: dir.path });
      assert.equal(code, 2, stderr);
      assert.equal(stdout, "");
      const lines = stderr.trim().split("\n");
      assert.equal(lines.length, 1, stderr);
      assert.match(
        lines[0]!,
        /without --auth: anyone on the network could read and write every database/,
      );
    });
  }
});

Deno.test("archiver sandbox --auth requires authentication; the first user is created from this machine", async () => {
  await using dir = await tempDir();
  await using server = spawnSelf(["sandbox", "--port", "0", "--auth"], {
    stdout: "piped",
    cwd: dir.path,
    env: { NO_COLOR: "1" },
  });
  const [uri] = await server.waitFor(/^mongodb:\S+/m, 30_000, { stream: "stdout" });
  assert.ok(!uri!.includes("@"), `no credentials in ${uri}`);
  const anonymous = new MongoClient(uri!);
  try {
    await assert.rejects(
      anonymous.db("Orders").collection("Commande").findOne(),
      (e) => e instanceof MongoServerError && e.code === 13,
    );
    await anonymous.db("admin").command({ createUser: "boss", pwd: "pw", roles: ["root"] });
  } finally {
    await anonymous.close();
  }
  const boss = new MongoClient(uri!.replace("mongodb://", "mongodb://boss:pw@"));
  try {
    await boss.db("Orders").collection("Commande").insertOne({ n: 1 });
    assert.equal(await boss.db("Orders").collection("Commande").countDocuments(), 1);
  } finally {
    await boss.close();
  }
  const { code } = await server.stop(10_000);
  assert.equal(code, 0, server.stderr());
});

Deno.test("ARCHIVER_SANDBOX_AUTH=true turns authentication on like --auth", async () => {
  await using dir = await tempDir();
  await using server = spawnSelf(["sandbox", "--port", "0", "--host", "localhost"], {
    stdout: "piped",
    cwd: dir.path,
    env: { NO_COLOR: "1", ARCHIVER_SANDBOX_AUTH: "true" },
  });
  const [uri] = await server.waitFor(/^mongodb:\S+/m, 30_000, { stream: "stdout" });
  const anonymous = new MongoClient(uri!);
  try {
    await assert.rejects(
      anonymous.db("Orders").collection("Commande").findOne(),
      (e) => e instanceof MongoServerError && e.code === 13,
    );
  } finally {
    await anonymous.close();
  }
  await server.stop(10_000);
});
