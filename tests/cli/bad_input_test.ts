/**
 * Every command with bad flags and values, bad `.env` lines, credentials a server does not accept
 * and an unwritable log folder: one clear line on standard error, the documented exit code,
 * nothing on standard output, and nothing written (no log folder, no report, token or status
 * file, no collection). Runs in-process against nothing: every case must stop before connecting.
 */

import assert from "node:assert/strict";
import { join, relative } from "node:path";
import { MongoClient } from "mongodb";
import { builtinPlugins } from "../../cli/registry.ts";
import { startSandbox } from "../../sandbox/mod.ts";
import { cli, tempDir } from "../support/cli.ts";

interface Case {
  /** Arguments after `archiver`. */
  args: string[];
  /** Extra environment. */
  env?: Record<string, string>;
  /** Content of `.env` in the working folder. */
  dotenv?: string;
  /** What the one line must say. */
  says: RegExp;
  /** Exit code. @default 2 */
  code?: number;
  /**
   * `nothing`: the working folder is left as it was. `log`: the value can only be checked once the
   * configuration is read (the report file's folder), so the command's own log file, holding the
   * same one line, is all that is written.
   */
  writes?: "nothing" | "log";
}

const UNREACHABLE = "mongodb://127.0.0.1:9";

const CASES: Case[] = [
  // Unknown commands and flags, extra arguments: commander's usage errors.
  { args: ["frobnicate"], says: /unknown command 'frobnicate'/ },
  { args: ["logs", "frob"], says: /unknown command 'frob'/ },
  { args: ["--bogus", "batch"], says: /unknown option '--bogus'/ },
  { args: ["config", "--bogus"], says: /unknown option '--bogus'/ },
  { args: ["config", "--json", "extra"], says: /too many arguments for 'config'/ },
  { args: ["sandbox", "--bogus"], says: /unknown option '--bogus'/ },
  { args: ["simulate", "--bogus"], says: /unknown option '--bogus'/ },
  { args: ["batch", "--dry-run=yes"], says: /unknown option|does not take an argument/ },
  { args: ["watch", "--bogus"], says: /unknown option '--bogus'/ },
  { args: ["health", "--bogus"], says: /unknown option '--bogus'/ },
  { args: ["logs", "check", "--json", "x"], says: /too many arguments for 'check'/ },
  { args: ["logs", "follow", "--bogus"], says: /unknown option '--bogus'/ },
  { args: ["logs", "prune", "--bogus"], says: /unknown option '--bogus'/ },
  { args: ["service", "print", "--bogus"], says: /unknown option '--bogus'/ },
  { args: ["demo", "--bogus"], says: /unknown option '--bogus'/ },
  { args: ["batch", "--batch-size"], says: /option '--batch-size <n>' argument missing/ },
  // Global settings.
  {
    args: ["--uri", "http://x", "batch"],
    says: /Invalid --uri "http:\/\/x": expected a connection string/,
  },
  { args: ["--uri", "", "health"], says: /Invalid --uri ""/ },
  { args: ["--db", "a.b", "batch"], says: /Invalid --db "a\.b": expected a database name/ },
  { args: ["--db", "x".repeat(64), "watch"], says: /Invalid --db "x{64}"/ },
  {
    args: ["--log-level", "verbose", "batch"],
    says: /Invalid --log-level "verbose": expected one of debug, info, warning, error/,
  },
  {
    args: ["--log-format", "xml", "health"],
    says: /Invalid --log-format "xml": expected one of pretty, json/,
  },
  {
    args: ["--env-file", "nope.env", "batch"],
    says: /Cannot read --env-file "nope\.env": file not found/,
  },
  { args: ["--env-file", ".", "watch"], says: /Cannot read --env-file "\.":/ },
  // sandbox, simulate.
  {
    args: ["sandbox", "--port", "70000"],
    says: /Invalid --port "70000": expected an integer from 0 to 65535/,
  },
  { args: ["sandbox", "--port", "abc"], says: /Invalid --port "abc"/ },
  { args: ["sandbox", "--oplog-size", "0"], says: /Invalid --oplog-size "0"/ },
  {
    args: ["simulate", "--count", "-1"],
    says: /Invalid --count "-1": expected a non-negative integer/,
  },
  { args: ["simulate", "--count", "ten"], says: /Invalid --count "ten"/ },
  {
    args: ["simulate", "--p-delivered", "1.5"],
    says: /Invalid --p-delivered "1\.5": expected a number from 0 to 1/,
  },
  { args: ["simulate", "--p-incomplete", "-0.1"], says: /Invalid --p-incomplete "-0\.1"/ },
  { args: ["simulate", "--duration", "5x"], says: /Invalid --duration "5x": expected a duration/ },
  { args: ["simulate", "--seed", "abc"], says: /Invalid --seed "abc"/ },
  { args: ["simulate", "--rate", "0"], says: /Invalid --rate "0"/ },
  // batch.
  {
    args: ["batch", "--batch-size", "0"],
    says: /Invalid --batch-size "0": expected an integer from 1 to 50000/,
  },
  { args: ["batch", "--batch-size", "zero"], says: /Invalid --batch-size "zero"/ },
  { args: ["batch", "--limit", "1.5"], says: /Invalid --limit "1\.5"/ },
  {
    args: ["batch", "--date-from", "2025-02-30"],
    says: /Invalid --date-from "2025-02-30": .*day 30 is not in that month/,
  },
  {
    args: ["batch", "--date-to", "tomorrow-ish"],
    says: /Invalid --date-to "tomorrow-ish"/,
  },
  {
    args: ["batch", "--date-from", "today", "--date-to", "yesterday"],
    says: /Invalid date window/,
  },
  {
    args: ["batch", "--export", "no/such/folder/x.json"],
    says: /Cannot write --export/,
  },
  {
    args: ["batch", "--report-file", "no/such/folder/r.json"],
    says: /Cannot write the report file "[^"]*no\/such\/folder\/r\.json": folder .* does not exist/,
    writes: "log",
  },
  // watch.
  {
    args: ["watch", "--batch-max", "0"],
    says: /Invalid --batch-max "0": expected an integer from 1 to 10000/,
  },
  { args: ["watch", "--batch-wait-ms", "-5"], says: /Invalid --batch-wait-ms "-5"/ },
  {
    args: ["watch", "--token-store", "redis"],
    says: /Invalid --token-store "redis": expected one of file, mongo/,
  },
  { args: ["watch", "--metrics-port", "-1"], says: /Invalid --metrics-port "-1"/ },
  {
    args: ["watch", "--catch-up-since", "soon"],
    says: /Invalid --catch-up-since "soon"/,
  },
  {
    args: ["watch", "--from-now", "--catch-up-since", "1h"],
    says: /Choose one of --from-now and --catch-up-since/,
  },
  // health, logs.
  { args: ["health", "--timeout", "-1s"], says: /Invalid --timeout "-1s": expected a duration/ },
  { args: ["health", "--lag-warn", "x"], says: /Invalid --lag-warn "x"/ },
  {
    args: ["health", "--min-free-disk", "150"],
    says: /Invalid --min-free-disk "150": expected a number from 0 to 100/,
  },
  { args: ["health", "--max-log-size", "lots"], says: /Invalid --max-log-size "lots"/ },
  {
    args: ["health", "--only", "watchr"],
    says: /^ARCHIVER UNKNOWN - Unknown check "watchr" for --only: did you mean watcher\?$/,
  },
  {
    args: ["health", "--skip", "mongodb,nonsense"],
    says: /Unknown check "nonsense" for --skip: the checks are mongodb, change_streams, /,
  },
  {
    args: ["health", "--only", "watcher", "--skip", "watcher"],
    says: /No check left to run: --skip leaves out every check --only names/,
  },
  // Warning/critical pairs in order: the warning comes before the page.
  {
    args: ["health", "--lag-warn", "60s", "--lag-critical", "30s"],
    says: /Thresholds out of order: warning --lag-warn "1m" is above critical --lag-critical "30s"/,
  },
  {
    args: ["health", "--max-token-age", "5m"],
    says:
      /Thresholds out of order: warning ARCHIVER_HEALTH_TOKEN_SAVE_AGE \(default\) "10m" is above critical --max-token-age "5m"/,
  },
  {
    args: ["health"],
    env: { ARCHIVER_HEALTH_OPLOG_HEADROOM_WARNING: "30m" },
    says:
      /Thresholds out of order: warning ARCHIVER_HEALTH_OPLOG_HEADROOM_WARNING.* "30m" is below critical ARCHIVER_HEALTH_OPLOG_HEADROOM_CRITICAL \(default\) "1h"/,
  },
  { args: ["logs", "check", "--since", "forever"], says: /Invalid --since "forever"/ },
  { args: ["logs", "follow", "--since", "1y"], says: /Invalid --since "1y"|unknown option/ },
  { args: ["logs", "prune", "--older-than", "0"], says: /Invalid --older-than "0"/ },
  // service, demo (the demo works in a temporary folder of its own, never the working folder).
  { args: ["service", "print", "--name", ""], says: /Invalid --name "": expected 1-80 letters/ },
  {
    args: ["service", "print", "--exe", "relative.exe"],
    says: /Invalid --exe "relative\.exe": expected an absolute Windows path/,
  },
  { args: ["service", "install"], says: /Cannot install the service here/ },
  {
    args: ["demo", "--count", "0"],
    says: /Invalid --count "0": expected an integer from 1 to 1000000/,
  },
  { args: ["demo", "--rate", "x"], says: /Invalid --rate "x"/ },
  {
    args: ["demo", "--duration", "1ms"],
    says: /Invalid --duration "1ms": expected a duration of at least 1s/,
  },
  // Bad environment and .env lines.
  {
    args: ["batch"],
    dotenv: "ARCHIVER_LOG_LEVEL=loud\n",
    says: /Invalid ARCHIVER_LOG_LEVEL "loud" in .*\.env: expected one of/,
  },
  {
    args: ["batch"],
    dotenv: "ARCHIVER_BATCH_SIZE=-5\n",
    says: /Invalid ARCHIVER_BATCH_SIZE "-5" in .*\.env/,
  },
  {
    args: ["watch"],
    dotenv: "ARCHIVER_TOKEN_STORE=s3\n",
    says: /Invalid ARCHIVER_TOKEN_STORE "s3" in .*\.env/,
  },
  {
    args: ["health"],
    dotenv: "ARCHIVER_HEALTH_TIMEOUT=soon\n",
    says: /Invalid ARCHIVER_HEALTH_TIMEOUT "soon" in .*\.env/,
  },
  {
    args: ["batch"],
    dotenv: "ARCHIVER_LOG_MAX_SIZE=huge\n",
    says: /Invalid ARCHIVER_LOG_MAX_SIZE "huge" in .*\.env/,
  },
  {
    args: ["logs", "check"],
    dotenv: "ARCHIVER_LOG_MAX_FILES=0\n",
    says: /Invalid ARCHIVER_LOG_MAX_FILES "0" in .*\.env/,
  },
  {
    args: ["simulate"],
    dotenv: "ARCHIVER_SIMULATE_P_DELIVERED=40%\n",
    says: /Invalid ARCHIVER_SIMULATE_P_DELIVERED "40%" in .*\.env/,
  },
  {
    args: ["batch"],
    dotenv: "# comment\nMONGODB_DB=a b c\n",
    says: /Invalid MONGODB_DB "a b c" in .*\.env/,
  },
  // A key no setting reads (one .env serves every command: another plugin's key is known).
  {
    args: ["batch"],
    dotenv: "ARCHIVER_HEALTH_LAG_WARN=10s\nARCHIVER_HEALT_LAG_WARN=20s\n",
    says:
      /^error: Unknown setting ARCHIVER_HEALT_LAG_WARN in .*\.env: did you mean ARCHIVER_HEALTH_LAG_WARN\?$/,
  },
  {
    args: ["health"],
    dotenv: "ARCHIVER_HEALT_LAG_WARN=20s\n",
    says:
      /Unknown setting ARCHIVER_HEALT_LAG_WARN in .*\.env: did you mean ARCHIVER_HEALTH_LAG_WARN\?$/,
  },
  {
    args: ["watch"],
    dotenv: "ARCHIVER_LOG_DIR='/var/log/archiver\nARCHIVER_LOG_LEVEL=info\n",
    says: /^error: Unterminated ' quote in .*\.env, line 1 \(ARCHIVER_LOG_DIR\)/,
  },
  {
    args: ["batch"],
    dotenv: "ARCHIVER_ARCHIVE_COLLECTION=system.archive\n",
    says: /Invalid ARCHIVER_ARCHIVE_COLLECTION "system\.archive" in .*\.env/,
  },
  {
    args: ["batch"],
    env: { ARCHIVER_ENV_FILE: "missing.env" },
    says: /Cannot read ARCHIVER_ENV_FILE "missing\.env": file not found/,
  },
  {
    args: ["batch"],
    env: { ARCHIVER_LOG_FORMAT: "yaml" },
    says: /Invalid ARCHIVER_LOG_FORMAT "yaml"/,
  },
  // A log folder that cannot be created or written: a file is in the way.
  { args: ["--log-dir", "blocker", "batch"], says: /Cannot write logs to ".*blocker"/ },
  {
    args: ["--log-dir", "blocker/sub", "watch"],
    says: /Cannot write logs to ".*blocker\/sub": not a folder/,
  },
];

