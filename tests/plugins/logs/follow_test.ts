import assert from "node:assert/strict";
import { join } from "node:path";
import type { Alert } from "../../../plugins/logs/rules.ts";
import { defaultRules } from "../../../plugins/logs/rules.ts";
import { followLogs } from "../../../plugins/logs/tail.ts";
import { tempDir } from "../../support/cli.ts";

function line(message: string, level = "INFO", properties: Record<string, unknown> = {}): string {
  return `${
    JSON.stringify({
      "@timestamp": new Date().toISOString(),
      level,
      message,
      logger: "archiver.watch",
      properties,
    })
  }\n`;
}

async function until(condition: () => boolean, ms = 3_000): Promise<void> {
  const end = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > end) throw new Error("Timed out waiting");
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

Deno.test("followLogs() prints each alert as it fires, across a rotation", async () => {
  await using dir = await tempDir();
  const current = join(dir.path, "watch.jsonl");
  // What was there before following is not replayed.
  await Deno.writeTextFile(current, line("❌ Change Stream error: old", "ERROR"));
  const alerts: Alert[] = [];
  let invalid = 0;
  const stop = new AbortController();
  const following = followLogs(dir.path, {
    rules: defaultRules,
    signal: stop.signal,
    pollMs: 20,
    onAlert: (alert) => alerts.push(alert),
    onInvalid: () => invalid++,
  });
  try {
    await new Promise((resolve) => setTimeout(resolve, 60));
    await Deno.writeTextFile(
      current,
      line("✅ Archived 1 orders", "INFO", { stream_lag_seconds: 40 }),
      {
        append: true,
      },
    );
    await until(() => alerts.length === 1);
    assert.equal(alerts[0]!.rule, "stream_lag");

    // A half-written line waits for its end.
    const error = line("❌ Error enriching order CMD-000001", "ERROR");
    await Deno.writeTextFile(current, error.slice(0, 20), { append: true });
    await new Promise((resolve) => setTimeout(resolve, 80));
    assert.equal(alerts.length, 1);
    await Deno.writeTextFile(current, error.slice(20), { append: true });
    await until(() => alerts.length === 2);
    assert.equal(alerts[1]!.rule, "error");

    // Rotation: the last line written to the old file, then a new file.
    await Deno.writeTextFile(current, line("❌ Change Stream error: before rotation", "ERROR"), {
      append: true,
    });
    await Deno.rename(current, `${current}.1`);
    await Deno.writeTextFile(
      current,
      "garbage\n" + line("❌ Failed to connect to MongoDB", "ERROR"),
    );
    await until(() => alerts.length === 4);
    assert.deepEqual(alerts.slice(2).map((a) => a.message), [
      "ERROR archiver.watch: ❌ Change Stream error: before rotation",
      "ERROR archiver.watch: ❌ Failed to connect to MongoDB",
    ]);
    assert.equal(invalid, 1);

    // A file that appears later is followed from its start.
    await Deno.writeTextFile(join(dir.path, "batch.jsonl"), line("❌ boom", "ERROR"));
    await until(() => alerts.length === 5);
  } finally {
    stop.abort();
    await following;
  }
});
