/**
 * Aggregation expressions compiled once per aggregation instead of interpreted per document.
 *
 * mingo walks an expression tree for every document: it re-reads operator names, and builds a
 * merged variables object for every `$$variable` it meets. For `$project`, `$addFields` and
 * `$set`, the sandbox compiles each operator expression into a closure and hands it to mingo
 * wrapped in a private operator, so mingo's own stage code (field order, missing values,
 * inclusion rules) still shapes the output. The closures keep mingo's semantics:
 *
 * - field paths, variables, object and array literals are resolved as mingo resolves them;
 * - `$let`, `$map`, `$filter`, `$cond`, `$ifNull`, `$and`, `$or` and `$literal` are
 *   evaluated here, and hand anything unusual (a malformed specification, an input of the
 *   wrong type) to mingo so that its errors stay the same;
 * - operators that evaluate all their arguments first (arithmetic, comparisons, most array,
 *   set, string and conversion operators) get their arguments from compiled closures, then run
 *   mingo's own implementation on those values;
 * - any other operator is evaluated by mingo, with the variables in scope.
 *
 * @module
 */

import { type Context, evalExpr } from "mingo/core";
import type { Options } from "mingo/types";
import { ObjectId } from "bson";
import { type Doc, isPlainDoc } from "../bson_values.ts";

/** The name of the private operator compiled expressions travel under inside a stage. */
export const COMPILED_OPERATOR = "$_sandboxCompiled";

/** Variables in scope: mingo's `{ ...globals, this: current, ...locals }`. */
type _Scope = Record<string, unknown>;

/** What a compiled expression evaluates against. */
interface _Frame {
  /** The current document (`$$CURRENT`). */
  obj: unknown;
  /** The stage's document (`$$ROOT`, and what field paths resolve against). */
  root: unknown;
  /** Variables. */
  scope: _Scope;
  /** mingo's options, for operators mingo evaluates. */
  options: Options;
}

type _Compiled = (frame: _Frame) => unknown;

/** A compiled expression, as the private operator receives it. */
export class CompiledExpression {
  /** The evaluator. */
  readonly fn: _Compiled;
  /** The source expression. */
  readonly source: unknown;

  /**
   * @param fn The evaluator.
   * @param source The source expression.
   */
  constructor(fn: _Compiled, source: unknown) {
    this.fn = fn;
    this.source = source;
  }
}

/** Operators that evaluate their whole argument first and use nothing else of it. */
const _EAGER = new Set([
  "$abs",
  "$add",
  "$ceil",
  "$divide",
  "$exp",
  "$floor",
  "$ln",
  "$log",
  "$log10",
  "$mod",
  "$multiply",
  "$pow",
  "$round",
  "$subtract",
  "$trunc",
  "$arrayElemAt",
  "$arrayToObject",
  "$concatArrays",
  "$in",
  "$indexOfArray",
  "$range",
  "$reverseArray",
  "$size",
  "$slice",
  "$objectToArray",
  "$setDifference",
  "$setEquals",
  "$setIntersection",
  "$setIsSubset",
  "$concat",
  "$split",
  "$strLenBytes",
  "$strLenCP",
  "$strcasecmp",
  "$toBool",
  "$toDate",
  "$toDouble",
  "$toString",
  "$type",
  "$isNumber",
  "$eq",
  "$ne",
  "$gt",
  "$gte",
  "$lt",
  "$lte",
  "$cmp",
]);

const _SYSTEM_VARS = new Set(["$$ROOT", "$$CURRENT", "$$REMOVE", "$$NOW"]);

const _isOperator = (name: string | undefined): name is string =>
  name !== undefined && name[0] === "$" && /^\$[a-zA-Z0-9_]+$/.test(name);

const _isNil = (v: unknown) => v === null || v === undefined;

const _truthy = (v: unknown, strict: boolean | undefined) => !!v || (!!strict && v === "");

/** Whether mingo evaluates a value to itself (so it can be passed to an operator as is). */
function _inert(v: unknown): boolean {
  switch (typeof v) {
    case "string":
      return v[0] !== "$";
    case "object":
      return v === null || v instanceof Date;
    default:
      return true;
  }
}

/** Turns an evaluated value back into an expression mingo evaluates to that value. */
const _quote = (v: unknown): unknown => (_inert(v) ? v : { $literal: v });