async function _files(root: string): Promise<string[]> {
  const found: string[] = [];
  const walk = async (dir: string) => {
    for await (const entry of Deno.readDir(dir)) {
      const path = join(dir, entry.name);
      found.push(relative(root, path));
      if (entry.isDirectory) await walk(path);
    }
  };
  await walk(root);
  return found.sort();
}

/** `archiver health` and `archiver logs check`: Nagios-style checks, whose usage errors are UNKNOWN. */
function _isMonitoringCheck(args: readonly string[]): boolean {
  const logs = args.indexOf("logs");
  return args.includes("health") || (logs !== -1 && args[logs + 1] === "check");
}

function _label(item: Case): string {
  const env = Object.entries(item.env ?? {}).map(([k, v]) => `${k}=${v} `).join("");
  const dotenv = item.dotenv ? ` with .env ${JSON.stringify(item.dotenv.trim())}` : "";
  return `${env}archiver ${item.args.join(" ")}${dotenv}`.slice(0, 120);
}

Deno.test(`bad input: ${CASES.length} cases, each one line, exit 2 (UNKNOWN 3 for the checks), nothing written`, async (t) => {
  for (const item of CASES) {
    await t.step(_label(item), async () => {
      await using dir = await tempDir();
      await Deno.writeTextFile(join(dir.path, "blocker"), "a file where a folder should be");
      if (item.dotenv !== undefined) await Deno.writeTextFile(join(dir.path, ".env"), item.dotenv);
      const before = await _files(dir.path);
      const { code, stdout, stderr } = await cli(item.args, {
        plugins: [...builtinPlugins],
        cwd: dir.path,
        env: { MONGODB_URI: UNREACHABLE, ARCHIVER_CONNECT_TIMEOUT: "300ms", ...item.env },
      });
      // Monitoring checks answer in the monitoring-plugin convention: UNKNOWN (3), one status
      // line on standard output.
      const monitoring = _isMonitoringCheck(item.args);
      assert.equal(code, item.code ?? (monitoring ? 3 : 2), stderr);
      const [said, silent] = monitoring ? [stdout, stderr] : [stderr, stdout];
      assert.equal(silent, "", `nothing on standard ${monitoring ? "error" : "output"}`);
      const lines = said.trimEnd().split("\n");
      assert.equal(lines.length, 1, `one line:\n${said}`);
      if (monitoring) assert.match(lines[0]!, /^ARCHIVER UNKNOWN - /);
      assert.match(lines[0]!, item.says);
      assert.doesNotMatch(said, /^\s+at /m, "no stack trace");
      const after = await _files(dir.path);
      if ((item.writes ?? "nothing") === "nothing") {
        assert.deepEqual(after, before, "nothing written");
      } else {
        const name = item.args.find((a) => !a.startsWith("-"))!;
        const written = after.filter((f) => !before.includes(f));
        assert.deepEqual(written, ["logs", join("logs", `${name}.jsonl`)]);
        const log = await Deno.readTextFile(join(dir.path, "logs", `${name}.jsonl`));
        assert.equal(log.trimEnd().split("\n").length, 1, log);
      }
    });
  }
  console.error(`[bad-input] inputs_tried=${CASES.length}`);
});

