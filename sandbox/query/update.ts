/**
 * Applying update documents (operators or pipelines) and replacements, the `updateDescription`
 * of change events, and the document an upsert starts from.
 *
 * @module
 */

import { update as mingoUpdate } from "mingo/updater";
import { cloneValue, type Doc, isPlainDoc, setPath, typeRank, valueKey } from "../bson_values.ts";
import { withIdFirst } from "../engine/collection.ts";
import { asCommandError, CommandError } from "../errors.ts";
import { renderValue } from "../render.ts";
import type { Collation } from "./collation.ts";
import { mingoOptions, pinNow, runStages } from "./mingo_context.ts";

const _UPDATE_OPERATORS = new Set([
  "$set",
  "$unset",
  "$inc",
  "$mul",
  "$min",
  "$max",
  "$rename",
  "$currentDate",
  "$push",
  "$addToSet",
  "$pop",
  "$pull",
  "$pullAll",
  "$bit",
  "$setOnInsert",
]);

/**
 * Tells whether an update document uses operators (as opposed to being a replacement).
 *
 * @param update The `u` of an update statement.
 * @returns `true` for operator updates and pipelines.
 */
export function isOperatorUpdate(update: unknown): boolean {
  if (Array.isArray(update)) return true;
  if (!isPlainDoc(update)) return false;
  const first = Object.keys(update)[0];
  return first !== undefined && first.startsWith("$");
}

/** Options of {@link applyUpdate}. */
export interface ApplyUpdateOptions {
  /** The query filter (for the positional `$` operator). */
  filter?: Doc;
  /** `arrayFilters` of the statement. */
  arrayFilters?: Doc[];
  /** Whether this builds an upserted document (applies `$setOnInsert`). */
  inserting?: boolean;
  /** The command's evaluated `let` variables (pipeline updates read them). */
  variables?: Doc;
  /** The statement's collation (the positional `$` finds its element with it). */
  collation?: Collation;
}

/** The stages an update pipeline may use, as MongoDB documents them. */
const _UPDATE_STAGES = new Set([
  "$addFields",
  "$set",
  "$project",
  "$unset",
  "$replaceRoot",
  "$replaceWith",
]);

function _checkUpdateStage(stage: unknown): void {
  const name = isPlainDoc(stage) ? Object.keys(stage)[0] : undefined;
  if (name === undefined || !isPlainDoc(stage) || Object.keys(stage).length !== 1) {
    throw new CommandError(
      40323,
      "A pipeline stage specification object must contain exactly one field.",
    );
  }
  if (!_UPDATE_STAGES.has(name)) {
    throw new CommandError(72, `${name} is not allowed to be used within an update`);
  }
}

/**
 * Applies an operator or pipeline update to a document, without changing it.
 *
 * @param doc The current document.
 * @param update Update operators, or a pipeline.
 * @param options Filter, array filters, upsert mode.
 * @returns The new version of the document.
 */
export function applyUpdate(doc: Doc, update: Doc | Doc[], options: ApplyUpdateOptions = {}): Doc {
  const copy = cloneValue(doc);
  let result: Doc;
  try {
    if (Array.isArray(update)) {
      for (const stage of update) _checkUpdateStage(stage);
      result = runStages([copy], pinNow(update), mingoOptions(undefined, options.variables))[0]!;
      if (!isPlainDoc(result)) {
        throw new CommandError(
          40228,
          "'replacement document' must evaluate to an object",
        );
      }
      // A pipeline that drops _id (e.g. $replaceRoot) keeps the document's own, as in MongoDB.
      if (!("_id" in result) && "_id" in doc) result = { _id: doc._id, ...result };
    } else {
      const modifier: Doc = {};
      for (const [op, args] of Object.entries(update)) {
        if (!_UPDATE_OPERATORS.has(op)) {
          throw new CommandError(
            9,
            `Unknown modifier: ${op}. Expected a valid update modifier or pipeline-style update specified as an array`,
          );
        }
        if (!isPlainDoc(args)) {
          throw new CommandError(
            9,
            `Modifiers operate on fields but we found type ${typeof args} instead. For example: {$mod: {<field>: ...}} not {${op}: ${
              JSON.stringify(args)
            }}`,
          );
        }
        if (op === "$setOnInsert") {
          if (options.inserting) modifier.$set = { ...(modifier.$set as Doc ?? {}), ...args };
          continue;
        }
        if (op === "$set" && modifier.$set) modifier.$set = { ...(modifier.$set as Doc), ...args };
        else modifier[op] = args;
      }
      if (Object.keys(modifier).length > 0) {
        mingoUpdate(copy, modifier as never, options.arrayFilters, options.filter ?? {}, {
          cloneMode: "deep",
          queryOptions: mingoOptions(undefined, options.variables, options.collation),
        });
      }
      result = copy;
    }
  } catch (error) {
    throw asCommandError(error);
  }
  if (!options.inserting && valueKey(result._id) !== valueKey(doc._id)) _immutableId();
  return withIdFirst(result);
}

