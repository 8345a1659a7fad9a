import assert from "node:assert/strict";
import { join } from "node:path";
import { globalSettings, loadConfig } from "../../../core/runtime/config.ts";
import { ConfigError } from "../../../core/runtime/errors.ts";
import { duration, formatDuration } from "../../../core/runtime/parse.ts";
import type { Plugin } from "../../../core/runtime/plugin.ts";
import {
  addSettingOptions,
  resolveSettings,
  type SettingsSpec,
} from "../../../core/runtime/settings.ts";
import { cli, tempDir } from "../../support/cli.ts";
import { greet, greetSettings } from "../../fixtures/plugins.ts";

const plugins = [greet()];

async function greetJson(args: string[], env: Record<string, string>, cwd: string) {
  const result = await cli([...args], { plugins, env, cwd });
  assert.equal(result.code, 0, result.stderr);
  return JSON.parse(result.stdout) as {
    values: Record<string, unknown>;
    sources: Record<string, string>;
  };
}

Deno.test("configuration precedence: flag, then environment, then .env, then default", async (t) => {
  await using dir = await tempDir();
  const logs = ["--log-dir", join(dir.path, "logs")];
  await Deno.writeTextFile(join(dir.path, ".env"), "ARCHIVER_TIMES=3\nMONGODB_DB=from_dotenv\n");

  await t.step("default when no layer sets it", async () => {
    const out = await greetJson(["greet", ...logs], {}, Deno.cwd());
    assert.equal(out.values.times, 1);
    assert.equal(out.sources.times, "default");
    assert.equal(out.values.db, "food_delivery");
  });
  await t.step(".env in the working folder beats the default", async () => {
    const out = await greetJson(["greet", ...logs], {}, dir.path);
    assert.equal(out.values.times, 3);
    assert.equal(out.sources.times, ".env");
    assert.equal(out.values.db, "from_dotenv");
  });
  await t.step("the environment beats .env", async () => {
    const out = await greetJson(
      ["greet", ...logs],
      { ARCHIVER_TIMES: "4", MONGODB_DB: "env" },
      dir.path,
    );
    assert.equal(out.values.times, 4);
    assert.equal(out.sources.times, "env");
    assert.equal(out.values.db, "env");
  });
  await t.step("a flag beats the environment, for plugin and global settings", async () => {
    const out = await greetJson(
      ["--db", "flag_db", "greet", "--times", "5", ...logs],
      { ARCHIVER_TIMES: "4", MONGODB_DB: "env" },
      dir.path,
    );
    assert.equal(out.values.times, 5);
    assert.equal(out.sources.times, "flag");
    assert.equal(out.values.db, "flag_db");
    assert.equal(out.sources.db, "flag");
  });
  await t.step("global flags are accepted after the command too", async () => {
    const out = await greetJson(["greet", "--db", "after"], {}, dir.path);
    assert.equal(out.values.db, "after");
  });
  await t.step("--env-file names another file, relative to the working folder", async () => {
    await Deno.mkdir(join(dir.path, "conf"));
    await Deno.writeTextFile(join(dir.path, "conf", "prod.env"), "ARCHIVER_TIMES=7\n");
    const out = await greetJson(["--env-file", "conf/prod.env", "greet", ...logs], {}, dir.path);
    assert.equal(out.values.times, 7);
  });
  await t.step("an empty value in .env counts as unset", async () => {
    await Deno.writeTextFile(join(dir.path, "empty.env"), "ARCHIVER_TIMES=\n");
    const out = await greetJson(["--env-file", "empty.env", "greet", ...logs], {}, dir.path);
    assert.equal(out.sources.times, "default");
  });
});

