import assert from "node:assert/strict";
import {
  ARCHIVE_EXPIRY_INDEX,
  ensureTtlIndexes,
  ttlIndexes,
} from "../../../core/archive/retention.ts";
import { testDatabase } from "../../support/test_db.ts";

const DAY = 86_400_000;

Deno.test("ttlIndexes() expires the run history by default, the archive only when set, purged and not held", () => {
  const byDefault = ttlIndexes({
    runsExpireAfterMs: 400 * DAY,
    archiveExpireAfterMs: 0,
    legalHoldField: "legal_hold",
  });
  assert.deepEqual(byDefault.map((i) => [i.on, i.field, i.expireAfterSeconds]), [
    ["runs", "finished_at", 400 * 86_400],
    ["runs", "updated_at", 400 * 86_400],
  ]);
  const withArchive = ttlIndexes({
    runsExpireAfterMs: 30 * DAY,
    archiveExpireAfterMs: 3650 * DAY,
    legalHoldField: "sous_scelle",
  });
  assert.deepEqual(withArchive[2], {
    on: "archive",
    name: ARCHIVE_EXPIRY_INDEX,
    field: "archived_at",
    expireAfterSeconds: 3650 * 86_400,
    // Equality and $exists: true only: MongoDB's partial filters accept no $ne.
    partialFilterExpression: { purged_at: { $exists: true }, sous_scelle: false },
  });
});

Deno.test("ensureTtlIndexes() makes the TTL indexes, then changes an expiry in place", async () => {
  await using t = await testDatabase("retention_ttl");
  const collections = {
    runs: t.db.collection("archiver_runs"),
    archive: t.db.collection("Historique"),
  };
  const settings = {
    runsExpireAfterMs: 400 * DAY,
    archiveExpireAfterMs: 3650 * DAY,
    legalHoldField: "legal_hold",
  };
  await ensureTtlIndexes(collections, ttlIndexes(settings));
  const expiry = async (name: string, on: "runs" | "archive") =>
    (await collections[on].listIndexes().toArray()).find((i) => i.name === name);
  const archive = await expiry(ARCHIVE_EXPIRY_INDEX, "archive");
  assert.equal(archive?.expireAfterSeconds, 3650 * 86_400);
  assert.deepEqual(archive?.partialFilterExpression, {
    purged_at: { $exists: true },
    legal_hold: false,
  });
  assert.equal((await expiry("archiver_runs_expiry", "runs"))?.expireAfterSeconds, 400 * 86_400);
  await ensureTtlIndexes(collections, ttlIndexes({ ...settings, runsExpireAfterMs: 90 * DAY }));
  assert.equal((await expiry("archiver_runs_expiry", "runs"))?.expireAfterSeconds, 90 * 86_400);
  assert.equal(
    (await expiry("archiver_watch_days_expiry", "runs"))?.expireAfterSeconds,
    90 * 86_400,
  );
});
