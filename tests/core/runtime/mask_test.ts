import assert from "node:assert/strict";
import { join } from "node:path";
import {
  clearSecrets,
  maskUri,
  redact,
  registerSecret,
  registerUriSecret,
  uriSecrets,
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

/** A connection string, how `maskUri` shows it, and the secrets it carries (decoded). */
const SECRET_CASES: Array<{ uri: string; masked: string; secrets: string[] }> = [
  {
    uri: "mongodb://db:27017/?proxyHost=px&proxyUsername=pu&proxyPassword=Pr0xy-Owl",
    masked: "mongodb://db:27017/?proxyHost=px&proxyUsername=pu&proxyPassword=****",
    secrets: ["Pr0xy-Owl"],
  },
  {
    uri: "mongodb://u:Pw-Lynx@db/?tls=true&tlsCertificateKeyFilePassword=K3y-Heron",
    masked: "mongodb://u:****@db/?tls=true&tlsCertificateKeyFilePassword=****",
    secrets: ["Pw-Lynx", "K3y-Heron"],
  },
  {
    uri: "mongodb://db/?ssl=true&sslPEMKeyPassword=Pem-Crane",
    masked: "mongodb://db/?ssl=true&sslPEMKeyPassword=****",
    secrets: ["Pem-Crane"],
  },
  {
    // The token's "+" and "/" are percent-encoded, as a URI must carry them.
    uri: "mongodb://db/?authMechanism=MONGODB-AWS&authMechanismProperties=" +
      "AWS_SESSION_TOKEN:Tok%2Ben%2FCrow,SERVICE_NAME:mongodb",
    masked: "mongodb://db/?authMechanism=MONGODB-AWS&authMechanismProperties=" +
      "AWS_SESSION_TOKEN%3A****%2CSERVICE_NAME%3Amongodb",
    secrets: ["Tok+en/Crow"],
  },
  {
    uri: "mongodb://u:Slash/Otter@h1:1,h2:2/?replicaSet=rs",
    masked: "mongodb://u:****@h1:1,h2:2/?replicaSet=rs",
    secrets: ["Slash/Otter"],
  },
  { uri: "mongodb://u:Kite@Lake@h/db", masked: "mongodb://u:****@h/db", secrets: ["Kite@Lake"] },
  { uri: "mongodb://u:Fifty%Moon@h", masked: "mongodb://u:****@h", secrets: ["Fifty%Moon"] },
  { uri: "mongodb://u:Colon:Tiger@h", masked: "mongodb://u:****@h", secrets: ["Colon:Tiger"] },
  { uri: "mongodb://u:Quest?Rain@h/db", masked: "mongodb://u:****@h/db", secrets: ["Quest?Rain"] },
  {
    uri: "mongodb+srv://u:Pct%2FWolf%40x@cluster0.example.net/?retryWrites=true",
    masked: "mongodb+srv://u:****@cluster0.example.net/?retryWrites=true",
    secrets: ["Pct/Wolf@x"],
  },
  {
    // Unparseable (raw "/"), and secret options besides: the fallback masks all of them.
    uri: "mongodb://u:Pa/Mole@h/?proxyPassword=Px@Bat&authMechanismProperties=" +
      "AWS_SESSION_TOKEN%3ATok-Raven",
    masked: "mongodb://u:****@h/?proxyPassword=****&authMechanismProperties=" +
      "AWS_SESSION_TOKEN%3A****",
    secrets: ["Pa/Mole", "Px@Bat", "Tok-Raven"],
  },
  {
    uri: "http://user:Hunter-22@db:27017",
    masked: "http://user:****@db:27017",
    secrets: ["Hunter-22"],
  },
];

Deno.test("maskUri() masks every secret a connection string can carry", () => {
  for (const { uri, masked } of SECRET_CASES) assert.equal(maskUri(uri), masked, uri);
});

Deno.test("maskUri() leaves a masked URI as it is, and the sentence around a URI", () => {
  for (const { masked } of SECRET_CASES) assert.equal(maskUri(masked), masked, masked);
  assert.equal(
    maskUri("Failed to connect to MongoDB at mongodb://u:Pw-Lynx@h:1/: refused."),
    "Failed to connect to MongoDB at mongodb://u:****@h:1/: refused.",
  );
  assert.equal(maskUri('uri "mongodb://u:Pw-Lynx@h"'), 'uri "mongodb://u:****@h"');
});

Deno.test("uriSecrets() finds the password and every secret option, as written and decoded", () => {
  assert.deepEqual(uriSecrets("mongodb://u:p%40ss@h"), ["p%40ss", "p@ss"]);
  assert.deepEqual(uriSecrets("mongodb://h:27017"), []);
  assert.deepEqual(uriSecrets("mongodb://onlyuser@h/?authMechanismProperties=SERVICE_NAME:x"), []);
  for (const { uri, secrets } of SECRET_CASES) {
    const found = uriSecrets(uri);
    for (const secret of secrets) assert.ok(found.includes(secret), `${secret} in ${uri}`);
  }
});

Deno.test("redact() removes each registered URI secret wherever it appears, raw or encoded", () => {
  for (const { uri, secrets } of SECRET_CASES) {
    clearSecrets();
    registerUriSecret(uri);
    for (const secret of secrets) {
      for (const form of [secret, encodeURIComponent(secret)]) {
        const text = `error: bad credential ${form} (in ${JSON.stringify(uri)})`;
        const scrubbed = redact(text);
        assert.ok(!scrubbed.includes(form), `${form} left in ${scrubbed}`);
        assert.ok(scrubbed.startsWith("error: bad credential **** (in "), scrubbed);
      }
    }
  }
  clearSecrets();
});

Deno.test("redact() removes a longer secret whole when a shorter one is part of it", () => {
  clearSecrets();
  registerSecret("Crow");
  registerSecret("Crow-Raven");
  assert.equal(redact("token Crow-Raven"), "token ****");
  clearSecrets();
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
