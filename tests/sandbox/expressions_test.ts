import assert from "node:assert/strict";
import { Int32, Long, ObjectId, serialize } from "bson";
import { Aggregator } from "mingo/aggregator";
import { enrichmentPipeline } from "../../core/archive/enrich.ts";
import type { Doc } from "../../sandbox/bson_values.ts";
import { Context } from "mingo/core";
import { $addFields, $project, $set } from "mingo/operators/pipeline";
import { mingoOptions, runStages, SANDBOX_CONTEXT } from "../../sandbox/query/mingo_context.ts";

// The sandbox's operators with mingo's own projection stages: the reference the sandbox's
// compiled expressions and native stages are held to.
const _MINGO_STAGES = Context.from(
  Context.init({ pipeline: { $project, $addFields, $set } as never }),
  SANDBOX_CONTEXT,
);

/** What mingo alone gives, or its error message. */
function _mingo(docs: Doc[], stages: Doc[], variables?: Doc): unknown {
  try {
    return new Aggregator(stages as never, {
      ...mingoOptions(undefined, variables),
      context: _MINGO_STAGES,
    }).run(docs);
  } catch (error) {
    return { error: (error as Error).message };
  }
}

/** What the sandbox gives with compiled expressions, or its error message. */
function _compiled(docs: Doc[], stages: Doc[], variables?: Doc): unknown {
  try {
    return runStages(docs, stages, mingoOptions(undefined, variables));
  } catch (error) {
    return { error: (error as Error).message };
  }
}

/** Compares outputs including field order and `undefined` values. */
function _assertSame(docs: Doc[], stages: Doc[], variables?: Doc): void {
  const expected = _mingo(docs, stages, variables);
  const actual = _compiled(docs, stages, variables);
  assert.deepStrictEqual(actual, expected);
  assert.deepEqual(
    serialize({ r: actual }, { ignoreUndefined: false }),
    serialize({ r: expected }, { ignoreUndefined: false }),
  );
  const keys = (v: unknown) => JSON.stringify(v, (_k, x) => (x === undefined ? "<undefined>" : x));
  assert.equal(keys(actual), keys(expected));
}

const _menu = [
  { _id: new ObjectId(), nom: "a", prix: 3.335 },
  { _id: new ObjectId(), nom: "b" },
  { _id: new ObjectId(), prix: null },
];

function _orders(): Doc[] {
  return Array.from({ length: 120 }, (_, i) => ({
    _id: new ObjectId(),
    numero_commande: i % 7 ? `N${i}` : undefined,
    status: "livrée",
    date_commande: i % 5 ? new Date(1e12 + i) : undefined,
    date_livraison: i % 3 ? new Date(1e12 + i * 60_000) : null,
    items: i % 11 === 0
      ? undefined
      : i % 13 === 0
      ? []
      : [{ menu_id: _menu[i % 3]!._id, quantite: i % 4 }, {
        menu_id: new ObjectId(),
        quantite: 2,
      }],
    _client: i % 4 ? [{ _id: 1, nom: "n", email: undefined }] : [],
    _livreur: i % 6 ? [{ _id: 2, nom: "l", note: 4.5 }] : [],
    _restaurant: [{ _id: 3, adresse: ["a", "b"] }],
    _menu: i % 9 ? _menu.slice(0, 1 + (i % 3)) : [],
  }));
}

Deno.test("compiled expressions give mingo's output for the enrichment projection", () => {
  const names = {
    orders: "o",
    clients: "c",
    couriers: "l",
    restaurants: "r",
    menu: "m",
    archive: "h",
    quarantine: "q",
    released: "rel",
  };
  const stages = enrichmentPipeline({ ids: [] }, names).filter((stage) => !("$lookup" in stage))
    .slice(1);
  _assertSame(_orders(), stages);
});

const _docs: Doc[] = Array.from({ length: 30 }, (_, i) => ({
  _id: i,
  x: i % 4,
  y: i / 3,
  s: `s${i}`,
  arr: i % 5 ? [1, 2, i] : i % 2 ? null : undefined,
  sub: i % 3 ? { v: i } : [{ v: 1 }, { v: 2 }],
  nested: [[{ b: 1 }, { b: 2 }], { b: 3 }, [[{ b: 4 }]]],
  objs: [{ v: 1 }, { v: i }, {}],
  when: new Date(1e12 + i * 1e9),
}));

Deno.test("compiled expressions resolve paths and variables as mingo does", () => {
  _assertSame(_docs, [{
    $project: {
      a: { $ifNull: ["$nested.b", "x"] },
      b: { $ifNull: ["$nested.0.b", "x"] },
      c: { $ifNull: ["$sub.v", "x"] },
      d: { $ifNull: ["$$ROOT.objs.v", "x"] },
      e: { $ifNull: ["$$CURRENT.arr.1", "x"] },
      f: { $let: { vars: { v: "$nested" }, in: { $ifNull: ["$$v.b", "x"] } } },
      g: { $let: { vars: { v: "$x" }, in: { $ifNull: ["$$v.nope", "x"] } } },
      h: { $map: { input: "$objs", in: { $ifNull: ["$$this.v", "y"] } } },
      i: { $ifNull: ["$$REMOVE", "r"] },
      j: { $ifNull: ["$s.toString", "t"] },
      k: { $add: ["$x", "$$k"] },
      l: "$sub.v",
      m: 1,
    },
  }], { k: 10 });
});

