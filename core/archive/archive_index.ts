/**
 * The archive's two unique indexes: on `order_id` (an order is its `_id`: at most one archive
 * document per order, and the key `$merge` matches on) and on `numero_commande` (a number is
 * archived once; a delivered order whose number is archived for another order is a `conflict`).
 * Each is checked against what the operators' database already holds. An equivalent unique index
 * under another name (`numero_commande_1`, as older tools leave it) is accepted as it is; an index
 * on the same key that cannot guarantee one document per value (not unique, partial, sparse, or
 * with a collation) is a deployment problem named in one line with what to do, as are duplicate
 * values that make the index impossible (an archive made by an older version with two documents
 * for one order). Nothing is dropped or changed here: that is the operator's decision.
 *
 * @module
 */

import { type Collection, type Document, MongoServerError } from "mongodb";
import { ConfigError } from "../runtime/errors.ts";
import { describeOrderId } from "./order_id.ts";

/** The name the archiver gives the archive's unique index on `numero_commande`. */
export const ARCHIVE_INDEX = "numero_commande_unique";

/** The name the archiver gives the archive's unique index on `order_id`. */
export const ORDER_ID_INDEX = "order_id_unique";

/** The archive's unique keys, each with the name the archiver gives its index, in build order. */
export const ARCHIVE_KEYS: ReadonlyArray<{ field: ArchiveKey; name: string }> = [
  { field: "order_id", name: ORDER_ID_INDEX },
  { field: "numero_commande", name: ARCHIVE_INDEX },
];

/** A field the archive is unique on. */
export type ArchiveKey = "order_id" | "numero_commande";

/** What the archive's indexes say about its unique indexes (names joined by ", " when ok). */
export type ArchiveIndexState = { ok: true; name: string } | { ok: false; problem: string };

const _NAMESPACE_NOT_FOUND = 26;
const _DUPLICATE_KEY = 11000;
const _INDEX_CONFLICTS = new Set([85, 86]);
// How many duplicated numbers a message names.
const _SHOWN_DUPLICATES = 5;

/**
 * Ensures the archive has its unique indexes on `order_id` and `numero_commande`: accepts an
 * equivalent one under any name, else creates `order_id_unique` / `numero_commande_unique`
 * (simple collation, whatever the collection's default). Transient errors propagate for the
 * caller to retry.
 *
 * @param archive The archive collection.
 * @throws {ConfigError} When an index on one of the keys cannot guarantee one document per value,
 *   an index with the archiver's name is something else, or the archive already holds duplicate
 *   values (naming a few: two documents for one order, or one number twice); exit code 2.
 * @example
 * ```ts
 * await retryTransient("Creating the archive index", () => ensureArchiveIndex(archive), { log });
 * ```
 */
export async function ensureArchiveIndex(archive: Collection): Promise<void> {
  for (const key of ARCHIVE_KEYS) await _ensureUnique(archive, key);
}

async function _ensureUnique(
  archive: Collection,
  key: { field: ArchiveKey; name: string },
): Promise<void> {
  const { field } = key;
  for (let attempt = 1;; attempt++) {
    const found = await _inspect(archive, key);
    if (found.kind === "ok") return;
    if (found.kind === "problem") throw new ConfigError(found.problem);
    try {
      await archive.createIndex({ [field]: 1 }, {
        name: key.name,
        unique: true,
        collation: { locale: "simple" },
      });
      return;
    } catch (error) {
      if (!(error instanceof MongoServerError)) throw error;
      if (error.code === _DUPLICATE_KEY) {
        const duplicates = await _duplicates(archive, field);
        if (duplicates.length > 0) {
          throw new ConfigError(_duplicatesMessage(archive, field, duplicates), { cause: error });
        }
        // The duplicates went away meanwhile (another tool cleaned them): look again once.
      } else if (!_INDEX_CONFLICTS.has(error.code as number)) {
        throw error;
      }
      // Another tool created an index at the same moment: look at what it made, once.
      if (attempt >= 2) {
        throw new ConfigError(
          `Cannot create the unique index on ${field} of the archive ${archive.collectionName}: ${
            _firstLine(error.message)
          }: check its indexes (db.${archive.collectionName}.getIndexes()) and re-run`,
          { cause: error },
        );
      }
    }
  }
}

/**
 * Reads the archive's indexes and says whether they guarantee one document per order and per
 * number, for health: a missing index is a problem too (batch and watch create them when they
 * start).
 *
 * @param archive The archive collection.
 * @returns The accepted indexes' names, or the first problem in one line.
 * @throws What the driver throws reading the indexes (a missing collection has none).
 */
export async function inspectArchiveIndex(archive: Collection): Promise<ArchiveIndexState> {
  const names: string[] = [];
  for (const key of ARCHIVE_KEYS) {
    const found = await _inspect(archive, key);
    if (found.kind === "problem") return { ok: false, problem: found.problem };
    if (found.kind === "missing") {
      return {
        ok: false,
        problem: `The archive ${archive.collectionName} has no unique index on ${key.field}: ` +
          `batch and watch create it when they start`,
      };
    }
    names.push(found.name);
  }
  return { ok: true, name: names.join(", ") };
}

type _Inspection =
  | { kind: "ok"; name: string }
  | { kind: "problem"; problem: string }
  | { kind: "missing" };

