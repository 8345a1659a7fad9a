/**
 * The archive's unique index on `numero_commande`, checked against what the operators' database
 * already holds. An equivalent unique index under another name (`numero_commande_1`, as older
 * tools leave it) is accepted as it is; an index on the same key that cannot guarantee one
 * document per order (not unique, partial, sparse, or with a collation) is a deployment problem
 * named in one line with what to do, as are duplicate numbers that make the index impossible.
 * Nothing is dropped or changed here: that is the operator's decision.
 *
 * @module
 */

import { type Collection, type Document, MongoServerError } from "mongodb";
import { ConfigError } from "../runtime/errors.ts";

/** The name the archiver gives the archive's unique index when it creates it. */
export const ARCHIVE_INDEX = "numero_commande_unique";

/** What the archive's indexes say about its unique `numero_commande` index. */
export type ArchiveIndexState = { ok: true; name: string } | { ok: false; problem: string };

const _NAMESPACE_NOT_FOUND = 26;
const _DUPLICATE_KEY = 11000;
const _INDEX_CONFLICTS = new Set([85, 86]);
// How many duplicated numbers a message names.
const _SHOWN_DUPLICATES = 5;

/**
 * Ensures the archive has a unique index on `numero_commande`: accepts an equivalent one under
 * any name, else creates `numero_commande_unique` (simple collation, whatever the collection's
 * default). Transient errors propagate for the caller to retry.
 *
 * @param archive The archive collection.
 * @throws {ConfigError} When an index on `numero_commande` cannot guarantee one document per
 *   order, an index named `numero_commande_unique` is something else, or the archive already
 *   holds duplicate numbers (naming a few); exit code 2.
 * @example
 * ```ts
 * await retryTransient("Creating the archive index", () => ensureArchiveIndex(archive), { log });
 * ```
 */
export async function ensureArchiveIndex(archive: Collection): Promise<void> {
  for (let attempt = 1;; attempt++) {
    const found = await _inspect(archive);
    if (found.kind === "ok") return;
    if (found.kind === "problem") throw new ConfigError(found.problem);
    try {
      await archive.createIndex({ numero_commande: 1 }, {
        name: ARCHIVE_INDEX,
        unique: true,
        collation: { locale: "simple" },
      });
      return;
    } catch (error) {
      if (!(error instanceof MongoServerError)) throw error;
      if (error.code === _DUPLICATE_KEY) {
        const duplicates = await _duplicates(archive);
        if (duplicates.length > 0) {
          throw new ConfigError(_duplicatesMessage(archive, duplicates), { cause: error });
        }
        // The duplicates went away meanwhile (another tool cleaned them): look again once.
      } else if (!_INDEX_CONFLICTS.has(error.code as number)) {
        throw error;
      }
      // Another tool created an index at the same moment: look at what it made, once.
      if (attempt >= 2) {
        throw new ConfigError(
          `Cannot create the unique index on numero_commande of the archive ${archive.collectionName}: ${
            _firstLine(error.message)
          }: check its indexes (db.${archive.collectionName}.getIndexes()) and re-run`,
          { cause: error },
        );
      }
    }
  }
}

/**
 * Reads the archive's indexes and says whether one guarantees one document per order, for
 * health: a missing index is a problem too (batch and watch create it when they start).
 *
 * @param archive The archive collection.
 * @returns The accepted index's name, or the problem in one line.
 * @throws What the driver throws reading the indexes (a missing collection has none).
 */
export async function inspectArchiveIndex(archive: Collection): Promise<ArchiveIndexState> {
  const found = await _inspect(archive);
  if (found.kind === "ok") return { ok: true, name: found.name };
  if (found.kind === "problem") return { ok: false, problem: found.problem };
  return {
    ok: false,
    problem: `The archive ${archive.collectionName} has no unique index on numero_commande: ` +
      `batch and watch create it when they start`,
  };
}

type _Inspection =
  | { kind: "ok"; name: string }
  | { kind: "problem"; problem: string }
  | { kind: "missing" };

async function _inspect(archive: Collection): Promise<_Inspection> {
  const indexes = await _listIndexes(archive);
  const onNumber = indexes.filter((index) => _isNumberKey(index.key));
  const accepted = onNumber.find((index) => _flaws(index).length === 0);
  if (accepted) return { kind: "ok", name: String(accepted.name) };
  const flawed: Array<{ name: string; flaws: string[]; key?: string }> = onNumber.map((
    index,
  ) => ({ name: String(index.name), flaws: _flaws(index) }));
  const taken = indexes.find((index) => index.name === ARCHIVE_INDEX && !_isNumberKey(index.key));
  if (taken) {
    const key = _shell(taken.key);
    flawed.push({ name: ARCHIVE_INDEX, flaws: [`is on ${key}`], key });
  }
  if (flawed.length === 0) return { kind: "missing" };
  return { kind: "problem", problem: _problemMessage(archive.collectionName, flawed) };
}

