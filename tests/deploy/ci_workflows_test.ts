/**
 * The GitHub Actions workflows of .github/workflows cannot run on this machine (no GitHub, no
 * Docker registry, no Windows), so they are checked against what can be read here: they parse,
 * every action is pinned to a version, the matrix holds the four server versions, the steps run
 * the project's own tasks with the Deno and packages .ci/run installs, and the Windows job uses
 * the NSSM line, file names, collection names and log format the tool itself has — a renamed
 * default or a changed NSSM command breaks this test.
 *
 * @module
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import type { LogRecord } from "@logtape/logtape";
import { parse } from "yaml";
import { globalSettings } from "../../core/runtime/config.ts";
import { formatPretty } from "../../core/runtime/logging.ts";
import { statusFileSetting, tokenFileSetting } from "../../core/runtime/state_files.ts";
import { WATCH_STATES } from "../../core/stream/watch_status.ts";
import { nssmPlan, powerShellLine, serviceDefaults } from "../../plugins/service/nssm.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
const WORKFLOWS = join(ROOT, ".github/workflows");
const SPEC = join(ROOT, "../shared/mongodb-spec-tests");

// deno-lint-ignore no-explicit-any
type Workflow = Record<string, any>;
interface Step {
  name?: string;
  uses?: string;
  run?: string;
  with?: Record<string, unknown>;
  if?: string;
  "working-directory"?: string;
}

async function _workflow(file: string): Promise<Workflow> {
  return parse(await Deno.readTextFile(join(WORKFLOWS, file))) as Workflow;
}

function _steps(workflow: Workflow): Step[] {
  const jobs = Object.values(workflow.jobs) as Workflow[];
  assert.deepEqual(jobs.length, 1, "one job");
  return jobs[0]!.steps as Step[];
}

/** The one step whose name starts with `name`. */
function _step(steps: Step[], name: string): Step {
  const found = steps.filter((step) => step.name?.startsWith(name));
  assert.deepEqual(found.length, 1, `one step named "${name}…"`);
  return found[0]!;
}

function _script(step: Step): string {
  assert.ok(typeof step.run === "string", `${step.name} runs a script`);
  return step.run;
}

/** `env.NAME` of the workflow, with `${{ env.NAME }}` and `$env:NAME` resolved in `text`. */
function _resolve(workflow: Workflow, text: string): string {
  return text
    .replace(/\$\{\{\s*env\.(\w+)\s*\}\}/g, (_, name) => String(workflow.env[name]))
    .replace(/\$env:(\w+)/g, (_, name) => String(workflow.env[name]));
}

async function _ciRun(): Promise<string> {
  return await Deno.readTextFile(join(ROOT, ".ci/run"));
}

async function _denoTasks(): Promise<Record<string, { command: string }>> {
  return JSON.parse(await Deno.readTextFile(join(ROOT, "deno.json"))).tasks;
}

Deno.test("every workflow parses, runs on pushes and pull requests, and pins each action to a version", async () => {
  const files = [...Deno.readDirSync(WORKFLOWS)].map((entry) => entry.name).sort();
  assert.deepEqual(files, ["real_servers.yml", "windows_service.yml"]);
  for (const file of files) {
    const workflow = await _workflow(file);
    assert.ok(typeof workflow.name === "string", `${file} has a name`);
    assert.deepEqual(Object.keys(workflow.on).sort(), [
      "pull_request",
      "push",
      "workflow_dispatch",
    ]);
    assert.deepEqual(workflow.permissions, { contents: "read" }, `${file} only reads`);
    for (const step of _steps(workflow)) {
      if (step.uses === undefined) continue;
      assert.match(step.uses, /^[\w.-]+\/[\w.-]+@v\d+\.\d+\.\d+$/, `${file}: ${step.uses}`);
    }
  }
});

Deno.test("Deno comes from npm at the version .ci/run pins", async () => {
  const pinned = (await _ciRun()).match(/^DENO_VERSION=(\S+)$/m)?.[1];
  assert.ok(pinned, ".ci/run pins DENO_VERSION");
  for (const file of ["real_servers.yml", "windows_service.yml"]) {
    const workflow = await _workflow(file);
    assert.deepEqual(workflow.env.DENO_VERSION, pinned, file);
    const install = _script(_step(_steps(workflow), "Install Deno"));
    assert.match(install, /npm install -g "deno@(\$\{DENO_VERSION\}|\$env:DENO_VERSION)"/, file);
  }
});