Deno.test("compiled expressions evaluate operators as mingo does", () => {
  _assertSame(_docs, [{
    $project: {
      a: { $add: ["$x", { $multiply: ["$y", 2] }] },
      b: { $concat: ["$s", "-", { $toString: "$x" }] },
      c: { $map: { input: "$arr", in: { $add: ["$$this", 1] } } },
      d: { $filter: { input: "$arr", as: "e", cond: { $gt: ["$$e", 1] } } },
      e: { $sum: { $ifNull: ["$arr", []] } },
      f: {
        $let: {
          vars: { q: "$x" },
          in: { $cond: { if: { $gte: ["$$q", 2] }, then: "$$ROOT.s", else: "$arr" } },
        },
      },
      g: {
        $switch: { branches: [{ case: { $eq: ["$x", 1] }, then: "one" }], default: "$$REMOVE" },
      },
      h: { $or: [{ $eq: ["$x", 5] }, { $in: ["$x", { $ifNull: ["$arr", []] }] }] },
      i: { $and: [1, "", { $ne: ["$objs", { v: 1 }] }] },
      j: { $literal: "$x" },
      k: { $setDifference: [{ $ifNull: ["$arr", []] }, [1]] },
      l: { $reduce: { input: "$objs", initialValue: 0, in: { $add: ["$$value", 1] } } },
      m: { $dateToString: { date: "$when", format: "%Y" } },
      n: { $eq: ["$arr", 2] },
      o: { $map: { input: "$objs", as: "o", in: { v: "$$o.v", w: ["$$o.v", "$x"] } } },
      p: { $arrayElemAt: [["$s", "$x"], -1] },
    },
  }, { $addFields: { z: { $add: ["$a", 1] }, "o.deep": { $size: "$o" } } }]);
});

Deno.test("compiled equality gives mingo's answer for scalars, ObjectIds and arrays", () => {
  const id = new ObjectId();
  const pairs = [
    [1, 1],
    [1, "1"],
    [null, undefined],
    [null, 0],
    [NaN, NaN],
    [id, new ObjectId(id.toHexString())],
    [id, new ObjectId()],
    [id, id.toHexString()],
    [[1, 2], 1],
    [[id], new ObjectId(id.toHexString())],
    [{ a: 1 }, { a: 1 }],
    [new Date(5), new Date(5)],
    ["", null],
    [0, false],
  ];
  const docs = pairs.map(([x, y], i) => ({ _id: i, x, y }));
  _assertSame(docs, [{
    $project: {
      e: { $eq: ["$x", "$y"] },
      n: { $ne: ["$x", "$y"] },
      r: { $eq: ["$y", "$x"] },
      m: { $eq: ["$missing", "$y"] },
    },
  }]);
});

Deno.test("compiled expressions fail with mingo's errors", () => {
  for (
    const stage of [
      { $project: { a: { $map: { input: "$s", in: 1 } } } },
      { $project: { a: { $add: ["$s", 1] } } },
      { $project: { a: "$$nope" } },
      { $addFields: { b: { $add: ["$$nope", 1] } } },
      { $project: { a: { $sum: "$arr" } } },
      { $project: { a: { $ifNull: ["$x.__proto__", 1] } } },
    ]
  ) {
    const expected = _mingo(_docs, [stage]);
    assert.ok(expected && "error" in (expected as Doc), JSON.stringify(stage));
    _assertSame(_docs, [stage]);
  }
});

/** The expression reading its input from the variable `w` instead of the field `v`. */
function _throughVariable(expression: unknown): unknown {
  return JSON.parse(JSON.stringify(expression).replaceAll('"$v"', '"$$w"'));
}