const _OBJECT_PROTO_PROPS = new Set(
  Object.getOwnPropertyNames(Object.prototype).filter((s) => s !== "__proto__"),
);

const _isPrimitive = (v: unknown) =>
  (typeof v !== "object" && typeof v !== "function") || v === null;

/** mingo's `getValue`: one step of a path. */
function _step(obj: unknown, key: string): unknown {
  if (obj === Object.prototype || _isPrimitive(obj)) return undefined;
  if (Array.isArray(obj)) return obj[Number(key)];
  if (_OBJECT_PROTO_PROPS.has(key) && !Object.hasOwn(obj as object, key)) return undefined;
  return (obj as Doc)[key];
}

const _isDigits = (s: string) => {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 48 || c > 57) return false;
  }
  return true;
};

/**
 * mingo's path resolution (`resolve` without `unwrapArray`), with the path split once: a
 * non-numeric field applied to an array maps over its elements, dropping missing values, and
 * does not descend into directly nested arrays.
 */
function _walk(
  value: unknown,
  fields: string[],
  digits: boolean[],
  start: number,
  nested: boolean,
): unknown {
  for (let i = start; i < fields.length; i++) {
    if (!digits[i] && Array.isArray(value)) {
      if (nested && i === start) break;
      const out: unknown[] = [];
      for (const item of value) {
        const v = _walk(item, fields, digits, i, true);
        if (v !== undefined) out.push(v);
      }
      return out;
    }
    value = _step(value, fields[i]!);
    if (value === undefined) break;
  }
  return value;
}

function _protoGuard(selector: string): (() => never) | undefined {
  if (
    selector === "__proto__" || selector.startsWith("__proto__.") ||
    selector.endsWith(".__proto__") || selector.includes(".__proto__.")
  ) {
    return () => {
      throw new Error(`Accessing __proto__ is not allowed in selector: '${selector}'.`);
    };
  }
  return undefined;
}

/** Compiles a path (`a.b.c`) into a resolver over a document, as mingo's `resolve`. */
function _resolver(selector: string): (obj: unknown) => unknown {
  const guard = _protoGuard(selector);
  if (guard) return guard;
  const fields = selector.split(".");
  const digits = fields.map(_isDigits);
  return (obj) => {
    if (_isPrimitive(obj) || obj instanceof Date || obj instanceof RegExp) return obj;
    return _walk(obj, fields, digits, 0, false);
  };
}

/**
 * Compiles `name.a.b` into a resolver over the value of variable `name`; mingo resolves the
 * whole selector against an object holding the variables, so the first step is never an array
 * step.
 */
function _variableResolver(selector: string): (value: unknown) => unknown {
  const guard = _protoGuard(selector);
  if (guard) return guard;
  const fields = selector.split(".");
  const digits = fields.map(_isDigits);
  return (value) => _walk(value, fields, digits, 1, false);
}

/** Evaluates an expression with mingo, with the frame's variables in scope. */
function _mingo(expr: unknown): _Compiled {
  return (frame) => {
    const names = Object.keys(frame.scope);
    if (names.length === 1 && names[0] === "this" && frame.scope.this === frame.obj) {
      return evalExpr(frame.obj, expr, frame.options);
    }
    const vars: Doc = {};
    for (const name of names) vars[name] = { $literal: frame.scope[name] };
    return evalExpr(frame.obj, { $let: { vars, in: expr } }, frame.options);
  };
}

function _path(expr: string): _Compiled {
  if (expr === "$$KEEP" || expr === "$$PRUNE" || expr === "$$DESCEND") return () => expr;
  const dot = expr.indexOf(".");
  const prefix = dot === -1 ? expr : expr.substring(0, dot);
  const rest = dot === -1 ? "" : expr.substring(dot + 1);
  if (_SYSTEM_VARS.has(prefix)) {
    if (prefix === "$$NOW") return _mingo(expr);
    if (prefix === "$$REMOVE") return () => undefined;
    const of = rest === "" ? undefined : _resolver(rest);
    if (prefix === "$$ROOT") return of ? (f) => of(f.root) : (f) => f.root;
    return of ? (f) => of(f.obj) : (f) => f.obj;
  }
  if (prefix.length >= 2 && prefix[1] === "$") {
    const name = prefix.substring(2);
    const fallback = _mingo(expr);
    const of = dot === -1 ? undefined : _variableResolver(expr.substring(2));
    return (f) => {
      if (!Object.hasOwn(f.scope, name)) return fallback(f);
      return of ? of(f.scope[name]) : f.scope[name];
    };
  }
  const field = expr.substring(1);
  if (field === "") return (f) => f.root;
  const of = _resolver(field);
  return (f) => of(f.root);
}

