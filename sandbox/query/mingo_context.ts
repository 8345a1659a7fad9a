/**
 * The mingo configuration the sandbox evaluates queries, pipelines and updates with.
 *
 * mingo 7 compares custom classes through their `toString()` (so two ObjectId instances with
 * the same bytes are equal, and hash alike because bson 7 keeps an ObjectId's bytes in own
 * fields), but orders them by their string form, which is wrong for Long, Decimal128 and
 * Timestamp and ignores MongoDB's cross-type order. The context built here replaces the
 * range query operators and `$sort` with versions that use MongoDB's canonical BSON order.
 *
 * @module
 */

import { Aggregator } from "mingo/aggregator";
import { Context, evalExpr, type ProcessingMode } from "mingo/core";
import { Lazy } from "mingo/lazy";
import * as accumulatorOperators from "mingo/operators/accumulator";
import * as expressionOperators from "mingo/operators/expression";
import * as pipelineOperators from "mingo/operators/pipeline";
import * as projectionOperators from "mingo/operators/projection";
import * as queryOperators from "mingo/operators/query";
import * as windowOperators from "mingo/operators/window";
import { Query } from "mingo/query";
import type { Options } from "mingo/types";
import { resolve } from "mingo/util";
import { compareValues, type Doc, isPlainDoc, pathValues, typeRank } from "../bson_values.ts";
import { type Collation, foldStrings, optionsCollation } from "./collation.ts";
import { CommandError } from "../errors.ts";
import {
  COMPILED_OPERATOR,
  compileStages,
  evalCompiled,
  nativeAddFields,
  nativeProject,
  type NativeStage,
} from "./expressions.ts";

type _RangeTest = (c: number) => boolean;

function _rangeOperator(test: _RangeTest) {
  return (selector: string, value: unknown, _options: unknown) => {
    const rank = typeRank(value);
    return (obj: unknown): boolean => {
      const lhs = resolve(obj as Doc, selector, { unwrapArray: true });
      if (Array.isArray(lhs)) {
        for (const item of lhs) {
          if (typeRank(item) === rank && test(compareValues(item, value))) return true;
        }
        return rank === 6 && test(compareValues(lhs, value));
      }
      return typeRank(lhs) === rank && lhs !== undefined && test(compareValues(lhs, value));
    };
  };
}

type _Compare = (a: unknown, b: unknown) => number;

const _SENSITIVITY = ["base", "base", "accent", "variant", "variant", "variant"] as const;

/** The BSON order, with strings compared as the collation says. */
function _comparator(collation: Collation | undefined): _Compare {
  if (!collation) return compareValues;
  const collator = new Intl.Collator(collation.locale.replace("_", "-"), {
    sensitivity: _SENSITIVITY[collation.strength] ?? "variant",
    ...(collation.spec.numericOrdering === true ? { numeric: true } : {}),
  });
  return (a, b) =>
    typeof a === "string" && typeof b === "string" ? collator.compare(a, b) : compareValues(a, b);
}

/**
 * Sorts documents in place by a MongoDB sort specification, using the canonical BSON order;
 * an array field sorts by its smallest element ascending and its largest descending.
 *
 * @param docs The documents.
 * @param spec The sort specification, e.g. `{ date: -1, _id: 1 }`.
 * @param collation The command's collation (orders strings by its locale).
 * @returns The same array, sorted (stable).
 */
export function sortDocuments<T>(
  docs: T[],
  spec: Record<string, unknown>,
  collation?: Collation,
): T[] {
  const fields = Object.entries(spec).map(([path, dir]) => ({
    path,
    dir: Number(dir) < 0 ? -1 : 1,
  }));
  if (fields.length === 0 || docs.length < 2) return docs;
  const compare = _comparator(collation);
  const keyed = docs.map((doc, index) => ({
    doc,
    index,
    keys: fields.map(({ path, dir }) => _sortKey(doc, path, dir, compare)),
  }));
  keyed.sort((a, b) => {
    for (let i = 0; i < fields.length; i++) {
      const c = compare(a.keys[i], b.keys[i]);
      if (c !== 0) return c * fields[i]!.dir;
    }
    return a.index - b.index;
  });
  for (let i = 0; i < keyed.length; i++) docs[i] = keyed[i]!.doc;
  return docs;
}