Deno.test("real servers: mongo 5.0 to 8.0 started with --replSet, set initiated, then deno task check", async (t) => {
  const workflow = await _workflow("real_servers.yml");
  const job = workflow.jobs.check;
  const steps = _steps(workflow);

  await t.step("one job per server version, none cancelled by another's failure", () => {
    assert.deepEqual(job.strategy.matrix.mongodb, ["5.0", "6.0", "7.0", "8.0"]);
    assert.deepEqual(job.strategy["fail-fast"], false);
    assert.deepEqual(job.services, undefined, "services: cannot pass --replSet to mongod");
  });

  await t.step("the official image, started with --replSet rs0 and test commands on", () => {
    const start = _script(_step(steps, "Start mongo"));
    assert.match(start, /docker run --detach --name mongo --publish 27017:27017/);
    assert.match(start, /"mongo:\$\{\{ matrix\.mongodb \}\}"/);
    assert.match(start, /mongod --replSet rs0 --keyFile \S+ --bind_ip_all/);
    assert.match(start, /--setParameter enableTestCommands=1/);
    assert.match(start, /::add-mask::/, "the generated password is masked in the log");
  });

  await t.step(
    "the set is initiated with the shell the image ships and waited for as PRIMARY",
    () => {
      const initiate = _script(_step(steps, "Initiate the replica set"));
      assert.match(initiate, /command -v mongosh \|\| command -v mongo/);
      assert.match(
        initiate,
        /rs\.initiate\(\{ _id: "rs0", members: \[\{ _id: 0, host: "127\.0\.0\.1:27017" \}\] \}\)/,
      );
      assert.match(initiate, /replSetGetStatus: 1 \}\)\.myState/);
      const uri = initiate.match(/^\s*uri="(.+)"$/m)?.[1];
      assert.ok(uri, "the step builds MONGODB_TEST_URI");
      const url = new URL(uri.replace("${MONGO_PASSWORD}", "x"));
      assert.deepEqual(url.host, "127.0.0.1:27017", "the member's own address");
      assert.deepEqual(url.searchParams.get("replicaSet"), "rs0");
      assert.match(initiate, /echo "MONGODB_TEST_URI=\$\{uri\}" >> "\$GITHUB_ENV"/);
    },
  );

  await t.step("deno task check after the server, with the packages .ci/run installs", async () => {
    const names = steps.map((step) => step.name ?? step.uses);
    assert.ok(
      names.indexOf("deno task check") > names.findIndex((name) => name?.startsWith("Initiate")),
    );
    assert.deepEqual(_script(_step(steps, "deno task check")).trim(), "deno task check");
    const check = (await _denoTasks()).check!.command;
    for (const part of ["deno fmt --check", "deno lint", "deno check", "deno task test"]) {
      assert.ok(check.includes(part), `deno task check runs ${part}`);
    }
    const wanted = new Set(
      [...(await _ciRun()).matchAll(/apt-get install[^)]*?--no-install-recommends ([a-z -]+)\)/g)]
        .flatMap((match) => match[1]!.trim().split(/\s+/)),
    );
    assert.deepEqual([...wanted].sort(), ["faketime", "prometheus", "prometheus-alertmanager"]);
    const apt = _script(_step(steps, "Install prometheus"));
    for (const name of wanted) assert.match(apt, new RegExp(`\\s${name}(\\s|$)`), name);
  });

  await t.step(
    "the conformance runner, against the server, over tier4_full and tier5",
    async () => {
      const usage = await Deno.readTextFile(join(ROOT, "tests/conformance/run.ts"));
      assert.match(usage, /--uri <uri>/);
      assert.match(usage, /--all {2,}Ignore the manifest/);
      const suites = ["tier4_full", "tier5_sessions_writes"].map((tier) => {
        const script = _script(_step(steps, `Conformance ${tier}`));
        assert.match(
          script,
          /deno task conformance "\.\.\/mongodb-specifications\/source\/\$\{suite\}" --all/,
        );
        assert.match(script, /--uri "\$\{MONGODB_TEST_URI\}"/);
        return { tier, folders: script.match(/for suite in ([^;]+);/)![1]!.trim().split(/\s+/) };
      });
      const checkout = _step(steps, "Check out MongoDB's spec tests");
      const sparse = String(checkout.with!["sparse-checkout"]).trim().split("\n");
      assert.deepEqual(
        sparse.sort(),
        suites.flatMap(({ folders }) => folders.map((folder) => `source/${folder}`)).sort(),
      );
      assert.deepEqual(_resolve(workflow, String(checkout.with!.ref)), workflow.env.SPEC_COMMIT);
    },
  );
});

