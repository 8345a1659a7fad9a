/**
 * Runs one test of a unified-format test file against a server: requirements, initial data,
 * entities, operations with their expectations, expected events and the final collection outcome.
 *
 * @module
 */

import {
  BSON,
  type Document,
  MongoBulkWriteError,
  type MongoClient,
  MongoError,
  MongoServerError,
} from "mongodb";
import { EntityMap, type RecordedEvent, sessionInternals } from "./entities.ts";
import { assertCmapEvents, assertEvents } from "./events.ts";
import { assertMatches, exactlyEquals, formatValue, MatchError } from "./matcher.ts";
import {
  bulkWriteResultToDocument,
  runEntityOperation,
  UnsupportedOperationError,
} from "./operations.ts";
import { type ServerInfo, unmetRequirements, unsupportedSchema } from "./requirements.ts";
import { driverSkipReason } from "./driver_skips.ts";

/** Outcome of one test */
export interface TestResult {
  /** Test file path, relative to the spec folder */
  file: string;
  /** The test's description */
  description: string;
  status: "pass" | "fail" | "skip";
  /** One line: why it failed or was skipped */
  reason?: string;
  /** Wall time of the test, in milliseconds */
  durationMs: number;
}

/** What every test needs: the server, an internal client and limits */
export interface RunnerContext {
  /** Connection string of the server under test */
  uri: string;
  /** The runner's own client, for initial data, outcomes and fail points bookkeeping */
  internalClient: MongoClient;
  /** The server's version and topology */
  server: ServerInfo;
  /**
   * Limit for one operation, after which the test fails
   * @default 30000
   */
  operationTimeoutMS?: number;
  /**
   * Limit for one change-stream iteration
   * @default 10000
   */
  iterationTimeoutMS?: number;
}

/**
 * Reads a unified test file (Extended JSON, relaxed or canonical).
 *
 * @param text the file's content
 * @returns the parsed file
 */
export function parseTestFile(text: string): Document {
  return BSON.EJSON.parse(text, { relaxed: true }) as Document;
}

/**
 * Asks the server for its version (buildInfo) and topology (hello).
 *
 * @param client a connected client
 * @param uri the connection string, to tell whether it authenticates
 * @returns the server's description for runOnRequirements
 */
export async function describeServer(client: MongoClient, uri: string): Promise<ServerInfo> {
  const admin = client.db("admin");
  const hello = await admin.command({ hello: 1 }).catch(() => admin.command({ isMaster: 1 }));
  const topology: ServerInfo["topology"] = hello.msg === "isdbgrid"
    ? "sharded"
    : hello.serviceId !== undefined
    ? "load-balanced"
    : typeof hello.setName === "string"
    ? "replicaset"
    : "single";
  const auth = /^mongodb(\+srv)?:\/\/[^/@]+@/.test(uri);
  try {
    const buildInfo = await admin.command({ buildInfo: 1 });
    const array = buildInfo.versionArray as unknown[] | undefined;
    const parts = Array.isArray(array)
      ? array.slice(0, 3).map(Number)
      : String(buildInfo.version).split(".").slice(0, 3).map((p) => parseInt(p, 10));
    if (parts.length < 3 || parts.some((p) => !Number.isFinite(p))) {
      return {
        version: undefined,
        versionError: `buildInfo has no usable version: ${formatValue(buildInfo)}`,
        topology,
        serverless: false,
        auth,
      };
    }
    return {
      version: [parts[0]!, parts[1]!, parts[2]!],
      topology,
      serverless: false,
      auth,
    };
  } catch (error) {
    return {
      version: undefined,
      versionError: `buildInfo failed: ${_describeError(error)}`,
      topology,
      serverless: false,
      auth,
    };
  }
}

/**
 * Runs one test of a file and reports its outcome; never throws.
 *
 * @param file the parsed test file
 * @param test one element of its `tests`
 * @param ctx the server and the runner's client
 * @returns pass, fail (with a one-line reason) or skip (with the unmet requirement)
 */
