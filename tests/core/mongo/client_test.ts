import assert from "node:assert/strict";
import { MongoNetworkError, MongoServerError } from "mongodb";
import { ConfigError, ExitCode, UnreachableError } from "../../../core/runtime/errors.ts";
import { setupLogging } from "../../../core/runtime/logging.ts";
import { clearSecrets } from "../../../core/runtime/mask.ts";
import {
  attemptTimeoutMs,
  connectMongo,
  createMongoClient,
  POOL_CHECK_MS,
} from "../../../core/mongo/client.ts";
import { isAuthError, isTransientError, replicaSetMismatch } from "../../../core/mongo/errors.ts";
import { startSandbox } from "../../../sandbox/mod.ts";
import { testDatabase } from "../../support/test_db.ts";

function closedPort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  return port;
}

Deno.test("connectMongo() gives up at its deadline with an unreachable error, password masked", async () => {
  const port = closedPort();
  const uri = `mongodb://ops:Gl4cier-Peak@127.0.0.1:${port}/?directConnection=true`;
  const started = performance.now();
  const error = await connectMongo({ uri, connectTimeout: 200 }, { deadlineMs: 1_000 }).then(
    () => assert.fail("connected to a closed port"),
    (e: unknown) => e,
  );
  assert.ok(error instanceof UnreachableError);
  assert.equal(error.exitCode, ExitCode.unreachable);
  assert.match(
    error.message,
    new RegExp(
      `^Failed to connect to MongoDB at mongodb://ops:\\*\\*\\*\\*@127\\.0\\.0\\.1:${port}/`,
    ),
  );
  assert.doesNotMatch(error.message, /Gl4cier-Peak/);
  assert.ok(performance.now() - started < 5_000, "bounded by the deadline");
  clearSecrets();
});

/** Console lines logged while `fn` runs. */
async function logged<T>(fn: () => Promise<T>): Promise<{ lines: string[]; result: T }> {
  const lines: string[] = [];
  const close = await setupLogging({ level: "info", write: (line) => lines.push(line) });
  try {
    return { lines, result: await fn() };
  } finally {
    await close();
  }
}

const RETRY_LINE =
  /Cannot reach MongoDB at mongodb:\/\/127\.0\.0\.1:\d+\/\S* \(attempt \d+\), retrying/;

Deno.test("connectMongo() retries until a server that starts late accepts, within the deadline", async () => {
  const port = closedPort();
  const uri = `mongodb://127.0.0.1:${port}/?directConnection=true`;
  // Opens after the first attempt has given up (a quarter of the 6 s deadline, 1.5 s), so only a
  // second attempt can find it: one attempt holding the whole deadline would find it without
  // ever retrying.
  let sandbox: Awaited<ReturnType<typeof startSandbox>> | undefined;
  const opening = new Promise<void>((resolve, reject) =>
    setTimeout(
      () => startSandbox({ port }).then((s) => (sandbox = s), reject).then(() => resolve()),
      2_000,
    )
  );
  const started = performance.now();
  try {
    const { lines, result: client } = await logged(() =>
      connectMongo({ uri, connectTimeout: 6_000 })
    );
    const ms = performance.now() - started;
    try {
      assert.equal((await client.db("admin").command({ ping: 1 })).ok, 1);
    } finally {
      await client.close();
    }
    assert.ok(ms >= 1_900 && ms < 6_000, `connected after ${Math.round(ms)} ms`);
    const retries = lines.filter((line) => RETRY_LINE.test(line));
    assert.ok(retries.length >= 1, `a retry was logged:\n${lines.join("\n")}`);
    assert.ok(lines.some((line) => /✅ Connected to database at /.test(line)), lines.join("\n"));
  } finally {
    await opening;
    await sandbox?.stop();
  }
});

Deno.test("connectMongo() retries more than once against a port that never opens, then exits 3 at its deadline", async () => {
  const port = closedPort();
  const uri = `mongodb://127.0.0.1:${port}/?directConnection=true`;
  const deadline = 4_000;
  const started = performance.now();
  const { lines, result: error } = await logged(() =>
    connectMongo({ uri, connectTimeout: deadline }).then(
      () => assert.fail("connected to a closed port"),
      (e: unknown) => e,
    )
  );
  const ms = performance.now() - started;
  assert.ok(error instanceof UnreachableError, String(error));
  assert.equal(error.exitCode, ExitCode.unreachable);
  const retries = lines.filter((line) => RETRY_LINE.test(line));
  assert.ok(retries.length >= 2, `retried more than once:\n${lines.join("\n")}`);
  assert.ok(
    ms >= deadline / 2 && ms <= deadline + 1_000,
    `gave up after ${Math.round(ms)} ms, deadline ${deadline} ms`,
  );
  assert.ok(
    lines.some((line) => /❌ Failed to connect to MongoDB at /.test(line)),
    lines.join("\n"),
  );
});

