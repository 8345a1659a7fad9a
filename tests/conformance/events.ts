/**
 * Checks a test's `expectEvents` against the command monitoring events a client recorded.
 *
 * @module
 */

import type { Document } from "mongodb";
import type { RecordedCmapEvent, RecordedEvent } from "./entities.ts";
import { assertMatches, type EntityLookup, MatchError } from "./matcher.ts";

/**
 * Asserts that the recorded events match the expected list, in order.
 *
 * @param expected one `expectedEventsForClient` object's `events`
 * @param actual the events the client recorded (already filtered of ignored commands)
 * @param options `ignoreExtraEvents` and entity lookup for special operators
 * @throws {MatchError} on the first mismatch, naming the event's index
 */
export function assertEvents(
  expected: readonly Document[],
  actual: readonly RecordedEvent[],
  options: { ignoreExtraEvents?: boolean; entities?: EntityLookup; client?: string } = {},
): void {
  const label = `expectEvents[${options.client ?? "client"}]`;
  const summary = () =>
    actual.map((e) => `${e.type.replace("Event", "")}:${e.commandName}`).join(", ");
  if (actual.length < expected.length) {
    throw new MatchError(
      label,
      `expected ${expected.length} event(s), observed ${actual.length} [${summary()}]`,
    );
  }
  expected.forEach((event, i) => {
    assertEvent(event, actual[i]!, { path: `${label}[${i}]`, entities: options.entities });
  });
  if (!options.ignoreExtraEvents && actual.length > expected.length) {
    throw new MatchError(
      label,
      `expected ${expected.length} event(s), observed ${actual.length} [${summary()}]`,
    );
  }
}

/**
 * Asserts that one recorded event matches one `expectedEvent` object.
 *
 * @param expected `{ commandStartedEvent: {...} }` or the succeeded/failed variants
 * @param actual the recorded event
 * @param options path label and entity lookup
 * @throws {MatchError} when the type or a field differs
 */
export function assertEvent(
  expected: Document,
  actual: RecordedEvent,
  options: { path?: string; entities?: EntityLookup } = {},
): void {
  const path = options.path ?? "event";
  const keys = Object.keys(expected);
  if (keys.length !== 1) throw new Error(`${path}: an expected event needs exactly one type key`);
  const type = keys[0]!;
  const spec = expected[type] as Document;
  if (type !== actual.type) {
    throw new MatchError(path, `expected ${type}, observed ${actual.type} (${actual.commandName})`);
  }
  if (spec.commandName !== undefined && spec.commandName !== actual.commandName) {
    throw new MatchError(
      `${path}.commandName`,
      `expected "${spec.commandName}", observed "${actual.commandName}"`,
    );
  }
  if (spec.databaseName !== undefined && spec.databaseName !== actual.databaseName) {
    throw new MatchError(
      `${path}.databaseName`,
      `expected "${spec.databaseName}", observed "${actual.databaseName}"`,
    );
  }
  if (spec.command !== undefined) {
    assertMatches(spec.command, actual.command, {
      root: true,
      path: `${path}.command`,
      entities: options.entities,
    });
  }
  if (spec.reply !== undefined) {
    assertMatches(spec.reply, actual.reply, {
      root: true,
      path: `${path}.reply`,
      entities: options.entities,
    });
  }
  if (spec.hasServiceId !== undefined) {
    const has = actual.serviceId !== undefined && actual.serviceId !== null;
    if (has !== spec.hasServiceId) {
      throw new MatchError(
        `${path}.hasServiceId`,
        `expected ${spec.hasServiceId}, observed ${has}`,
      );
    }
  }
  if (spec.hasServerConnectionId !== undefined) {
    const has = actual.serverConnectionId !== undefined && actual.serverConnectionId !== null;
    if (has !== spec.hasServerConnectionId) {
      throw new MatchError(
        `${path}.hasServerConnectionId`,
        `expected ${spec.hasServerConnectionId}, observed ${has}`,
      );
    }
  }
}

/**
 * Asserts that the recorded connection-pool events match the expected list, in order: the type,
 * and where the test gives them, `reason`, `hasServiceId` and `interruptInUseConnections`.
 *
 * @param expected one `expectedEventsForClient` object's `events` (eventType "cmap")
 * @param actual the connection-pool events the client recorded
 * @param options `ignoreExtraEvents` and the client's name for messages
 * @throws {MatchError} on the first mismatch, naming the event's index
 */
export function assertCmapEvents(
  expected: readonly Document[],
  actual: readonly RecordedCmapEvent[],
  options: { ignoreExtraEvents?: boolean; client?: string } = {},
): void {
  const label = `expectEvents[${options.client ?? "client"}] (cmap)`;
  const count = () =>
    `expected ${expected.length} event(s), observed ${actual.length} [${
      actual.map((e) => e.type.replace("Event", "")).join(", ")
    }]`;
  if (
    actual.length < expected.length ||
    (!options.ignoreExtraEvents && actual.length > expected.length)
  ) {
    throw new MatchError(label, count());
  }
  expected.forEach((event, i) => {
    const path = `${label}[${i}]`;
    const [type, ...rest] = Object.keys(event);
    if (type === undefined || rest.length > 0) {
      throw new Error(`${path}: an expected event needs exactly one type key`);
    }
    const spec = event[type] as Document;
    const seen = actual[i]!;
    if (type !== seen.type) throw new MatchError(path, `expected ${type}, observed ${seen.type}`);
    if (spec.reason !== undefined && spec.reason !== seen.reason) {
      throw new MatchError(
        `${path}.reason`,
        `expected "${spec.reason}", observed "${seen.reason}"`,
      );
    }
    if (spec.hasServiceId !== undefined) {
      const has = seen.serviceId !== undefined && seen.serviceId !== null;
      if (has !== spec.hasServiceId) {
        throw new MatchError(
          `${path}.hasServiceId`,
          `expected ${spec.hasServiceId}, observed ${has}`,
        );
      }
    }
    if (
      spec.interruptInUseConnections !== undefined &&
      spec.interruptInUseConnections !== (seen.interruptInUseConnections ?? false)
    ) {
      throw new MatchError(
        `${path}.interruptInUseConnections`,
        `expected ${spec.interruptInUseConnections}, observed ${seen.interruptInUseConnections}`,
      );
    }
  });
}