Deno.test("--env-file and ARCHIVER_ENV_FILE take an absolute path as is, a relative one from the working folder", async (t) => {
  await using work = await tempDir();
  await using conf = await tempDir();
  // Where NSSM's service keeps it: an absolute path outside the working folder.
  const absolute = join(conf.path, "archiver.env");
  await Deno.writeTextFile(absolute, "ARCHIVER_TIMES=6\n");
  await Deno.mkdir(join(work.path, "conf"));
  await Deno.writeTextFile(join(work.path, "conf", "prod.env"), "ARCHIVER_TIMES=8\n");
  const cases: Array<{ name: string; flag?: string; env?: string; times: number }> = [
    { name: "--env-file, absolute", flag: absolute, times: 6 },
    { name: "ARCHIVER_ENV_FILE, absolute", env: absolute, times: 6 },
    { name: "--env-file, relative", flag: "conf/prod.env", times: 8 },
    { name: "ARCHIVER_ENV_FILE, relative", env: "conf/prod.env", times: 8 },
    { name: "--env-file beats ARCHIVER_ENV_FILE", flag: absolute, env: "conf/prod.env", times: 6 },
  ];
  for (const c of cases) {
    await t.step(c.name, async () => {
      const config = await loadConfig(greetSettings, {}, {
        env: c.env === undefined ? {} : { ARCHIVER_ENV_FILE: c.env },
        cwd: work.path,
        ...(c.flag === undefined ? {} : { envFileFlag: c.flag }),
      });
      assert.equal(config.values.times, c.times);
      assert.equal(config.sources.times, ".env");
    });
  }
  await t.step("a missing file is named by the path that was looked for", async () => {
    const missing: Array<{ flag?: string; env?: string; message: string }> = [
      {
        flag: join(conf.path, "gone.env"),
        message: `Cannot read --env-file ${
          JSON.stringify(join(conf.path, "gone.env"))
        }: file not found`,
      },
      {
        env: join(conf.path, "gone.env"),
        message: `Cannot read ARCHIVER_ENV_FILE ${
          JSON.stringify(join(conf.path, "gone.env"))
        }: file not found`,
      },
      {
        flag: "conf/gone.env",
        message: `Cannot read --env-file "conf/gone.env": file not found (looked for ${
          join(work.path, "conf", "gone.env")
        })`,
      },
    ];
    for (const c of missing) {
      await assert.rejects(
        loadConfig(greetSettings, {}, {
          env: c.env === undefined ? {} : { ARCHIVER_ENV_FILE: c.env },
          cwd: work.path,
          ...(c.flag === undefined ? {} : { envFileFlag: c.flag }),
        }),
        (error: Error & { exitCode?: number }) => {
          assert.equal(error.message, c.message);
          assert.equal(error.exitCode, 2);
          return true;
        },
      );
    }
  });
  await t.step("the CLI reads an absolute --env-file given from another folder", async () => {
    const result = await cli(["--env-file", absolute, "config", "--json"], {
      cwd: work.path,
      plugins,
    });
    assert.equal(result.code, 0, result.stderr);
    const parsed = JSON.parse(result.stdout);
    assert.equal(parsed.envFile, absolute);
  });
});

Deno.test(".env next to the compiled binary is read when the working folder has none", async () => {
  await using work = await tempDir();
  await using bin = await tempDir();
  await Deno.writeTextFile(join(bin.path, ".env"), "ARCHIVER_TIMES=9\n");
  const config = await loadConfig(greetSettings, {}, {
    env: {},
    cwd: work.path,
    binaryDir: bin.path,
  });
  assert.equal(config.values.times, 9);
  assert.equal(config.envFile, join(bin.path, ".env"));
});

Deno.test("each bad value stops with one line naming setting, value and form, exit 2", async (t) => {
  await using dir = await tempDir();
  await Deno.writeTextFile(join(dir.path, "bad.env"), "ARCHIVER_LOG_FORMAT=xml\n");
  const logDir = join(dir.path, "logs");
  const cases: Array<{ name: string; args: string[]; env?: Record<string, string>; line: string }> =
    [
      {
        name: "flag",
        args: ["greet", "--times", "abc"],
        line: 'error: Invalid --times "abc": expected a positive integer',
      },
      {
        name: "environment",
        args: ["greet"],
        env: { ARCHIVER_LOG_LEVEL: "loud" },
        line:
          'error: Invalid ARCHIVER_LOG_LEVEL "loud" in the environment: expected one of debug, info, warning, error',
      },
      {
        name: ".env file",
        args: ["--env-file", "bad.env", "greet"],
        line: 'error: Invalid ARCHIVER_LOG_FORMAT "xml" in bad.env: expected one of pretty, json',
      },
      {
        name: "URI scheme",
        args: ["--uri", "http://user:hunter22@db:27017", "greet"],
        line:
          'error: Invalid --uri "http://user:****@db:27017": expected a connection string starting with mongodb:// or mongodb+srv://',
      },
      {
        name: "database name",
        args: ["--db", "my.db", "greet"],
        line:
          'error: Invalid --db "my.db": expected a database name of 1-63 characters without / \\ . space " $ * < > : | ?',
      },
      {
        name: "size",
        args: ["greet"],
        env: { ARCHIVER_LOG_MAX_SIZE: "big" },
        line:
          'error: Invalid ARCHIVER_LOG_MAX_SIZE "big" in the environment: expected a size such as 512KB, 10MB or 1GB',
      },
      {
        name: "duration",
        args: ["greet"],
        env: { ARCHIVER_CONNECT_TIMEOUT: "10 parsecs" },
        line:
          'error: Invalid ARCHIVER_CONNECT_TIMEOUT "10 parsecs" in the environment: expected a duration such as 500ms, 30s, 10m, 1h or 7d',
      },
      {
        name: "missing --env-file",
        args: ["--env-file", "nope.env", "greet"],
        line: `error: Cannot read --env-file "nope.env": file not found (looked for ${
          join(dir.path, "nope.env")
        })`,
      },
    ];
  for (const c of cases) {
    await t.step(c.name, async () => {
      const result = await cli(["--log-dir", logDir, ...c.args], {
        plugins,
        env: c.env ?? {},
        cwd: dir.path,
      });
      assert.equal(result.code, 2);
      assert.equal(result.stdout, "");
      assert.equal(result.stderr, `${c.line}\n`);
    });
  }
  await t.step("nothing was written: no log folder was created", async () => {
    await assert.rejects(Deno.stat(logDir), Deno.errors.NotFound);
  });
});

