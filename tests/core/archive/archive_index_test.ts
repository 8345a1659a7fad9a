import assert from "node:assert/strict";
import { type Collection, type Db, MongoServerError, ObjectId } from "mongodb";

const TWICE = new ObjectId();
import {
  ARCHIVE_INDEX,
  ensureArchiveIndex,
  inspectArchiveIndex,
  ORDER_ID_INDEX,
} from "../../../core/archive/archive_index.ts";
import { ConfigError, ExitCode } from "../../../core/runtime/errors.ts";
import { testDatabase } from "../../support/test_db.ts";

const MISSING =
  "The archive Historique has no unique index on numero_commande: batch and watch create it when they start";
const MISSING_ORDER_ID =
  "The archive Historique has no unique index on order_id: batch and watch create it when they start";
const BOTH = `${ORDER_ID_INDEX}, ${ARCHIVE_INDEX}`;

// The numero_commande states below are prepared on an archive that already has its order_id index,
// so each row is about its own key.
const withOrderIdIndex =
  (prepare: (archive: Collection) => Promise<unknown>) => async (archive: Collection) => {
    await archive.createIndex({ order_id: 1 }, { unique: true, name: ORDER_ID_INDEX });
    await prepare(archive);
  };

/** What a pre-existing archive holds, and what must come of it. */
interface ArchiveState {
  name: string;
  prepare: (archive: Collection) => Promise<unknown>;
  /** What health is told before the archiver runs. */
  inspected: { ok: true; name: string } | { ok: false; problem: string };
  /** The ConfigError line, or none when the index is resolved. */
  error?: string;
  /** The index names left afterwards, `_id_` first. */
  indexes: string[];
}

const drop = (name: string) =>
  `drop it (db.Historique.dropIndex("${name}")) and re-run, and the archiver creates the unique index`;

