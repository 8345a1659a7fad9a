import assert from "node:assert/strict";
import { join } from "node:path";
import { formatPretty, logger, setupLogging } from "../../../core/runtime/logging.ts";
import { clearSecrets, registerSecret } from "../../../core/runtime/mask.ts";
import { tempDir } from "../../support/cli.ts";

Deno.test("console lines follow the operators' pattern", () => {
  const line = formatPretty({
    category: ["archiver", "batch"],
    level: "info",
    message: ["✅ Archived ", 150, " orders"],
    rawMessage: "✅ Archived {n} orders",
    timestamp: new Date(2025, 9, 16, 12, 34, 56).getTime(),
    properties: {},
  });
  assert.equal(line, "2025-10-16 12:34:56 [INFO] [batch] ✅ Archived 150 orders");
});

Deno.test("JSON-lines files are written, flushed on close, and scrubbed of secrets", async () => {
  await using dir = await tempDir();
  registerSecret("Sw0rdfish");
  const console: string[] = [];
  const close = await setupLogging({
    level: "info",
    write: (line) => console.push(line),
    file: { dir: join(dir.path, "logs"), name: "batch", maxSize: 1024 * 1024, maxFiles: 3 },
  });
  const log = logger("batch");
  for (let i = 0; i < 100; i++) log.info(`📦 Found ${i} delivered orders`, { i });
  log.debug("below the level");
  log.warn("⚠️ Order CMD-000042 is incomplete (password Sw0rdfish)");
  await close();
  const lines = (await Deno.readTextFile(join(dir.path, "logs", "batch.jsonl"))).trimEnd().split(
    "\n",
  );
  assert.equal(lines.length, 101);
  const first = JSON.parse(lines[0]!);
  assert.equal(first.level, "INFO");
  assert.equal(first.message, "📦 Found 0 delivered orders");
  assert.equal(first.logger, "archiver.batch");
  assert.equal(first.properties.i, 0);
  assert.ok(!Number.isNaN(Date.parse(first["@timestamp"])));
  const last = JSON.parse(lines[100]!);
  assert.equal(last.level, "WARN");
  assert.equal(last.message, "⚠️ Order CMD-000042 is incomplete (password ****)");
  assert.equal(console.length, 101);
  assert.ok(console.every((line) => !line.includes("Sw0rdfish")));
  clearSecrets();
});

Deno.test("log files rotate by size and keep maxFiles rotated files", async () => {
  await using dir = await tempDir();
  const close = await setupLogging({
    level: "info",
    write: () => {},
    file: { dir: dir.path, name: "watch", maxSize: 2_000, maxFiles: 3 },
  });
  const log = logger("watch");
  for (let i = 0; i < 200; i++) log.info(`✅ Archived ${i} orders in a line long enough to rotate`);
  await close();
  const names: string[] = [];
  for await (const entry of Deno.readDir(dir.path)) names.push(entry.name);
  assert.deepEqual(names.sort(), [
    "watch.jsonl",
    "watch.jsonl.1",
    "watch.jsonl.2",
    "watch.jsonl.3",
  ]);
  for (const name of names) {
    const { size } = await Deno.stat(join(dir.path, name));
    assert.ok(size <= 2_200, `${name} is ${size} bytes`);
    const text = await Deno.readTextFile(join(dir.path, name));
    for (const line of text.trimEnd().split("\n")) JSON.parse(line);
  }
  const newest = await Deno.readTextFile(join(dir.path, "watch.jsonl"));
  assert.match(newest, /Archived 199 orders/, "the newest line is in the current file");
});

Deno.test("an unwritable log folder is a configuration error naming the folder", async () => {
  await using dir = await tempDir();
  const file = join(dir.path, "not-a-folder");
  await Deno.writeTextFile(file, "");
  await assert.rejects(
    setupLogging({
      level: "info",
      write: () => {},
      file: { dir: file, name: "x", maxSize: 1e6, maxFiles: 2 },
    }),
    (error: Error & { exitCode?: number }) => {
      assert.equal(error.exitCode, 2);
      assert.match(error.message, /^Cannot write logs to ".*not-a-folder": .* \(set --log-dir\)$/);
      return true;
    },
  );
});