async function _listIndexes(archive: Collection): Promise<Document[]> {
  try {
    return await archive.listIndexes().toArray();
  } catch (error) {
    if (error instanceof MongoServerError && error.code === _NAMESPACE_NOT_FOUND) return [];
    throw error;
  }
}

function _isNumberKey(key: unknown): boolean {
  if (typeof key !== "object" || key === null) return false;
  const fields = Object.entries(key);
  if (fields.length !== 1) return false;
  const [field, direction] = fields[0]!;
  return field === "numero_commande" && (Number(direction) === 1 || Number(direction) === -1);
}

/** Why an index on `numero_commande` does not make the archive hold one document per order. */
function _flaws(index: Document): string[] {
  const flaws: string[] = [];
  if (index.unique !== true) flaws.push("is not unique");
  if (index.partialFilterExpression !== undefined) {
    flaws.push(`is partial (unique only where ${_shell(index.partialFilterExpression)})`);
  }
  if (index.sparse === true) flaws.push("is sparse (it leaves out orders without a number)");
  const locale = (index.collation as { locale?: unknown } | undefined)?.locale;
  if (locale !== undefined && locale !== "simple") {
    flaws.push(`has collation "${String(locale)}" (numbers must compare exactly)`);
  }
  return flaws;
}

function _problemMessage(
  archive: string,
  flawed: ReadonlyArray<{ name: string; flaws: string[]; key?: string }>,
): string {
  const drop = (name: string) => `db.${archive}.dropIndex(${JSON.stringify(name)})`;
  const fix = "and re-run, and the archiver creates the unique index";
  if (flawed.length === 1) {
    const { name, flaws, key } = flawed[0]!;
    const what = key === undefined
      ? `index "${name}" on numero_commande that ${flaws.join(" and ")}`
      : `an index named "${name}" on ${key}, the name of the archiver's own index`;
    return `The archive ${archive} has ${what}: drop it (${drop(name)}) ${fix}`;
  }
  const listed = flawed.map(({ name, flaws }) => `"${name}" ${flaws.join(" and ")}`).join(", ");
  return `The archive ${archive} has indexes that cannot guarantee one document per numero_commande: ${listed}: drop them (${
    flawed.map(({ name }) => drop(name)).join(", ")
  }) ${fix}`;
}

async function _duplicates(
  archive: Collection,
): Promise<Array<{ numero_commande: unknown; count: number }>> {
  return await archive.aggregate<{ numero_commande: unknown; count: number }>([
    { $group: { _id: "$numero_commande", count: { $sum: 1 } } },
    { $match: { count: { $gt: 1 } } },
    { $sort: { count: -1, _id: 1 } },
    { $limit: _SHOWN_DUPLICATES },
    { $project: { _id: 0, numero_commande: "$_id", count: 1 } },
  ], { allowDiskUse: true }).toArray();
}

function _duplicatesMessage(
  archive: Collection,
  duplicates: ReadonlyArray<{ numero_commande: unknown; count: number }>,
): string {
  const name = archive.collectionName;
  const listed = duplicates.map(({ numero_commande, count }) =>
    numero_commande === null || numero_commande === undefined
      ? `${count} documents without numero_commande`
      : `${_shell(numero_commande)} ${count} times`
  ).join(", ");
  const more = duplicates.length >= _SHOWN_DUPLICATES ? ", …" : "";
  return `Cannot create the unique index on numero_commande of the archive ${name}: it already holds the same order more than once (${listed}${more}): remove the duplicates, keeping one document per numero_commande, and re-run`;
}

/** A value as the MongoDB shell shows it: `"CMD-1"`, `{ status: "x" }`. */
function _shell(value: unknown): string {
  if (typeof value === "string") return JSON.stringify(value);
  if (value instanceof Date) return `ISODate("${value.toISOString()}")`;
  if (Array.isArray(value)) return `[ ${value.map(_shell).join(", ")} ]`;
  if (typeof value === "object" && value !== null) {
    if ("_bsontype" in value) return String(value);
    const fields = Object.entries(value).map(([k, v]) => `${k}: ${_shell(v)}`);
    return fields.length === 0 ? "{}" : `{ ${fields.join(", ")} }`;
  }
  return String(value);
}

function _firstLine(text: string): string {
  return text.split("\n")[0] ?? text;
}
