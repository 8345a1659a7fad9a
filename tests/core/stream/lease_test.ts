/**
 * The lease of `watch --ha` and the token store's fence, on the server through two clients (two
 * "hosts"). The hosts' clocks cannot be offset from a test (a process's clock is the machine's),
 * so these tests show the server's time is what decides instead: every expiry written equals the
 * server's `$$NOW` of the command plus the lease time, whatever the client's clock says.
 */

import assert from "node:assert/strict";
import { MongoClient, Timestamp } from "mongodb";
import {
  isLeaseValid,
  Lease,
  type LeaseDocument,
  leaseTimings,
  readLease,
} from "../../../core/stream/lease.ts";
import { FencedTokenError, MongoTokenStore } from "../../../core/stream/token_store.ts";
import { testDatabase } from "../../support/test_db.ts";

const KEY = "shop.Commande";
const TIMINGS = { ttlMs: 600, renewMs: 200, marginMs: 100 };
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function _token(n: number) {
  return {
    token: { _data: `8200000000${n}` },
    clusterTime: new Timestamp({ t: 1_700_000_000 + n, i: 1 }),
    savedAt: new Date(),
    namespace: KEY,
  };
}

async function _serverTime(client: MongoClient): Promise<Date> {
  const [row] = await client.db("admin").aggregate([
    { $documents: [{ now: "$$NOW" }] },
  ]).toArray().catch(() => [undefined]);
  return row?.now instanceof Date ? row.now : new Date(NaN);
}

Deno.test("lease: one of two clients takes a free lease; the other waits until it expires, then takes it with a higher epoch", async (t) => {
  await using tdb = await testDatabase("lease_two");
  const other = await new MongoClient(tdb.uri).connect();
  try {
    const a = new Lease(tdb.db.collection("archiver_leases"), KEY, {
      holder: "host-a:1:aaaa",
      timings: TIMINGS,
    });
    const b = new Lease(other.db(tdb.dbName).collection("archiver_leases"), KEY, {
      holder: "host-b:2:bbbb",
      timings: TIMINGS,
    });
    let first: LeaseDocument | undefined;
    await t.step("the first to ask takes it at epoch 1", async () => {
      first = await a.acquire();
      assert.equal(first?.holder, "host-a:1:aaaa");
      assert.equal(first?.epoch, 1);
      assert.equal(await b.acquire(), undefined);
      assert.equal(b.epoch, undefined);
    });
    await t.step("the holder renews it, conditional on its epoch; the other cannot", async () => {
      const renewed = await a.renew();
      assert.ok(renewed && renewed.expires_at >= first!.expires_at);
      assert.equal(await b.renew(), undefined);
    });
    await t.step("once expired on the server's clock, the other takes it at epoch 2", async () => {
      await sleep(TIMINGS.ttlMs + 100);
      const taken = await b.acquire();
      assert.equal(taken?.holder, "host-b:2:bbbb");
      assert.equal(taken?.epoch, 2);
      assert.equal(await a.renew(), undefined, "the old holder finds it lost the lease");
      assert.equal(a.epoch, undefined);
    });
    await t.step("a released lease is free at once", async () => {
      await b.release();
      assert.equal((await a.acquire())?.epoch, 3);
    });
  } finally {
    await other.close();
  }
});

Deno.test("lease: the expiry is the server's $$NOW plus the lease time, not the client's clock", async () => {
  await using tdb = await testDatabase("lease_clock");
  const leases = tdb.db.collection("archiver_leases");
  const lease = new Lease(leases, KEY, { timings: { ...TIMINGS, ttlMs: 30_000 } });
  const before = await _serverTime(tdb.client);
  const taken = await lease.acquire();
  const after = await _serverTime(tdb.client);
  assert.ok(taken);
  assert.ok(!Number.isNaN(before.getTime()), "the server tells its time");
  const start = taken.expires_at.getTime() - 30_000;
  assert.ok(start >= before.getTime() && start <= after.getTime(), "taken at the server's now");
  const reading = await readLease(leases, KEY);
  assert.ok(reading && isLeaseValid(reading));
  assert.ok(reading.serverNow < reading.lease.expires_at);
  // A lease whose expiry lies a minute in the server's past is free, whatever this host thinks.
  await leases.updateOne({ _id: KEY as never }, [{
    $set: { expires_at: { $subtract: ["$$NOW", 60_000] } },
  }]);
  const expired = await readLease(leases, KEY);
  assert.ok(expired && !isLeaseValid(expired));
  const other = new Lease(leases, KEY, { timings: TIMINGS });
  assert.equal((await other.acquire())?.epoch, 2);
});

