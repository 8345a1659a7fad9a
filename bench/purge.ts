/**
 * Purge benchmark: what the verified delete costs. Simulated orders are archived (server path),
 * their archive documents dated back, then `purgeArchived` deletes them all, chunks of 1,000,
 * against a sandbox in another process, over a client connected through the byte-counting
 * loopback proxy (bench/_proxy.ts):
 *
 * - orders purged per second, with the check in each delete's filter;
 * - bytes per order each way (client → server, server → client), all commands of the purge;
 * - round trips per 1,000 orders purged (commands sent, by command monitoring).
 *
 * Run: `deno run --allow-net --allow-read --allow-write --allow-env --allow-sys --allow-run
 * bench/purge.ts [--quick]`
 *
 * @module
 */

import { type CommandStartedEvent, MongoClient } from "mongodb";
import { getLogger } from "@logtape/logtape";
import { backfill } from "../core/archive/backfill.ts";
import { ensureArchiveIndex } from "../core/archive/archive_index.ts";
import { purgeArchived } from "../core/archive/purge.ts";
import { startSandboxProcess } from "./_child.ts";
import { startProxy } from "./_proxy.ts";
import { BENCH_NAMES, populate } from "./batch.ts";

/** The purge's figures. */
export interface PurgeBenchResult {
  /** Orders purged. */
  orders: number;
  /** Orders purged per second, the check included. */
  ordersPerSecond: number;
  /** Bytes per order, client → server. */
  bytesToServerPerOrder: number;
  /** Bytes per order, server → client. */
  bytesToClientPerOrder: number;
  /** Commands sent per 1,000 orders purged. */
  roundTripsPer1000: number;
  /** Commands by name, per 1,000 orders purged. */
  commandsPer1000: Record<string, number>;
}

/**
 * Runs the purge benchmark.
 *
 * @param options How many orders. @default 20000
 * @returns The figures.
 */
export async function benchPurge(options: { orders?: number } = {}): Promise<PurgeBenchResult> {
  const orders = options.orders ?? 20_000;
  await using sandbox = await startSandboxProcess();
  const target = new URL(sandbox.uri.replace(/^mongodb:/, "http:"));
  await using proxy = startProxy({ hostname: target.hostname, port: Number(target.port) });
  const client = new MongoClient(proxy.uriFor(sandbox.uri), { monitorCommands: true });
  try {
    await client.connect();
    const db = client.db("bench_purge");
    const log = getLogger(["archiver", "bench"]);
    await populate(db, orders);
    await ensureArchiveIndex(db.collection(BENCH_NAMES.archive));
    await backfill({
      db,
      names: BENCH_NAMES,
      log,
      archivedBy: "batch",
      deliveredStatus: "livrée",
      batchSize: 1000,
    });
    await db.collection(BENCH_NAMES.archive).updateMany({}, {
      $set: { archived_at: new Date(Date.now() - 400 * 86_400_000) },
    });
    const events: CommandStartedEvent[] = [];
    const listener = (event: CommandStartedEvent) => events.push(event);
    client.on("commandStarted", listener);
    proxy.reset();
    const started = performance.now();
    const counts = await purgeArchived({
      db,
      names: BENCH_NAMES,
      log,
      runId: "bench",
      criteria: {
        archivedBefore: new Date(Date.now() - 365 * 86_400_000),
        legalHoldField: "legal_hold",
      },
      chunkSize: 1000,
    });
    const seconds = (performance.now() - started) / 1000;
    client.off("commandStarted", listener);
    const bytes = proxy.counts();
    if (counts.purged !== orders) {
      throw new Error(`The purge deleted ${counts.purged} orders instead of ${orders}`);
    }
    const sent = events.filter((e) => e.commandName !== "hello" && e.commandName !== "isMaster");
    const byName: Record<string, number> = {};
    for (const event of sent) byName[event.commandName] = (byName[event.commandName] ?? 0) + 1;
    const per1000 = (n: number) => Math.round((n / orders) * 1000 * 10) / 10;
    const hello = bytes.byCommand.hello ?? { toServer: 0, toClient: 0, requests: 0 };
    return {
      orders,
      ordersPerSecond: Math.round(orders / seconds),
      bytesToServerPerOrder: Math.round((bytes.toServer - hello.toServer) / orders),
      bytesToClientPerOrder: Math.round((bytes.toClient - hello.toClient) / orders),
      roundTripsPer1000: per1000(sent.length),
      commandsPer1000: Object.fromEntries(
        Object.entries(byName).map(([name, n]) => [name, per1000(n)]),
      ),
    };
  } finally {
    await client.close();
  }
}

if (import.meta.main) {
  const quick = Deno.args.includes("--quick");
  console.log(JSON.stringify(await benchPurge({ orders: quick ? 2000 : 20_000 }), null, 2));
}
