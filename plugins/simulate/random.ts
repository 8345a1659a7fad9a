/**
 * A small, fast, seeded pseudo-random generator (sfc32, seeded through splitmix32): the same seed
 * gives the same sequence on every run and machine, which is what makes simulated datasets
 * reproducible. Faker draws the names; this draws everything per order, where speed matters.
 *
 * @module
 */

import { ObjectId } from "mongodb";

/** A seeded source of random numbers, ids and picks. */
export class SeededRandom {
  #a: number;
  #b: number;
  #c: number;
  #d: number;

  /**
   * @param seed Any integer; equal seeds give equal sequences.
   * @param stream A second integer selecting an independent sequence for the same seed.
   */
  constructor(seed: number, stream = 0) {
    let state = mixSeed(seed, stream);
    const next = () => {
      state = (state + 0x9e3779b9) | 0;
      let z = state;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.#a = next();
    this.#b = next();
    this.#c = next();
    this.#d = next();
    for (let i = 0; i < 12; i++) this.uint32();
  }

  /**
   * The next 32-bit unsigned integer.
   *
   * @returns An integer in [0, 2^32).
   */
  uint32(): number {
    const t = (((this.#a + this.#b) | 0) + this.#d) | 0;
    this.#d = (this.#d + 1) | 0;
    this.#a = this.#b ^ (this.#b >>> 9);
    this.#b = (this.#c + (this.#c << 3)) | 0;
    this.#c = (this.#c << 21) | (this.#c >>> 11);
    this.#c = (this.#c + t) | 0;
    return t >>> 0;
  }

  /**
   * The next number in [0, 1).
   *
   * @returns A uniformly distributed fraction.
   */
  next(): number {
    return this.uint32() / 4294967296;
  }

  /**
   * A whole number in an inclusive range.
   *
   * @param min The smallest value.
   * @param max The largest value.
   * @returns An integer in [min, max].
   */
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }

  /**
   * Whether an event of probability `p` happens.
   *
   * @param p A probability in [0, 1].
   * @returns `true` with probability `p`.
   */
  chance(p: number): boolean {
    return this.next() < p;
  }

  /**
   * One element of a non-empty list.
   *
   * @param items The list.
   * @returns A uniformly chosen element.
   */
  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.next() * items.length)]!;
  }

  /**
   * An ObjectId made of 12 random bytes: reproducible from the seed, and with 96 random bits,
   * distinct from every id a server or another run made.
   *
   * @returns A new ObjectId.
   */
  objectId(): ObjectId {
    const bytes = new Uint8Array(12);
    for (let i = 0; i < 12; i += 4) {
      const value = this.uint32();
      bytes[i] = value >>> 24;
      bytes[i + 1] = (value >>> 16) & 0xff;
      bytes[i + 2] = (value >>> 8) & 0xff;
      bytes[i + 3] = value & 0xff;
    }
    return new ObjectId(bytes);
  }
}

/**
 * Combines a seed with a stream number into one 32-bit seed, so independent sequences (names,
 * orders, an appended run) never share draws.
 *
 * @param seed The user's seed.
 * @param stream The sequence's number.
 * @returns A 32-bit unsigned integer.
 */
export function mixSeed(seed: number, stream: number): number {
  let h = Math.imul((seed | 0) ^ 0x5bd1e995, 0x27d4eb2d) ^ Math.floor(seed / 4294967296);
  h = Math.imul(h ^ (h >>> 15), 0x85ebca6b) ^ Math.imul(stream | 0, 0x9e3779b1);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}
