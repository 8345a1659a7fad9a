/**
 * A local MongoDB-compatible server for development and tests: the official driver talks to
 * it over the wire protocol. It keeps everything in memory, evaluates queries and pipelines
 * with mingo, enforces unique indexes, serves change streams from a bounded oplog, and
 * implements the `failCommand` fail point.
 *
 * @example
 * ```ts
 * import { MongoClient } from "mongodb";
 * import { startSandbox } from "../core/sandbox/sandbox/mod.ts";
 *
 * await using sandbox = await startSandbox({ port: 0 });
 * const client = new MongoClient(sandbox.uri);
 * await client.db("demo").collection("orders").insertOne({ status: "livrée" });
 * await client.close();
 * ```
 *
 * @module
 */

export {
  type Sandbox,
  SANDBOX_DEFAULTS,
  type SandboxOptions,
  startSandbox,
} from "./wire/server.ts";
