import assert from "node:assert/strict";
import type { Document } from "mongodb";
import type { RecordedCmapEvent } from "./entities.ts";
import { assertCmapEvents } from "./events.ts";
import { MatchError } from "./matcher.ts";

const checkOut = { type: "connectionCheckOutStartedEvent" };
const closed = { type: "connectionClosedEvent", reason: "error" };

Deno.test("connection-pool events match by type and order, and by reason where given", () => {
  assertCmapEvents(
    [{ connectionCheckOutStartedEvent: {} }, { connectionClosedEvent: { reason: "error" } }],
    [checkOut, closed],
  );
  const mismatches: Array<[string, Document[], RecordedCmapEvent[], boolean]> = [
    ["a type", [{ connectionCheckedOutEvent: {} }], [checkOut], false],
    ["a reason", [{ connectionClosedEvent: { reason: "stale" } }], [closed], false],
    ["an order", [{ connectionClosedEvent: {} }, { connectionCheckOutStartedEvent: {} }], [
      checkOut,
      closed,
    ], false],
    [
      "a missing event",
      [{ connectionCheckOutStartedEvent: {} }, {
        connectionCheckOutStartedEvent: {},
      }],
      [checkOut],
      true,
    ],
    ["an extra event", [{ connectionCheckOutStartedEvent: {} }], [checkOut, closed], false],
    ["a pool clear that interrupted", [{ poolClearedEvent: { interruptInUseConnections: true } }], [
      {
        type: "poolClearedEvent",
      },
    ], false],
  ];
  for (const [what, expected, actual, ignoreExtraEvents] of mismatches) {
    assert.throws(
      () => assertCmapEvents(expected, actual, { ignoreExtraEvents }),
      MatchError,
      what,
    );
  }
  assertCmapEvents([{ connectionCheckOutStartedEvent: {} }], [checkOut, closed], {
    ignoreExtraEvents: true,
  });
});