export async function runTest(
  file: Document & { path: string },
  test: Document,
  ctx: RunnerContext,
): Promise<TestResult> {
  const started = performance.now();
  const result = (status: TestResult["status"], reason?: string): TestResult => ({
    file: file.path,
    description: test.description as string,
    status,
    ...(reason === undefined ? {} : { reason: _oneLine(reason) }),
    durationMs: Math.round(performance.now() - started),
  });

  const schemaProblem = unsupportedSchema(file.schemaVersion);
  if (schemaProblem !== undefined) return result("fail", schemaProblem);
  if (typeof test.skipReason === "string") return result("skip", test.skipReason);
  const driverLimit = driverSkipReason(file.path, test.description as string);
  if (driverLimit !== undefined) return result("skip", driverLimit);
  const fileUnmet = unmetRequirements(file.runOnRequirements, ctx.server);
  if (fileUnmet !== undefined) return result("skip", fileUnmet);
  const testUnmet = unmetRequirements(test.runOnRequirements, ctx.server);
  if (testUnmet !== undefined) return result("skip", testUnmet);

  const entities = new EntityMap({ uri: ctx.uri });
  const failPoints: _FailPoint[] = [];
  let stage = "initialData";
  try {
    await _loadInitialData(ctx.internalClient, file.initialData ?? []);
    stage = "createEntities";
    await entities.create(file.createEntities ?? []);
    for (const client of entities.clients()) {
      client.events = [];
      client.cmapEvents = [];
      client.recording = true;
    }
    const operations = (test.operations ?? []) as Document[];
    for (const [index, operation] of operations.entries()) {
      stage = `operations[${index}] ${operation.name} on ${operation.object}`;
      await _runOperation(operation, entities, failPoints, ctx);
    }
    for (const client of entities.clients()) client.recording = false;
    stage = "disabling fail points";
    await _disableFailPoints(failPoints);
    for (const [index, expected] of ((test.expectEvents ?? []) as Document[]).entries()) {
      stage = `expectEvents[${index}]`;
      const eventType = expected.eventType ?? "command";
      const client = entities.get(expected.client as string, "client");
      if (eventType === "cmap") {
        assertCmapEvents(expected.events as Document[], client.cmapEvents, {
          ignoreExtraEvents: expected.ignoreExtraEvents === true,
          client: expected.client as string,
        });
        continue;
      }
      if (eventType !== "command") {
        throw new UnsupportedOperationError(`eventType "${eventType}" is not supported`);
      }
      assertEvents(expected.events as Document[], client.events, {
        ignoreExtraEvents: expected.ignoreExtraEvents === true,
        entities,
        client: expected.client as string,
      });
    }
    for (const [index, expected] of ((test.outcome ?? []) as Document[]).entries()) {
      stage = `outcome[${index}]`;
      await _assertOutcome(ctx.internalClient, expected);
    }
    return result("pass");
  } catch (error) {
    return result("fail", `${stage}: ${_describeError(error)}`);
  } finally {
    await _disableFailPoints(failPoints).catch(() => undefined);
    await entities.close();
  }
}

interface _FailPoint {
  client: MongoClient;
  name: string;
}