async function _inspect(
  archive: Collection,
  key: { field: ArchiveKey; name: string },
): Promise<_Inspection> {
  const indexes = await _listIndexes(archive);
  const onField = indexes.filter((index) => _isKeyOn(index.key, key.field));
  const accepted = onField.find((index) => _flaws(index, key.field).length === 0);
  if (accepted) return { kind: "ok", name: String(accepted.name) };
  const flawed: Array<{ name: string; flaws: string[]; key?: string }> = onField.map((
    index,
  ) => ({ name: String(index.name), flaws: _flaws(index, key.field) }));
  const taken = indexes.find((index) => index.name === key.name && !_isKeyOn(index.key, key.field));
  if (taken) {
    const shown = _shell(taken.key);
    flawed.push({ name: key.name, flaws: [`is on ${shown}`], key: shown });
  }
  if (flawed.length === 0) return { kind: "missing" };
  return {
    kind: "problem",
    problem: _problemMessage(archive.collectionName, key.field, flawed),
  };
}

async function _listIndexes(archive: Collection): Promise<Document[]> {
  try {
    return await archive.listIndexes().toArray();
  } catch (error) {
    if (error instanceof MongoServerError && error.code === _NAMESPACE_NOT_FOUND) return [];
    throw error;
  }
}

function _isKeyOn(key: unknown, on: ArchiveKey): boolean {
  if (typeof key !== "object" || key === null) return false;
  const fields = Object.entries(key);
  if (fields.length !== 1) return false;
  const [field, direction] = fields[0]!;
  return field === on && (Number(direction) === 1 || Number(direction) === -1);
}

/** Why an index on one of the keys does not make the archive hold one document per value. */
function _flaws(index: Document, field: ArchiveKey): string[] {
  const flaws: string[] = [];
  if (index.unique !== true) flaws.push("is not unique");
  if (index.partialFilterExpression !== undefined) {
    flaws.push(`is partial (unique only where ${_shell(index.partialFilterExpression)})`);
  }
  if (index.sparse === true) {
    flaws.push(`is sparse (it leaves out orders without ${_article(field)})`);
  }
  const locale = (index.collation as { locale?: unknown } | undefined)?.locale;
  if (locale !== undefined && locale !== "simple") {
    flaws.push(`has collation "${String(locale)}" (${_plural(field)} must compare exactly)`);
  }
  return flaws;
}

function _problemMessage(
  archive: string,
  field: ArchiveKey,
  flawed: ReadonlyArray<{ name: string; flaws: string[]; key?: string }>,
): string {
  const drop = (name: string) => `db.${archive}.dropIndex(${JSON.stringify(name)})`;
  const fix = "and re-run, and the archiver creates the unique index";
  if (flawed.length === 1) {
    const { name, flaws, key } = flawed[0]!;
    const what = key === undefined
      ? `index "${name}" on ${field} that ${flaws.join(" and ")}`
      : `an index named "${name}" on ${key}, the name of the archiver's own index`;
    return `The archive ${archive} has ${what}: drop it (${drop(name)}) ${fix}`;
  }
  const listed = flawed.map(({ name, flaws }) => `"${name}" ${flaws.join(" and ")}`).join(", ");
  return `The archive ${archive} has indexes that cannot guarantee one document per ${field}: ${listed}: drop them (${
    flawed.map(({ name }) => drop(name)).join(", ")
  }) ${fix}`;
}

async function _duplicates(
  archive: Collection,
  field: ArchiveKey,
): Promise<Array<{ value: unknown; count: number }>> {
  return await archive.aggregate<{ value: unknown; count: number }>([
    { $group: { _id: `$${field}`, count: { $sum: 1 } } },
    { $match: { count: { $gt: 1 } } },
    { $sort: { count: -1, _id: 1 } },
    { $limit: _SHOWN_DUPLICATES },
    { $project: { _id: 0, value: "$_id", count: 1 } },
  ], { allowDiskUse: true }).toArray();
}

function _duplicatesMessage(
  archive: Collection,
  field: ArchiveKey,
  duplicates: ReadonlyArray<{ value: unknown; count: number }>,
): string {
  const name = archive.collectionName;
  const listed = duplicates.map(({ value, count }) =>
    value === null || value === undefined
      ? `${count} documents without ${field}`
      : `${_shell(value)} ${count} times`
  ).join(", ");
  const more = duplicates.length >= _SHOWN_DUPLICATES ? ", …" : "";
  const what = field === "order_id"
    ? "several documents for one order (an archive made by an older version)"
    : "the same order number more than once";
  return `Cannot create the unique index on ${field} of the archive ${name}: it already holds ${what} (${listed}${more}): remove the duplicates, keeping one document per ${field}, and re-run`;
}

function _article(field: ArchiveKey): string {
  return field === "order_id" ? "an order_id" : "a number";
}

function _plural(field: ArchiveKey): string {
  return field === "order_id" ? "order ids" : "numbers";
}

/** A value as the MongoDB shell shows it: `"CMD-1"`, `{ status: "x" }`. */
function _shell(value: unknown): string {
  if (typeof value === "string") return JSON.stringify(value);
  if (value instanceof Date) return `ISODate("${value.toISOString()}")`;
  if (Array.isArray(value)) return `[ ${value.map(_shell).join(", ")} ]`;
  if (typeof value === "object" && value !== null) {
    if ("_bsontype" in value) return describeOrderId(value);
    const fields = Object.entries(value).map(([k, v]) => `${k}: ${_shell(v)}`);
    return fields.length === 0 ? "{}" : `{ ${fields.join(", ")} }`;
  }
  return String(value);
}

function _firstLine(text: string): string {
  return text.split("\n")[0] ?? text;
}