const STATES: ArchiveState[] = [
  {
    name: "no archive collection",
    prepare: () => Promise.resolve(),
    inspected: { ok: false, problem: MISSING_ORDER_ID },
    indexes: ["_id_", ORDER_ID_INDEX, ARCHIVE_INDEX],
  },
  {
    name: "an empty archive without indexes",
    prepare: withOrderIdIndex((archive) =>
      archive.insertOne({ order_id: 1, numero_commande: "CMD-000001" })
    ),
    inspected: { ok: false, problem: MISSING },
    indexes: ["_id_", ORDER_ID_INDEX, ARCHIVE_INDEX],
  },
  {
    name: "the archiver's own index",
    prepare: withOrderIdIndex((archive) =>
      archive.createIndex({ numero_commande: 1 }, { unique: true, name: ARCHIVE_INDEX })
    ),
    inspected: { ok: true, name: BOTH },
    indexes: ["_id_", ORDER_ID_INDEX, ARCHIVE_INDEX],
  },
  {
    name: "a unique numero_commande_1 left by an older tool",
    prepare: withOrderIdIndex((archive) =>
      archive.createIndex({ numero_commande: 1 }, { unique: true })
    ),
    inspected: { ok: true, name: `${ORDER_ID_INDEX}, numero_commande_1` },
    indexes: ["_id_", ORDER_ID_INDEX, "numero_commande_1"],
  },
  {
    name: "a descending unique index",
    prepare: withOrderIdIndex((archive) =>
      archive.createIndex({ numero_commande: -1 }, { unique: true })
    ),
    inspected: { ok: true, name: `${ORDER_ID_INDEX}, numero_commande_-1` },
    indexes: ["_id_", ORDER_ID_INDEX, "numero_commande_-1"],
  },
  {
    name: "an index that is not unique",
    prepare: withOrderIdIndex((archive) => archive.createIndex({ numero_commande: 1 })),
    inspected: {
      ok: false,
      problem:
        `The archive Historique has index "numero_commande_1" on numero_commande that is not unique: ${
          drop("numero_commande_1")
        }`,
    },
    indexes: ["_id_", ORDER_ID_INDEX, "numero_commande_1"],
  },
  {
    name: "a unique partial index",
    prepare: withOrderIdIndex((archive) =>
      archive.createIndex({ numero_commande: 1 }, {
        unique: true,
        name: "numero_commande_partial",
        partialFilterExpression: { archived_by: "batch" },
      })
    ),
    inspected: {
      ok: false,
      problem:
        `The archive Historique has index "numero_commande_partial" on numero_commande that is partial (unique only where { archived_by: "batch" }): ${
          drop("numero_commande_partial")
        }`,
    },
    indexes: ["_id_", ORDER_ID_INDEX, "numero_commande_partial"],
  },
  {
    name: "a unique index with the French collation",
    prepare: withOrderIdIndex((archive) =>
      archive.createIndex({ numero_commande: 1 }, { unique: true, collation: { locale: "fr" } })
    ),
    inspected: {
      ok: false,
      problem:
        `The archive Historique has index "numero_commande_1" on numero_commande that has collation "fr" (numbers must compare exactly): ${
          drop("numero_commande_1")
        }`,
    },
    indexes: ["_id_", ORDER_ID_INDEX, "numero_commande_1"],
  },
  {
    name: "a sparse unique index",
    prepare: withOrderIdIndex((archive) =>
      archive.createIndex({ numero_commande: 1 }, { unique: true, sparse: true })
    ),
    inspected: {
      ok: false,
      problem:
        `The archive Historique has index "numero_commande_1" on numero_commande that is sparse (it leaves out orders without a number): ${
          drop("numero_commande_1")
        }`,
    },
    indexes: ["_id_", ORDER_ID_INDEX, "numero_commande_1"],
  },
  {
    name: "duplicate numbers already in the archive, no index",
    prepare: withOrderIdIndex((archive) =>
      archive.insertMany([
        { order_id: 1, numero_commande: "CMD-000001" },
        { order_id: 2, numero_commande: "CMD-000002" },
        { order_id: 3, numero_commande: "CMD-000002" },
        { order_id: 4, numero_commande: "CMD-000003" },
        { order_id: 5, numero_commande: "CMD-000003" },
        { order_id: 6, numero_commande: "CMD-000003" },
      ])
    ),
    inspected: { ok: false, problem: MISSING },
    error:
      'Cannot create the unique index on numero_commande of the archive Historique: it already holds the same order number more than once ("CMD-000003" 3 times, "CMD-000002" 2 times): remove the duplicates, keeping one document per numero_commande, and re-run',
    indexes: ["_id_", ORDER_ID_INDEX],
  },
  {
    name: "several documents without a number, no index",
    prepare: withOrderIdIndex((archive) =>
      archive.insertMany([{ order_id: 1, x: 1 }, { order_id: 2, x: 2 }])
    ),
    inspected: { ok: false, problem: MISSING },
    error:
      "Cannot create the unique index on numero_commande of the archive Historique: it already holds the same order number more than once (2 documents without numero_commande): remove the duplicates, keeping one document per numero_commande, and re-run",
    indexes: ["_id_", ORDER_ID_INDEX],
  },
  {
    name: "a compound unique index starting with numero_commande (not equivalent)",
    prepare: withOrderIdIndex((archive) =>
      archive.createIndex({ numero_commande: 1, x: 1 }, { unique: true })
    ),
    inspected: { ok: false, problem: MISSING },
    indexes: ["_id_", ORDER_ID_INDEX, "numero_commande_1_x_1", ARCHIVE_INDEX],
  },
  {
    name: "the archiver's index name taken by another key",
    prepare: withOrderIdIndex((archive) =>
      archive.createIndex({ numero_commande: 1, x: 1 }, { unique: true, name: ARCHIVE_INDEX })
    ),
    inspected: {
      ok: false,
      problem:
        `The archive Historique has an index named "${ARCHIVE_INDEX}" on { numero_commande: 1, x: 1 }, the name of the archiver's own index: ${
          drop(ARCHIVE_INDEX)
        }`,
    },
    indexes: ["_id_", ORDER_ID_INDEX, ARCHIVE_INDEX],
  },
  {
    name: "two flawed indexes on numero_commande",
    prepare: withOrderIdIndex(async (archive) => {
      await archive.createIndex({ numero_commande: 1 });
      await archive.createIndex({ numero_commande: -1 }, { unique: true, sparse: true });
    }),
    inspected: {
      ok: false,
      problem:
        'The archive Historique has indexes that cannot guarantee one document per numero_commande: "numero_commande_1" is not unique, "numero_commande_-1" is sparse (it leaves out orders without a number): drop them (db.Historique.dropIndex("numero_commande_1"), db.Historique.dropIndex("numero_commande_-1")) and re-run, and the archiver creates the unique index',
    },
    indexes: ["_id_", ORDER_ID_INDEX, "numero_commande_1", "numero_commande_-1"],
  },
];

