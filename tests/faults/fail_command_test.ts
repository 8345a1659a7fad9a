/**
 * `failCommand` faults on every command batch and watch send — connections closed on aggregate,
 * find, getMore and update; primary step-down (189), network timeout (89) and shutdown (91)
 * error codes — and the archive still holds each complete delivered order exactly once. The fail
 * point is limited to the tool's own connections (`appName: "archiver"`), so the test's own
 * writes are never refused.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import type { Db, Document } from "mongodb";
import { batch } from "../../plugins/batch/mod.ts";
import { batchArgs, cli, tempDir } from "../support/cli.ts";
import { archivedNumbers, assertEachOnce, deliver, reportFaults } from "../support/faults.ts";
import { seedOrders } from "../support/orders.ts";
import { testDatabase } from "../support/test_db.ts";
import { eventually, startWatcher } from "../support/watcher.ts";

interface Fault {
  name: string;
  commands: string[];
  times: number;
  data: Document;
}

const close = { closeConnection: true };
const code = (errorCode: number) => ({ errorCode });

// Each fault fires more often than the driver retries on its own, so the tool's retry is reached.
const BATCH_FAULTS: Fault[] = [
  { name: "connection closed on find", commands: ["find"], times: 3, data: close },
  { name: "connection closed on getMore", commands: ["getMore"], times: 2, data: close },
  { name: "connection closed on aggregate", commands: ["aggregate"], times: 3, data: close },
  { name: "connection closed on update", commands: ["update"], times: 4, data: close },
  { name: "primary step-down (189) on update", commands: ["update"], times: 4, data: code(189) },
  { name: "primary step-down (189) on find", commands: ["find"], times: 3, data: code(189) },
  { name: "network timeout (89) on aggregate", commands: ["aggregate"], times: 3, data: code(89) },
  { name: "network timeout (89) on getMore", commands: ["getMore"], times: 2, data: code(89) },
  { name: "shutdown in progress (91) on getMore", commands: ["getMore"], times: 2, data: code(91) },
  {
    name: "connections closed on every command, six times",
    commands: ["aggregate", "find", "getMore", "update"],
    times: 6,
    data: close,
  },
];

async function failCommand(db: Db, fault: Fault | undefined): Promise<void> {
  await db.admin().command(
    fault
      ? {
        configureFailPoint: "failCommand",
        mode: { times: fault.times },
        data: { failCommands: fault.commands, appName: "archiver", ...fault.data },
      }
      : { configureFailPoint: "failCommand", mode: "off" },
  );
}

Deno.test("batch under failCommand faults: every complete delivered order archived once, no errors", async (t) => {
  let injected = 0;
  let checked = 0;
  for (const fault of BATCH_FAULTS) {
    await t.step(fault.name, async () => {
      await using tdb = await testDatabase("fault_batch");
      await using dir = await tempDir();
      const seeded = await seedOrders(tdb.db, { complete: 30, incomplete: 3, notDelivered: 2 });
      await failCommand(tdb.db, fault);
      let result;
      try {
        result = await cli(
          batchArgs(tdb.uri, tdb.dbName, dir.path, "--json", "--batch-size", "4"),
          { plugins: [batch()], cwd: dir.path },
        );
      } finally {
        await failCommand(tdb.db, undefined);
      }
      assert.equal(result.code, 0, result.stderr);
      const report = JSON.parse(result.stdout);
      assert.equal(report.orders_errors, 0);
      assert.equal(report.orders_incomplete, 3);
      assert.equal(report.orders_archived + report.orders_duplicates, 30);
      assert.match(result.stderr, /retrying/, "the fault reached the tool's own retry");
      assertEachOnce(await archivedNumbers(tdb.db), seeded.complete);
      injected += fault.times;
      checked += 33;
    });
  }
  reportFaults("failCommand batch", injected, checked);
});

const WATCH_FAULTS: Fault[] = [
  { name: "connection closed on getMore", commands: ["getMore"], times: 3, data: close },
  { name: "connection closed on aggregate", commands: ["aggregate"], times: 3, data: close },
  { name: "connection closed on update", commands: ["update"], times: 4, data: close },
  { name: "connection closed on find", commands: ["find"], times: 3, data: close },
  { name: "primary step-down (189) on update", commands: ["update"], times: 4, data: code(189) },
  {
    name: "primary step-down (189) on aggregate",
    commands: ["aggregate"],
    times: 3,
    data: code(189),
  },
  { name: "network timeout (89) on getMore", commands: ["getMore"], times: 3, data: code(89) },
  { name: "network timeout (89) on aggregate", commands: ["aggregate"], times: 3, data: code(89) },
  {
    name: "connections closed on every command, eight times",
    commands: ["aggregate", "find", "getMore", "update"],
    times: 8,
    data: close,
  },
];

Deno.test("watch under failCommand faults while orders are delivered: each archived once, errors counted", async (t) => {
  await using tdb = await testDatabase("fault_watch");
  await using dir = await tempDir();
  const seeded = await seedOrders(tdb.db, { complete: 4, incomplete: 1, notDelivered: 60 });
  const courier = [...seeded.couriers.values()][0]!._id;
  const pending = [...seeded.notDelivered];
  const expected = [...seeded.complete];
  const watcher = startWatcher(tdb.uri, tdb.dbName, dir.path, ["--status-file", "status.json"]);
  let injected = 0;
  try {
    await watcher.waitFor(/✅ Change Stream opened successfully/);
    for (const fault of WATCH_FAULTS) {
      await t.step(fault.name, async () => {
        await failCommand(tdb.db, fault);
        try {
          for (let i = 0; i < 6; i++) {
            const number = pending.shift()!;
            const dangling = i === 5;
            await deliver(tdb.db, number, { courier, dangling });
            if (!dangling) expected.push(number);
          }
          const want = new Set(expected);
          await eventually(
            async () =>
              (await archivedNumbers(tdb.db)).filter((n) => want.has(n)).length >= want.size,
            30_000,
            `${want.size} orders archived`,
          );
        } finally {
          await failCommand(tdb.db, undefined);
        }
        injected += fault.times;
      });
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
    assertEachOnce(await archivedNumbers(tdb.db), expected);
    const { code } = await watcher.stop("SIGTERM");
    assert.equal(code, 0, watcher.stderr());
    const status = JSON.parse(await Deno.readTextFile(join(dir.path, "status.json")));
    assert.ok(status.metrics.connection_errors >= 3, watcher.stderr());
    assert.equal(status.metrics.orders_errors, 0);
  } finally {
    await watcher.stop("SIGKILL");
  }
  reportFaults("failCommand watch", injected, expected.length + WATCH_FAULTS.length);
});
