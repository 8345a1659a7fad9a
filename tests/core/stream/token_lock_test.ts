import assert from "node:assert/strict";
import { join } from "node:path";
import { tempDir } from "../../support/cli.ts";
import { testDatabase } from "../../support/test_db.ts";
import {
  FileTokenLock,
  isStaleHolder,
  type LockHolder,
  MongoTokenLock,
  TokenLockedError,
} from "../../../core/stream/token_lock.ts";

const now = new Date("2026-06-01T12:00:00Z");
const holder = (over: Partial<LockHolder>): LockHolder => ({
  host: "here",
  pid: 42,
  started_at: "2026-06-01T11:00:00Z",
  heartbeat_at: new Date(now.getTime() - 1_000).toISOString(),
  ...over,
});

Deno.test("isStaleHolder() tells a live watcher from one gone", async (t) => {
  const cases: Array<[string, LockHolder, boolean | undefined, boolean]> = [
    ["this host, PID running, fresh heartbeat", holder({}), true, false],
    ["this host, PID gone (kill -9)", holder({}), false, true],
    ["this host, PID unknown (Windows), fresh heartbeat", holder({}), undefined, false],
    ["another host, fresh heartbeat", holder({ host: "there" }), false, false],
    [
      "another host, heartbeat older than the bound",
      holder({ host: "there", heartbeat_at: "2026-06-01T11:59:00Z" }),
      undefined,
      true,
    ],
    [
      "this host, PID reused, old heartbeat",
      holder({ heartbeat_at: "2026-06-01T11:00:00Z" }),
      true,
      true,
    ],
    ["a heartbeat that is not a time", holder({ heartbeat_at: "garbage" }), true, true],
  ];
  for (const [name, h, alive, stale] of cases) {
    await t.step(name, () => {
      assert.equal(
        isStaleHolder(h, { host: "here", now, staleMs: 20_000, alive: () => alive }),
        stale,
      );
    });
  }
});

Deno.test("FileTokenLock: one holder; the second is refused naming the first; a dead holder's file is taken over", async () => {
  await using dir = await tempDir();
  const token = join(dir.path, ".resume_token.json");
  const first = new FileTokenLock(token, { staleMs: 60_000, host: "here", pid: Deno.pid });
  await first.acquire();
  const second = new FileTokenLock(token, { staleMs: 60_000, host: "here", pid: Deno.pid + 1 });
  await assert.rejects(() => second.acquire(), (error: unknown) => {
    assert.ok(error instanceof TokenLockedError);
    assert.match(error.message, new RegExp(`host here, PID ${Deno.pid},`));
    return true;
  });
  await first.release();
  await second.acquire();
  await second.release();
  // A lock file left by a process that no longer runs on this host.
  await Deno.writeTextFile(
    `${token}.lock`,
    JSON.stringify(
      holder({ host: "here", pid: 2 ** 22 + 7, heartbeat_at: new Date().toISOString() }),
    ),
  );
  const next = new FileTokenLock(token, { staleMs: 60_000, host: "here" });
  await next.acquire();
  assert.equal(JSON.parse(await Deno.readTextFile(`${token}.lock`)).pid, Deno.pid);
  await next.release();
  await assert.rejects(() => Deno.stat(`${token}.lock`), Deno.errors.NotFound);
});

Deno.test("MongoTokenLock: one holder per namespace; released or stale, the next takes it", async () => {
  await using tdb = await testDatabase("token_lock");
  const tokens = tdb.db.collection("archiver_resume_tokens");
  const first = new MongoTokenLock(tokens, "shop.Commande", { staleMs: 60_000, host: "a", pid: 1 });
  await first.acquire();
  const second = new MongoTokenLock(tokens, "shop.Commande", {
    staleMs: 60_000,
    host: "b",
    pid: 2,
  });
  await assert.rejects(() => second.acquire(), /Another watcher already uses .*host a, PID 1,/);
  const other = new MongoTokenLock(tokens, "shop.Autre", { staleMs: 60_000, host: "b", pid: 2 });
  await other.acquire(); // another namespace is another token
  await first.release();
  await second.acquire();
  // b's heartbeat grows old (b's host lost): c takes over.
  await tokens.updateOne({ _id: "lock:shop.Commande" } as never, {
    $set: { heartbeat_at: new Date(Date.now() - 120_000) },
  });
  const third = new MongoTokenLock(tokens, "shop.Commande", { staleMs: 60_000, host: "c", pid: 3 });
  await third.acquire();
  const lock = await tokens.findOne({ _id: "lock:shop.Commande" } as never);
  assert.equal(lock?.host, "c");
  // b no longer holds it: its heartbeat changes nothing.
  await second.heartbeat();
  assert.equal((await tokens.findOne({ _id: "lock:shop.Commande" } as never))?.host, "c");
});

Deno.test("FileTokenLock where a PID cannot be checked (Windows): a still heartbeat is taken over, a moving one refuses", async (t) => {
  for (const moving of [false, true]) {
    await t.step(moving ? "the holder beats" : "the holder is gone", async () => {
      await using dir = await tempDir();
      const token = join(dir.path, "token.json");
      const options = { staleMs: 600, host: "here", alive: () => undefined };
      const first = new FileTokenLock(token, { ...options, pid: 1 });
      await first.acquire();
      // The last beat is awaited before the folder goes: a beat still writing would fail there.
      let beat = Promise.resolve();
      const timer = moving
        ? setInterval(() => beat = beat.then(() => first.heartbeat()), 100)
        : undefined;
      try {
        const second = new FileTokenLock(token, { ...options, pid: 2 });
        if (moving) {
          await assert.rejects(() => second.acquire(), /host here, PID 1,/);
        } else {
          await second.acquire();
          assert.equal(JSON.parse(await Deno.readTextFile(`${token}.lock`)).pid, 2);
        }
      } finally {
        clearInterval(timer);
        await beat;
      }
    });
  }
});