Deno.test({
  name: "real servers: the spec folders and commit are those of the shared spec tests' manifest",
  ignore: !(() => {
    try {
      return Deno.statSync(join(SPEC, "MANIFEST.json")).isFile;
    } catch {
      return false;
    }
  })(),
  async fn() {
    const workflow = await _workflow("real_servers.yml");
    const readme = await Deno.readTextFile(join(SPEC, "README.md"));
    assert.ok(readme.includes(`at commit ${workflow.env.SPEC_COMMIT}`), "the same commit");
    const manifest = JSON.parse(await Deno.readTextFile(join(SPEC, "MANIFEST.json")));
    const steps = _steps(workflow);
    for (const tier of ["tier4_full", "tier5_sessions_writes"]) {
      const script = _script(_step(steps, `Conformance ${tier}`));
      const folders = script.match(/for suite in ([^;]+);/)![1]!.trim().split(/\s+/)
        .map((folder) => `source/${folder}/`);
      const files = Object.keys(manifest.tiers[tier]);
      assert.ok(files.length > 0, tier);
      for (const file of files) {
        assert.ok(folders.some((folder) => file.startsWith(folder)), `${tier}: ${file}`);
        assert.deepEqual(manifest.tiers[tier][file], "all", `${tier} runs every test of ${file}`);
      }
    }
  },
});

Deno.test("windows: PowerShell steps that stop on any failure, the binary from deno task compile:windows", async () => {
  const workflow = await _workflow("windows_service.yml");
  assert.deepEqual(workflow.jobs.service["runs-on"], "windows-latest");
  assert.deepEqual(workflow.defaults.run.shell, "pwsh");
  const steps = _steps(workflow);
  for (const step of steps.filter((step) => step.run !== undefined)) {
    assert.match(
      step.run!,
      /^\$PSNativeCommandUseErrorActionPreference = \$true\n/,
      `${step.name}: a native command's non-zero exit stops the step`,
    );
  }
  const build = _script(_step(steps, "Build archiver.exe"));
  assert.match(build, /^deno task compile:windows$/m);
  const compile = (await _denoTasks())["compile:windows"]!.command;
  assert.match(
    compile,
    /^deno compile .* --target x86_64-pc-windows-msvc --output dist\/archiver\.exe cli\/main\.ts$/,
  );
  assert.match(
    build,
    /Copy-Item dist\\archiver\.exe \(Join-Path \$env:ARCHIVER_HOME 'archiver\.exe'\)/,
  );
});