function _immutableId(): never {
  throw new CommandError(
    66,
    "Performing an update on the path '_id' would modify the immutable field '_id'",
  );
}

/**
 * Checks a replacement document and gives it the `_id` of the document it replaces.
 *
 * @param doc The current document (or the upsert seed).
 * @param replacement The replacement.
 * @returns The new document.
 */
export function applyReplacement(doc: Doc, replacement: Doc): Doc {
  for (const key of Object.keys(replacement)) {
    if (key.startsWith("$")) {
      throw new CommandError(
        52,
        `The dollar ($) prefixed field '${key}' in '${key}' is not allowed in the context of an update's replacement document. Consider using an aggregation pipeline with $replaceWith.`,
      );
    }
  }
  if ("_id" in replacement && "_id" in doc && valueKey(replacement._id) !== valueKey(doc._id)) {
    throw new CommandError(
      66,
      `After applying the update, the (immutable) field '_id' was found to have been altered to _id: ${
        renderValue(replacement._id)
      }`,
    );
  }
  const { _id: _ignored, ...rest } = replacement;
  return "_id" in doc ? { _id: doc._id, ...rest } : withIdFirst(replacement);
}

/**
 * Builds the document an upsert starts from: the filter's equality conditions.
 *
 * @param filter The query filter.
 * @returns The seed document.
 */
export function upsertSeed(filter: Doc): Doc {
  const seed: Doc = {};
  const visit = (f: Doc) => {
    for (const [field, condition] of Object.entries(f)) {
      if (field === "$and" && Array.isArray(condition)) {
        for (const branch of condition) if (isPlainDoc(branch)) visit(branch);
      } else if (field.startsWith("$")) {
        continue;
      } else if (isPlainDoc(condition) && Object.keys(condition).some((k) => k.startsWith("$"))) {
        if ("$eq" in condition) setPath(seed, field, cloneValue(condition.$eq));
      } else if (!(condition instanceof RegExp)) {
        setPath(seed, field, cloneValue(condition));
      }
    }
  };
  visit(filter);
  return seed;
}

function _same(a: unknown, b: unknown): boolean {
  return typeRank(a) === typeRank(b) && valueKey(a) === valueKey(b) &&
    (typeof a === typeof b);
}

/**
 * Describes how a document changed, as an update change event's `updateDescription`.
 *
 * @param before The document before.
 * @param after The document after.
 * @returns `{ updatedFields, removedFields, truncatedArrays }`.
 */
export function describeUpdate(before: Doc, after: Doc): Doc {
  const updatedFields: Doc = {};
  const removedFields: string[] = [];
  const truncatedArrays: Doc[] = [];
  _diff(before, after, "", updatedFields, removedFields, truncatedArrays);
  return { updatedFields, removedFields, truncatedArrays };
}

function _diff(
  before: Doc,
  after: Doc,
  prefix: string,
  updated: Doc,
  removed: string[],
  truncated: Doc[],
): void {
  for (const key of Object.keys(before)) if (!(key in after)) removed.push(prefix + key);
  for (const [key, value] of Object.entries(after)) {
    const path = prefix + key;
    if (!(key in before)) {
      updated[path] = value;
      continue;
    }
    const old = before[key];
    if (old === value || _same(old, value)) continue;
    if (isPlainDoc(old) && isPlainDoc(value)) {
      _diff(old, value, path + ".", updated, removed, truncated);
    } else if (Array.isArray(old) && Array.isArray(value)) {
      _diffArray(old, value, path, updated, removed, truncated);
    } else {
      updated[path] = value;
    }
  }
}

function _diffArray(
  old: unknown[],
  value: unknown[],
  path: string,
  updated: Doc,
  removed: string[],
  truncated: Doc[],
) {
  const common = Math.min(old.length, value.length);
  const changed: number[] = [];
  for (let i = 0; i < common; i++) if (!_same(old[i], value[i])) changed.push(i);
  if (changed.length * 2 > Math.max(common, 1) && changed.length > 1) {
    updated[path] = value;
    return;
  }
  if (value.length < old.length) truncated.push({ field: path, newSize: value.length });
  for (const i of changed) {
    const before = old[i];
    const after = value[i];
    // A changed sub-document of an array is described field by field, as MongoDB's delta does.
    if (isPlainDoc(before) && isPlainDoc(after)) {
      _diff(before, after, `${path}.${i}.`, updated, removed, truncated);
    } else {
      updated[`${path}.${i}`] = after;
    }
  }
  for (let i = common; i < value.length; i++) updated[`${path}.${i}`] = value[i];
}