Deno.test("each connection attempt gets a quarter of the deadline, within 1 s and 10 s", () => {
  const cases: Array<[deadline: number, attempt: number]> = [
    [100, 100], // the shortest ARCHIVER_CONNECT_TIMEOUT: one attempt, the whole deadline
    [800, 800],
    [2_000, 1_000],
    [6_000, 1_500],
    [10_000, 2_500], // the default
    [60_000, 10_000],
    [600_000, 10_000],
  ];
  for (const [deadline, attempt] of cases) assert.equal(attemptTimeoutMs(deadline), attempt);
});

Deno.test("a connection string the driver rejects is a configuration error", () => {
  assert.throws(
    () =>
      createMongoClient({
        uri: "mongodb://u:Pw0rd@h:27017/?notAnOption=1&tls=maybe",
        connectTimeout: 100,
      }),
    (error: Error & { exitCode?: number }) => {
      assert.equal(error.exitCode, ExitCode.usage);
      assert.match(
        error.message,
        /^Invalid MongoDB connection string "mongodb:\/\/u:\*\*\*\*@h:27017/,
      );
      assert.doesNotMatch(error.message, /Pw0rd/);
      return true;
    },
  );
  clearSecrets();
});

Deno.test("isTransientError() retries network trouble and elections, not bad credentials", () => {
  assert.equal(isTransientError(new MongoNetworkError("connection reset")), true);
  assert.equal(
    isTransientError(new MongoServerError({ code: 189, errmsg: "PrimarySteppedDown" })),
    true,
  );
  assert.equal(
    isTransientError(new MongoServerError({ code: 91, errmsg: "ShutdownInProgress" })),
    true,
  );
  const auth = new MongoServerError({ code: 18, errmsg: "Authentication failed." });
  assert.equal(isTransientError(auth), false);
  assert.equal(isAuthError(auth), true);
  assert.equal(isTransientError(new MongoServerError({ code: 2, errmsg: "BadValue" })), false);
  assert.equal(isTransientError(new TypeError("bug")), false);
});

Deno.test("replicaSetMismatch() names the set the servers answered with, when it is not the URI's", () => {
  const cases: Array<[string | undefined, Array<[string, string | null]>, string | undefined]> = [
    [
      "rs1",
      [["127.0.0.1:27017", "rs0"]],
      'The server at 127.0.0.1:27017 belongs to replica set "rs0", not "rs1" given in the URI: fix replicaSet=',
    ],
    [
      "rs0",
      [["h:1", null]],
      'The server at h:1 is not a replica set member, but the URI asks for replica set "rs0": remove replicaSet= or start the server as a replica set',
    ],
    ["rs0", [["h:1", "rs0"]], undefined], // the right set: something else went wrong
    ["rs0", [["h:1", "other"], ["h:2", "rs0"]], undefined], // one member of the set answered
    ["rs0", [], undefined], // nothing answered: unreachable, not misnamed
    [undefined, [["h:1", "rs0"]], undefined], // no replicaSet= given
  ];
  for (const [expected, seen, message] of cases) {
    assert.equal(replicaSetMismatch(expected, new Map(seen)), message, JSON.stringify(seen));
  }
});

Deno.test("connectMongo() with a wrong replicaSet names the set the server belongs to, exit 2", async () => {
  await using sandbox = await startSandbox({ port: 0, replicaSetName: "rs0" });
  const address = new URL(sandbox.uri.replace(/^mongodb/, "http")).host;
  const { lines, result: error } = await logged(() =>
    connectMongo({ uri: `mongodb://${address}/?replicaSet=rs1`, connectTimeout: 4_000 }).then(
      () => assert.fail("connected to a server of another replica set"),
      (e: unknown) => e,
    )
  );
  assert.ok(error instanceof ConfigError, String(error));
  assert.equal(error.exitCode, ExitCode.usage);
  assert.equal(
    error.message,
    `The server at ${address} belongs to replica set "rs0", not "rs1" given in the URI: fix replicaSet=`,
  );
  // Not retried: the server will not change its set.
  assert.equal(lines.filter((line) => RETRY_LINE.test(line)).length, 0, lines.join("\n"));
  // The right name connects.
  const client = await connectMongo({
    uri: `mongodb://${address}/?replicaSet=rs0`,
    connectTimeout: 4_000,
  });
  try {
    assert.equal((await client.db("admin").command({ ping: 1 })).ok, 1);
  } finally {
    await client.close();
  }
});

Deno.test("a client's connection pool checks its size every 10 s, not the driver's 100 ms that wakes an idle process", async () => {
  await using tdb = await testDatabase("client_pool_check");
  const client = createMongoClient({ uri: tdb.uri, connectTimeout: 2_000 });
  try {
    await client.connect();
    await client.db("admin").command({ ping: 1 });
    // The driver keeps the value on each server's pool; it has no public accessor.
    const servers = (client as unknown as {
      topology: { s: { servers: Map<string, { pool: { options: Record<string, unknown> } }> } };
    }).topology.s.servers;
    assert.ok(servers.size > 0);
    for (const server of servers.values()) {
      assert.equal(server.pool.options.minPoolSizeCheckFrequencyMS, POOL_CHECK_MS);
    }
    assert.equal(POOL_CHECK_MS, 10_000);
  } finally {
    await client.close();
  }
});