async function _runOperation(
  operation: Document,
  entities: EntityMap,
  failPoints: _FailPoint[],
  ctx: RunnerContext,
): Promise<void> {
  if (operation.object === "testRunner") {
    await _runSpecialOperation(operation, entities, failPoints, ctx);
    return;
  }
  const timeoutMS = ctx.operationTimeoutMS ?? 30000;
  let outcome;
  let error: unknown;
  let failed = false;
  try {
    outcome = await _withTimeout(
      runEntityOperation(entities, operation, { iterationTimeoutMS: ctx.iterationTimeoutMS }),
      timeoutMS,
      `operation did not finish within ${timeoutMS} ms`,
    );
  } catch (caught) {
    if (caught instanceof UnsupportedOperationError) throw caught;
    error = caught;
    failed = true;
  }
  if (operation.ignoreResultAndError === true) return;
  if (operation.expectError !== undefined) {
    if (!failed) {
      throw new MatchError(
        "expectError",
        `expected an error, got result ${formatValue(outcome?.result)}`,
      );
    }
    const ordered = (operation.arguments as Document | undefined)?.ordered;
    assertExpectedError(operation.expectError as Document, error, entities, {
      ...(typeof ordered === "boolean" ? { ordered } : {}),
    });
    return;
  }
  if (failed) throw new _UnexpectedError(error);
  if (operation.expectResult !== undefined) {
    assertMatches(operation.expectResult, outcome!.result, {
      root: outcome!.root,
      path: "expectResult",
      entities,
    });
  }
  if (typeof operation.saveResultAsEntity === "string") {
    if (outcome!.entity !== undefined) {
      entities.set(operation.saveResultAsEntity, outcome!.entity);
    } else if (outcome!.result !== undefined) {
      entities.set(operation.saveResultAsEntity, { kind: "value", value: outcome!.result });
    } else {
      throw new Error(`saveResultAsEntity: the operation returned nothing to save`);
    }
  }
}

async function _runSpecialOperation(
  operation: Document,
  entities: EntityMap,
  failPoints: _FailPoint[],
  ctx: RunnerContext,
): Promise<void> {
  const args = (operation.arguments ?? {}) as Document;
  switch (operation.name) {
    case "failPoint": {
      const { client } = entities.get(args.client as string, "client");
      const command = args.failPoint as Document;
      await client.db("admin").command(command);
      failPoints.push({ client, name: command.configureFailPoint as string });
      return;
    }
    case "createEntities":
      await entities.create(args.entities as Document[]);
      return;
    case "assertCollectionExists":
    case "assertCollectionNotExists": {
      const names = (await ctx.internalClient.db(args.databaseName as string)
        .listCollections({}, { nameOnly: true }).toArray()).map((info) => info.name);
      const exists = names.includes(args.collectionName as string);
      if (exists !== (operation.name === "assertCollectionExists")) {
        throw new MatchError(
          operation.name as string,
          `collection "${args.databaseName}.${args.collectionName}" ${
            exists ? "exists" : "does not exist"
          }`,
        );
      }
      return;
    }
    case "assertIndexExists":
    case "assertIndexNotExists": {
      const indexes = await ctx.internalClient.db(args.databaseName as string)
        .collection(args.collectionName as string).listIndexes().toArray()
        .catch(() => [] as Document[]);
      const exists = indexes.some((index) => index.name === args.indexName);
      if (exists !== (operation.name === "assertIndexExists")) {
        throw new MatchError(
          operation.name as string,
          `index "${args.indexName}" ${exists ? "exists" : "does not exist"}`,
        );
      }
      return;
    }
    case "wait":
      await new Promise((resolve) => setTimeout(resolve, Number(args.ms)));
      return;
    case "targetedFailPoint": {
      // The session's pinned server: the sandbox is one server, so its client's connection.
      const session = entities.get(args.session as string, "session");
      const { client } = entities.get(session.client, "client");
      const command = args.failPoint as Document;
      await client.db("admin").command(command);
      failPoints.push({ client, name: command.configureFailPoint as string });
      return;
    }
    case "assertSessionDirty":
    case "assertSessionNotDirty": {
      const { session } = entities.get(args.session as string, "session");
      const dirty = session.serverSession?.isDirty === true;
      if (dirty !== (operation.name === "assertSessionDirty")) {
        throw new MatchError(
          operation.name as string,
          `session "${args.session}" is ${dirty ? "" : "not "}dirty`,
        );
      }
      return;
    }
    case "assertSessionPinned":
    case "assertSessionUnpinned": {
      const { session } = entities.get(args.session as string, "session");
      const pinned = session.isPinned;
      if (pinned !== (operation.name === "assertSessionPinned")) {
        throw new MatchError(
          operation.name as string,
          `session "${args.session}" is ${pinned ? "" : "not "}pinned`,
        );
      }
      return;
    }
    case "assertSessionTransactionState": {
      const { session } = entities.get(args.session as string, "session");
      const state = transactionStateName(sessionInternals(session).transaction.state);
      if (state !== args.state) {
        throw new MatchError(
          operation.name,
          `session "${args.session}" is in transaction state "${state}", expected "${args.state}"`,
        );
      }
      return;
    }
    case "assertSameLsidOnLastTwoCommands":
    case "assertDifferentLsidOnLastTwoCommands": {
      const [previous, last] = lastTwoLsids(entities.get(args.client as string, "client").events);
      const same = exactlyEquals(previous, last);
      if (same !== (operation.name === "assertSameLsidOnLastTwoCommands")) {
        throw new MatchError(
          operation.name,
          `the last two commands have ${same ? "the same lsid" : "different lsids"}: ${
            formatValue(previous)
          } and ${formatValue(last)}`,
        );
      }
      return;
    }
  }
  throw new UnsupportedOperationError(`Unsupported test runner operation "${operation.name}"`);
}