function _array(items: unknown[], context: Context): _Compiled {
  const fns = items.map((item) => _compile(item, context));
  return (f) => {
    const out = new Array(fns.length);
    for (let i = 0; i < fns.length; i++) out[i] = fns[i]!(f);
    return out;
  };
}

function _object(expr: Doc, context: Context): _Compiled {
  const keys = Object.keys(expr);
  const fns = keys.map((key) => _compile(expr[key], context));
  return (f) => {
    const out: Doc = {};
    for (let i = 0; i < keys.length; i++) out[keys[i]!] = fns[i]!(f);
    return out;
  };
}

function _withScope(frame: _Frame, scope: _Scope): _Frame {
  return { obj: frame.obj, root: frame.root, scope, options: frame.options };
}

function _let(spec: unknown, context: Context, whole: Doc): _Compiled {
  if (!isPlainDoc(spec) || !isPlainDoc(spec.vars) || !("in" in spec)) return _mingo(whole);
  const names = Object.keys(spec.vars);
  const vars = names.map((name) => _compile((spec.vars as Doc)[name], context));
  const body = _compile(spec.in, context);
  return (f) => {
    const scope: _Scope = { ...f.scope };
    for (let i = 0; i < names.length; i++) scope[names[i]!] = vars[i]!(f);
    return body(_withScope(f, scope));
  };
}

function _iteration(
  spec: unknown,
  bodyField: "in" | "cond",
  context: Context,
  whole: Doc,
): { input: _Compiled; name: string; body: _Compiled; fallback: _Compiled } | undefined {
  if (!isPlainDoc(spec) || !Object.hasOwn(spec, "input") || !Object.hasOwn(spec, bodyField)) {
    return undefined;
  }
  if (!_isNil(spec.as) && typeof spec.as !== "string") return undefined;
  return {
    input: _compile(spec.input, context),
    name: (spec.as as string | undefined) || "this",
    body: _compile(spec[bodyField], context),
    fallback: _mingo(whole),
  };
}

function _map(spec: unknown, context: Context, whole: Doc): _Compiled {
  const parts = _iteration(spec, "in", context, whole);
  if (!parts) return _mingo(whole);
  const { input, name, body, fallback } = parts;
  return (f) => {
    const items = input(f);
    if (_isNil(items)) return null;
    if (!Array.isArray(items)) return fallback(f);
    const scope: _Scope = { ...f.scope };
    const inner = _withScope(f, scope);
    const out = new Array(items.length);
    for (let i = 0; i < items.length; i++) {
      scope[name] = items[i];
      out[i] = body(inner);
    }
    return out;
  };
}

function _filter(spec: unknown, context: Context, whole: Doc): _Compiled {
  const parts = _iteration(spec, "cond", context, whole);
  if (!parts || (spec as Doc).limit !== undefined) return _mingo(whole);
  const { input, name, body, fallback } = parts;
  return (f) => {
    const items = input(f);
    if (_isNil(items)) return null;
    if (!Array.isArray(items)) return fallback(f);
    if (items.length === 0) return [];
    const scope: _Scope = { ...f.scope };
    const inner = _withScope(f, scope);
    const strict = f.options.useStrictMode;
    const out: unknown[] = [];
    for (const item of items) {
      scope[name] = item;
      if (_truthy(body(inner), strict)) out.push(item);
    }
    return out;
  };
}

function _cond(spec: unknown, context: Context, whole: Doc): _Compiled {
  let parts: unknown[];
  if (Array.isArray(spec)) {
    if (spec.length !== 3) return _mingo(whole);
    parts = spec;
  } else if (isPlainDoc(spec)) {
    parts = [spec.if, spec.then, spec.else];
  } else {
    return _mingo(whole);
  }
  const [test, then, otherwise] = parts.map((part) => _compile(part, context)) as [
    _Compiled,
    _Compiled,
    _Compiled,
  ];
  return (f) => (_truthy(test(f), f.options.useStrictMode) ? then(f) : otherwise(f));
}