Deno.test("resolveSettings() reports where each value came from", () => {
  const { values, sources } = resolveSettings(globalSettings, {
    flags: { db: "a" },
    env: { ARCHIVER_LOG_LEVEL: "debug" },
    dotenv: { ARCHIVER_LOG_DIR: "/var/log/archiver" },
  });
  assert.equal(values.db, "a");
  assert.equal(values.logLevel, "debug");
  assert.equal(values.logDir, "/var/log/archiver");
  assert.equal(values.connectTimeout, 10_000);
  assert.deepEqual(
    [sources.db, sources.logLevel, sources.logDir, sources.uri],
    ["flag", "env", ".env", "default"],
  );
});

Deno.test("archiver config prints each value with its source, the password masked", async () => {
  await using dir = await tempDir();
  await Deno.mkdir(join(dir.path, "some"));
  await Deno.writeTextFile(
    join(dir.path, "some", ".env"),
    "MONGODB_URI=mongodb://archiver:Tr0ub4dor@db.example.com:27017/?replicaSet=rs0\nARCHIVER_TIMES=2\n",
  );
  const { code, stdout, stderr } = await cli(["--env-file", "some/.env", "config"], {
    plugins,
    env: { MONGODB_DB: "prod" },
    cwd: dir.path,
  });
  assert.equal(code, 0, stderr);
  assert.doesNotMatch(stdout + stderr, /Tr0ub4dor/);
  assert.match(
    stdout,
    /^MONGODB_URI\s+mongodb:\/\/archiver:\*\*\*\*@db\.example\.com:27017\/\?replicaSet=rs0\s+\.env \(some\/\.env\)$/m,
  );
  assert.match(stdout, /^MONGODB_DB\s+prod\s+env$/m);
  assert.match(stdout, /^ARCHIVER_TIMES\s+2\s+\.env \(some\/\.env\)$/m);
  assert.match(stdout, /^ARCHIVER_DELIVERED_STATUS\s+livrée\s+default$/m);
  assert.match(stdout, /^\.env file: some\/\.env$/m);
  await assert.rejects(
    Deno.stat(join(dir.path, "logs")),
    Deno.errors.NotFound,
    "config writes no log file",
  );

  const json = await cli(["--env-file", "some/.env", "config", "--json"], {
    plugins,
    cwd: dir.path,
  });
  assert.doesNotMatch(json.stdout, /Tr0ub4dor/);
  const parsed = JSON.parse(json.stdout);
  assert.equal(
    parsed.settings[0].value,
    "mongodb://archiver:****@db.example.com:27017/?replicaSet=rs0",
  );
});

Deno.test(".env.example is what `archiver config --example` prints for the built-in plugins", async () => {
  const { builtinPlugins } = await import("../../../cli/registry.ts");
  const { code, stdout } = await cli(["config", "--example"], { plugins: [...builtinPlugins] });
  assert.equal(code, 0);
  const example = await Deno.readTextFile(new URL("../../../.env.example", import.meta.url));
  assert.equal(
    example,
    stdout,
    "regenerate with: deno task archiver config --example > .env.example",
  );
  for (const setting of Object.values(globalSettings)) {
    assert.match(example, new RegExp(`^# ${setting.env}=`, "m"));
  }
});

