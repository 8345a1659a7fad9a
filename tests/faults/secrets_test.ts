/**
 * Every secret a connection string can carry — the password (raw `/`, `@`, `%`, `:`, `?` in it,
 * or percent-encoded), `proxyPassword`, `tlsCertificateKeyFilePassword`, `sslPEMKeyPassword`,
 * `AWS_SESSION_TOKEN` — on one, several and SRV hosts: `archiver config` shows the URI masked, and
 * a failed `archiver batch` and a watcher that cannot connect write none of them to standard
 * output, standard error, the log folder, the status file or any other file they leave.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { builtinPlugins } from "../../cli/registry.ts";
import { clearSecrets } from "../../core/runtime/mask.ts";
import { cli, tempDir } from "../support/cli.ts";
import { startWatcher } from "../support/watcher.ts";

/** A port nothing listens on. */
function closedPort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  return port;
}

const PORT = closedPort();
const HOST = `127.0.0.1:${PORT}`;

interface SecretCase {
  name: string;
  uri: string;
  /** Values that must never be printed or written, as the operator knows them (decoded). */
  secrets: string[];
  /** How `archiver batch` ends: 2 when the driver rejects the string, 3 when nothing answers. */
  exit: 2 | 3;
}

/** Connection strings, each with the secrets it carries. */
export const SECRET_URIS: SecretCase[] = [
  {
    name: "plain password",
    uri: `mongodb://app:Plain-Walrus-31@${HOST}/orders?directConnection=true`,
    secrets: ["Plain-Walrus-31"],
    exit: 3,
  },
  {
    name: "raw / in the password",
    uri: `mongodb://app:Slash/Otter-42@${HOST}/?directConnection=true`,
    secrets: ["Slash/Otter-42"],
    exit: 2,
  },
  {
    name: "raw @ in the password",
    uri: `mongodb://app:Kite@Lake-93@${HOST}/?directConnection=true`,
    secrets: ["Kite@Lake-93"],
    exit: 2,
  },
  {
    name: "raw % in the password",
    uri: `mongodb://app:Fifty%Moon-44@${HOST}/?directConnection=true`,
    secrets: ["Fifty%Moon-44"],
    exit: 2,
  },
  {
    name: "raw : in the password",
    uri: `mongodb://app:Colon:Tiger-58@${HOST}/?directConnection=true`,
    secrets: ["Colon:Tiger-58"],
    exit: 2,
  },
  {
    name: "raw ? in the password",
    uri: `mongodb://app:Quest?Rain-61@${HOST}/?directConnection=true`,
    secrets: ["Quest?Rain-61"],
    exit: 2,
  },
  {
    name: "percent-encoded password",
    uri: `mongodb://app:Pct%40Wolf%2F72@${HOST}/?directConnection=true`,
    secrets: ["Pct@Wolf/72"],
    exit: 3,
  },
  {
    name: "several hosts",
    uri: `mongodb://app:Multi-Elk-45@${HOST},127.0.0.1:${closedPort()}/?replicaSet=rs0`,
    secrets: ["Multi-Elk-45"],
    exit: 3,
  },
  {
    name: "mongodb+srv://",
    uri: "mongodb+srv://app:Srv-Fox-12@cluster0.archiver-test.invalid/orders?retryWrites=true",
    secrets: ["Srv-Fox-12"],
    exit: 3,
  },
  {
    name: "proxyPassword",
    uri: `mongodb://${HOST}/?directConnection=true&proxyHost=127.0.0.1&proxyPort=${closedPort()}` +
      "&proxyUsername=px&proxyPassword=Proxy-Owl-81",
    secrets: ["Proxy-Owl-81"],
    exit: 3,
  },
  {
    name: "tlsCertificateKeyFilePassword",
    uri:
      `mongodb://app:Tls-User-Pw-33@${HOST}/?tls=true&tlsCertificateKeyFilePassword=Cert-Lynx-27`,
    secrets: ["Tls-User-Pw-33", "Cert-Lynx-27"],
    exit: 3,
  },
  {
    name: "sslPEMKeyPassword",
    uri: `mongodb://${HOST}/?ssl=true&sslPEMKeyPassword=Pem-Heron-35`,
    secrets: ["Pem-Heron-35"],
    exit: 2,
  },
  {
    name: "AWS_SESSION_TOKEN",
    uri: `mongodb://AKIDEXAMPLE:Aws-Key-Crane-19@${HOST}/?authMechanism=MONGODB-AWS` +
      "&authMechanismProperties=AWS_SESSION_TOKEN:Sess%2BToken%2FCrow-66",
    secrets: ["Aws-Key-Crane-19", "Sess+Token/Crow-66"],
    exit: 2,
  },
  {
    name: "AWS_SESSION_TOKEN with encoded separators, and a proxy password with a raw @",
    uri: `mongodb://${HOST}/?authMechanismProperties=AWS_SESSION_TOKEN%3ATok-Raven-77` +
      `&proxyHost=127.0.0.1&proxyPort=${closedPort()}&proxyPassword=Px@Mole-29`,
    secrets: ["Tok-Raven-77", "Px@Mole-29"],
    exit: 2,
  },
];

