/**
 * The entity map of a unified test: clients (with their command-monitoring recorders), databases,
 * collections, sessions, change streams, cursors and saved BSON values, created from a test
 * file's `createEntities` and torn down after each test.
 *
 * @module
 */

import {
  type ChangeStream,
  type ClientSession,
  type Collection,
  type CommandFailedEvent,
  type CommandStartedEvent,
  type CommandSucceededEvent,
  type Db,
  type Document,
  type FindCursor,
  MongoClient,
  type MongoClientOptions,
  ReadPreference,
  type ReadPreferenceMode,
  type Timestamp,
} from "mongodb";
import type { EntityLookup } from "./matcher.ts";

/** A command monitoring event as the runner records it */
export interface RecordedEvent {
  /** The unified format's name of the event type */
  type: "commandStartedEvent" | "commandSucceededEvent" | "commandFailedEvent";
  /** Name of the command, e.g. `find` */
  commandName: string;
  /** Database the command ran against */
  databaseName: string;
  /** The command sent (started events only) */
  command?: Document;
  /** The server's reply (succeeded events only) */
  reply?: Document;
  /** The load balancer service id, if any */
  serviceId?: unknown;
  /** The server's connection id, if any */
  serverConnectionId?: unknown;
}

/**
 * A connection-pool (CMAP) event as the runner records it: the unified format's name of its
 * type, the driver's event name without "Event" (`connectionCheckOutStarted`), and the fields the
 * format lets a test check.
 */
export interface RecordedCmapEvent {
  type: string;
  /** Why a connection closed or a check-out failed */
  reason?: string;
  /** A pool cleared for one load-balanced service */
  serviceId?: unknown;
  /** Whether a pool clear interrupted the connections in use */
  interruptInUseConnections?: boolean;
}

/** The driver's connection-pool events the unified format names (with "Event" appended). */
const _CMAP_EVENTS = [
  "poolCreated",
  "poolReady",
  "poolCleared",
  "poolClosed",
  "connectionCreated",
  "connectionReady",
  "connectionClosed",
  "connectionCheckOutStarted",
  "connectionCheckOutFailed",
  "connectionCheckedOut",
  "connectionCheckedIn",
] as const;

/** A client entity: the driver client and what it observed */
export interface ClientEntity {
  kind: "client";
  client: MongoClient;
  /** Events recorded while the test's operations ran */
  events: RecordedEvent[];
  /** Connection-pool events recorded while the test's operations ran */
  cmapEvents: RecordedCmapEvent[];
  /** Whether events are currently recorded (between the start and the end of operations) */
  recording: boolean;
}

/** Any entity of the map */
export type Entity =
  | ClientEntity
  | { kind: "database"; db: Db }
  | { kind: "collection"; collection: Collection }
  | { kind: "session"; session: ClientSession; client: string }
  | { kind: "changeStream"; stream: ChangeStream }
  | { kind: "cursor"; cursor: FindCursor }
  | { kind: "value"; value: unknown };

/**
 * What the driver's session holds that its public types leave out and the format's session
 * operations read: the snapshot time (`getSnapshotTime`, `sessionOptions.snapshotTime`) and the
 * transaction state (`assertSessionTransactionState`). The driver's own runner reads the same.
 */
export interface SessionInternals {
  /** The `atClusterTime` of the session's first snapshot read, then sent by every read */
  snapshotTime?: Timestamp;
  /** The session's transaction; its `state` is a `TxnState` value such as `NO_TRANSACTION` */
  transaction: { state: string };
}

/**
 * Views a driver session through {@linkcode SessionInternals}.
 *
 * @param session a driver session
 * @returns the same object, typed with its internal fields
 */
export function sessionInternals(session: ClientSession): SessionInternals {
  return session as unknown as SessionInternals;
}

type _KindOf<K extends Entity["kind"]> = Extract<Entity, { kind: K }>;

/** Commands whose monitoring events the format says to ignore (sensitive, or the runner's own) */
const _IGNORED_COMMANDS = new Set([
  "configurefailpoint",
  "authenticate",
  "saslstart",
  "saslcontinue",
  "getnonce",
  "createuser",
  "updateuser",
  "copydbgetnonce",
  "copydbsaslstart",
  "copydb",
]);

/** Options for creating client entities */
export interface EntityOptions {
  /** Connection string of the server under test */
  uri: string;
  /**
   * Server selection timeout for client entities without their own, so a dead server fails a test
   * quickly instead of after the driver's 30 s default
   * @default 5000
   */
  serverSelectionTimeoutMS?: number;
}

