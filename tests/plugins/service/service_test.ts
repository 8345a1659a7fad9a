import assert from "node:assert/strict";
import { service } from "../../../plugins/service/mod.ts";
import { cli } from "../../support/cli.ts";
import { assertSnapshot } from "../../support/snapshot.ts";

const plugins = [service({ compiledExe: () => undefined })];

Deno.test("service print prints the NSSM commands as PowerShell lines", async () => {
  const { code, stdout, stderr } = await cli([
    "service",
    "print",
    "--name",
    "archiver",
    "--exe",
    "C:\\Program Files\\archiver\\archiver.exe",
    "--workdir",
    "D:\\archiver data",
  ], { plugins });
  assert.equal(code, 0);
  assert.equal(stderr, "");
  assert.match(stdout, /^# PowerShell, run as Administrator/m);
  await assertSnapshot("service_print", stdout);
});

Deno.test("service print without --exe outside the compiled binary assumes C:\\archiver", async () => {
  const { code, stdout } = await cli(["service", "print"], { plugins });
  assert.equal(code, 0);
  assert.match(stdout, /^# .*assuming C:\\archiver\\archiver\.exe$/m);
  assert.match(stdout, /^nssm install archiver C:\\archiver\\archiver\.exe$/m);
  assert.match(stdout, /^nssm set archiver AppDirectory C:\\archiver$/m);
});

Deno.test("service print uses the running archiver.exe when compiled", async () => {
  const compiled = [service({ compiledExe: () => "E:\\tools\\archiver.exe" })];
  const { stdout } = await cli(["service", "print", "--name", "archiver-eu"], {
    plugins: compiled,
  });
  assert.match(stdout, /^nssm install archiver-eu E:\\tools\\archiver\.exe$/m);
  assert.doesNotMatch(stdout, /assuming/);
});

Deno.test("service print with a relative --exe exits 2 with one line", async () => {
  const { code, stdout, stderr } = await cli(["service", "print", "--exe", "archiver.exe"], {
    plugins,
  });
  assert.equal(code, 2);
  assert.equal(stdout, "");
  assert.match(stderr, /^error: Invalid --exe "archiver\.exe": expected an absolute Windows path/);
  assert.equal(stderr.trimEnd().split("\n").length, 1);
});

Deno.test({
  name: "service install off Windows exits 2 with one line saying where it runs",
  ignore: Deno.build.os === "windows",
  async fn() {
    const { code, stdout, stderr } = await cli(["service", "install"], { plugins: [service()] });
    assert.equal(code, 2);
    assert.equal(stdout, "");
    assert.equal(stderr.trimEnd().split("\n").length, 1);
    assert.match(
      stderr,
      /^error: Cannot install the service here: .*only runs on Windows with nssm on PATH/,
    );
    assert.match(stderr, /archiver service print/);
  },
});

Deno.test("service install on Windows without nssm on PATH exits 2 with one line", async () => {
  const windows = [service({ os: "windows", compiledExe: () => undefined })];
  const { code, stdout, stderr } = await cli(["service", "install"], {
    plugins: windows,
    env: { Path: "" },
  });
  assert.equal(code, 2);
  assert.equal(stdout, "");
  assert.equal(stderr.trimEnd().split("\n").length, 1);
  assert.match(stderr, /only runs on Windows with nssm on PATH \(nssm\.exe is not on PATH\)/);
});

Deno.test("service --help lists print and install", async () => {
  const { code, stdout } = await cli(["service", "--help"], { plugins });
  assert.equal(code, 0);
  assert.match(stdout, /^\s+print \[options\]/m);
  assert.match(stdout, /^\s+install \[options\]/m);
  await assertSnapshot("service_help", stdout);
  await assertSnapshot(
    "service_print_help",
    (await cli(["service", "print", "--help"], { plugins })).stdout,
  );
});
