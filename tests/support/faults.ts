/**
 * What the fault suite shares: a seeded random source (so a failing run can be replayed with
 * `FAULT_SEED`), delivering orders the way the order lifecycle does, and the one assertion every
 * fault test ends with: the archive holds each expected order exactly once.
 *
 * @module
 */

import { orderIdKey } from "../../core/archive/order_id.ts";
import assert from "node:assert/strict";
import { processCpuSeconds } from "../../core/runtime/proc.ts";
import { type Db, ObjectId } from "mongodb";

/**
 * A small, fast, seeded random source (mulberry32).
 *
 * @param seed A 32-bit seed.
 * @returns A function returning numbers in [0, 1).
 */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * The seed of a fault test: `FAULT_SEED` when set, else a random one; printed either way.
 *
 * @param test The test's name, printed with the seed.
 * @returns The seed and a random source seeded with it.
 */
export function faultRandom(test: string): { seed: number; random: () => number } {
  const raw = Deno.env.get("FAULT_SEED");
  const seed = raw ? Number(raw) >>> 0 : Math.floor(Math.random() * 2 ** 32);
  console.error(`[faults] ${test}: FAULT_SEED=${seed}`);
  return { seed, random: mulberry32(seed) };
}

/**
 * Prints how many faults a test injected, for the README's reliability counts.
 *
 * @param test The test's name.
 * @param faults Faults injected.
 * @param orders Delivered orders checked at the end.
 */
export function reportFaults(test: string, faults: number, orders: number): void {
  console.error(`[faults] ${test}: faults_injected=${faults} orders_checked=${orders}`);
}

/**
 * Marks an order delivered, assigning a courier as the lifecycle does; `dangling` gives it a
 * client that does not exist, so it is incomplete and must not be archived.
 *
 * @param db The database.
 * @param number The order number.
 * @param options The courier to assign and whether the order is left incomplete.
 */
export async function deliver(
  db: Db,
  number: string,
  options: { courier: unknown; dangling?: boolean },
): Promise<void> {
  const set: Record<string, unknown> = {
    status: "livrée",
    date_livraison: new Date(),
    livreur_id: options.courier,
  };
  if (options.dangling) set.client_id = new ObjectId();
  await db.collection("Commande").updateOne({ numero_commande: number }, { $set: set });
}

/**
 * The order numbers in the archive, sorted, duplicates kept.
 *
 * @param db The database.
 * @returns The numbers.
 */
export async function archivedNumbers(db: Db): Promise<string[]> {
  const docs = await db.collection("Historique")
    .find({}, { projection: { _id: 0, numero_commande: 1 } })
    .toArray();
  return docs.map((d) => d.numero_commande as string).sort();
}

/**
 * Asserts the archive holds exactly the expected orders, each once.
 *
 * @param numbers What {@link archivedNumbers} returned.
 * @param expected The complete delivered orders.
 * @returns The number of lost and of doubled orders (both 0 when the assertion holds).
 */
export function assertEachOnce(numbers: string[], expected: readonly string[]) {
  const doubled = numbers.length - new Set(numbers).size;
  const lost = expected.filter((n) => !numbers.includes(n));
  const extra = numbers.filter((n) => !expected.includes(n));
  assert.equal(doubled, 0, `orders archived twice: ${doubled}`);
  assert.deepEqual(lost, [], "orders lost");
  assert.deepEqual(extra, [], "orders archived that should not be");
  return { lost: lost.length, doubled };
}

/**
 * CPU time a process has used so far (utime + stime of `/proc/<pid>/stat`), read through the
 * core runner, which needs no --allow-all. Linux only.
 *
 * @param pid The process id.
 * @returns Seconds of user plus system time.
 */
export async function cpuSeconds(pid: number): Promise<number> {
  const seconds = await processCpuSeconds(pid);
  if (seconds === undefined) throw new Error(`Cannot read the CPU time of process ${pid}`);
  return seconds;
}

/**
 * Asserts a process stays up and nearly idle: its CPU time grows by less than `maxSeconds` over
 * `overMs` — a watcher spinning on an error would burn a core.
 *
 * @param child The process.
 * @param options How long to watch and the CPU allowed.
 * @returns The CPU seconds used over the period.
 */
export async function assertIdleCpu(
  child: Deno.ChildProcess,
  options: { overMs?: number; maxSeconds?: number; what?: string } = {},
): Promise<number> {
  const { overMs = 3_000, maxSeconds = 0.3, what = "the process" } = options;
  const exited = child.status.then((status) => status);
  const before = await cpuSeconds(child.pid);
  const early = await Promise.race([
    exited,
    new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), overMs)),
  ]);
  assert.equal(early, undefined, `${what} exited with code ${early?.code} instead of staying up`);
  const used = (await cpuSeconds(child.pid)) - before;
  assert.ok(
    used < maxSeconds,
    `${what} used ${
      used.toFixed(2)
    } s of CPU over ${overMs} ms (at most ${maxSeconds} s once idle)`,
  );
  return used;
}

