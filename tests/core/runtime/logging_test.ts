import assert from "node:assert/strict";
import { join } from "node:path";
import denoJson from "../../../deno.json" with { type: "json" };
import {
  formatEcs,
  formatPretty,
  logFolderReason,
  logger,
  setupLogging,
} from "../../../core/runtime/logging.ts";
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
  assert.equal(first["log.level"], "info");
  assert.equal(first.message, "📦 Found 0 delivered orders");
  assert.equal(first["log.logger"], "archiver.batch");
  assert.equal(first.archiver.i, 0);
  assert.ok(!Number.isNaN(Date.parse(first["@timestamp"])));
  const last = JSON.parse(lines[100]!);
  assert.equal(last["log.level"], "warning");
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

Deno.test("logFolderReason() gives the operating system's reason, never Deno's advice on flags", () => {
  const cases: Array<[unknown, string]> = [
    [
      new Deno.errors.PermissionDenied("Permission denied (os error 13): mkdir '/srv/logs'"),
      "permission denied",
    ],
    [
      new Deno.errors.NotCapable(
        'Requires all access to "/proc/logs", run again with the --allow-all flag',
      ),
      "a system folder, not a place for log files",
    ],
    [
      new Error("Read-only file system (os error 30): mkdir '/mnt/ro/logs'"),
      "read-only file system",
    ],
    [
      new Error("No space left on device (os error 28): open '/var/log/a/x.jsonl'"),
      "no space left on device",
    ],
    [new Deno.errors.NotADirectory("Not a directory (os error 20)"), "not a folder"],
    [new Deno.errors.AlreadyExists("File exists (os error 17)"), "a file is in the way"],
    ["plain text", "plain text"],
  ];
  for (const [error, reason] of cases) {
    assert.equal(logFolderReason(error), reason);
    assert.doesNotMatch(logFolderReason(error), /allow-all|os error/);
  }
});

Deno.test("an optional log file that cannot be written: one warning, then the console only", async () => {
  await using dir = await tempDir();
  const file = join(dir.path, "not-a-folder");
  await Deno.writeTextFile(file, "");
  const lines: string[] = [];
  const close = await setupLogging({
    level: "info",
    write: (line) => lines.push(line),
    file: { dir: file, name: "health", maxSize: 1e6, maxFiles: 2, optional: true },
  });
  try {
    logger("health").info("✅ Health OK");
  } finally {
    await close();
  }
  assert.equal(lines.length, 2, lines.join("\n"));
  assert.match(
    lines[0]!,
    /\[WARNING\] \[archiver\] Cannot write logs to ".*not-a-folder": a file is in the way: logging to the console only$/,
  );
  assert.match(lines[1]!, /\[INFO\] \[health\] ✅ Health OK$/);
  assert.equal(await Deno.readTextFile(file), "", "nothing written in the file in the way");
});

Deno.test({
  name: "a log folder Deno keeps to --allow-all gets one line naming it, not Deno's advice",
  ignore: Deno.build.os !== "linux",
}, async () => {
  // The permissions of `deno task archiver`: /proc and /dev need every permission.
  const output = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--no-check",
      "--allow-net",
      "--allow-read",
      "--allow-write",
      "--allow-env",
      "--allow-sys",
      "--allow-run",
      new URL("../../../cli/main.ts", import.meta.url).pathname,
      "--log-dir",
      "/proc/archiver-logs",
      "logs",
      "prune",
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stderr = new TextDecoder().decode(output.stderr);
  assert.equal(output.code, 2, stderr);
  assert.equal(
    stderr,
    'error: Cannot write logs to "/proc/archiver-logs": a system folder, not a place for log files (set --log-dir)\n',
  );
});

const record = (
  level: "info" | "warning" | "error",
  message: unknown[],
  properties: Record<string, unknown> = {},
) => ({
  category: ["archiver", "batch"],
  level,
  message,
  rawMessage: "",
  timestamp: Date.UTC(2025, 9, 16, 10, 34, 56),
  properties,
});

Deno.test("JSON lines carry the ECS fields, the tool's properties under archiver", () => {
  const line = JSON.parse(
    formatEcs(
      record("info", ["✅ Archived 150 orders"], { orders_archived: 150, orders_errors: 0 }),
      { action: "batch" },
    ),
  );
  assert.deepEqual(line, {
    "@timestamp": "2025-10-16T10:34:56.000Z",
    "log.level": "info",
    "log.logger": "archiver.batch",
    message: "✅ Archived 150 orders",
    "ecs.version": "8.11.0",
    "service.name": "archiver",
    "service.version": denoJson.version,
    "process.pid": Deno.pid,
    "event.action": "batch",
    "event.outcome": "success",
    archiver: { orders_archived: 150, orders_errors: 0 },
  });
});

Deno.test("event.outcome is said only where the line means one", () => {
  const cases: Array<[string, ReturnType<typeof record>, string | undefined]> = [
    ["a progress line", record("info", ["📊 Progress"], { processed: 5 }), undefined],
    [
      "a summary with failed orders",
      record("info", ["x"], { orders_archived: 1, orders_invalid: 2 }),
      "failure",
    ],
    ["an error line", record("error", ["❌ Change Stream error"]), "failure"],
    ["an explicit outcome", record("info", ["done"], { outcome: "success" }), "success"],
  ];
  for (const [name, input, outcome] of cases) {
    assert.equal(JSON.parse(formatEcs(input))["event.outcome"], outcome, name);
  }
});

Deno.test("an error in the properties or the message fills error.message, error.type and error.stack_trace", () => {
  const error = new RangeError("port out of range");
  for (
    const input of [
      record("error", ["Listener failed: ", error], {}),
      record("error", ["Listener failed"], { error }),
    ]
  ) {
    const line = JSON.parse(formatEcs(input));
    assert.equal(line["error.message"], "port out of range");
    assert.equal(line["error.type"], "RangeError");
    assert.match(line["error.stack_trace"], /RangeError: port out of range\n\s+at /);
    assert.equal(line["event.outcome"], "failure");
  }
});

Deno.test("--log-format json console lines are the same ECS lines as the files", async () => {
  await using dir = await tempDir();
  const console: string[] = [];
  const close = await setupLogging({
    level: "info",
    format: "json",
    action: "logs check",
    write: (line) => console.push(line),
    file: { dir: dir.path, name: "logs", maxSize: 1e6, maxFiles: 2 },
  });
  logger("logs").info("Checked {n} files", { n: 3 });
  await close();
  const file = (await Deno.readTextFile(join(dir.path, "logs.jsonl"))).trimEnd();
  assert.equal(console.length, 1);
  const fromConsole = JSON.parse(console[0]!);
  assert.deepEqual(fromConsole, JSON.parse(file));
  assert.equal(fromConsole["event.action"], "logs check");
  assert.equal(fromConsole.message, "Checked 3 files");
  assert.deepEqual(fromConsole.archiver, { n: 3 });
});
