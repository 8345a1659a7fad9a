/**
 * Handshake and administration commands: hello / isMaster, ping, buildInfo, sessions,
 * listDatabases, serverStatus, replSetGetStatus, configureFailPoint.
 *
 * @module
 */

import { Long, Timestamp } from "bson";
import { type Doc, isPlainDoc } from "../bson_values.ts";
import { CommandError } from "../errors.ts";
import type { CommandContext, CommandHandler } from "../engine/state.ts";
import { MAX_BSON_SIZE, MAX_MESSAGE_SIZE } from "../wire/wire.ts";
import { compileFilter } from "../query/mingo_context.ts";
import { serverMetrics } from "../wire/metrics.ts";
import { collectionSizes } from "./diagnostics.ts";
import { speculativeAuthenticate, supportedMechanisms } from "./authentication.ts";
import { mayListDatabase } from "../auth/privileges.ts";
import { withLocalDatabase } from "../engine/local_db.ts";

/** The server version the sandbox reports. */
export const SANDBOX_VERSION = "7.0.0";
/** The wire version matching {@link SANDBOX_VERSION}. */
export const SANDBOX_WIRE_VERSION = 21;

function _hello(ctx: CommandContext): Doc {
  const { state, body, connection } = ctx;
  const client = body.client;
  if (isPlainDoc(client) && isPlainDoc(client.application)) {
    const name = client.application.name;
    if (typeof name === "string") connection.appName = name;
  }
  const now = state.storage.oplog.clock.now();
  const legacy = ctx.name !== "hello";
  const opTime = { ts: now, t: Long.fromNumber(1) };
  const wall = new Date();
  const mechanisms = supportedMechanisms(ctx, body.saslSupportedMechs);
  const speculative = speculativeAuthenticate(ctx, body.speculativeAuthenticate);
  return {
    ...(body.helloOk === true ? { helloOk: true } : {}),
    ...(legacy ? { ismaster: true } : { isWritablePrimary: true }),
    hosts: [state.me],
    setName: state.setName,
    setVersion: 1,
    secondary: false,
    primary: state.me,
    me: state.me,
    electionId: state.electionId,
    lastWrite: {
      opTime,
      lastWriteDate: wall,
      majorityOpTime: opTime,
      majorityWriteDate: wall,
    },
    maxBsonObjectSize: MAX_BSON_SIZE,
    maxMessageSizeBytes: MAX_MESSAGE_SIZE,
    maxWriteBatchSize: 100_000,
    localTime: wall,
    logicalSessionTimeoutMinutes: 30,
    connectionId: connection.id,
    minWireVersion: 0,
    maxWireVersion: SANDBOX_WIRE_VERSION,
    readOnly: false,
    ...(mechanisms ? { saslSupportedMechs: mechanisms } : {}),
    ...(speculative ? { speculativeAuthenticate: speculative } : {}),
  };
}

function _buildInfo(): Doc {
  return {
    version: SANDBOX_VERSION,
    gitVersion: "archiver-sandbox",
    versionArray: SANDBOX_VERSION.split(".").map(Number).concat([0]),
    bits: 64,
    debug: false,
    maxBsonObjectSize: MAX_BSON_SIZE,
    storageEngines: ["memory"],
    modules: [],
    javascriptEngine: "none",
    sandbox: true,
  };
}

function _listDatabases(ctx: CommandContext): Doc {
  const { storage } = ctx.state;
  let databases: Doc[] = [...storage.databases.entries()].sort(([a], [b]) => a < b ? -1 : 1)
    .map(([name, collections]) => {
      let sizeOnDisk = 0;
      for (const collection of collections.values()) {
        const sizes = collectionSizes(collection);
        sizeOnDisk += sizes.size + Object.values(sizes.indexSizes).reduce((a, b) => a + b, 0);
      }
      return { name, sizeOnDisk, empty: collections.size === 0 };
    });
  databases = withLocalDatabase(databases, storage.oplog); // local.oplog.rs: see local_db.ts
  if (ctx.state.auth.enabled && ctx.body.authorizedDatabases !== false) {
    // mongod's authorizedDatabases: without listDatabases, only the databases the user may use.
    databases = databases.filter((d) =>
      mayListDatabase(ctx.state, ctx.connection, d.name as string)
    );
  }
  if (isPlainDoc(ctx.body.filter)) {
    const test = compileFilter(ctx.body.filter);
    databases = databases.filter(test);
  }
  if (ctx.body.nameOnly === true) return { databases: databases.map(({ name }) => ({ name })) };
  const totalSize = databases.reduce((n, d) => n + Number(d.sizeOnDisk), 0);
  return { databases, totalSize, totalSizeMb: Math.floor(totalSize / 2 ** 20) };
}

