/**
 * The operators' monitoring plan ("Métriques MongoDB") run through mongosh, the official
 * shell, against the test backend. mongosh 2 comes from npm into a cache folder the first
 * time; without npm, or when the install fails, the tests are skipped with a message saying
 * so, except under CI=true where that is a failure.
 */

import assert from "node:assert/strict";
import { testDatabase } from "../support/test_db.ts";
import { pathExists } from "../support/cli.ts";

/** What mongosh printed, parsed from relaxed EJSON: shapes the assertions check. */
// deno-lint-ignore no-explicit-any
type Printed = any;

const CACHE = `${Deno.env.get("HOME") ?? "/tmp"}/.cache/archiver-mongosh`;
const MONGOSH = `${CACHE}/node_modules/.bin/mongosh`;

/**
 * Installs mongosh 2 from npm when absent; returns why it cannot run, or undefined. npm installs
 * into a folder of this process's own, renamed into place whole: two test runs installing at once
 * (two checkouts on one machine) would otherwise trip over each other's half-written tree.
 */
async function _ensureMongosh(): Promise<string | undefined> {
  if (await pathExists(MONGOSH)) return undefined;
  const staging = `${CACHE}.${Deno.pid}`;
  let output: Deno.CommandOutput;
  try {
    output = await new Deno.Command("npm", {
      args: ["install", "--prefix", staging, "--no-audit", "--no-fund", "mongosh@2"],
      stdout: "piped",
      stderr: "piped",
    }).output();
  } catch (error) {
    return `npm is not available (${error instanceof Error ? error.message : String(error)})`;
  }
  if (output.success) {
    if (!(await pathExists(MONGOSH))) { // a half-written older try, or nothing
      await Deno.remove(CACHE, { recursive: true }).catch(() => {});
    }
    await Deno.rename(staging, CACHE).catch(() => {}); // another run may have just won: use its
  }
  await Deno.remove(staging, { recursive: true }).catch(() => {});
  if (!output.success || !(await pathExists(MONGOSH))) {
    const tail = new TextDecoder().decode(output.stderr).trim().split("\n").slice(-3).join(" | ");
    return `npm install mongosh@2 failed (exit ${output.code}): ${tail}`;
  }
  return undefined;
}

const unavailable = await _ensureMongosh();
const inCi = Deno.env.get("CI") === "true";
if (unavailable && !inCi) {
  console.warn(`mongosh tests skipped: ${unavailable}`);
}