Deno.test("windows: MongoDB from its MSI, as a service with --replSet rs0, initiated and PRIMARY", async () => {
  const workflow = await _workflow("windows_service.yml");
  const steps = _steps(workflow);
  const install = _script(_step(steps, "Install MongoDB"));
  assert.match(workflow.env.MONGO_MSI_SHA256, /^[0-9a-f]{64}$/);
  assert.match(install, /Get-FileHash \$msi -Algorithm SHA256/);
  assert.match(install, /'ADDLOCAL=ServerNoService'/);
  assert.match(install, /mongod\.exe --install --serviceName MongoDB --replSet rs0/);
  assert.match(install, /^Start-Service MongoDB$/m);
  const initiate = _script(_step(steps, "Initiate the replica set"));
  assert.match(
    initiate,
    /rs\.initiate\(\{ _id: "rs0", members: \[\{ _id: 0, host: "127\.0\.0\.1:27017" \}\] \}\)/,
  );
  assert.match(initiate, /if \(\$state -ne '1'\) \{ throw/);
  assert.deepEqual(new URL(workflow.env.MONGODB_URI).searchParams.get("replicaSet"), "rs0");
});

Deno.test("windows: the service is installed with the NSSM commands archiver service print prints", async () => {
  const workflow = await _workflow("windows_service.yml");
  const steps = _steps(workflow);
  assert.match(
    _script(_step(steps, "Install NSSM")),
    /choco install nssm --version \$env:NSSM_VERSION/,
  );
  const home = workflow.env.ARCHIVER_HOME as string;
  const plan = nssmPlan({ ...serviceDefaults, exe: `${home}\\archiver.exe` });
  const install = _step(steps, "Install the watcher");
  assert.deepEqual(_resolve(workflow, install["working-directory"]!), plan.workdir);
  const script = _script(install);
  assert.match(
    script,
    /^\.\\archiver\.exe service print \| Set-Content -Path install-service\.ps1/m,
  );
  assert.match(script, /^& \.\\install-service\.ps1$/m);
  const expected = script.match(/^\$expected = "(.+)"$/m)?.[1];
  assert.ok(expected, "the step checks the printed install line");
  assert.deepEqual(_resolve(workflow, expected), powerShellLine(plan.steps[1]!));
  assert.match(
    _script(_step(steps, "Stop the service")),
    new RegExp(`^nssm stop ${plan.name}$`, "m"),
  );
});

Deno.test("windows: the files, collections and status the job reads are the tool's defaults", async () => {
  const workflow = await _workflow("windows_service.yml");
  const steps = _steps(workflow);
  const env = Object.fromEntries(
    _script(_step(steps, "Write the .env")).matchAll(/^\s*["'](\w+)=(.*?)["'],?$/gm)
      .map((match) => [match[1]!, _resolve(workflow, match[2]!)]),
  );
  assert.deepEqual(Object.keys(env).sort(), ["MONGODB_DB", "MONGODB_URI"]);
  const db = env.MONGODB_DB!;
  assert.deepEqual(db, globalSettings.db.default);

  const wait = _script(_step(steps, "Wait until the status file says streaming"));
  assert.ok(wait.includes(`Get-Content ${statusFileSetting.default} -Raw`));
  assert.ok(WATCH_STATES.includes("streaming"));
  assert.match(wait, /\$state -eq 'streaming'/);

  const deliver = _script(_step(steps, "Deliver an order"));
  const delivered = JSON.parse(`"${deliver.match(/status: "(livr[^"]*)"/)![1]}"`);
  assert.deepEqual(delivered, globalSettings.deliveredStatus.default);
  assert.ok(deliver.includes(`getSiblingDB("${db}")`));
  assert.ok(deliver.includes(`source.${globalSettings.couriersCollection.default}.findOne`));
  assert.ok(deliver.includes(`source.${globalSettings.ordersCollection.default}.updateOne`));
  assert.ok(deliver.includes(`.${globalSettings.archiveCollection.default}.countDocuments(`));
  assert.match(deliver, /archived_by: 'watch'/);

  const check = _script(_step(steps, "Check the watcher stopped cleanly"));
  assert.ok(check.includes(`Get-Content ${statusFileSetting.default} -Raw`));
  assert.match(check, /\$status\.state -ne 'stopped'/);
  assert.ok(WATCH_STATES.includes("stopped"));
  assert.ok(check.includes(`Get-Content ${tokenFileSetting.default} -Raw`));
  assert.ok(
    check.includes(`$token.namespace -ne '${db}.${globalSettings.ordersCollection.default}'`),
  );
  const plan = nssmPlan({ ...serviceDefaults, exe: `${workflow.env.ARCHIVER_HOME}\\archiver.exe` });
  const stderr = plan.steps.find((step) => step.args[2] === "AppStderr")!.args[3]!;
  assert.ok(check.includes(`$stderr = '${stderr.slice(plan.workdir.length + 1)}'`));
});

Deno.test("windows: the ERROR-line check finds the tool's error and fatal lines, and only those", async () => {
  const workflow = await _workflow("windows_service.yml");
  const check = _script(_step(_steps(workflow), "Check the watcher stopped cleanly"));
  const pattern = check.match(/-CaseSensitive -Pattern '([^']+)'/)?.[1];
  assert.ok(pattern, "the step looks for ERROR lines case-sensitively");
  const line = (level: LogRecord["level"], message: string) =>
    formatPretty({
      category: ["archiver", "watch"],
      level,
      message: [message],
      rawMessage: message,
      timestamp: Date.now(),
      properties: {},
    });
  const table: Array<[LogRecord["level"], string, boolean]> = [
    ["error", "❌ Failed to connect to MongoDB", true],
    ["fatal", "❌ Cannot start", true],
    ["info", "✅ Archived 1 orders (orders_errors 0)", false],
    ["warning", "⚠️ Order CMD-000042 is incomplete: an error in its data", false],
    ["info", "Error budget fine", false],
  ];
  for (const [level, message, found] of table) {
    assert.deepEqual(new RegExp(pattern).test(line(level, message)), found, `${level}: ${message}`);
  }
});