/** The unified format's name of each of the driver's transaction states */
const _TRANSACTION_STATES: Readonly<Record<string, string>> = {
  NO_TRANSACTION: "none",
  STARTING_TRANSACTION: "starting",
  TRANSACTION_IN_PROGRESS: "in_progress",
  TRANSACTION_COMMITTED: "committed",
  TRANSACTION_COMMITTED_EMPTY: "committed",
  TRANSACTION_ABORTED: "aborted",
};

/**
 * Names a driver transaction state as `assertSessionTransactionState` does.
 *
 * @param state the driver's `TxnState` value, e.g. `TRANSACTION_IN_PROGRESS`
 * @returns `none`, `starting`, `in_progress`, `committed` or `aborted`
 * @throws {Error} for a state the format does not name
 */
export function transactionStateName(state: string): string {
  const name = _TRANSACTION_STATES[state];
  if (name === undefined) throw new Error(`Unknown transaction state "${state}"`);
  return name;
}

/**
 * The `lsid` of the last two commands a client started (`assertSameLsidOnLastTwoCommands`).
 *
 * @param events the events the client recorded
 * @returns the lsids of the second-to-last and the last command started
 * @throws {MatchError} when fewer than two commands were recorded or one has no lsid
 */
export function lastTwoLsids(events: readonly RecordedEvent[]): [unknown, unknown] {
  const started = events.filter((event) => event.type === "commandStartedEvent");
  if (started.length < 2) {
    throw new MatchError(
      "lsid",
      `needs two commandStartedEvent (observeEvents), recorded ${started.length}`,
    );
  }
  const lsids = started.slice(-2).map((event) => event.command?.lsid);
  if (lsids.some((lsid) => lsid === undefined)) {
    throw new MatchError("lsid", `a command of the last two has no lsid`);
  }
  return [lsids[0], lsids[1]];
}

/**
 * Asserts that an error satisfies an `expectedError` object.
 *
 * @param expected the `expectError` object
 * @param error what the operation threw
 * @param entities for special operators in `errorResponse` and `expectResult`
 * @param options `ordered`: whether the failed operation was an ordered bulk write (the default)
 * @throws {MatchError} when an assertion fails
 */
