import assert from "node:assert/strict";
import { join } from "node:path";
import {
  clearSecrets,
  maskUri,
  passwordOf,
  redact,
  registerSecret,
} from "../../../core/runtime/mask.ts";
import { cli, tempDir } from "../../support/cli.ts";
import { fail } from "../../fixtures/plugins.ts";

Deno.test("maskUri() hides the password and keeps user, hosts and options", () => {
  const cases: Array<[string, string]> = [
    ["mongodb://app:s3cret@db:27017/orders", "mongodb://app:****@db:27017/orders"],
    [
      "mongodb+srv://app:p%40ss%3Aw0rd@cluster0.abcd.mongodb.net/?retryWrites=true",
      "mongodb+srv://app:****@cluster0.abcd.mongodb.net/?retryWrites=true",
    ],
    [
      "mongodb://app:pw@a:27017,b:27018,c:27019/?replicaSet=rs0",
      "mongodb://app:****@a:27017,b:27018,c:27019/?replicaSet=rs0",
    ],
    ["mongodb://127.0.0.1:27017", "mongodb://127.0.0.1:27017"],
    ["mongodb://onlyuser@db:27017", "mongodb://onlyuser@db:27017"],
    ["see mongodb://a:b@h and mongodb://c:d@k", "see mongodb://a:****@h and mongodb://c:****@k"],
  ];
  for (const [uri, masked] of cases) assert.equal(maskUri(uri), masked);
});

Deno.test("passwordOf() finds the password as written in the URI", () => {
  assert.equal(passwordOf("mongodb://u:p%40ss@h"), "p%40ss");
  assert.equal(passwordOf("mongodb://h:27017"), undefined);
});

Deno.test("redact() removes a registered secret in raw and encoded forms", () => {
  clearSecrets();
  registerSecret("p%40ss");
  assert.equal(redact("bad auth for p@ss and p%40ss"), "bad auth for **** and ****");
  clearSecrets();
});

Deno.test("a password quoted by a thrown driver error reaches no output and no log file", async () => {
  await using dir = await tempDir();
  const uri = "mongodb://archiver:Zebra-Quartz-77@127.0.0.1:9/orders";
  const { code, stdout, stderr } = await cli(
    ["--uri", uri, "--log-dir", dir.path, "fail", "secret", uri],
    { plugins: [fail()] },
  );
  assert.equal(code, 70, "an unexpected error ends with exit code 70, not 1");
  const file = await Deno.readTextFile(join(dir.path, "fail.jsonl"));
  for (const text of [stdout, stderr, file]) assert.doesNotMatch(text, /Zebra-Quartz-77/);
  assert.match(stderr, /mongodb:\/\/archiver:\*\*\*\*@127\.0\.0\.1:9\/orders/);
  assert.match(file, /could not log in with mongodb:\/\/archiver:\*\*\*\*@/);
  assert.match(stderr, /password \*\*\*\*/, "the bare password is masked too");
  clearSecrets();
});