function _ifNull(spec: unknown, context: Context, whole: Doc): _Compiled {
  if (!Array.isArray(spec)) return _mingo(whole);
  const fns = spec.map((item) => _compile(item, context));
  return (f) => {
    let value: unknown = undefined;
    for (const fn of fns) {
      value = fn(f);
      if (!_isNil(value)) return value;
    }
    return value;
  };
}

function _logical(spec: unknown, context: Context, whole: Doc, all: boolean): _Compiled {
  if (!Array.isArray(spec)) return _mingo(whole);
  const fns = spec.map((item) => _compile(item, context));
  return (f) => {
    const strict = f.options.useStrictMode;
    for (const fn of fns) {
      if (_truthy(fn(f), strict) !== all) return !all;
    }
    return all;
  };
}

type _OperatorFn = (obj: unknown, expr: unknown, options: Options) => unknown;

/**
 * mingo's `$eq` for the cases that need no deep comparison: two scalars, or two ObjectIds
 * (mingo compares those by their hex strings); `undefined` when mingo must decide.
 */
function _quickEquals(a: unknown, b: unknown): boolean | undefined {
  if (a === b || Object.is(a, b)) return true;
  const scalarA = (typeof a !== "object" && typeof a !== "function") || a === null;
  const scalarB = (typeof b !== "object" && typeof b !== "function") || b === null;
  if (scalarA && scalarB) return _isNil(a) && _isNil(b);
  if (scalarA && !_isNil(a)) return false;
  if (a instanceof ObjectId && b instanceof ObjectId && a.constructor === b.constructor) {
    return a.equals(b);
  }
  return undefined;
}

function _equality(fn: _OperatorFn, spec: unknown[], context: Context, negate: boolean): _Compiled {
  const [left, right] = spec.map((item) => _compile(item, context)) as [_Compiled, _Compiled];
  return (f) => {
    const a = left(f);
    const b = right(f);
    const quick = _quickEquals(a, b);
    if (quick !== undefined) return quick !== negate;
    return fn(f.obj, [_quote(a), _quote(b)], f.options);
  };
}

/** An operator mingo runs on arguments the compiled closures evaluated. */
function _eager(fn: _OperatorFn, spec: unknown, context: Context): _Compiled {
  if (Array.isArray(spec)) {
    const args = spec.map((item) => _compile(item, context));
    return (f) => {
      const values = new Array(args.length);
      for (let i = 0; i < args.length; i++) values[i] = _quote(args[i]!(f));
      return fn(f.obj, values, f.options);
    };
  }
  const arg = _compile(spec, context);
  return (f) => fn(f.obj, _quote(arg(f)), f.options);
}

/** The one argument of an operator written `{ $op: x }` or `{ $op: [x] }`, if it is so. */
function _single(spec: unknown): { arg: unknown } | undefined {
  if (!Array.isArray(spec)) return { arg: spec };
  return spec.length === 1 ? { arg: spec[0] } : undefined;
}

/** Whether {@link _setKey} knows the value (so {@link _sameMember} compares it as mingo does). */
const _setMember = (v: unknown) =>
  v === null || v instanceof ObjectId ||
  (typeof v !== "object" && typeof v !== "function" && typeof v !== "undefined" &&
    typeof v !== "bigint" && typeof v !== "symbol");

/** Equality of two {@link _setMember} values, as their {@link _setKey}s compare. */
function _sameMember(a: unknown, b: unknown): boolean {
  if (a instanceof ObjectId) return b instanceof ObjectId && a.equals(b);
  return a === b || (a !== a && b !== b);
}

/**
 * The key two set members share when mingo's hash map takes them as equal, for the values
 * compared here (primitives as a `Map` compares them, ObjectIds by their bytes);
 * `undefined` for any other value, which mingo then decides.
 */
function _setKey(v: unknown): string | undefined {
  switch (typeof v) {
    case "string":
      return "s" + v;
    case "number":
      return v === 0 ? "n0" : "n" + v;
    case "boolean":
      return v ? "b1" : "b0";
  }
  if (v === null) return "z";
  if (v instanceof ObjectId) return "o" + v.toHexString();
  return undefined;
}

