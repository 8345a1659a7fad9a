/**
 * Purge benchmark: what the verified delete costs. Simulated orders are archived (server path),
 * their archive documents dated back, then `purgeArchived` deletes them all, in chunks of 1,000,
 * against a sandbox in another process, over a client connected through the byte-counting
 * loopback proxy (bench/_proxy.ts) that the batch benchmark uses:
 *
 * - orders purged per second, with the check in each delete's filter;
 * - bytes per order each way (client → server, server → client), all commands of the purge;
 * - round trips per 1,000 orders purged (commands sent, by command monitoring);
 * - the delete's cost per chunk: its bytes each way (from the proxy) and the time the server took
 *   to answer it, beside that of the chunk's other commands (`commandSucceeded` durations).
 *
 * One run gives every figure: the purge waits on the sandbox's evaluation of the chunk query and
 * of the delete's filters (a few milliseconds per order), beside which the proxy's copy of about
 * 1 MB per chunk over loopback is small.
 *
 * Run: `deno run --allow-net --allow-read --allow-write --allow-env --allow-sys --allow-run
 * bench/purge.ts [--quick]`
 *
 * @module
 */

import { type CommandStartedEvent, type CommandSucceededEvent, MongoClient } from "mongodb";
import { getLogger } from "@logtape/logtape";
import { backfill } from "../core/archive/backfill.ts";
import { ensureArchiveIndex } from "../core/archive/archive_index.ts";
import { purgeArchived } from "../core/archive/purge.ts";
import { startSandboxProcess } from "./_child.ts";
import { type CommandBytes, startProxy } from "./_proxy.ts";
import { BENCH_NAMES, populate } from "./batch.ts";

/** Options of {@link benchPurge}. */
export interface PurgeBenchOptions {
  /** Orders archived, then purged. @default 20000 */
  orders?: number;
  /** Orders per chunk, as `--chunk`. @default 1000 */
  chunkSize?: number;
}

/** The purge's figures. */
export interface PurgeBenchResult {
  /** Orders purged. */
  orders: number;
  /** Orders per chunk. */
  chunkSize: number;
  /** Chunks the purge did. */
  chunks: number;
  /** Orders purged per second, the check included (wall time of the whole purge). */
  ordersPerSecond: number;
  /** Bytes per order, client → server (every command of the purge, the driver's `hello` aside). */
  bytesToServerPerOrder: number;
  /** Bytes per order, server → client. */
  bytesToClientPerOrder: number;
  /** Commands sent per 1,000 orders purged. */
  roundTripsPer1000: number;
  /** Commands by name, per 1,000 orders purged. */
  commandsPer1000: Record<string, number>;
  /** Wall time per chunk, in ms. */
  msPerChunk: number;
  /** The server's answering time per chunk by command name, in ms (`commandSucceeded`). */
  serverMsPerChunk: Record<string, number>;
  /** The bulk delete's bytes per chunk, each way. */
  deleteBytesPerChunk: { toServer: number; toClient: number };
}

/**
 * Runs the purge benchmark.
 *
 * @param options How many orders, and the chunk size.
 * @returns The figures.
 */
export async function benchPurge(options: PurgeBenchOptions = {}): Promise<PurgeBenchResult> {
  const orders = options.orders ?? 20_000;
  const chunkSize = options.chunkSize ?? 1_000;
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
    const serverMs: Record<string, number> = {};
    const onStarted = (event: CommandStartedEvent) => events.push(event);
    const onSucceeded = (event: CommandSucceededEvent) =>
      serverMs[event.commandName] = (serverMs[event.commandName] ?? 0) + event.duration;
    client.on("commandStarted", onStarted);
    client.on("commandSucceeded", onSucceeded);
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
      chunkSize,
    }).finally(() => {
      client.off("commandStarted", onStarted);
      client.off("commandSucceeded", onSucceeded);
    });
    const ms = performance.now() - started;
    const bytes = proxy.counts();
    if (counts.purged !== orders) {
      throw new Error(`The purge deleted ${counts.purged} orders instead of ${orders}`);
    }
    // The driver's handshakes and heartbeats are not the purge's.
    const sent = events.filter((e) => e.commandName !== "hello" && e.commandName !== "isMaster");
    const byName: Record<string, number> = {};
    for (const event of sent) byName[event.commandName] = (byName[event.commandName] ?? 0) + 1;
    const per1000 = (n: number) => (n / orders) * 1000;
    const none: CommandBytes = { toServer: 0, toClient: 0, requests: 0 };
    const hello = bytes.byCommand.hello ?? none;
    const deleted = bytes.byCommand.delete ?? none;
    const chunks = counts.chunks;
    return {
      orders,
      chunkSize,
      chunks,
      ordersPerSecond: orders / (ms / 1000),
      bytesToServerPerOrder: (bytes.toServer - hello.toServer) / orders,
      bytesToClientPerOrder: (bytes.toClient - hello.toClient) / orders,
      roundTripsPer1000: per1000(sent.length),
      commandsPer1000: Object.fromEntries(
        Object.entries(byName).map(([name, n]) => [name, per1000(n)]),
      ),
      msPerChunk: ms / chunks,
      serverMsPerChunk: Object.fromEntries(
        Object.entries(serverMs).map(([name, total]) => [name, total / chunks]),
      ),
      deleteBytesPerChunk: {
        toServer: deleted.toServer / chunks,
        toClient: deleted.toClient / chunks,
      },
    };
  } finally {
    await client.close();
  }
}

if (import.meta.main) {
  const quick = Deno.args.includes("--quick");
  console.log(JSON.stringify(await benchPurge({ orders: quick ? 2000 : 20_000 }), null, 2));
}