Deno.test("operators evaluated on compiled values give mingo's answer for every input type", async (t) => {
  const values: unknown[] = [
    null,
    undefined,
    0,
    -2,
    1.5,
    NaN,
    "",
    "x",
    true,
    [],
    [1, [2], null],
    { a: 1 },
    new Date(0),
    new ObjectId("65a000000000000000000001"),
    -0,
    2 ** 31,
    -(2 ** 31),
    1e20,
    Infinity,
    [1, 1, "1", true, null, 0, -0, NaN, NaN, new ObjectId("65a000000000000000000001")],
    [new ObjectId("65a000000000000000000001"), new ObjectId("65a000000000000000000001"), { a: 1 }],
    new Date(60_000),
    /x/,
    new Int32(3),
    Long.fromNumber(4),
    // Long enough for $setDifference's hashed path, not the pairwise one.
    Array.from(
      { length: 12 },
      (_, i) => (i % 3 ? i % 5 : new ObjectId(`65a00000000000000000000${i % 2}`)),
    ),
  ];
  const docs = values.map((v, i) => (v === undefined ? { _id: i } : { _id: i, v }));
  const expressions: Array<[string, unknown]> = [
    ["$not", { $not: ["$v"] }],
    ["$not without a list", { $not: "$v" }],
    ["$not of nothing", { $not: [] }],
    ["$isArray", { $isArray: ["$v"] }],
    ["$isArray without a list", { $isArray: "$v" }],
    ["$isNumber", { $isNumber: "$v" }],
    ["$size", { $size: "$v" }],
    ["$arrayElemAt first", { $arrayElemAt: ["$v", 0] }],
    ["$arrayElemAt last", { $arrayElemAt: ["$v", -1] }],
    ["$arrayElemAt beyond", { $arrayElemAt: ["$v", 5] }],
    ["$arrayElemAt by the value", { $arrayElemAt: [[10, 20, 30], "$v"] }],
    ["$concatArrays", { $concatArrays: [[1], "$v", [2]] }],
    ["$concat", { $concat: ["a-", "$v", "-b"] }],
    ["$in", { $in: ["$v", [0, "x", null, NaN, true, 1.5]] }],
    ["$in the value", { $in: [1, "$v"] }],
    ["$in of a missing value", { $in: ["$nothing", [null]] }],
    ["$gt", { $gt: ["$v", 0] }],
    ["$gte", { $gte: [1.5, "$v"] }],
    ["$lt", { $lt: ["$v", "m"] }],
    ["$lte", { $lte: ["$v", "$v"] }],
    ["$type", { $type: "$v" }],
    ["$type in a list", { $type: ["$v"] }],
    ["$type of a path", { $type: "$v.a" }],
    ["$multiply", { $multiply: ["$v", 2] }],
    ["$multiply by itself", { $multiply: [1.5, "$v", "$v"] }],
    ["$divide", { $divide: ["$v", 2] }],
    ["$divide by the value", { $divide: [60, "$v"] }],
    ["$subtract", { $subtract: ["$v", 1] }],
    ["$subtract from the value", { $subtract: [1, "$v"] }],
    ["$subtract itself", { $subtract: ["$v", "$v"] }],
    ["$setDifference", { $setDifference: ["$v", [1, "x"]] }],
    ["$setDifference from the value", { $setDifference: [[1, 0, null, "x", 1, true], "$v"] }],
    ["$setDifference of itself", { $setDifference: ["$v", "$v"] }],
    ["$setDifference of its elements", { $setDifference: ["$v", ["$v.a"]] }],
  ];
  for (const [name, expression] of expressions) {
    await t.step(name, () => {
      // Each document alone: an error for one input must not hide the answers for the others.
      for (const doc of docs) {
        _assertSame([doc], [{ $project: { _id: 0, r: expression } }]);
        _assertSame([doc], [{
          $addFields: { r: { $let: { vars: { w: "$v" }, in: _throughVariable(expression) } } },
        }]);
      }
    });
  }
});

Deno.test("projection stages run natively give mingo's documents, field order and all", () => {
  const docs: Doc[] = [
    { _id: 1, b: 2, a: { x: [1, { y: 2 }] }, c: null, Z: "z", s: "t" },
    { b: undefined, a: 1, _id: new ObjectId("65a000000000000000000001") },
    { a: [], c: new Date(3) },
    {},
  ];
  const stages: Doc[] = [
    { $project: { b: 1, a: 1, Z: true, c: 5 } },
    { $project: { _id: 0, b: 1, a: 1 } },
    { $project: { a: 1, _id: 1 } },
    { $project: { _id: 0, z: "$a.x.y", r: "$$ROOT", k: "$$REMOVE", n: { $size: "$a.x" } } },
    { $project: { b: 1, m: "$missing", v: "$$v" } },
    { $project: { s: 1, _id: "$b" } },
    { $project: { b: 0 } },
    { $project: { "a.x": 1, b: 1 } },
    { $project: { a: 1, t: { $literal: 1 } } },
    { $project: { a: 1, q: "plain" } },
    { $addFields: { b: "$a", a: "$b", n: { $isArray: "$a" }, gone: "$missing" } },
    { $set: { c: "$$REMOVE", r: "$$CURRENT.b", v: { $let: { vars: { w: "$$v" }, in: "$$w" } } } },
    { $addFields: { "a.deep": 1 } },
    { $addFields: { k: 5 } },
    { $addFields: {} },
  ];
  for (const stage of stages) {
    _assertSame(docs, [stage], { v: 7 });
    _assertSame(docs, [{ $addFields: { extra: "$a" } }, stage, {
      $project: { _id: 0, all: "$$ROOT" },
    }], {
      v: 7,
    });
  }
});