/** Why a delivered order is in the quarantine. */
export type QuarantineReason = "incomplete" | "invalid" | "conflict" | "error";

/** What a delivered order may become: archived, or quarantined for a reason. */
export type OrderOutcome = QuarantineReason | "archived";

/** What {@link assertArchivedOrQuarantined} counted. */
export interface ArchiveInvariant {
  /** Delivered orders archived exactly once. */
  archived: number;
  /** Delivered orders in the quarantine (and not archived). */
  quarantined: number;
  /** Delivered orders neither archived nor quarantined (always 0 when the assertion holds). */
  lost: number;
  /** Delivered orders archived twice, or archived and quarantined (0 when it holds). */
  doubled: number;
}

/**
 * Asserts the invariant every fault test ends with: each delivered order (status "livrée") is in
 * `Historique` exactly once by `order_id` (an order is its `_id`: an archive document with the
 * same number for another order does not count) or in `archiver_quarantine` (by `_id`) with a
 * reason — never neither, never both, never archived twice — and no archive document has a null,
 * missing, empty or non-string `numero_commande`, nor a number another document has.
 *
 * @param db The database.
 * @param options `expectedReasons`: by order number, or by the order's `_id` as hex for orders
 *   without a usable number, the reason it must be quarantined with (or a list of acceptable
 *   outcomes, `"archived"` among them); every delivered order not listed must then be archived.
 * @returns The counts.
 */
export async function assertArchivedOrQuarantined(
  db: Db,
  options: { expectedReasons?: Record<string, OrderOutcome | readonly OrderOutcome[]> } = {},
): Promise<ArchiveInvariant> {
  const delivered = await db.collection("Commande")
    .find({ status: "livrée" }, { projection: { _id: 1, numero_commande: 1 } })
    .toArray();
  const archive = await db.collection("Historique")
    .find({}, { projection: { _id: 1, numero_commande: 1, order_id: 1 } })
    .toArray();
  const quarantine = await db.collection("archiver_quarantine").find({}).toArray();
  const problems: string[] = [];
  const key = (value: unknown) => value instanceof ObjectId ? value.toHexString() : String(value);
  const numbers = archive.map((doc) => doc.numero_commande);
  if (new Set(numbers).size !== numbers.length) problems.push("a number archived twice");

  for (const doc of archive) {
    const number = doc.numero_commande;
    if (typeof number !== "string" || number === "") {
      problems.push(
        `archive document ${key(doc._id)} (order ${key(doc.order_id)}) has numero_commande ${
          JSON.stringify(number) ?? "missing"
        }`,
      );
    }
  }
  const counts: ArchiveInvariant = { archived: 0, quarantined: 0, lost: 0, doubled: 0 };
  const outcomes = new Map<string, OrderOutcome | "lost" | "doubled">();
  for (const order of delivered) {
    const number = order.numero_commande;
    const usable = typeof number === "string" && number !== "";
    const name = usable
      ? number
      : `_id ${key(order._id)} (numero_commande ${JSON.stringify(number) ?? "missing"})`;
    const copies = archive.filter((doc) => orderIdKey(doc.order_id) === orderIdKey(order._id))
      .length;
    const entry = quarantine.find((q) => orderIdKey(q._id) === orderIdKey(order._id));
    const outcomeKey = usable ? number : key(order._id);
    if (copies > 1) {
      counts.doubled++;
      outcomes.set(outcomeKey, "doubled");
      problems.push(`order ${name} archived ${copies} times`);
    } else if (copies === 1 && entry) {
      counts.doubled++;
      outcomes.set(outcomeKey, "doubled");
      problems.push(`order ${name} both archived and quarantined (${entry.reason})`);
    } else if (copies === 1) {
      counts.archived++;
      outcomes.set(outcomeKey, "archived");
    } else if (entry) {
      if (!["incomplete", "invalid", "conflict", "error"].includes(entry.reason)) {
        problems.push(`order ${name} quarantined with reason ${JSON.stringify(entry.reason)}`);
      }
      counts.quarantined++;
      outcomes.set(outcomeKey, entry.reason);
    } else {
      counts.lost++;
      outcomes.set(outcomeKey, "lost");
      problems.push(`order ${name} neither archived nor quarantined`);
    }
  }
  const expected = options.expectedReasons;
  if (expected) {
    for (const [order, want] of Object.entries(expected)) {
      const accepted = typeof want === "string" ? [want] : want;
      const got = outcomes.get(order);
      if (got === undefined) problems.push(`order ${order} expected but not delivered`);
      else if (got === "lost" || got === "doubled") continue; // reported above
      else if (!(accepted as readonly string[]).includes(got)) {
        problems.push(`order ${order}: ${got}, expected ${accepted.join(" or ")}`);
      }
    }
    for (const [order, got] of outcomes) {
      if (!(order in expected) && got !== "archived" && got !== "lost" && got !== "doubled") {
        problems.push(`order ${order}: quarantined (${got}), expected archived`);
      }
    }
  }
  assert.deepEqual(problems, [], `the archive-or-quarantine invariant:\n${problems.join("\n")}`);
  return counts;
}