Deno.test("health with a log folder it cannot write (a file in the way, a full disk): its true verdict and one warning line", async (t) => {
  const cases: Array<{ name: string; prepare(dir: string): Promise<void> }> = [
    {
      name: "a file where the folder should be",
      prepare: (dir) => Deno.writeTextFile(join(dir, "logs"), "a file where a folder should be"),
    },
  ];
  if (Deno.build.os === "linux") {
    cases.push({
      name: "a full disk (the log file is /dev/full)",
      async prepare(dir) {
        await Deno.mkdir(join(dir, "logs"));
        await Deno.symlink("/dev/full", join(dir, "logs", "health.jsonl"));
      },
    });
  }
  for (const item of cases) {
    await t.step(item.name, async () => {
      await using dir = await tempDir();
      await item.prepare(dir.path);
      const { code, stdout, stderr } = await cli(["health"], {
        plugins: [...builtinPlugins],
        cwd: dir.path,
        env: { MONGODB_URI: UNREACHABLE, ARCHIVER_CONNECT_TIMEOUT: "300ms" },
      });
      // The server is down: CRITICAL, as it would be with a writable log folder.
      assert.equal(code, 2, stderr);
      assert.match(stdout.split("\n")[0]!, /^ARCHIVER CRITICAL - mongodb: MongoDB unreachable/);
      const told = stderr.split("\n").filter((line) => /Cannot write logs/.test(line));
      assert.equal(told.length, 1, stderr);
      assert.match(
        told[0]!,
        /\[WARNING\].*Cannot write logs to ".*logs": .*: logging to the console only$/,
      );
      assert.doesNotMatch(stdout, /UNKNOWN - /);
    });
  }
});

