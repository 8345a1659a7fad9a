import assert from "node:assert/strict";
import denoJson from "../../../deno.json" with { type: "json" };

const tasks = denoJson.tasks as Record<string, { command: string }>;

function words(task: string): string[] {
  const command = tasks[task]?.command;
  assert.ok(command, `deno.json has a "${task}" task`);
  return command.split(/\s+/);
}

const permissions = (task: string) =>
  words(task).filter((word) => word.startsWith("--allow-")).sort();

Deno.test("the compile tasks embed exactly the permissions of the archiver task", () => {
  const expected = permissions("archiver");
  assert.ok(expected.length > 0);
  for (const task of ["compile", "compile:windows"]) {
    assert.deepEqual(permissions(task), expected, task);
    assert.ok(!words(task).some((word) => word === "-A" || word === "--allow-all"), task);
  }
});

Deno.test("compile builds dist/archiver and compile:windows dist/archiver.exe for x86_64-pc-windows-msvc", () => {
  const compile = words("compile");
  const windows = words("compile:windows");
  assert.deepEqual(compile.slice(0, 2), ["deno", "compile"]);
  assert.deepEqual(windows.slice(0, 2), ["deno", "compile"]);
  assert.equal(compile[compile.indexOf("--output") + 1], "dist/archiver");
  assert.equal(windows[windows.indexOf("--output") + 1], "dist/archiver.exe");
  assert.equal(windows[windows.indexOf("--target") + 1], "x86_64-pc-windows-msvc");
  assert.ok(!compile.includes("--target"), "compile builds for the machine it runs on");
  assert.equal(compile.at(-1), "cli/main.ts");
  assert.equal(windows.at(-1), "cli/main.ts");
  assert.equal(words("archiver").at(-1), "cli/main.ts");
});