function _sortKey(doc: unknown, path: string, dir: number, compare: _Compare): unknown {
  const values = pathValues(doc, path);
  if (values.length === 0) return null;
  let best = values[0];
  for (let i = 1; i < values.length; i++) {
    const c = compare(values[i], best);
    if (dir > 0 ? c < 0 : c > 0) best = values[i];
  }
  return best;
}

type _QueryOperator = (
  selector: string,
  value: unknown,
  options: unknown,
) => (obj: unknown) => boolean;

/**
 * Makes a comparison query operator honour a collation that folds strings: the value and the
 * document are compared by their collation keys. Without such a collation the operator is the
 * original one, so queries without a collation do no extra work.
 */
function _collated(operator: _QueryOperator): _QueryOperator {
  return (selector, value, options) => {
    const collation = optionsCollation(options);
    if (!collation) return operator(selector, value, options);
    const test = operator(selector, foldStrings(value, collation), options);
    return (obj) => test(foldStrings(obj, collation));
  };
}

const _mingoSort = pipelineOperators.$sort;

function $sort(coll: ReturnType<typeof Lazy>, spec: Record<string, unknown>, options: Options) {
  if (options.collation) return _mingoSort(coll, spec as never, options);
  return coll.transform((items: unknown[]) => Lazy(sortDocuments(items, spec)));
}

type _Stage = (coll: ReturnType<typeof Lazy>, spec: Doc, options: Options) => unknown;

/** A projection stage run natively when its specification allows (else by mingo). */
function _native(
  mingo: _Stage,
  plan: (spec: Doc) => NativeStage | undefined,
): _Stage {
  return (coll, spec, options) => {
    const run = isPlainDoc(spec) ? plan(spec) : undefined;
    if (!run) return mingo(coll, spec, options);
    return coll.map((doc: unknown) => run(doc as Doc, options));
  };
}

/**
 * The operator context: all of mingo's operators, with BSON-order `$sort` and range operators,
 * and the private operator compiled expressions run through.
 */
export const SANDBOX_CONTEXT: Context = Context.init({
  accumulator: accumulatorOperators as never,
  expression: { ...expressionOperators, [COMPILED_OPERATOR]: evalCompiled } as never,
  pipeline: {
    ...pipelineOperators,
    $sort,
    $project: _native(pipelineOperators.$project as never, nativeProject),
    $addFields: _native(pipelineOperators.$addFields as never, nativeAddFields),
    $set: _native(pipelineOperators.$set as never, nativeAddFields),
  } as never,
  projection: projectionOperators as never,
  query: {
    ...queryOperators,
    $eq: _collated(queryOperators.$eq as _QueryOperator),
    $ne: _collated(queryOperators.$ne as _QueryOperator),
    $in: _collated(queryOperators.$in as _QueryOperator),
    $nin: _collated(queryOperators.$nin as _QueryOperator),
    $gt: _collated(_rangeOperator((c) => c > 0)),
    $gte: _collated(_rangeOperator((c) => c >= 0)),
    $lt: _collated(_rangeOperator((c) => c < 0)),
    $lte: _collated(_rangeOperator((c) => c <= 0)),
  } as never,
  window: windowOperators as never,
});

/** Resolves a collection name to its documents, for `$lookup` sub-pipelines. */
export type CollectionResolver = (name: string) => Doc[];

/**
 * Builds the mingo options for one evaluation.
 *
 * @param resolver Resolves `from` collections of nested `$lookup` stages.
 * @param variables `let` variables.
 * @param collation The command's collation (queries and `$sort` honour it).
 * @returns mingo options.
 */