const PASSWORD = `Wr0ng-P4ss-${crypto.randomUUID().slice(0, 8)}`;

function _withPassword(uri: string, password: string): string {
  const match = /^(mongodb(?:\+srv)?:\/\/)(?:([^:@/]*)(?::[^@/]*)?@)?(.*)$/.exec(uri)!;
  return `${match[1]}${encodeURIComponent(match[2] || "archiver_nobody")}:${password}@${match[3]}`;
}

async function _leaks(dir: string, outputs: string[]): Promise<string[]> {
  const found = outputs.filter((text) => text.includes(PASSWORD)).map(() => "output");
  for (const file of await _files(dir)) {
    const path = join(dir, file);
    if ((await Deno.stat(path)).isFile && (await Deno.readTextFile(path)).includes(PASSWORD)) {
      found.push(file);
    }
  }
  return found;
}

Deno.test("credentials the sandbox cannot check: exit 3, the password in no output and no log file, no collection created", async (t) => {
  await using sandbox = await startSandbox();
  const uri = _withPassword(sandbox.uri, PASSWORD);
  // watch retries a refused connection forever by design (only a refusal of the credentials
  // themselves stops it), so it is covered below against a real server only.
  for (
    const args of [["batch"], ["batch", "--dry-run"], ["simulate", "--count", "5"], ["health"]]
  ) {
    await t.step(`archiver ${args.join(" ")}`, async () => {
      await using dir = await tempDir();
      const { code, stdout, stderr } = await cli(["--uri", uri, "--db", "bad_input", ...args], {
        plugins: [...builtinPlugins],
        cwd: dir.path,
        env: { ARCHIVER_CONNECT_TIMEOUT: "500ms" },
      });
      assert.ok(code === (args[0] === "health" ? 2 : 3), `exit ${code}:\n${stderr}`);
      assert.match(stderr.trimEnd().split("\n").at(-1)!, /:\*\*\*\*@|CRITICAL/);
      assert.deepEqual(await _leaks(dir.path, [stdout, stderr]), []);
      assert.ok(!stderr.includes(PASSWORD));
    });
  }
  const client = new MongoClient(sandbox.uri);
  try {
    const names = (await client.db("bad_input").listCollections().toArray()).map((c) => c.name);
    assert.deepEqual(names, [], "nothing written to the server");
  } finally {
    await client.close();
  }
});

