import assert from "node:assert/strict";
import { type Collection, type Db, MongoServerError } from "mongodb";
import {
  ARCHIVE_INDEX,
  ensureArchiveIndex,
  inspectArchiveIndex,
} from "../../../core/archive/archive_index.ts";
import { ConfigError, ExitCode } from "../../../core/runtime/errors.ts";
import { testDatabase } from "../../support/test_db.ts";

const MISSING =
  "The archive Historique has no unique index on numero_commande: batch and watch create it when they start";

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
    inspected: { ok: false, problem: MISSING },
    indexes: ["_id_", ARCHIVE_INDEX],
  },
  {
    name: "an empty archive without indexes",
    prepare: (archive) => archive.insertOne({ numero_commande: "CMD-000001" }),
    inspected: { ok: false, problem: MISSING },
    indexes: ["_id_", ARCHIVE_INDEX],
  },
  {
    name: "the archiver's own index",
    prepare: (archive) =>
      archive.createIndex({ numero_commande: 1 }, { unique: true, name: ARCHIVE_INDEX }),
    inspected: { ok: true, name: ARCHIVE_INDEX },
    indexes: ["_id_", ARCHIVE_INDEX],
  },
  {
    name: "a unique numero_commande_1 left by an older tool",
    prepare: (archive) => archive.createIndex({ numero_commande: 1 }, { unique: true }),
    inspected: { ok: true, name: "numero_commande_1" },
    indexes: ["_id_", "numero_commande_1"],
  },
  {
    name: "a descending unique index",
    prepare: (archive) => archive.createIndex({ numero_commande: -1 }, { unique: true }),
    inspected: { ok: true, name: "numero_commande_-1" },
    indexes: ["_id_", "numero_commande_-1"],
  },
  {
    name: "an index that is not unique",
    prepare: (archive) => archive.createIndex({ numero_commande: 1 }),
    inspected: {
      ok: false,
      problem:
        `The archive Historique has index "numero_commande_1" on numero_commande that is not unique: ${
          drop("numero_commande_1")
        }`,
    },
    indexes: ["_id_", "numero_commande_1"],
  },
  {
    name: "a unique partial index",
    prepare: (archive) =>
      archive.createIndex({ numero_commande: 1 }, {
        unique: true,
        name: "numero_commande_partial",
        partialFilterExpression: { archived_by: "batch" },
      }),
    inspected: {
      ok: false,
      problem:
        `The archive Historique has index "numero_commande_partial" on numero_commande that is partial (unique only where { archived_by: "batch" }): ${
          drop("numero_commande_partial")
        }`,
    },
    indexes: ["_id_", "numero_commande_partial"],
  },
  {
    name: "a unique index with the French collation",
    prepare: (archive) =>
      archive.createIndex({ numero_commande: 1 }, { unique: true, collation: { locale: "fr" } }),
    inspected: {
      ok: false,
      problem:
        `The archive Historique has index "numero_commande_1" on numero_commande that has collation "fr" (numbers must compare exactly): ${
          drop("numero_commande_1")
        }`,
    },
    indexes: ["_id_", "numero_commande_1"],
  },
  {
    name: "a sparse unique index",
    prepare: (archive) =>
      archive.createIndex({ numero_commande: 1 }, { unique: true, sparse: true }),
    inspected: {
      ok: false,
      problem:
        `The archive Historique has index "numero_commande_1" on numero_commande that is sparse (it leaves out orders without a number): ${
          drop("numero_commande_1")
        }`,
    },
    indexes: ["_id_", "numero_commande_1"],
  },
  {
    name: "duplicate numbers already in the archive, no index",
    prepare: (archive) =>
      archive.insertMany([
        { numero_commande: "CMD-000001" },
        { numero_commande: "CMD-000002" },
        { numero_commande: "CMD-000002" },
        { numero_commande: "CMD-000003" },
        { numero_commande: "CMD-000003" },
        { numero_commande: "CMD-000003" },
      ]),
    inspected: { ok: false, problem: MISSING },
    error:
      'Cannot create the unique index on numero_commande of the archive Historique: it already holds the same order more than once ("CMD-000003" 3 times, "CMD-000002" 2 times): remove the duplicates, keeping one document per numero_commande, and re-run',
    indexes: ["_id_"],
  },
  {
    name: "several documents without a number, no index",
    prepare: (archive) => archive.insertMany([{ x: 1 }, { x: 2 }]),
    inspected: { ok: false, problem: MISSING },
    error:
      "Cannot create the unique index on numero_commande of the archive Historique: it already holds the same order more than once (2 documents without numero_commande): remove the duplicates, keeping one document per numero_commande, and re-run",
    indexes: ["_id_"],
  },
  {
    name: "a compound unique index starting with numero_commande (not equivalent)",
    prepare: (archive) => archive.createIndex({ numero_commande: 1, x: 1 }, { unique: true }),
    inspected: { ok: false, problem: MISSING },
    indexes: ["_id_", "numero_commande_1_x_1", ARCHIVE_INDEX],
  },
  {
    name: "the archiver's index name taken by another key",
    prepare: (archive) =>
      archive.createIndex({ numero_commande: 1, x: 1 }, { unique: true, name: ARCHIVE_INDEX }),
    inspected: {
      ok: false,
      problem:
        `The archive Historique has an index named "${ARCHIVE_INDEX}" on { numero_commande: 1, x: 1 }, the name of the archiver's own index: ${
          drop(ARCHIVE_INDEX)
        }`,
    },
    indexes: ["_id_", ARCHIVE_INDEX],
  },
  {
    name: "two flawed indexes on numero_commande",
    prepare: async (archive) => {
      await archive.createIndex({ numero_commande: 1 });
      await archive.createIndex({ numero_commande: -1 }, { unique: true, sparse: true });
    },
    inspected: {
      ok: false,
      problem:
        'The archive Historique has indexes that cannot guarantee one document per numero_commande: "numero_commande_1" is not unique, "numero_commande_-1" is sparse (it leaves out orders without a number): drop them (db.Historique.dropIndex("numero_commande_1"), db.Historique.dropIndex("numero_commande_-1")) and re-run, and the archiver creates the unique index',
    },
    indexes: ["_id_", "numero_commande_1", "numero_commande_-1"],
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
        (state.inspected.ok || state.inspected.problem === MISSING
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
  assert.deepEqual(await inspectArchiveIndex(archive), { ok: true, name: ARCHIVE_INDEX });
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
      assert.deepEqual(await inspectArchiveIndex(archive), { ok: true, name: ARCHIVE_INDEX });
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
          /^Cannot create the unique index on numero_commande of the archive Historique: .+: check its indexes \(db\.Historique\.getIndexes\(\)\) and re-run$/,
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
  assert.deepEqual(await indexNames(db.db), ["_id_", ARCHIVE_INDEX]);
});
