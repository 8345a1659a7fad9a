import assert from "node:assert/strict";
import type { Logger } from "@logtape/logtape";
import { MongoClient, type Timestamp } from "mongodb";
import { watchHeadroom } from "../../../plugins/watch/headroom.ts";
import { readOplogWindow } from "../../../core/stream/oplog_window.ts";
import { dedicatedSandbox } from "../../support/test_db.ts";

function recordingLog() {
  const lines: Array<[string, string]> = [];
  const log = {
    warn: (message: string) => lines.push(["warning", message]),
    error: (message: string) => lines.push(["error", message]),
    info: (message: string) => lines.push(["info", message]),
    debug: (message: string) => lines.push(["debug", message]),
  } as unknown as Logger;
  return { log, lines };
}

Deno.test("the watcher reports the oplog window and warns once when the headroom falls under an hour", async () => {
  await using sandbox = await dedicatedSandbox({ oplogSize: 50 });
  if (!sandbox) return; // a real server's headroom is hours: nothing would cross
  const client = new MongoClient(sandbox.uri);
  await client.connect();
  try {
    const orders = client.db("headroom").collection("Commande");
    await orders.insertMany(Array.from({ length: 80 }, (_, i) => ({ i }))); // a full oplog
    const read = await readOplogWindow(client);
    assert.ok(read.kind === "ok");
    const oldest: Timestamp = read.window.first;
    const { log, lines } = recordingLog();
    const reported: Array<[number, number | null]> = [];
    const stop = watchHeadroom(client, {
      log,
      tokenTime: () => oldest, // the saved token is the oplog's oldest entry: no headroom left
      report: (window, headroom) => reported.push([window, headroom]),
      intervalMs: 50,
    });
    await new Promise((resolve) => setTimeout(resolve, 400));
    stop();
    assert.ok(reported.length >= 3, `read on every tick (${reported.length})`);
    assert.ok(reported.every(([window, headroom]) => window >= 0 && headroom !== null));
    const crossings = lines.filter(([level]) => level === "error" || level === "warning");
    assert.equal(crossings.length, 1, `one line for one crossing: ${JSON.stringify(lines)}`);
    assert.match(crossings[0]![1], /^⚠️ Resume headroom .*within the hour/);
    const after = reported.length;
    await new Promise((resolve) => setTimeout(resolve, 150));
    assert.equal(reported.length, after, "stopped: no more reads");
  } finally {
    await client.close();
  }
});