/**
 * Operators evaluated here on the values of their compiled arguments, with mingo's own
 * semantics (the same tests on the same values, in the same order); an input mingo would
 * reject, or convert, goes to mingo's implementation so that its errors and conversions stay
 * the same. These are the ones the archiver's enrichment evaluates for every order and item.
 */
function _native(
  op: string,
  spec: unknown,
  context: Context,
  fn: _OperatorFn,
): _Compiled | undefined {
  switch (op) {
    case "$not": {
      // mingo: an empty list is false, more than one argument an error, else `!value`.
      if (Array.isArray(spec) && spec.length !== 1) return undefined;
      const arg = _compile(_single(spec)!.arg, context);
      return (f) => !arg(f);
    }
    case "$isArray": {
      const single = _single(spec);
      if (!single) return undefined;
      const arg = _compile(single.arg, context);
      return (f) => Array.isArray(arg(f));
    }
    case "$isNumber": {
      const arg = _compile(spec, context);
      return (f) => {
        const v = arg(f);
        return typeof v === "number" && !Number.isNaN(v);
      };
    }
    case "$size": {
      const arg = _compile(spec, context);
      return (f) => {
        const v = arg(f);
        if (_isNil(v)) return null;
        return Array.isArray(v) ? v.length : fn(f.obj, _quote(v), f.options);
      };
    }
    case "$arrayElemAt": {
      if (!Array.isArray(spec) || spec.length !== 2) return undefined;
      const [array, index] = spec.map((item) => _compile(item, context)) as [
        _Compiled,
        _Compiled,
      ];
      return (f) => {
        const a = array(f);
        const i = index(f);
        if (_isNil(a) || _isNil(i)) return null;
        if (!Array.isArray(a) || !Number.isInteger(i)) {
          return fn(f.obj, [_quote(a), _quote(i)], f.options);
        }
        const n = i as number;
        if (n < 0 && Math.abs(n) <= a.length) return a[(n + a.length) % a.length];
        return n >= 0 && n < a.length ? a[n] : undefined;
      };
    }
    case "$concatArrays": {
      if (!Array.isArray(spec)) return undefined;
      const args = spec.map((item) => _compile(item, context));
      return (f) => {
        const values = args.map((arg) => arg(f));
        let size = 0;
        for (const v of values) {
          if (_isNil(v)) return null;
          if (!Array.isArray(v)) return fn(f.obj, values.map(_quote), f.options);
          size += v.length;
        }
        const out = new Array(size);
        let i = 0;
        for (const v of values as unknown[][]) for (const item of v) out[i++] = item;
        return out;
      };
    }
    case "$type": {
      // mingo (strict mode): missing, bool, int/long/double by value (NaN is not a number
      // there: its typeOf says "number"), then its typeOf; a list is evaluated as an array.
      const arg = _compile(spec, context);
      return (f) => {
        const v = arg(f);
        if (!f.options.useStrictMode) return fn(f.obj, _quote(v), f.options);
        switch (typeof v) {
          case "undefined":
            return "missing";
          case "boolean":
            return "bool";
          case "string":
            return "string";
          case "number":
            if (Number.isNaN(v)) return "number";
            if (v % 1 !== 0) return "double";
            return v >= -2147483648 && v <= 2147483647 ? "int" : "long";
        }
        if (v === null) return "null";
        if (Array.isArray(v)) return "array";
        if (v instanceof Date) return "date";
        if (isPlainDoc(v) && (v as object).constructor === Object) return "object";
        return fn(f.obj, _quote(v), f.options);
      };
    }
    case "$in": {
      // mingo's isEqual on a scalar: the same value (NaN is NaN, 0 is -0), nothing else.
      if (!Array.isArray(spec) || spec.length !== 2) return undefined;
      const [item, list] = spec.map((part) => _compile(part, context)) as [
        _Compiled,
        _Compiled,
      ];
      return (f) => {
        const v = item(f);
        const values = list(f);
        if (!Array.isArray(values) || (typeof v === "object" && v !== null)) {
          return fn(f.obj, [_quote(v), _quote(values)], f.options);
        }
        for (const w of values) if (w === v || Object.is(w, v)) return true;
        return false;
      };
    }
    case "$gt":
    case "$gte":
    case "$lt":
    case "$lte": {
      if (!Array.isArray(spec) || spec.length !== 2) return undefined;
      const [left, right] = spec.map((part) => _compile(part, context)) as [
        _Compiled,
        _Compiled,
      ];
      const test = op === "$gt"
        ? (a: number, b: number) => a > b
        : op === "$gte"
        ? (a: number, b: number) => a >= b
        : op === "$lt"
        ? (a: number, b: number) => a < b
        : (a: number, b: number) => a <= b;
      return (f) => {
        const a = left(f);
        const b = right(f);
        if (typeof a === "number" && typeof b === "number" && a === a && b === b) return test(a, b);
        return fn(f.obj, [_quote(a), _quote(b)], f.options);
      };
    }
    case "$multiply": {
      if (!Array.isArray(spec)) return undefined;
      const args = spec.map((item) => _compile(item, context));
      return (f) => {
        const values = args.map((arg) => arg(f));
        if (values.some(_isNil)) return null;
        let product = 1;
        for (const v of values) {
          if (typeof v !== "number" || Number.isNaN(v)) {
            return fn(f.obj, values.map(_quote), f.options);
          }
          product *= v;
        }
        return product;
      };
    }
    case "$divide":
    case "$subtract": {
      if (!Array.isArray(spec) || spec.length !== 2) return undefined;
      const [left, right] = spec.map((item) => _compile(item, context)) as [
        _Compiled,
        _Compiled,
      ];
      const divide = op === "$divide";
      return (f) => {
        const a = left(f);
        const b = right(f);
        if (_isNil(a) || _isNil(b)) return null;
        if (divide) {
          if (typeof a === "number" && typeof b === "number" && !Number.isNaN(a) && b) {
            return a / b;
          }
        } else if (a instanceof Date && b instanceof Date) {
          return a.getTime() - b.getTime();
        } else if (typeof a === "number" && typeof b === "number") {
          return a - b;
        }
        return fn(f.obj, [_quote(a), _quote(b)], f.options);
      };
    }
    case "$setDifference": {
      if (!Array.isArray(spec) || spec.length !== 2) return undefined;
      const [left, right] = spec.map((item) => _compile(item, context)) as [
        _Compiled,
        _Compiled,
      ];
      return (f) => {
        const a = left(f);
        const b = right(f);
        if (_isNil(a) || _isNil(b)) return null;
        const fallback = () => fn(f.obj, [_quote(a), _quote(b)], f.options);
        if (!Array.isArray(a) || !Array.isArray(b)) return fallback();
        // mingo keeps the first of equal values of the first set, in its order.
        if (a.length * (a.length + b.length) <= 64) {
          // A few values (an order's items): compared pairwise, with no keys to build.
          const out: unknown[] = [];
          outer: for (const v of a) {
            if (!_setMember(v)) return fallback();
            for (const w of out) if (_sameMember(v, w)) continue outer;
            for (const w of b) {
              if (!_setMember(w)) return fallback();
              if (_sameMember(v, w)) continue outer;
            }
            out.push(v);
          }
          for (const w of b) if (!_setMember(w)) return fallback();
          return out;
        }
        const kept = new Map<string, unknown>();
        for (const v of a) {
          const key = _setKey(v);
          if (key === undefined) return fallback();
          if (!kept.has(key)) kept.set(key, v);
        }
        for (const v of b) {
          const key = _setKey(v);
          if (key === undefined) return fallback();
          kept.delete(key);
        }
        return [...kept.values()];
      };
    }
    case "$concat": {
      if (!Array.isArray(spec)) return undefined;
      const args = spec.map((item) => _compile(item, context));
      return (f) => {
        const values = args.map((arg) => arg(f));
        let strings = true;
        for (const v of values) {
          if (_isNil(v)) return null;
          strings &&= typeof v === "string";
        }
        return strings ? values.join("") : fn(f.obj, values.map(_quote), f.options);
      };
    }
  }
  return undefined;
}

