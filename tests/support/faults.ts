/**
 * What the fault suite shares: a seeded random source (so a failing run can be replayed with
 * `FAULT_SEED`), delivering orders the way the order lifecycle does, and the one assertion every
 * fault test ends with: the archive holds each expected order exactly once.
 *
 * @module
 */

import assert from "node:assert/strict";
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