/**
 * The forms a secret may take in a text: as known, percent-encoded, form-encoded, and each
 * distinctive piece between the characters a broken mask would cut it at.
 */
function forms(secret: string): string[] {
  const pieces = secret.split(/[/@%:?+]/).filter((piece) => piece.length >= 5);
  return [
    ...new Set([
      secret,
      encodeURIComponent(secret),
      new URLSearchParams({ v: secret }).toString().slice(2),
      ...pieces,
    ]),
  ];
}

/** Asserts no form of any secret appears in any of the texts. */
function assertNoSecret(texts: Record<string, string>, secrets: string[]): void {
  for (const secret of secrets) {
    for (const form of forms(secret)) {
      for (const [where, text] of Object.entries(texts)) {
        assert.ok(!text.includes(form), `${JSON.stringify(form)} found in ${where}:\n${text}`);
      }
    }
  }
}

/** Every file under a folder, by relative path. */
async function filesUnder(dir: string, prefix = ""): Promise<Record<string, string>> {
  const files: Record<string, string> = {};
  for await (const entry of Deno.readDir(dir)) {
    const path = join(dir, entry.name);
    const name = prefix ? `${prefix}/${entry.name}` : entry.name;
    if (entry.isDirectory) Object.assign(files, await filesUnder(path, name));
    else if (entry.isFile) files[name] = await Deno.readTextFile(path);
  }
  return files;
}

Deno.test("archiver config shows every connection string with each of its secrets masked", async (t) => {
  for (const { name, uri, secrets } of SECRET_URIS) {
    await t.step(name, async () => {
      await using dir = await tempDir();
      await Deno.writeTextFile(join(dir.path, ".env"), `MONGODB_URI=${uri}\n`);
      for (const run of [["config"], ["config", "--json"], ["--uri", uri, "config"]]) {
        const { code, stdout, stderr } = await cli(run, { cwd: dir.path });
        assert.equal(code, 0, stderr);
        assert.match(stdout, /MONGODB_URI.*\*\*\*\*/, "the URI is shown, masked");
        assertNoSecret({ stdout, stderr }, secrets);
      }
      clearSecrets();
    });
  }
});

Deno.test("a batch that cannot connect leaks no secret to its output, log file or other files", async (t) => {
  for (const { name, uri, secrets, exit } of SECRET_URIS) {
    await t.step(name, async () => {
      await using dir = await tempDir();
      const { code, stdout, stderr } = await cli(
        ["--log-dir", join(dir.path, "logs"), "batch", "--metrics-file", "batch.prom"],
        {
          plugins: [...builtinPlugins],
          cwd: dir.path,
          env: { MONGODB_URI: uri, ARCHIVER_CONNECT_TIMEOUT: "300ms", NO_COLOR: "1" },
        },
      );
      assert.equal(code, exit, stderr);
      assert.match(
        stderr,
        exit === 3 ? /❌ Failed to connect to MongoDB at / : /Invalid MongoDB connection string /,
      );
      const files = await filesUnder(dir.path);
      assert.ok(Object.keys(files).some((file) => file.startsWith("logs/")), "a log file");
      assertNoSecret({ stdout, stderr, ...files }, secrets);
      clearSecrets();
    });
  }
});

Deno.test("a watcher that cannot connect leaks no secret to its output, logs or status file", async () => {
  await using dir = await tempDir();
  const secrets = ["W4tch-Pass-Owl", "Proxy-Watch-Bat", "Tls-Watch-Eel"];
  const uri = `mongodb://watch:W4tch-Pass-Owl@${HOST}/?directConnection=true` +
    `&proxyHost=127.0.0.1&proxyPort=${closedPort()}&proxyUsername=pw&proxyPassword=Proxy-Watch-Bat` +
    "&tls=true&tlsCertificateKeyFilePassword=Tls-Watch-Eel";
  const watcher = startWatcher(uri, "fault_secrets", dir.path, [], {
    env: { ARCHIVER_CONNECT_TIMEOUT: "300ms" },
  });
  try {
    await watcher.waitFor(/❌ Failed to connect to MongoDB[^\n]*\n[^]*❌ Failed to connect/);
  } finally {
    const { code } = await watcher.stop("SIGTERM");
    assert.equal(code, 0, watcher.stderr());
  }
  const files = await filesUnder(dir.path);
  assert.ok("archiver-status.json" in files, `a status file: ${Object.keys(files)}`);
  assert.ok(Object.keys(files).some((file) => file.startsWith("logs/")), "a log file");
  assert.match(watcher.stderr(), /mongodb:\/\/watch:\*\*\*\*@/);
  assertNoSecret({ stdout: watcher.stdout(), stderr: watcher.stderr(), ...files }, secrets);
});
