import assert from "node:assert/strict";
import { setup } from "../../../plugins/setup/mod.ts";
import { cli, tempDir } from "../../support/cli.ts";
import { assertSnapshot } from "../../support/snapshot.ts";

const plugins = [setup()];

Deno.test("setup role --print prints the idempotent mongosh script of the privileges table", async () => {
  const { code, stdout, stderr } = await cli(["setup", "role", "--print"], { plugins });
  assert.equal(code, 0);
  assert.equal(stderr, "");
  assert.match(stdout, /^const admin = db\.getSiblingDB\("admin"\);$/m);
  assert.match(stdout, /admin\.createRole\(\{ role: "archiver", privileges, roles: \[\] \}\);/);
  assert.match(stdout, /admin\.updateRole\("archiver", \{ privileges, roles: \[\] \}\);/);
  assert.match(stdout, /pwd: passwordPrompt\(\)/);
  assert.match(
    stdout,
    /\{ resource: \{ db: "food_delivery", collection: "Commande" \}, actions: \["find", "changeStream"\] \}/,
  );
  assert.match(
    stdout,
    /\{ resource: \{ db: "local", collection: "oplog\.rs" \}, actions: \["find", "collStats"\] \}/,
  );
  await assertSnapshot("setup_role_print", stdout);
});

Deno.test("setup role without a flag prints, on the configured names", async () => {
  const { code, stdout } = await cli(["--db", "shop", "setup", "role", "--role", "arch_ro"], {
    plugins,
    env: {
      ARCHIVER_ORDERS_COLLECTION: "Orders",
      ARCHIVER_TOKEN_COLLECTION: "tokens",
      ARCHIVER_SETUP_USER: "svc_archiver",
    },
  });
  assert.equal(code, 0);
  assert.match(stdout, /collection: "Orders" \}, actions: \["find", "changeStream"\]/);
  assert.match(stdout, /\{ db: "shop", collection: "tokens" \}/);
  assert.doesNotMatch(stdout, /food_delivery|Commande|archiver_resume_tokens/);
  assert.match(stdout, /admin\.getUser\("svc_archiver"\)/);
  assert.match(stdout, /roles: \[\{ role: "arch_ro", db: "admin" \}\]/);
});

Deno.test("setup role refuses bad flags with exit 2 and one line", async () => {
  const cases: Array<[string, string[], Record<string, string>, RegExp]> = [
    ["both modes", ["--print", "--apply"], {}, /^error: Choose one of --print and --apply$/],
    [
      "--apply without an administrator",
      ["--apply"],
      {},
      /(^error: |\[ERROR\] \[archiver\] )--apply needs an administrator's connection string/,
    ],
    ["a role name with a quote", ["--role", 'a"b'], {}, /^error: Invalid --role "a\\"b"/],
    [
      "an admin URI that is none",
      ["--apply", "--admin-uri", "http://root:hunter2@db"],
      {},
      /^error: Invalid --admin-uri "http:\/\/root:\*\*\*\*@db"/,
    ],
  ];
  await using dir = await tempDir();
  for (const [why, args, env, expected] of cases) {
    const { code, stdout, stderr } = await cli(["setup", "role", ...args], {
      plugins,
      env,
      cwd: dir.path,
    });
    assert.equal(code, 2, why);
    assert.equal(stdout, "", why);
    assert.equal(stderr.trimEnd().split("\n").length, 1, `${why}: ${stderr}`);
    assert.match(stderr.trimEnd(), expected, why);
    assert.doesNotMatch(stderr, /hunter2/, why);
  }
});

Deno.test("setup --help and setup role --help list the command and its settings", async () => {
  const group = await cli(["setup", "--help"], { plugins });
  assert.equal(group.code, 0);
  assert.match(group.stdout, /^\s+role \[options\]/m);
  const { code, stdout } = await cli(["setup", "role", "--help"], { plugins });
  assert.equal(code, 0);
  assert.match(stdout, /--admin-uri <uri>/);
  assert.doesNotMatch(stdout, /--password/);
  await assertSnapshot("setup_help", group.stdout);
  await assertSnapshot("setup_role_help", stdout);
});