Deno.test("a .env mistake stops with one line, exit 2, nothing written", async (t) => {
  const cases: Array<{ name: string; dotenv: string; line: (path: string) => string }> = [
    {
      name: "an unknown key with the tool's prefix, a typo of a known one",
      dotenv: "ARCHIVER_TIMES=2\nARCHIVER_TMIES=3\n",
      line: (path) =>
        `error: Unknown setting ARCHIVER_TMIES in ${path}: did you mean ARCHIVER_TIMES?`,
    },
    {
      name: "a typo of a global setting",
      dotenv: "ARCHIVER_LOG_LEVLE=debug\n",
      line: (path) =>
        `error: Unknown setting ARCHIVER_LOG_LEVLE in ${path}: did you mean ARCHIVER_LOG_LEVEL?`,
    },
    {
      name: "an unknown key like no setting",
      dotenv: "ARCHIVER_FROBNICATE_EVERYTHING=yes\n",
      line: (path) =>
        `error: Unknown setting ARCHIVER_FROBNICATE_EVERYTHING in ${path}: no setting has this name (archiver config --example lists them)`,
    },
    {
      name: "an unterminated quote (its value never shown: it may be a password)",
      dotenv: 'ARCHIVER_TIMES=2\nMONGODB_URI="mongodb://u:s3cr3t@h\n',
      line: (path) =>
        `error: Unterminated " quote in ${path}, line 2 (MONGODB_URI): close the quote or remove it`,
    },
  ];
  for (const c of cases) {
    await t.step(c.name, async () => {
      await using dir = await tempDir();
      await Deno.writeTextFile(join(dir.path, ".env"), c.dotenv);
      const result = await cli(["greet"], { plugins, cwd: dir.path });
      assert.equal(result.code, 2);
      assert.equal(result.stdout, "");
      assert.equal(result.stderr, `${c.line(join(dir.path, ".env"))}\n`);
      assert.deepEqual([...Deno.readDirSync(dir.path)].map((e) => e.name), [".env"]);
    });
  }
  await t.step("keys of other plugins, other tools and comments are fine", async () => {
    await using dir = await tempDir();
    await Deno.writeTextFile(
      join(dir.path, ".env"),
      '# ARCHIVER_NOT_A_SETTING=1\nPATH_EXTRA=x\nARCHIVER_TIMES="2"\nARCHIVER_ENV_FILE=\n',
    );
    const out = await greetJson(["greet", "--log-dir", join(dir.path, "logs")], {}, dir.path);
    assert.equal(out.values.times, 2);
  });
});

Deno.test("an unknown ARCHIVER_ variable in the environment is a warning line, the run goes on", async () => {
  await using dir = await tempDir();
  // The environment is shared: a variable of another version of the tool must not stop a run.
  const result = await cli(["greet", "--log-dir", join(dir.path, "logs")], {
    plugins,
    env: { ARCHIVER_TMIES: "3", ARCHIVER_LEASE_TTL_MS: "9000", OTHER_TOOL_SETTING: "1" },
    cwd: dir.path,
  });
  assert.equal(result.code, 0, result.stderr);
  const warnings = result.stderr.split("\n").filter((line) => line.includes("[WARNING]"));
  assert.equal(warnings.length, 1, result.stderr);
  assert.match(
    warnings[0]!,
    /Unknown setting ARCHIVER_TMIES in the environment: did you mean ARCHIVER_TIMES\? \(ignored\)$/,
  );
  assert.equal(JSON.parse(result.stdout).values.times, 1);
});

Deno.test("ARCHIVER_LOG_LEVEL and --log-level accept any case", async () => {
  await using dir = await tempDir();
  const logs = ["--log-dir", join(dir.path, "logs")];
  const cases: Array<[string[], Record<string, string>, string]> = [
    [[], { ARCHIVER_LOG_LEVEL: "INFO" }, "info"],
    [[], { ARCHIVER_LOG_LEVEL: "Warning" }, "warning"],
    [["--log-level", "DEBUG"], {}, "debug"],
    [["--log-format", "JSON"], {}, "info"],
  ];
  for (const [args, env, level] of cases) {
    const out = await greetJson(["greet", ...logs, ...args], env, dir.path);
    assert.equal(out.values.logLevel, level, JSON.stringify({ args, env }));
  }
});

