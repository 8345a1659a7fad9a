import assert from "node:assert/strict";
import { ConfigError } from "../../../core/runtime/errors.ts";
import {
  type InstallStep,
  nssmPlan,
  powerShellLine,
  quotePowerShell,
  serviceDefaults,
  WATCHER_CLEAN_STOP_MS,
  windowsPath,
} from "../../../plugins/service/nssm.ts";

const EXE = "C:\\Program Files\\archiver\\archiver.exe";

function settings(steps: InstallStep[], parameter: string): string[][] {
  return steps
    .filter((step) =>
      step.program === "nssm" && step.args[0] === "set" && step.args[2] === parameter
    )
    .map((step) => step.args.slice(3));
}

Deno.test("nssmPlan() stops the service on exit code 2 and restarts on every other code", () => {
  const { steps } = nssmPlan({ ...serviceDefaults, exe: EXE });
  assert.deepEqual(settings(steps, "AppExit"), [["Default", "Restart"], ["2", "Exit"]]);
  const lines = steps.map(powerShellLine);
  assert.ok(lines.includes("nssm set archiver AppExit 2 Exit"));
  assert.ok(lines.includes("nssm set archiver AppExit Default Restart"));
  // The specific code must come after the default, so it is what NSSM finds for exit code 2.
  assert.ok(
    lines.indexOf("nssm set archiver AppExit Default Restart") <
      lines.indexOf("nssm set archiver AppExit 2 Exit"),
  );
});

Deno.test("nssmPlan() gives the watcher's 2 s clean stop at least twice that after Ctrl+C", () => {
  const { steps } = nssmPlan({ ...serviceDefaults, exe: EXE });
  const [[consoleMs]] = settings(steps, "AppStopMethodConsole") as [[string]];
  assert.equal(WATCHER_CLEAN_STOP_MS, 2_000);
  assert.ok(Number(consoleMs) >= 2 * WATCHER_CLEAN_STOP_MS, `stop timeout ${consoleMs} ms`);
  const [[skip]] = settings(steps, "AppStopMethodSkip") as [[string]];
  assert.equal(Number(skip) & 1, 0, "Ctrl+C is sent");
  assert.equal(Number(skip) & 8, 0, "a watcher that hangs is still terminated");
  assert.deepEqual(settings(steps, "AppThrottle"), [["10000"]]);
  assert.deepEqual(settings(steps, "AppRestartDelay"), [["5000"]]);
});

Deno.test("nssmPlan() refuses a stop timeout within the watcher's clean-stop bound", () => {
  assert.throws(
    () => nssmPlan({ ...serviceDefaults, exe: EXE, stopTimeoutMs: 1_500 }),
    (error) =>
      error instanceof ConfigError && error.exitCode === 2 && /too short/.test(error.message),
  );
});

Deno.test("nssmPlan() installs first, configures the named service, starts last", () => {
  const { steps, workdir, logDir } = nssmPlan({
    ...serviceDefaults,
    name: "archiver-eu",
    exe: EXE,
  });
  assert.equal(workdir, "C:\\Program Files\\archiver", "the working folder defaults to the exe's");
  assert.equal(logDir, "C:\\Program Files\\archiver\\logs");
  assert.deepEqual(steps[0], { program: "mkdir", args: [logDir], why: steps[0]!.why });
  assert.deepEqual(steps[1]!.args, ["install", "archiver-eu", EXE]);
  assert.deepEqual(steps.at(-1)!.args, ["start", "archiver-eu"]);
  for (const step of steps.slice(2, -1)) assert.equal(step.args[1], "archiver-eu");
  assert.deepEqual(settings(steps, "AppParameters"), [["watch"]]);
  assert.deepEqual(settings(steps, "AppDirectory"), [[workdir]]);
  assert.deepEqual(settings(steps, "AppStdout"), [[`${logDir}\\service-stdout.log`]]);
  assert.deepEqual(settings(steps, "AppStderr"), [[`${logDir}\\service-stderr.log`]]);
  assert.deepEqual(settings(steps, "AppRotateFiles"), [["1"]]);
  assert.deepEqual(settings(steps, "AppRotateOnline"), [["1"]]);
  assert.deepEqual(settings(steps, "Start"), [["SERVICE_AUTO_START"]]);
});