async function indexNames(db: Db): Promise<string[]> {
  const present = await db.listCollections({ name: "Historique" }).toArray();
  if (present.length === 0) return [];
  return (await db.collection("Historique").indexes()).map((index) => String(index.name));
}

Deno.test("ensureArchiveIndex() against each state an operator's archive may already be in", async (t) => {
  for (const state of STATES) {
    await t.step(state.name, async () => {
      await using db = await testDatabase("archive_index");
      const archive = db.db.collection("Historique");
      await state.prepare(archive);
      assert.deepEqual(await inspectArchiveIndex(archive), state.inspected);
      const expected = state.error ??
        (state.inspected.ok || state.inspected.problem === MISSING ||
            state.inspected.problem === MISSING_ORDER_ID
          ? undefined
          : state.inspected.problem);
      if (expected === undefined) {
        await ensureArchiveIndex(archive);
        const after = await inspectArchiveIndex(archive);
        assert.equal(after.ok, true, JSON.stringify(after));
        // Running it again changes nothing.
        await ensureArchiveIndex(archive);
      } else {
        await assert.rejects(ensureArchiveIndex(archive), (error) => {
          assert.ok(error instanceof ConfigError);
          assert.equal(error.exitCode, ExitCode.usage);
          assert.equal(error.message, expected);
          assert.equal(error.message.includes("\n"), false);
          return true;
        });
      }
      assert.deepEqual(await indexNames(db.db), state.indexes);
    });
  }
});

Deno.test("ensureArchiveIndex() creates its index with the simple collation on an archive whose default is French", async () => {
  await using db = await testDatabase("archive_index");
  await db.db.createCollection("Historique", { collation: { locale: "fr" } });
  const archive = db.db.collection("Historique");
  await ensureArchiveIndex(archive);
  assert.deepEqual(await inspectArchiveIndex(archive), { ok: true, name: BOTH });
});

async function failCreateIndexes(db: Db, times: number, errorCode: number): Promise<void> {
  await db.admin().command({
    configureFailPoint: "failCommand",
    mode: { times },
    data: { failCommands: ["createIndexes"], errorCode },
  });
}

Deno.test("ensureArchiveIndex() looks again once when another tool creates an index at the same moment", async (t) => {
  for (const code of [85, 86]) {
    await t.step(`one conflict (code ${code}) is inspected again, then created`, async () => {
      await using db = await testDatabase("archive_index");
      const archive = db.db.collection("Historique");
      await failCreateIndexes(db.db, 1, code);
      await ensureArchiveIndex(archive);
      assert.deepEqual(await inspectArchiveIndex(archive), { ok: true, name: BOTH });
    });
  }
  await t.step("a second conflict is a configuration error, one line", async () => {
    await using db = await testDatabase("archive_index");
    const archive = db.db.collection("Historique");
    await failCreateIndexes(db.db, 2, 85);
    try {
      await assert.rejects(ensureArchiveIndex(archive), (error) => {
        assert.ok(error instanceof ConfigError);
        assert.match(
          error.message,
          /^Cannot create the unique index on order_id of the archive Historique: .+: check its indexes \(db\.Historique\.getIndexes\(\)\) and re-run$/,
        );
        return true;
      });
    } finally {
      await db.db.admin().command({ configureFailPoint: "failCommand", mode: "off" });
    }
    assert.deepEqual(await indexNames(db.db), []);
  });
});