const thresholdSettings = {
  lagWarn: {
    env: "ARCHIVER_T_LAG_WARN",
    flag: "--lag-warn <duration>",
    description: "Lag above this is a WARNING",
    default: 10_000,
    parse: duration(),
    format: formatDuration,
  },
  lagCritical: {
    env: "ARCHIVER_T_LAG_CRITICAL",
    flag: "--lag-critical <duration>",
    description: "Lag above this is CRITICAL",
    default: 30_000,
    parse: duration(),
    format: formatDuration,
    criticalOf: { warning: "lagWarn", worse: "higher" },
  },
  headroomWarning: {
    env: "ARCHIVER_T_HEADROOM_WARNING",
    description: "Headroom below this is a WARNING",
    default: 7_200_000,
    parse: duration(),
    format: formatDuration,
  },
  headroomCritical: {
    env: "ARCHIVER_T_HEADROOM_CRITICAL",
    description: "Headroom below this is CRITICAL",
    default: 3_600_000,
    parse: duration(),
    format: formatDuration,
    criticalOf: { warning: "headroomWarning", worse: "lower" },
  },
} as const satisfies SettingsSpec;

Deno.test("warning/critical pairs are checked for order, wherever each value came from", async (t) => {
  const cases: Array<{
    name: string;
    flags?: Record<string, string>;
    env?: Record<string, string>;
    dotenv?: Record<string, string>;
    error?: string;
  }> = [
    { name: "the defaults" },
    { name: "warning below critical", flags: { lagWarn: "20s", lagCritical: "1m" } },
    { name: "equal thresholds", flags: { lagWarn: "30s", lagCritical: "30s" } },
    {
      name: "--lag-warn 60s --lag-critical 30s",
      flags: { lagWarn: "60s", lagCritical: "30s" },
      error:
        'Thresholds out of order: warning --lag-warn "1m" is above critical --lag-critical "30s": the warning must come first',
    },
    {
      name: "a warning above the default critical",
      env: { ARCHIVER_T_LAG_WARN: "45s" },
      error:
        'Thresholds out of order: warning ARCHIVER_T_LAG_WARN in the environment "45s" is above critical ARCHIVER_T_LAG_CRITICAL (default) "30s": the warning must come first',
    },
    {
      name: "lower is worse: a warning headroom under the critical one",
      dotenv: { ARCHIVER_T_HEADROOM_WARNING: "30m" },
      error:
        'Thresholds out of order: warning ARCHIVER_T_HEADROOM_WARNING in prod.env "30m" is below critical ARCHIVER_T_HEADROOM_CRITICAL (default) "1h": the warning must come first',
    },
    { name: "lower is worse, in order", env: { ARCHIVER_T_HEADROOM_CRITICAL: "10m" } },
  ];
  for (const c of cases) {
    await t.step(c.name, () => {
      const resolve = () =>
        resolveSettings(thresholdSettings, {
          flags: c.flags ?? {},
          env: c.env ?? {},
          dotenv: c.dotenv ?? {},
          dotenvPath: "prod.env",
        });
      if (c.error === undefined) resolve();
      else {
        assert.throws(resolve, (error: unknown) => {
          assert.ok(error instanceof ConfigError);
          assert.equal(error.message, c.error);
          return true;
        });
      }
    });
  }
  await t.step("through the CLI: one line, exit 2, nothing written", async () => {
    await using dir = await tempDir();
    const lag: Plugin = {
      name: "lag",
      description: "Reads a threshold pair (test plugin)",
      settings: thresholdSettings,
      register(program, ctx) {
        const command = program.command("lag");
        addSettingOptions(command, thresholdSettings);
        command.action(async (_flags, cmd) => {
          await ctx.start(cmd, thresholdSettings);
          ctx.out("ran");
        });
      },
    };
    const result = await cli(["lag", "--lag-warn", "60s", "--lag-critical", "30s"], {
      plugins: [lag],
      cwd: dir.path,
    });
    assert.equal(result.code, 2);
    assert.equal(result.stdout, "");
    assert.match(result.stderr, /^error: Thresholds out of order: warning --lag-warn "1m"/);
    assert.equal(result.stderr.trimEnd().split("\n").length, 1);
    assert.deepEqual([...Deno.readDirSync(dir.path)], []);
  });
});