/** Runs mongosh against the test database and parses the one EJSON line it prints. */
async function _mongosh(uri: string, dbName: string, expression: string): Promise<Printed> {
  const js = `db = db.getSiblingDB(${JSON.stringify(dbName)}); ` +
    `print(EJSON.stringify(${expression}, { relaxed: true }))`;
  const output = await new Deno.Command(MONGOSH, {
    args: [uri, "--quiet", "--norc", "--eval", js],
    env: { MONGOSH_NO_UPDATE_CHECK: "1", DO_NOT_TRACK: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stdout = new TextDecoder().decode(output.stdout).trim();
  const stderr = new TextDecoder().decode(output.stderr).trim();
  assert.equal(output.code, 0, `mongosh failed: ${stderr || stdout}`);
  const line = stdout.split("\n").at(-1) ?? "";
  return JSON.parse(line);
}

async function _seeded() {
  const t = await testDatabase();
  await t.db.collection("Commande").insertMany(
    Array.from({ length: 12 }, (_, i) => ({
      numero_commande: `CMD-${i}`,
      status: i % 3 === 0 ? "livrée" : "en cours",
    })),
  );
  const archive = t.db.collection("Historique");
  await archive.createIndex({ numero_commande: 1 }, { unique: true });
  await archive.insertMany(
    Array.from({ length: 4 }, (_, i) => ({ numero_commande: `CMD-${i * 3}`, total: i })),
  );
  return t;
}

interface _Case {
  name: string;
  expression: string;
  /** Set up before mongosh runs; returns what to undo after. */
  before?: (t: Awaited<ReturnType<typeof _seeded>>) => Promise<() => Promise<void>>;
  check: (out: Printed, t: Awaited<ReturnType<typeof _seeded>>) => void;
}

const CASES: _Case[] = [
  {
    name: 'explain("executionStats") of a find on an indexed field reports the IXSCAN',
    before: async (t) => {
      await t.db.collection("Commande").createIndex({ status: 1 });
      return () => Promise.resolve();
    },
    expression: 'db.Commande.find({ status: "livrée" }).explain("executionStats")',
    check: (out) => {
      assert.equal(out.queryPlanner.winningPlan.inputStage.stage, "IXSCAN");
      assert.equal(out.queryPlanner.winningPlan.inputStage.indexName, "status_1");
      assert.equal(out.executionStats.nReturned, 4);
      assert.equal(out.executionStats.totalKeysExamined, 4);
      assert.equal(out.executionStats.totalDocsExamined, 4);
      assert.equal(typeof out.executionStats.executionTimeMillis, "number");
    },
  },
  {
    name: 'explain("executionStats") of an unindexed find reports the COLLSCAN',
    expression: 'db.Commande.find({ status: "livrée" }).explain("executionStats")',
    check: (out) => {
      assert.equal(out.queryPlanner.winningPlan.stage, "COLLSCAN");
      assert.equal(out.executionStats.nReturned, 4);
      assert.equal(out.executionStats.totalKeysExamined, 0);
      assert.equal(out.executionStats.totalDocsExamined, 12);
    },
  },
  {
    name: "$indexStats lists each index of Historique with its accesses",
    before: async (t) => {
      await t.db.collection("Historique").findOne({ numero_commande: "CMD-3" });
      return () => Promise.resolve();
    },
    expression: "db.Historique.aggregate([{ $indexStats: {} }]).toArray()",
    check: (out) => {
      const byName = Object.fromEntries(out.map((s: Printed) => [s.name, s]));
      assert.deepEqual(Object.keys(byName).sort(), ["_id_", "numero_commande_1"]);
      assert.equal(byName.numero_commande_1.accesses.ops, 1);
      assert.ok(byName.numero_commande_1.accesses.since.$date);
      assert.deepEqual(byName.numero_commande_1.key, { numero_commande: 1 });
    },
  },
  {
    name: "db.Historique.stats() gives the count, sizes and indexes",
    expression: "db.Historique.stats()",
    check: (out, t) => {
      assert.equal(out.ns, `${t.dbName}.Historique`);
      assert.equal(out.count, 4);
      assert.ok(out.size > 0);
      assert.equal(out.avgObjSize, Math.floor(out.size / 4));
      assert.equal(out.nindexes, 2);
      assert.ok(out.storageSize > 0);
      assert.equal(out.totalIndexSize, out.indexSizes._id_ + out.indexSizes.numero_commande_1);
    },
  },
  {
    name: 'db.currentOp({"command.aggregate": "Commande"}) lists the open change stream',
    before: async (t) => {
      const stream = t.db.collection("Commande").watch();
      await stream.tryNext();
      return () => stream.close();
    },
    expression: 'db.currentOp({ "command.aggregate": "Commande" })',
    check: (out, t) => {
      assert.equal(out.ok, 1);
      assert.equal(out.inprog.length, 1);
      const op = out.inprog[0];
      assert.equal(op.ns, `${t.dbName}.Commande`);
      assert.equal(op.command.aggregate, "Commande");
      assert.ok("$changeStream" in op.command.pipeline[0]);
      assert.ok(op.cursor.cursorId);
    },
  },
  {
    name: "db.stats() totals the database's collections",
    expression: "db.stats()",
    check: (out, t) => {
      assert.equal(out.db, t.dbName);
      assert.equal(out.collections, 2);
      assert.equal(out.objects, 16);
      assert.equal(out.indexes, 3);
      assert.ok(out.dataSize > 0 && out.indexSize > 0);
    },
  },
  {
    name: "db.Historique.validate() finds the collection valid with its keys per index",
    expression: "db.Historique.validate()",
    check: (out) => {
      assert.equal(out.valid, true);
      assert.equal(out.nrecords, 4);
      assert.deepEqual(out.keysPerIndex, { _id_: 4, numero_commande_1: 4 });
    },
  },
  {
    name: "db.serverStatus() has the sections mongosh shows",
    expression: "db.serverStatus()",
    check: (out) => {
      for (const section of ["host", "version", "uptime", "connections", "opcounters", "mem"]) {
        assert.ok(section in out, `serverStatus lacks ${section}`);
      }
      assert.ok(out.opcounters.insert >= 16);
    },
  },
];

/** Two writes a second and more apart: the oplog's window spans at least that second. */
async function _spanOneSecond(
  t: Awaited<ReturnType<typeof _seeded>>,
): Promise<() => Promise<void>> {
  await t.db.collection("Commande").insertOne({ numero_commande: "CMD-A" });
  await new Promise((resolve) => setTimeout(resolve, 1_100));
  await t.db.collection("Commande").insertOne({ numero_commande: "CMD-B" });
  return () => Promise.resolve();
}

/** Checks the window mongosh computed from the first and last oplog entries. */
function _checkWindow(
  out: { timeDiff: number; timeDiffHours: number; tFirst: string; tLast: string },
): void {
  const first = Date.parse(out.tFirst);
  const last = Date.parse(out.tLast);
  assert.ok(Number.isFinite(first) && Number.isFinite(last), "first and last event times");
  assert.ok(out.timeDiff >= 1, `window ${out.timeDiff} s spans the writes a second apart`);
  assert.equal(out.timeDiff, (last - first) / 1000, "the window is last minus first");
  assert.equal(out.timeDiffHours, Math.round(out.timeDiff / 36) / 100);
  assert.ok(last <= Date.now() + 1_000, "the last event is not in the future");
}

CASES.push(
  {
    name: "db.getReplicationInfo() gives the oplog's sizes and its window from first to last entry",
    before: _spanOneSecond,
    expression: "db.getReplicationInfo()",
    check: (out) => {
      _checkWindow(out);
      assert.ok(out.configuredLogSizeMB > 0, "configured size (collStats maxSize)");
      assert.ok(out.usedMB > 0, "used size (collStats size)");
      assert.ok(out.logSizeMB >= out.usedMB);
    },
  },
  {
    name: "rs.printReplicationInfo() prints the log length start to end and the event times",
    before: _spanOneSecond,
    expression: "rs.printReplicationInfo()",
    check: (out) => {
      const printed = out.value;
      const length = /^(\d+) secs \(([\d.]+) hrs\)$/.exec(printed["log length start to end"]);
      assert.ok(length, `log length: ${printed["log length start to end"]}`);
      _checkWindow({
        timeDiff: Number(length[1]),
        timeDiffHours: Number(length[2]),
        tFirst: printed["oplog first event time"],
        tLast: printed["oplog last event time"],
      });
      assert.match(printed["configured oplog size"], /^[\d.]+ MB$/);
      assert.match(printed["actual oplog size"], /^[\d.]+ MB$/);
    },
  },
  {
    name: "show dbs lists local, and local lists oplog.rs as a capped collection",
    expression:
      "[db.adminCommand({ listDatabases: 1, nameOnly: true }).databases.map((d) => d.name), " +
      'db.getSiblingDB("local").getCollectionInfos({ name: "oplog.rs" })]',
    check: (out, t) => {
      const [names, infos] = out;
      assert.ok(names.includes("local") && names.includes(t.dbName), `databases: ${names}`);
      assert.equal(infos.length, 1);
      assert.equal(infos[0].options.capped, true);
      assert.ok(infos[0].options.size > 0, "a capped collection's size in bytes");
    },
  },
);

if (unavailable && inCi) {
  Deno.test("mongosh runs the monitoring plan's commands (mongosh must be installable under CI)", () => {
    assert.fail(`mongosh cannot run under CI: ${unavailable}`);
  });
} else {
  for (const c of CASES) {
    Deno.test({
      name: `mongosh: ${c.name}`,
      ignore: unavailable !== undefined,
      fn: async () => {
        await using t = await _seeded();
        const undo = c.before ? await c.before(t) : () => Promise.resolve();
        try {
          c.check(await _mongosh(t.uri, t.dbName, c.expression), t);
        } finally {
          await undo();
        }
      },
    });
  }
}