function _serverStatus(ctx: CommandContext): Doc {
  const { state } = ctx;
  const uptimeMillis = Date.now() - state.startedAt.getTime();
  return {
    host: state.me,
    version: SANDBOX_VERSION,
    process: "mongod",
    pid: Long.fromNumber(Deno.pid),
    uptime: Math.floor(uptimeMillis / 1000),
    uptimeMillis: Long.fromNumber(uptimeMillis),
    localTime: new Date(),
    connections: {
      current: state.connections.current,
      available: 1_000_000,
      totalCreated: state.connections.totalCreated,
    },
    repl: {
      setName: state.setName,
      setVersion: 1,
      isWritablePrimary: true,
      secondary: false,
      hosts: [state.me],
      primary: state.me,
      me: state.me,
      electionId: state.electionId,
    },
    storageEngine: {
      name: "memory",
      supportsCommittedReads: true,
      persistent: false,
      readOnly: false,
    },
    ..._metricsSections(ctx),
  };
}

/** The `serverStatus` sections computed from the sandbox's counters and process. */
function _metricsSections(ctx: CommandContext): Doc {
  const metrics = serverMetrics(ctx.state);
  const counters: Doc = {};
  for (const [k, v] of Object.entries(metrics.opcounters)) counters[k] = Long.fromNumber(v);
  const memory = Deno.memoryUsage();
  const zero = Long.fromNumber(0);
  return {
    asserts: { regular: 0, warning: 0, msg: 0, user: 0, rollovers: 0 },
    opcounters: counters,
    opcountersRepl: {
      insert: zero,
      query: zero,
      update: zero,
      delete: zero,
      getmore: zero,
      command: zero,
    },
    network: { bytesIn: zero, bytesOut: zero, numRequests: Long.fromNumber(metrics.numRequests) },
    mem: {
      bits: 64,
      resident: Math.round(memory.rss / 2 ** 20),
      virtual: Math.round(memory.rss / 2 ** 20),
      supported: true,
    },
    metrics: {
      cursor: {
        open: { total: Long.fromNumber(ctx.state.cursors.size), noTimeout: zero, pinned: zero },
        timedOut: zero,
      },
    },
    extra_info: { note: "fields vary by platform" },
  };
}

function _replSetGetStatus(ctx: CommandContext): Doc {
  const { state } = ctx;
  const now = state.storage.oplog.clock.now();
  const optime = { ts: now, t: Long.fromNumber(1) };
  return {
    set: state.setName,
    date: new Date(),
    myState: 1,
    term: Long.fromNumber(1),
    heartbeatIntervalMillis: Long.fromNumber(2000),
    members: [{
      _id: 0,
      name: state.me,
      health: 1,
      state: 1,
      stateStr: "PRIMARY",
      uptime: Math.floor((Date.now() - state.startedAt.getTime()) / 1000),
      optime,
      optimeDate: new Date(now.t * 1000),
      self: true,
    }, ..._laggingSecondary(ctx, now)],
  };
}

// The simulated secondary of a sandbox started with a lag (secondary_lag.ts): that far behind.
function _laggingSecondary(ctx: CommandContext, now: Timestamp): Doc[] {
  const lagMs = ctx.state.secondaryLagMs ?? 0;
  if (lagMs <= 0) return [];
  const behind = Math.max(0, now.t - Math.round(lagMs / 1000));
  return [{
    _id: 1,
    name: `${ctx.state.me}-secondary`,
    health: 1,
    state: 2,
    stateStr: "SECONDARY",
    uptime: Math.floor((Date.now() - ctx.state.startedAt.getTime()) / 1000),
    optime: { ts: new Timestamp({ t: behind, i: 0 }), t: Long.fromNumber(1) },
    optimeDate: new Date(now.t * 1000 - lagMs),
    syncSourceHost: ctx.state.me,
  }];
}

function _getParameter(ctx: CommandContext): Doc {
  const out: Doc = {};
  const all = ctx.body.getParameter === "*";
  if (all || ctx.body.featureCompatibilityVersion !== undefined) {
    out.featureCompatibilityVersion = { version: "7.0" };
  }
  if (all || ctx.body.requireApiVersion !== undefined) out.requireApiVersion = false;
  if (all || ctx.body.transactionLifetimeLimitSeconds !== undefined) {
    out.transactionLifetimeLimitSeconds = 60;
  }
  return out;
}

function _configureFailPoint(ctx: CommandContext): Doc {
  if (ctx.db !== "admin") {
    throw new CommandError(13, "configureFailPoint may only be run against the admin database.");
  }
  return ctx.state.failPoints.configure(ctx.body);
}

/** Handshake and administration commands. */
export const ADMIN_COMMANDS: Record<string, CommandHandler> = {
  hello: _hello,
  isMaster: _hello,
  ismaster: _hello,
  ping: () => ({}),
  buildInfo: _buildInfo,
  buildinfo: _buildInfo,
  endSessions: (ctx) => {
    if (Array.isArray(ctx.body.endSessions)) ctx.state.sessions.end(ctx.body.endSessions);
    return {};
  },
  killSessions: () => ({}),
  killAllSessions: () => ({}),
  refreshSessions: () => ({}),
  listDatabases: _listDatabases,
  serverStatus: _serverStatus,
  replSetGetStatus: _replSetGetStatus,
  getParameter: _getParameter,
  configureFailPoint: _configureFailPoint,
  whatsmyuri: (ctx) => ({ you: ctx.connection.remote }),
  hostInfo: () => ({ system: { hostname: Deno.hostname(), currentTime: new Date() } }),
  getCmdLineOpts: () => ({ argv: ["mongod"], parsed: {} }),
};