function _operator(op: string, spec: unknown, context: Context, whole: Doc): _Compiled {
  switch (op) {
    case "$literal":
      return () => spec;
    case "$let":
      return _let(spec, context, whole);
    case "$map":
      return _map(spec, context, whole);
    case "$filter":
      return _filter(spec, context, whole);
    case "$cond":
      return _cond(spec, context, whole);
    case "$ifNull":
      return _ifNull(spec, context, whole);
    case "$and":
      return _logical(spec, context, whole, true);
    case "$or":
      return _logical(spec, context, whole, false);
  }
  const fn = context.getOperator("expression" as never, op) as _OperatorFn | null;
  if (fn && (op === "$eq" || op === "$ne") && Array.isArray(spec) && spec.length === 2) {
    return _equality(fn, spec, context, op === "$ne");
  }
  if (fn) {
    const native = _native(op, spec, context, fn);
    if (native) return native;
  }
  if (fn && _EAGER.has(op)) return _eager(fn, spec, context);
  if (!fn && context.getOperator("accumulator" as never, op)) {
    // mingo evaluates the argument, then accumulates over the resulting array.
    const arg = _compile(spec, context);
    return (f) => evalExpr(f.obj, { [op]: _quote(arg(f)) }, f.options);
  }
  return _mingo(whole);
}