/** The entities of one test, by id */
export class EntityMap implements EntityLookup {
  readonly #entities = new Map<string, Entity>();
  readonly #options: EntityOptions;

  /** @param options connection settings for client entities */
  constructor(options: EntityOptions) {
    this.#options = options;
  }

  /**
   * Stores an entity under a new id.
   *
   * @param id the entity's unique name
   * @param entity the entity
   * @throws {Error} when the id is taken
   */
  set(id: string, entity: Entity): void {
    if (this.#entities.has(id)) throw new Error(`Entity "${id}" already exists`);
    this.#entities.set(id, entity);
  }

  /**
   * Fetches an entity of a given kind.
   *
   * @param id the entity's name
   * @param kind the kind expected
   * @returns the entity
   * @throws {Error} when it is missing or of another kind
   */
  get<K extends Entity["kind"]>(id: string, kind: K): _KindOf<K> {
    const entity = this.#entities.get(id);
    if (entity === undefined) throw new Error(`Entity "${id}" is not defined`);
    if (entity.kind !== kind) {
      throw new Error(`Entity "${id}" is a ${entity.kind}, expected a ${kind}`);
    }
    return entity as _KindOf<K>;
  }

  /**
   * Fetches an entity of any kind.
   *
   * @param id the entity's name
   * @returns the entity
   * @throws {Error} when it is missing
   */
  any(id: string): Entity {
    const entity = this.#entities.get(id);
    if (entity === undefined) throw new Error(`Entity "${id}" is not defined`);
    return entity;
  }

  /** All client entities, for starting and stopping event recording */
  clients(): ClientEntity[] {
    return [...this.#entities.values()].filter((e): e is ClientEntity => e.kind === "client");
  }

  /**
   * Resolves `$$matchesEntity` (a saved value) and `$$sessionLsid` (a session's lsid).
   *
   * @param name the entity's name
   * @param kind which operator asks
   * @returns the value to match against
   */
  valueOf(name: string, kind: "value" | "sessionLsid"): unknown {
    if (kind === "sessionLsid") {
      const lsid = this.get(name, "session").session.id;
      if (lsid === undefined) throw new Error(`Session "${name}" has no lsid (ended?)`);
      return lsid;
    }
    return this.get(name, "value").value;
  }

  /**
   * Creates the entities listed in a `createEntities` array, in order.
   *
   * @param definitions the array from the test file
   */
  async create(definitions: readonly Document[]): Promise<void> {
    for (const definition of definitions) {
      const kinds = Object.keys(definition);
      if (kinds.length !== 1) throw new Error(`An entity needs exactly one type key, got ${kinds}`);
      const kind = kinds[0]!;
      const spec = definition[kind] as Document;
      const id = spec.id as string;
      switch (kind) {
        case "client":
          this.set(id, await this.#createClient(spec));
          break;
        case "database": {
          const { client } = this.get(spec.client as string, "client");
          const db = client.db(spec.databaseName as string, toCommonOptions(spec.databaseOptions));
          this.set(id, { kind: "database", db });
          break;
        }
        case "collection": {
          const { db } = this.get(spec.database as string, "database");
          const collection = db.collection(
            spec.collectionName as string,
            toCommonOptions(spec.collectionOptions),
          );
          this.set(id, { kind: "collection", collection });
          break;
        }
        case "session": {
          const { client } = this.get(spec.client as string, "client");
          const { snapshotTime, ...options } = (spec.sessionOptions ?? {}) as Document;
          const session = client.startSession(toCommonOptions(options));
          // `snapshotTime` names an entity holding the time; the driver takes it as the
          // session's snapshot time, which its first read then sends as `atClusterTime`.
          if (typeof snapshotTime === "string") {
            sessionInternals(session).snapshotTime = this.get(snapshotTime, "value")
              .value as Timestamp;
          }
          this.set(id, { kind: "session", session, client: spec.client as string });
          break;
        }
        default:
          throw new Error(`Unsupported entity type "${kind}"`);
      }
    }
  }

  /**
   * Closes everything: change streams and cursors first, then sessions, then clients.
   * Errors are swallowed: cleanup must not hide the test's own result.
   */
  async close(): Promise<void> {
    const all = [...this.#entities.values()];
    for (const entity of all) {
      if (entity.kind === "changeStream") await _quietly(() => entity.stream.close());
      if (entity.kind === "cursor") await _quietly(() => entity.cursor.close());
    }
    for (const entity of all) {
      if (entity.kind === "session") await _quietly(() => entity.session.endSession());
    }
    for (const entity of all) {
      if (entity.kind === "client") {
        entity.recording = false;
        await _quietly(() => entity.client.close(true));
      }
    }
    this.#entities.clear();
  }

  async #createClient(spec: Document): Promise<ClientEntity> {
    const uriOptions = (spec.uriOptions ?? {}) as Document;
    const observe = new Set((spec.observeEvents ?? []) as string[]);
    const ignore = new Set(
      ((spec.ignoreCommandMonitoringEvents ?? []) as string[]).map((name) => name.toLowerCase()),
    );
    const options: MongoClientOptions = {
      serverSelectionTimeoutMS: this.#options.serverSelectionTimeoutMS ?? 5000,
      ...toCommonOptions(uriOptions),
      monitorCommands: true,
    };
    const client = new MongoClient(this.#options.uri, options);
    const entity: ClientEntity = {
      kind: "client",
      client,
      events: [],
      cmapEvents: [],
      recording: false,
    };
    for (const name of _CMAP_EVENTS) {
      if (!observe.has(`${name}Event`)) continue;
      client.on(name, (event: Partial<RecordedCmapEvent>) => {
        if (!entity.recording) return;
        entity.cmapEvents.push({
          type: `${name}Event`,
          reason: event.reason,
          serviceId: event.serviceId,
          interruptInUseConnections: event.interruptInUseConnections,
        });
      });
    }
    const keep = (commandName: string, command?: Document) => {
      const name = commandName.toLowerCase();
      if (!entity.recording || ignore.has(name) || _IGNORED_COMMANDS.has(name)) return false;
      if (
        (name === "hello" || name === "ismaster") && command !== undefined &&
        (Object.keys(command).length === 0 || "speculativeAuthenticate" in command)
      ) return false;
      return true;
    };
    if (observe.has("commandStartedEvent")) {
      client.on("commandStarted", (event: CommandStartedEvent) => {
        if (!keep(event.commandName, event.command)) return;
        entity.events.push({
          type: "commandStartedEvent",
          commandName: event.commandName,
          databaseName: event.databaseName,
          command: event.command,
          serviceId: event.serviceId,
          serverConnectionId: event.serverConnectionId,
        });
      });
    }
    if (observe.has("commandSucceededEvent")) {
      client.on("commandSucceeded", (event: CommandSucceededEvent) => {
        if (!keep(event.commandName)) return;
        entity.events.push({
          type: "commandSucceededEvent",
          commandName: event.commandName,
          databaseName: event.databaseName,
          reply: event.reply as Document,
          serviceId: event.serviceId,
          serverConnectionId: event.serverConnectionId,
        });
      });
    }
    if (observe.has("commandFailedEvent")) {
      client.on("commandFailed", (event: CommandFailedEvent) => {
        if (!keep(event.commandName)) return;
        entity.events.push({
          type: "commandFailedEvent",
          commandName: event.commandName,
          databaseName: event.databaseName,
          serviceId: event.serviceId,
          serverConnectionId: event.serverConnectionId,
        });
      });
    }
    await client.connect();
    return entity;
  }
}

/**
 * Converts the format's `readConcern`, `readPreference` and `writeConcern` objects (and passes any
 * other option through) into the driver's option shapes.
 *
 * @param options options from a test file, possibly undefined
 * @returns driver options
 */
export function toCommonOptions(options: unknown): Document {
  if (options === undefined || options === null) return {};
  const result: Document = { ...(options as Document) };
  if (result.readPreference !== undefined && typeof result.readPreference === "object") {
    const pref = result.readPreference as Document;
    result.readPreference = new ReadPreference(
      pref.mode as ReadPreferenceMode,
      pref.tagSets as never,
      { maxStalenessSeconds: pref.maxStalenessSeconds, hedge: pref.hedge },
    );
  }
  if (result.writeConcern !== undefined && typeof result.writeConcern === "object") {
    const wc = result.writeConcern as Document;
    result.writeConcern = {
      ...(wc.w !== undefined ? { w: wc.w } : {}),
      ...(wc.journal !== undefined ? { journal: wc.journal } : {}),
      ...(wc.wtimeoutMS !== undefined ? { wtimeoutMS: wc.wtimeoutMS } : {}),
    };
  }
  return result;
}

async function _quietly(fn: () => Promise<unknown>): Promise<void> {
  try {
    await fn();
  } catch {
    // Cleanup errors are not the test's result.
  }
}