export function assertExpectedError(
  expected: Document,
  error: unknown,
  entities?: EntityMap,
  options: { ordered?: boolean } = {},
): void {
  const mongo = error instanceof MongoError ? error : undefined;
  const server = error instanceof MongoServerError ? error : undefined;
  const bulk = error instanceof MongoBulkWriteError ? error : undefined;
  const writeErrors = bulk === undefined
    ? []
    : (Array.isArray(bulk.writeErrors) ? bulk.writeErrors : [bulk.writeErrors]);
  const described = _describeError(error);

  if (expected.isClientError !== undefined) {
    const isClient = server === undefined;
    if (isClient !== expected.isClientError) {
      throw new MatchError(
        "expectError.isClientError",
        `expected ${expected.isClientError}, got ${isClient}: ${described}`,
      );
    }
  }
  if (expected.isTimeoutError !== undefined) {
    const isTimeout = (error as Error | undefined)?.name === "MongoOperationTimeoutError";
    if (isTimeout !== expected.isTimeoutError) {
      throw new MatchError(
        "expectError.isTimeoutError",
        `expected ${expected.isTimeoutError}, got ${described}`,
      );
    }
  }
  if (expected.errorContains !== undefined) {
    const wanted = String(expected.errorContains).toLowerCase();
    const messages = [
      (error as Error | undefined)?.message ?? String(error),
      ...writeErrors.map((e) => e.errmsg ?? ""),
    ];
    if (!messages.some((m) => m.toLowerCase().includes(wanted))) {
      throw new MatchError(
        "expectError.errorContains",
        `"${expected.errorContains}" not in: ${described}`,
      );
    }
  }
  if (expected.errorCode !== undefined) {
    const codes = [
      server?.code,
      server?.errorResponse?.code,
      ...writeErrors.map((e) => e.code),
    ].filter((c) => c !== undefined).filter((c, i, all) => all.indexOf(c) === i);
    if (!codes.some((code) => Number(code) === Number(expected.errorCode))) {
      throw new MatchError(
        "expectError.errorCode",
        `expected code ${expected.errorCode}, got ${
          server === undefined ? described : `code ${codes.join("/") || "(none)"}: ${described}`
        }`,
      );
    }
  }
  if (expected.errorCodeName !== undefined) {
    const wanted = String(expected.errorCodeName).toLowerCase();
    const names = [
      server?.codeName,
      server?.errorResponse?.codeName,
      ...writeErrors.map((e) =>
        (e as unknown as { codeName?: string }).codeName ??
          (e.code === 11000 ? "DuplicateKey" : undefined)
      ),
    ].filter((n): n is string => typeof n === "string");
    if (!names.some((name) => name.toLowerCase() === wanted)) {
      throw new MatchError(
        "expectError.errorCodeName",
        `expected "${expected.errorCodeName}", got ${
          names.length ? names.join("/") : "(none)"
        }: ${described}`,
      );
    }
  }
  for (const label of (expected.errorLabelsContain ?? []) as string[]) {
    if (!mongo?.hasErrorLabel(label)) {
      throw new MatchError(
        "expectError.errorLabelsContain",
        `label "${label}" missing (labels: ${
          mongo?.errorLabels.join(", ") || "none"
        }): ${described}`,
      );
    }
  }
  for (const label of (expected.errorLabelsOmit ?? []) as string[]) {
    if (mongo?.hasErrorLabel(label)) {
      throw new MatchError("expectError.errorLabelsOmit", `label "${label}" present: ${described}`);
    }
  }
  if (expected.errorResponse !== undefined) {
    if (server === undefined) {
      throw new MatchError("expectError.errorResponse", `not a server error: ${described}`);
    }
    assertMatches(expected.errorResponse, server.errorResponse, {
      root: true,
      path: "expectError.errorResponse",
      entities,
    });
  }
  if (expected.expectResult !== undefined) {
    if (bulk === undefined) {
      throw new MatchError("expectError.expectResult", `the error carries no result: ${described}`);
    }
    const failure = {
      writeErrorIndexes: writeErrors.map((e) => e.index),
      ordered: options.ordered ?? true,
    };
    assertMatches(expected.expectResult, bulkWriteResultToDocument(bulk.result, failure), {
      root: true,
      path: "expectError.expectResult",
      entities,
    });
  }
  if (expected.writeErrors !== undefined || expected.writeConcernErrors !== undefined) {
    throw new UnsupportedOperationError(
      "expectError.writeErrors/writeConcernErrors (clientBulkWrite) are not supported",
    );
  }
}

