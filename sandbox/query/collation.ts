/**
 * Collation for queries, `distinct` and sorts: MongoDB's `collation` document at strength 1
 * (base letters: case and accents ignored) and 2 (case ignored), the strengths that change
 * which strings are equal. Strings are compared through a collation key (the string folded
 * the way the strength asks); strength 3 and above, and the `simple` locale, compare strings
 * by their bytes as without a collation, except for the order `$sort` uses.
 *
 * @module
 */

import { type Doc, isPlainDoc, numericValue } from "../bson_values.ts";
import { CommandError } from "../errors.ts";

/** A parsed collation. */
export interface Collation {
  /** ICU locale, e.g. `en_US`. */
  locale: string;
  /** Comparison level, 1 to 5 (MongoDB's default is 3). */
  strength: number;
  /** The collation document as the command gave it (for mingo's `$sort`). */
  spec: Doc;
}

const _FIELDS = new Set([
  "locale",
  "strength",
  "caseLevel",
  "caseFirst",
  "numericOrdering",
  "alternate",
  "maxVariable",
  "normalization",
  "backwards",
  "version",
]);

/**
 * Reads a command's `collation` option.
 *
 * @param value The option's value.
 * @returns The collation, or `undefined` when absent or `{ locale: "simple" }`.
 */
export function parseCollation(value: unknown): Collation | undefined {
  if (value === undefined || value === null) return undefined;
  if (!isPlainDoc(value)) {
    throw new CommandError(14, "BSON field 'collation' is the wrong type, expected type 'object'");
  }
  for (const key of Object.keys(value)) {
    if (!_FIELDS.has(key)) {
      throw new CommandError(40415, `BSON field 'Collation.${key}' is an unknown field.`);
    }
  }
  if (typeof value.locale !== "string") {
    throw new CommandError(40414, "BSON field 'Collation.locale' is missing but a required field");
  }
  if (value.locale === "simple") return undefined;
  const strength = value.strength === undefined ? 3 : numericValue(value.strength);
  if (strength === undefined || !Number.isInteger(strength) || strength < 1 || strength > 5) {
    throw new CommandError(
      51024,
      `BSON field 'strength' value must be >= 1 and <= 5, actual value '${String(value.strength)}'`,
    );
  }
  return { locale: value.locale, strength, spec: value };
}

/**
 * Tells whether a collation makes strings that differ by bytes equal.
 *
 * @param collation A collation.
 * @returns `true` at strength 1 and 2 (without `caseLevel`).
 */
export function foldsStrings(collation: Collation | undefined): collation is Collation {
  return collation !== undefined && collation.strength < 3 && collation.spec.caseLevel !== true;
}

/**
 * Folds a string to its collation key at the collation's strength.
 *
 * @param value A string.
 * @param collation A collation that folds strings.
 * @returns The key: lower case, and without accents at strength 1.
 */
export function foldString(value: string, collation: Collation): string {
  const lower = value.toLocaleLowerCase(collation.locale.replace("_", "-"));
  return collation.strength === 1 ? lower.normalize("NFD").replace(/\p{M}/gu, "") : lower;
}

/**
 * Replaces every string inside a value (not field names) by its collation key, copying only
 * what changes. Regular expressions are left as they are: MongoDB does not collate them.
 *
 * @param value A document, array or scalar.
 * @param collation A collation that folds strings.
 * @returns The folded value.
 */
export function foldStrings<T>(value: T, collation: Collation): T {
  if (typeof value === "string") return foldString(value, collation) as T;
  if (Array.isArray(value)) {
    let out: unknown[] | undefined;
    for (let i = 0; i < value.length; i++) {
      const next = foldStrings(value[i], collation);
      if (next !== value[i]) (out ??= [...value])[i] = next;
    }
    return (out ?? value) as T;
  }
  if (!isPlainDoc(value)) return value;
  let out: Doc | undefined;
  for (const [key, item] of Object.entries(value)) {
    const next = foldStrings(item, collation);
    if (next !== item) (out ??= { ...value })[key] = next;
  }
  return (out ?? value) as T;
}

/**
 * Reads the sandbox collation carried in mingo options (set by {@link parseCollation}'s
 * caller as `options.collation`).
 *
 * @param options mingo options or compute options.
 * @returns The collation when it folds strings.
 */
export function optionsCollation(options: unknown): Collation | undefined {
  const spec = (options as { collation?: unknown } | undefined)?.collation;
  // mingo's updater passes an empty collation document when there is none.
  if (!isPlainDoc(spec) || typeof spec.locale !== "string") return undefined;
  const collation = _cache.get(spec) ?? parseCollation(spec);
  if (collation) _cache.set(spec, collation);
  return foldsStrings(collation) ? collation : undefined;
}

const _cache = new WeakMap<Doc, Collation>();