const REAL = Deno.env.get("MONGODB_TEST_URI");

Deno.test(`a wrong password ${REAL ? "on the real server" : "on the sandbox with auth"}: exit 2, one line, the password nowhere`, async (t) => {
  await using sandbox = REAL ? undefined : await startSandbox({ auth: true });
  let server = REAL ?? "";
  if (sandbox) {
    // The first user, through the localhost exception; the CLI then names it with a wrong password.
    const admin = new MongoClient(sandbox.uri);
    try {
      await admin.db("admin").command({
        createUser: "archiver_app",
        pwd: "the-right-password",
        roles: ["root"],
      });
    } finally {
      await admin.close();
    }
    server = sandbox.uri.replace("mongodb://", "mongodb://archiver_app@");
  }
  const uri = _withPassword(server, PASSWORD);
  for (const args of [["batch"], ["watch"], ["simulate", "--count", "5"], ["health"]]) {
    await t.step(`archiver ${args.join(" ")}`, async () => {
      await using dir = await tempDir();
      const { code, stdout, stderr } = await cli(["--uri", uri, ...args], {
        plugins: [...builtinPlugins],
        cwd: dir.path,
        env: { ARCHIVER_CONNECT_TIMEOUT: "5s" },
      });
      assert.equal(code, 2, stderr);
      assert.match(stderr, /MongoDB at \S*:\*\*\*\*@.*[Aa]uthentication.* failed|CRITICAL/);
      if (args[0] !== "health") assert.equal(stderr.trimEnd().split("\n").length, 1, stderr);
      assert.deepEqual(await _leaks(dir.path, [stdout, stderr]), []);
    });
  }
});
