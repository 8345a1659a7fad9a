import assert from "node:assert/strict";
import { join } from "node:path";
import { logs } from "../../../plugins/logs/mod.ts";
import { selectPrunable } from "../../../plugins/logs/prune.ts";
import { cli, tempDir } from "../../support/cli.ts";

const plugins = [logs()];
const DAY = 86_400_000;

async function file(dir: string, name: string, bytes: number, ageDays: number): Promise<void> {
  const path = join(dir, name);
  await Deno.writeTextFile(path, "x".repeat(bytes));
  const when = new Date(Date.now() - ageDays * DAY);
  await Deno.utime(path, when, when);
}

async function names(dir: string): Promise<string[]> {
  const found: string[] = [];
  for await (const entry of Deno.readDir(dir)) found.push(entry.name);
  return found.sort();
}

Deno.test("selectPrunable() takes rotated files past the retention, never a current one", () => {
  const now = Date.now();
  const base = { path: "", size: 1, command: "watch" };
  const picked = selectPrunable([
    { ...base, name: "watch.jsonl", rotation: 0, mtime: now - 90 * DAY },
    { ...base, name: "watch.jsonl.1", rotation: 1, mtime: now - DAY },
    { ...base, name: "watch.jsonl.2", rotation: 2, mtime: now - 31 * DAY },
  ], now - 30 * DAY);
  assert.deepEqual(picked.map((f) => f.name), ["watch.jsonl.2"]);
});

Deno.test("logs prune --dry-run lists, then logs prune deletes and reports the bytes freed", async (t) => {
  await using dir = await tempDir();
  await file(dir.path, "watch.jsonl", 100, 60);
  await file(dir.path, "watch.jsonl.1", 200, 5);
  await file(dir.path, "watch.jsonl.2", 300, 40);
  await file(dir.path, "batch.jsonl.1", 400, 35);
  await file(dir.path, "notes.txt.1", 500, 90);
  const args = ["logs", "prune", "--log-dir", dir.path];

  await t.step("dry run deletes nothing", async () => {
    const { code, stdout } = await cli([...args, "--dry-run", "--json"], { plugins });
    assert.equal(code, 0);
    const report = JSON.parse(stdout);
    assert.equal(report.dry_run, true);
    assert.deepEqual(report.files.map((f: { name: string }) => f.name).sort(), [
      "batch.jsonl.1",
      "watch.jsonl.2",
    ]);
    assert.equal(report.bytes, 700);
    assert.ok((await names(dir.path)).includes("watch.jsonl.2"));
  });

  await t.step("--older-than sets the retention", async () => {
    const { stdout } = await cli([...args, "--dry-run", "--older-than", "36d", "--json"], {
      plugins,
    });
    assert.deepEqual(JSON.parse(stdout).files.map((f: { name: string }) => f.name), [
      "watch.jsonl.2",
    ]);
  });

  await t.step("prune deletes them and says what it freed", async () => {
    const { code, stdout } = await cli(args, { plugins });
    assert.equal(code, 0);
    assert.match(stdout, /^Deleted 2 rotated files, 700 B freed$/m);
    assert.deepEqual(await names(dir.path), [
      "logs.jsonl",
      "notes.txt.1",
      "watch.jsonl",
      "watch.jsonl.1",
    ]);
  });
});
