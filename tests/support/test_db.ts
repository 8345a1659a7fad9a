/**
 * The database every integration test gets: a real server from `MONGODB_TEST_URI` when set,
 * else a real `mongod` through mongodb-memory-server when one is installed (never downloaded),
 * else the in-process sandbox. One backend is shared by the tests of a process while any of
 * them holds a database, and stopped when the last one is disposed, so Deno's resource and
 * op sanitizers stay satisfied.
 *
 * @example
 * ```ts
 * Deno.test("archive() ...", async () => {
 *   await using t = await testDatabase();
 *   await t.db.collection("Commande").insertOne({ status: "livrée" });
 * });
 * ```
 *
 * @module
 */

import { type Db, MongoClient } from "mongodb";
import { type Sandbox, type SandboxOptions, startSandbox } from "../../sandbox/mod.ts";

/** Which kind of server the tests run against. */
export type TestBackend = "uri" | "mongod" | "sandbox";

/** A database for one test. */
export interface TestDatabase {
  /** Connection string of the backend. */
  uri: string;
  /** Name of this test's database (unique per call). */
  dbName: string;
  /** A connected client. */
  client: MongoClient;
  /** This test's database. */
  db: Db;
  /** The kind of server behind it. */
  backend: TestBackend;
  /** Drops the database, closes the client and releases the backend. */
  [Symbol.asyncDispose](): Promise<void>;
}

interface _Backend {
  kind: TestBackend;
  uri: string;
  stop(): Promise<void>;
}

let _backend: Promise<_Backend> | undefined;
let _references = 0;
let _announced = false;
let _counter = 0;

/**
 * Returns the host part of a connection string, without credentials or options.
 *
 * @param uri A MongoDB connection string.
 * @returns E.g. `cluster0.example.net` or `127.0.0.1:27017`.
 */
export function uriHost(uri: string): string {
  const afterScheme = uri.replace(/^[a-z+]+:\/\//i, "");
  const withoutCredentials = afterScheme.includes("@")
    ? afterScheme.slice(afterScheme.lastIndexOf("@", afterScheme.search(/[/?]|$/)) + 1)
    : afterScheme;
  return withoutCredentials.split(/[/?]/)[0] ?? "";
}

async function _findMongod(): Promise<string | undefined> {
  const explicit = Deno.env.get("MONGOMS_SYSTEM_BINARY");
  if (explicit) return explicit;
  const separator = Deno.build.os === "windows" ? ";" : ":";
  const names = Deno.build.os === "windows" ? ["mongod.exe"] : ["mongod"];
  for (const dir of (Deno.env.get("PATH") ?? "").split(separator)) {
    for (const name of names) {
      try {
        const path = `${dir}/${name}`;
        if ((await Deno.stat(path)).isFile) return path;
      } catch {
        // Not in this folder.
      }
    }
  }
  return undefined;
}

async function _startBackend(): Promise<_Backend> {
  const uri = Deno.env.get("MONGODB_TEST_URI");
  if (uri) return { kind: "uri", uri, stop: () => Promise.resolve() };
  const mongod = await _findMongod();
  if (mongod) {
    const { MongoMemoryReplSet } = await import("mongodb-memory-server-core");
    const replSet = await MongoMemoryReplSet.create({
      replSet: { count: 1 },
      binary: { systemBinary: mongod },
    });
    return {
      kind: "mongod",
      uri: _quickRecheck(replSet.getUri()),
      stop: async () => {
        await replSet.stop();
      },
    };
  }
  const sandbox = await startSandbox();
  return { kind: "sandbox", uri: _quickRecheck(sandbox.uri), stop: () => sandbox.stop() };
}

/**
 * The driver waits `minHeartbeatFrequencyMS` (500 ms by default) before it checks a server again
 * after a network error or a "not primary" answer, and every operation waits for that check:
 * the fault tests cause hundreds of them. On the servers the tests start themselves, the clients
 * of the tests and of the tool under test (which takes the URI as given) check again after 50 ms.
 * A URI from `MONGODB_TEST_URI` is used as given.
 */
function _quickRecheck(uri: string): string {
  const separator = uri.includes("?") ? "&" : uri.endsWith("/") ? "?" : "/?";
  return `${uri}${separator}minHeartbeatFrequencyMS=50`;
}

function _announce(backend: _Backend): void {
  if (_announced) return;
  _announced = true;
  const shown = backend.kind === "uri" ? uriHost(backend.uri) : backend.uri;
  console.error(
    `test backend: ${backend.kind === "uri" ? "MONGODB_TEST_URI" : backend.kind} (${shown})`,
  );
}

async function _acquire(): Promise<_Backend> {
  _references++;
  try {
    _backend ??= _startBackend();
    const backend = await _backend;
    _announce(backend);
    return backend;
  } catch (error) {
    _references--;
    _backend = undefined;
    throw error;
  }
}

async function _release(): Promise<void> {
  _references--;
  if (_references > 0 || !_backend) return;
  const backend = await _backend;
  _backend = undefined;
  await backend.stop();
}

/**
 * Tells which backend the tests use, without starting it.
 *
 * @returns `"uri"` with `MONGODB_TEST_URI`, `"mongod"` when one is installed, else `"sandbox"`.
 */
export async function testBackendKind(): Promise<TestBackend> {
  if (Deno.env.get("MONGODB_TEST_URI")) return "uri";
  return (await _findMongod()) ? "mongod" : "sandbox";
}

/**
 * Gives a test its own database on the shared backend.
 *
 * @param prefix Prefix of the database name.
 * @returns The database; dispose it with `await using`.
 */
export async function testDatabase(prefix = "test"): Promise<TestDatabase> {
  const backend = await _acquire();
  const dbName = `${prefix}_${Date.now().toString(36)}_${++_counter}_${
    Math.floor(Math.random() * 1e6).toString(36)
  }`;
  const client = new MongoClient(backend.uri);
  try {
    await client.connect();
  } catch (error) {
    await _release();
    throw error;
  }
  const db = client.db(dbName);
  return {
    uri: backend.uri,
    dbName,
    client,
    db,
    backend: backend.kind,
    async [Symbol.asyncDispose]() {
      try {
        await db.dropDatabase().catch(() => undefined);
        await client.close();
      } finally {
        await _release();
      }
    },
  };
}

/**
 * Starts a dedicated sandbox (e.g. with a tiny oplog) when the tests run on the sandbox;
 * on a real server it returns `undefined` and the test skips or adapts that part.
 *
 * @param options Sandbox options.
 * @returns The sandbox, or `undefined` on a real server.
 */
export async function dedicatedSandbox(options: SandboxOptions = {}): Promise<Sandbox | undefined> {
  if ((await testBackendKind()) !== "sandbox") return undefined;
  return await startSandbox(options);
}