function _compile(expr: unknown, context: Context): _Compiled {
  if (typeof expr === "string" && expr.length > 0 && expr[0] === "$") return _path(expr);
  if (Array.isArray(expr)) return _array(expr, context);
  if (isPlainDoc(expr)) {
    const keys = Object.keys(expr);
    if (_isOperator(keys[0])) {
      if (keys.length !== 1) return _mingo(expr);
      return _operator(keys[0], expr[keys[0]], context, expr);
    }
    return _object(expr, context);
  }
  return () => expr;
}

/**
 * Compiles an aggregation expression.
 *
 * @param expr The expression.
 * @param context The operators it may use.
 * @returns The compiled expression, to pass as `{ [COMPILED_OPERATOR]: compiled }`.
 */
export function compileExpression(expr: unknown, context: Context): CompiledExpression {
  return new CompiledExpression(_compile(expr, context), expr);
}

/**
 * The private operator: evaluates a {@link CompiledExpression} with the variables mingo has in
 * scope at that point.
 *
 * @param obj The current document.
 * @param expr The compiled expression.
 * @param options mingo's options (with the stage's root document and local variables).
 * @returns The value.
 */
export function evalCompiled(obj: unknown, expr: unknown, options: Options): unknown {
  if (!(expr instanceof CompiledExpression)) {
    throw new Error(`Unrecognized expression '${COMPILED_OPERATOR}'`);
  }
  const locals = (options as { local?: { root?: unknown; variables?: Doc } }).local;
  const scope: _Scope = { ...options.variables, this: obj, ...locals?.variables };
  return expr.fn({ obj, root: locals?.root ?? obj, scope, options });
}

const _COMPILED_STAGES = new Set(["$project", "$addFields", "$set"]);

/**
 * Replaces the operator expressions of `$project`, `$addFields` and `$set` stages by compiled
 * ones; other stages are returned unchanged.
 *
 * @param stages Pipeline stages.
 * @param context The operators expressions may use.
 * @returns Stages with compiled expressions.
 */
export function compileStages(stages: Doc[], context: Context): Doc[] {
  return stages.map((stage) => {
    const name = Object.keys(stage)[0]!;
    const spec = stage[name];
    if (!_COMPILED_STAGES.has(name) || !isPlainDoc(spec)) return stage;
    const projection = name === "$project";
    let changed = false;
    const out: Doc = {};
    for (const [field, value] of Object.entries(spec)) {
      const op = isPlainDoc(value) ? Object.keys(value) : [];
      if (
        op.length === 1 && _isOperator(op[0]) && op[0] !== COMPILED_OPERATOR &&
        !(projection && context.getOperator("projection" as never, op[0]))
      ) {
        out[field] = { [COMPILED_OPERATOR]: compileExpression(value, context) };
        changed = true;
      } else {
        out[field] = value;
      }
    }
    return changed ? { [name]: out } : stage;
  });
}

/** Runs one of the stages below over one document, with the stage's mingo options. */
export type NativeStage = (doc: Doc, options: Options) => Doc;

// A stage's plan, by its (compiled) specification: built once per command.
const _stagePlans = new WeakMap<object, NativeStage | null>();