Deno.test("ensureArchiveIndex() lets a transient error through for its caller to retry", async () => {
  await using db = await testDatabase("archive_index");
  const archive = db.db.collection("Historique");
  // ShutdownInProgress: the server is stepping down; batch and watch retry it.
  await failCreateIndexes(db.db, 1, 91);
  await assert.rejects(ensureArchiveIndex(archive), (error) => {
    assert.ok(error instanceof MongoServerError);
    assert.equal(error.code, 91);
    return true;
  });
  await ensureArchiveIndex(archive);
  assert.deepEqual(await indexNames(db.db), ["_id_", ORDER_ID_INDEX, ARCHIVE_INDEX]);
});

const ORDER_ID_STATES: ArchiveState[] = [
  {
    name: "an archive made by an older version: unique by number only",
    prepare: async (archive) => {
      await archive.createIndex({ numero_commande: 1 }, { unique: true, name: ARCHIVE_INDEX });
      await archive.insertMany([
        { order_id: new ObjectId(), numero_commande: "CMD-000001" },
        { order_id: new ObjectId(), numero_commande: "CMD-000002" },
      ]);
    },
    inspected: { ok: false, problem: MISSING_ORDER_ID },
    indexes: ["_id_", ARCHIVE_INDEX, ORDER_ID_INDEX],
  },
  {
    name: "an older archive with two documents for one order (renumbered, archived twice)",
    prepare: async (archive) => {
      await archive.createIndex({ numero_commande: 1 }, { unique: true, name: ARCHIVE_INDEX });
      await archive.insertMany([
        { order_id: TWICE, numero_commande: "CMD-000001" },
        { order_id: TWICE, numero_commande: "CMD-000009" },
        { order_id: new ObjectId(), numero_commande: "CMD-000002" },
      ]);
    },
    inspected: { ok: false, problem: MISSING_ORDER_ID },
    error:
      `Cannot create the unique index on order_id of the archive Historique: it already holds several documents for one order (an archive made by an older version) (ObjectId("${TWICE.toHexString()}") 2 times): remove the duplicates, keeping one document per order_id, and re-run`,
    indexes: ["_id_", ARCHIVE_INDEX],
  },
  {
    name: "an order_id index that is not unique",
    prepare: (archive) => archive.createIndex({ order_id: 1 }),
    inspected: {
      ok: false,
      problem:
        `The archive Historique has index "order_id_1" on order_id that is not unique: drop it (db.Historique.dropIndex("order_id_1")) and re-run, and the archiver creates the unique index`,
    },
    indexes: ["_id_", "order_id_1"],
  },
];

Deno.test("ensureArchiveIndex() makes the order_id index on each state an archive may be in", async (t) => {
  for (const state of ORDER_ID_STATES) {
    await t.step(state.name, async () => {
      await using db = await testDatabase("archive_index");
      const archive = db.db.collection("Historique");
      await state.prepare(archive);
      assert.deepEqual(await inspectArchiveIndex(archive), state.inspected);
      const expected = state.error ??
        (state.inspected.ok || state.inspected.problem === MISSING_ORDER_ID
          ? undefined
          : state.inspected.problem);
      if (expected === undefined) await ensureArchiveIndex(archive);
      else {
        await assert.rejects(ensureArchiveIndex(archive), (error) => {
          assert.ok(error instanceof ConfigError);
          assert.equal(error.exitCode, ExitCode.usage);
          assert.equal(error.message, expected);
          return true;
        });
      }
      assert.deepEqual(await indexNames(db.db), state.indexes);
    });
  }
});