async function _loadInitialData(client: MongoClient, data: readonly Document[]): Promise<void> {
  const writeConcern = { w: "majority" as const };
  for (const collectionData of data) {
    const db = client.db(collectionData.databaseName as string);
    const name = collectionData.collectionName as string;
    try {
      await db.dropCollection(name, { writeConcern });
    } catch (error) {
      if (!(error instanceof MongoServerError && error.code === 26)) {
        throw new Error(
          `initialData: cannot drop "${db.databaseName}.${name}": ${_describeError(error)}`,
          {
            cause: error,
          },
        );
      }
    }
    const documents = (collectionData.documents ?? []) as Document[];
    if (collectionData.createOptions !== undefined || documents.length === 0) {
      await db.createCollection(name, { ...collectionData.createOptions, writeConcern }).catch(
        (error) => {
          throw new Error(
            `initialData: cannot create "${db.databaseName}.${name}": ${_describeError(error)}`,
            {
              cause: error,
            },
          );
        },
      );
    }
    if (documents.length > 0) {
      // Copies, because the driver adds _id to documents that lack one.
      await db.collection(name).insertMany(documents.map((doc) => ({ ...doc })), {
        writeConcern,
        forceServerObjectId: documents.some((doc) => Object.hasOwn(doc, "_id") && doc._id === null),
      }).catch((error) => {
        throw new Error(
          `initialData: cannot insert into "${db.databaseName}.${name}": ${_describeError(error)}`,
          {
            cause: error,
          },
        );
      });
    }
  }
}

async function _assertOutcome(client: MongoClient, expected: Document): Promise<void> {
  const namespace = `${expected.databaseName}.${expected.collectionName}`;
  const actual = await client.db(expected.databaseName as string)
    .collection(expected.collectionName as string)
    .find({}, { sort: { _id: 1 }, readPreference: "primary", readConcern: { level: "local" } })
    .toArray();
  const documents = expected.documents as Document[];
  const label = `outcome ${namespace}`;
  if (actual.length !== documents.length) {
    throw new MatchError(
      label,
      `expected ${documents.length} document(s), found ${actual.length}: ${
        formatValue(actual, 240)
      }`,
    );
  }
  documents.forEach((doc, i) => {
    if (!exactlyEquals(doc, actual[i])) {
      throw new MatchError(
        `${label}[${i}]`,
        `expected ${formatValue(doc)}, found ${formatValue(actual[i])}`,
      );
    }
  });
}

async function _disableFailPoints(failPoints: _FailPoint[]): Promise<void> {
  while (failPoints.length > 0) {
    const { client, name } = failPoints.pop()!;
    await client.db("admin").command({ configureFailPoint: name, mode: "off" });
  }
}

class _UnexpectedError extends Error {
  constructor(cause: unknown) {
    super(`unexpected error: ${_describeError(cause)}`, { cause });
    this.name = "UnexpectedError";
  }
}

function _describeError(error: unknown): string {
  if (error instanceof MatchError || error instanceof _UnexpectedError) return error.message;
  if (error instanceof MongoServerError) {
    const code = error.code === undefined
      ? ""
      : ` (code ${error.code}${error.codeName ? ` ${error.codeName}` : ""})`;
    return `${error.name}: ${error.message}${code}`;
  }
  if (error instanceof Error) return `${error.name}: ${error.message}`;
  return String(error);
}

function _oneLine(text: string): string {
  const line = text.replace(/\s+/g, " ").trim();
  return line.length > 400 ? `${line.slice(0, 399)}…` : line;
}

async function _withTimeout<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(message)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