Deno.test("nssmPlan() keeps paths with spaces as one argument; PowerShell lines single-quote them", () => {
  const plan = nssmPlan({ ...serviceDefaults, exe: EXE, workdir: "D:/archiver data/" });
  assert.equal(plan.workdir, "D:\\archiver data", "slashes normalised, trailing backslash dropped");
  const lines = plan.steps.map(powerShellLine);
  assert.ok(lines.includes(`nssm install archiver 'C:\\Program Files\\archiver\\archiver.exe'`));
  assert.ok(lines.includes(`nssm set archiver AppDirectory 'D:\\archiver data'`));
  assert.ok(
    lines.includes(`nssm set archiver AppStdout 'D:\\archiver data\\logs\\service-stdout.log'`),
  );
  assert.ok(
    lines.includes(
      `New-Item -ItemType Directory -Force -Path 'D:\\archiver data\\logs' | Out-Null`,
    ),
  );
  assert.ok(!lines.some((line) => line.includes(`\\'`)), "no quoted value ends in a backslash");
});

Deno.test("quotePowerShell() leaves plain words bare and quotes anything PowerShell would expand", () => {
  assert.equal(quotePowerShell("SERVICE_AUTO_START"), "SERVICE_AUTO_START");
  assert.equal(quotePowerShell("C:\\archiver\\archiver.exe"), "C:\\archiver\\archiver.exe");
  assert.equal(quotePowerShell("10485760"), "10485760");
  assert.equal(quotePowerShell("C:\\Program Files\\a"), "'C:\\Program Files\\a'");
  assert.equal(quotePowerShell("C:\\O'Brien\\a.exe"), "'C:\\O''Brien\\a.exe'");
  assert.equal(quotePowerShell("C:\\O\u2019Brien"), "'C:\\O\u2019\u2019Brien'");
  assert.equal(quotePowerShell("C:\\$env:TEMP\\`x"), "'C:\\$env:TEMP\\`x'");
  assert.equal(quotePowerShell("C:\\a;b&c"), "'C:\\a;b&c'");
  assert.equal(quotePowerShell("-x"), "'-x'");
  assert.equal(quotePowerShell(""), "''");
});

Deno.test("windowsPath() accepts drive and UNC paths and refuses relative or invalid ones", () => {
  assert.equal(windowsPath("--exe", "c:/archiver/archiver.exe"), "c:\\archiver\\archiver.exe");
  assert.equal(windowsPath("--workdir", "C:\\"), "C:\\");
  assert.equal(windowsPath("--workdir", "\\\\srv\\share\\archiver\\"), "\\\\srv\\share\\archiver");
  for (const bad of ["archiver.exe", ".\\archiver.exe", "\\archiver.exe", "C:archiver.exe"]) {
    assert.throws(
      () => windowsPath("--exe", bad),
      (error) =>
        error instanceof ConfigError &&
        error.message.startsWith(`Invalid --exe ${JSON.stringify(bad)}`),
    );
  }
  assert.throws(() => windowsPath("--exe", 'C:\\a"b.exe'), ConfigError);
  assert.throws(() => windowsPath("--exe", "C:\\a:b.exe"), ConfigError);
});

Deno.test("nssmPlan() refuses a service name that shells or NSSM would split", () => {
  for (const bad of ["", "my service", "a/b", "'x'", "-x"]) {
    assert.throws(
      () => nssmPlan({ ...serviceDefaults, name: bad, exe: EXE }),
      (error) => error instanceof ConfigError && error.message.startsWith("Invalid --name"),
    );
  }
});