Deno.test("lease: a wiped lease collection does not start the epochs over when the token store holds a later one", async () => {
  await using tdb = await testDatabase("lease_wiped");
  const tokens = new MongoTokenStore(tdb.db.collection("archiver_resume_tokens"), KEY);
  const leases = tdb.db.collection("archiver_leases");
  const a = new Lease(leases, KEY, { timings: TIMINGS, epochFloor: () => tokens.epoch() });
  assert.equal((await a.acquire())?.epoch, 1);
  await tokens.fence(1);
  await tokens.save(_token(1), { fence: { epoch: 1 } });
  await leases.drop();
  assert.equal(await a.renew(), undefined, "the holder of a wiped lease finds it lost");
  const b = new Lease(leases, KEY, { timings: TIMINGS, epochFloor: () => tokens.epoch() });
  assert.equal((await b.acquire())?.epoch, 2);
});

Deno.test("token store fence: a save under an older epoch is refused and never writes the token backwards", async (t) => {
  await using tdb = await testDatabase("lease_fence");
  const tokens = new MongoTokenStore(tdb.db.collection("archiver_resume_tokens"), KEY);
  const cases = [
    { name: "epoch 1 saves", epoch: 1, token: 1, saved: true },
    { name: "epoch 1 saves again", epoch: 1, token: 2, saved: true },
    { name: "epoch 2 saves after", epoch: 2, token: 3, saved: true },
    { name: "a late epoch-1 save is refused", epoch: 1, token: 2, saved: false },
    { name: "epoch 2 saves again", epoch: 2, token: 4, saved: true },
  ];
  for (const c of cases) {
    await t.step(c.name, async () => {
      const save = tokens.save(_token(c.token), { fence: { epoch: c.epoch } });
      if (c.saved) await save;
      else await assert.rejects(save, FencedTokenError);
    });
  }
  await t.step(
    "a new holder's fence refuses the old holder's saves before its first save",
    async () => {
      await tokens.fence(3);
      await assert.rejects(tokens.save(_token(9), { fence: { epoch: 2 } }), FencedTokenError);
      await assert.rejects(tokens.fence(2), FencedTokenError);
      assert.equal((await tokens.load())?.token._data, "82000000004");
      assert.equal(await tokens.epoch(), 3);
    },
  );
  await t.step("a fence on an empty store is no token", async () => {
    const empty = new MongoTokenStore(tdb.db.collection("other_tokens"), KEY);
    await empty.fence(5);
    assert.equal(await empty.load(), undefined);
    assert.equal(await empty.epoch(), 5);
  });
});

Deno.test("leaseTimings(): 30 s renewed every 10 s by default; the hidden test overrides are checked", () => {
  assert.deepEqual(leaseTimings({}), { ttlMs: 30_000, renewMs: 10_000, marginMs: 5_000 });
  assert.deepEqual(leaseTimings({ ARCHIVER_LEASE_TTL_MS: "3000" }), {
    ttlMs: 3_000,
    renewMs: 1_000,
    marginMs: 500,
  });
  assert.throws(() => leaseTimings({ ARCHIVER_LEASE_TTL_MS: "3s" }), TypeError);
  assert.throws(
    () => leaseTimings({ ARCHIVER_LEASE_TTL_MS: "3000", ARCHIVER_LEASE_RENEW_MS: "2000" }),
    TypeError,
  );
});
