import assert from "node:assert/strict";
import { join } from "node:path";
import {
  folderSize,
  freeDiskSpace,
  parseDfOutput,
  parsePowerShellOutput,
} from "../../../../plugins/health/read/disk.ts";
import { tempDir } from "../../../support/cli.ts";

Deno.test("parseDfOutput() reads POSIX df output, even with spaces in the file system name", () => {
  const text = "Filesystem     1024-blocks      Used Available Capacity Mounted on\n" +
    "/dev/disk one   1000        600       400      60% /Volumes/My Disk\n";
  assert.deepEqual(parseDfOutput(text), { totalBytes: 1000 * 1024, freeBytes: 400 * 1024 });
  assert.throws(() => parseDfOutput("df: /nope: No such file or directory\n"), TypeError);
});

Deno.test("parsePowerShellOutput() reads '<free> <total>'", () => {
  assert.deepEqual(parsePowerShellOutput("123 456\r\n"), { freeBytes: 123, totalBytes: 456 });
  assert.throws(() => parsePowerShellOutput("Get-Item : Cannot find path"), TypeError);
});

Deno.test("folderSize() sums the files of a folder and its subfolders", async () => {
  await using dir = await tempDir();
  await Deno.writeTextFile(join(dir.path, "a.jsonl"), "x".repeat(100));
  await Deno.mkdir(join(dir.path, "old"));
  await Deno.writeTextFile(join(dir.path, "old", "b.jsonl.1"), "y".repeat(50));
  assert.deepEqual(await folderSize(dir.path), { bytes: 150, files: 2 });
  assert.deepEqual(await folderSize(join(dir.path, "missing")), { bytes: 0, files: 0 });
});

Deno.test({
  name: "freeDiskSpace() reads this host's volume",
  ignore: Deno.build.os === "windows",
  async fn() {
    await using dir = await tempDir();
    const space = await freeDiskSpace(join(dir.path, "not-yet-created"));
    assert.ok(space.totalBytes > 0);
    assert.ok(space.freeBytes >= 0 && space.freeBytes <= space.totalBytes);
  },
});