export function mingoOptions(
  resolver?: CollectionResolver,
  variables?: Doc,
  collation?: Collation,
): Partial<Options> {
  return {
    context: SANDBOX_CONTEXT,
    processingMode: 0 as ProcessingMode,
    useStrictMode: true,
    // mingo runs its own window operators through $function, so scripts must be on; code from the
    // wire still never runs: mingo executes only JavaScript functions, and BSON decodes none.
    scriptEnabled: true,
    ...(resolver ? { collectionResolver: resolver } : {}),
    ...(variables ? { variables } : {}),
    ...(collation ? { collation: collation.spec as unknown as Options["collation"] } : {}),
  };
}

/**
 * Evaluates a command's `let` document: each value is an expression evaluated once, before
 * the command runs (so `{ $literal: "$x" }` gives the string `"$x"`, `{ $rand: {} }` a number).
 *
 * @param spec The `let` document.
 * @param now The command's `$$NOW`.
 * @returns The variables, or `undefined` when there are none.
 */
export function evaluateLet(spec: Doc | undefined, now: Date = new Date()): Doc | undefined {
  if (!spec) return undefined;
  const options = mingoOptions() as Options;
  const out: Doc = {};
  for (const [name, expr] of Object.entries(spec)) {
    if (!/^[a-z\u0080-\uffff][\w\u0080-\uffff]*$/.test(name)) {
      throw new CommandError(
        16867,
        `'${name}' starts with an invalid character for a user variable name`,
      );
    }
    out[name] = evalExpr({}, pinNow(expr, now), options);
  }
  return out;
}

/**
 * Compiles a query filter into a predicate.
 *
 * @param filter A MongoDB query filter.
 * @param options mingo options from {@link mingoOptions}.
 * @returns A predicate over documents.
 */
export function compileFilter(
  filter: Doc,
  options: Partial<Options> = mingoOptions(),
): (doc: Doc) => boolean {
  if (Object.keys(filter).length === 0) return () => true;
  const query = new Query(filter, options);
  return (doc) => query.test(doc);
}

/**
 * Runs a pipeline of mingo stages over documents, with the expressions of `$project`,
 * `$addFields` and `$set` compiled once for the whole run.
 *
 * @param docs Input documents (never mutated).
 * @param stages Pipeline stages.
 * @param options mingo options from {@link mingoOptions}.
 * @returns The output documents.
 */
export function runStages(docs: Doc[], stages: Doc[], options: Partial<Options>): Doc[] {
  if (stages.length === 0) return docs;
  const compiled = compileStages(stages, options.context ?? SANDBOX_CONTEXT);
  return new Aggregator(compiled as never, options).run(docs) as Doc[];
}

/**
 * Applies a find projection to documents.
 *
 * @param docs The documents.
 * @param projection A projection document.
 * @param options mingo options.
 * @returns The projected documents.
 */
export function projectDocuments(
  docs: Doc[],
  projection: Doc,
  options: Partial<Options> = mingoOptions(),
): Doc[] {
  if (Object.keys(projection).length === 0) return docs;
  return new Query({}, options).find(docs, projection).all() as Doc[];
}

/**
 * Replaces `$$NOW` in a pipeline by one fixed date: MongoDB gives `$$NOW` the same value in every
 * stage of one command (and mingo would read the clock again in each stage). `$literal` values
 * are left as they are.
 *
 * @param spec A pipeline, stage or expression.
 * @param now The command's time.
 * @returns The same spec with `$$NOW` pinned (a copy only where something changed).
 */
export function pinNow<T>(spec: T, now: Date = new Date()): T {
  const visit = (value: unknown): unknown => {
    if (value === "$$NOW") return { $literal: now };
    if (Array.isArray(value)) {
      let changed = false;
      const out = value.map((item) => {
        const next = visit(item);
        if (next !== item) changed = true;
        return next;
      });
      return changed ? out : value;
    }
    if (
      value === null || typeof value !== "object" ||
      Object.getPrototypeOf(value) !== Object.prototype
    ) {
      return value;
    }
    let out: Record<string, unknown> | undefined;
    for (const [key, item] of Object.entries(value)) {
      if (key === "$literal") continue;
      const next = visit(item);
      if (next !== item) (out ??= { ...(value as Record<string, unknown>) })[key] = next;
    }
    return out ?? value;
  };
  return visit(spec) as T;
}