/** A top-level field name the stages below may write as a plain property. */
const _plainField = (key: string) =>
  key.length > 0 && key[0] !== "$" && !key.includes(".") && key !== "__proto__" &&
  !_OBJECT_PROTO_PROPS.has(key);

/** A value of a stage's specification as a compiled expression, if it is one or a path. */
function _stageExpression(value: unknown): _Compiled | undefined {
  if (isPlainDoc(value)) {
    const keys = Object.keys(value);
    const compiled = value[COMPILED_OPERATOR];
    return keys.length === 1 && compiled instanceof CompiledExpression ? compiled.fn : undefined;
  }
  if (typeof value === "string" && value.length > 1 && value[0] === "$") return _path(value);
  return undefined;
}

function _frame(doc: Doc, options: Options): _Frame {
  // The variables mingo gives a compiled expression (see evalCompiled).
  const locals = (options as { local?: { variables?: Doc } }).local;
  const scope: _Scope = { ...options.variables, this: doc, ...locals?.variables };
  return { obj: doc, root: doc, scope, options };
}

/**
 * `$project` with top-level fields only, each included (`1`, `true`), computed (a compiled
 * expression or a path) or, for `_id` alone, excluded — run here as mingo runs it: the fields in
 * the sorted order of their names, an included field copied when the document has it, a computed
 * one set to its value, then `_id` last unless excluded or already set. `undefined` for any other
 * specification, which mingo runs.
 *
 * @param spec The stage's specification, with compiled expressions.
 * @returns The stage over one document, or `undefined`.
 */
export function nativeProject(spec: Doc): NativeStage | undefined {
  const cached = _stagePlans.get(spec);
  if (cached !== undefined) return cached ?? undefined;
  let excludeId = false;
  const fields: Array<{ name: string; fn?: _Compiled }> = [];
  let plan: NativeStage | null = null;
  for (const name of Object.keys(spec)) {
    const value = spec[name];
    if (!_plainField(name)) {
      fields.length = 0;
      break;
    }
    if (value === false || value === 0) {
      if (name !== "_id") {
        fields.length = 0;
        break;
      }
      excludeId = true;
    } else if (value === true || (typeof value === "number" && !Number.isNaN(value))) {
      fields.push({ name });
    } else {
      const fn = _stageExpression(value);
      if (!fn) {
        fields.length = 0;
        break;
      }
      fields.push({ name, fn });
    }
  }
  if (fields.length > 0) {
    fields.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    plan = (doc, options) => {
      const frame = _frame(doc, options);
      const out: Doc = {};
      for (const { name, fn } of fields) {
        if (fn) {
          out[name] = fn(frame);
        } else {
          const value = doc[name];
          if (value !== undefined) out[name] = value;
        }
      }
      if (!excludeId && !Object.hasOwn(out, "_id") && Object.hasOwn(doc, "_id")) out._id = doc._id;
      return out;
    };
  }
  _stagePlans.set(spec, plan);
  return plan ?? undefined;
}

/**
 * `$addFields` / `$set` with top-level fields only, each a compiled expression or a path — run
 * here as mingo runs it: a copy of the document, each field set to its value (evaluated against
 * the document as it came) or removed when the value is missing. `undefined` for any other
 * specification, which mingo runs.
 *
 * @param spec The stage's specification, with compiled expressions.
 * @returns The stage over one document, or `undefined`.
 */
export function nativeAddFields(spec: Doc): NativeStage | undefined {
  const cached = _stagePlans.get(spec);
  if (cached !== undefined) return cached ?? undefined;
  const names = Object.keys(spec);
  const fns = names.map((name) => _plainField(name) ? _stageExpression(spec[name]) : undefined);
  let plan: NativeStage | null = null;
  if (names.length > 0 && fns.every((fn) => fn !== undefined)) {
    plan = (doc, options) => {
      const frame = _frame(doc, options);
      const out: Doc = { ...doc };
      for (let i = 0; i < names.length; i++) {
        const value = fns[i]!(frame);
        if (value !== undefined) out[names[i]!] = value;
        else delete out[names[i]!];
      }
      return out;
    };
  }
  _stagePlans.set(spec, plan);
  return plan ?? undefined;
}
