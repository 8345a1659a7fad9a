import assert from "node:assert/strict";
import { Binary } from "mongodb";
import type { RecordedEvent } from "./entities.ts";
import { MatchError } from "./matcher.ts";
import { lastTwoLsids, transactionStateName } from "./runner.ts";

Deno.test("transactionStateName names the driver's states as the unified format does", async (t) => {
  const cases: Array<[string, string]> = [
    ["NO_TRANSACTION", "none"],
    ["STARTING_TRANSACTION", "starting"],
    ["TRANSACTION_IN_PROGRESS", "in_progress"],
    ["TRANSACTION_COMMITTED", "committed"],
    ["TRANSACTION_COMMITTED_EMPTY", "committed"],
    ["TRANSACTION_ABORTED", "aborted"],
  ];
  for (const [state, name] of cases) {
    await t.step(state, () => assert.equal(transactionStateName(state), name));
  }
  assert.throws(() => transactionStateName("PAUSED"), /Unknown transaction state "PAUSED"/);
});

function _started(commandName: string, lsid?: number): RecordedEvent {
  return {
    type: "commandStartedEvent",
    commandName,
    databaseName: "db",
    command: {
      [commandName]: 1,
      ...(lsid === undefined ? {} : { lsid: { id: new Binary(new Uint8Array([lsid]), 4) } }),
    },
  };
}

Deno.test("lastTwoLsids takes the lsids of the last two commands started", () => {
  const succeeded: RecordedEvent = {
    type: "commandSucceededEvent",
    commandName: "find",
    databaseName: "db",
  };
  const [previous, last] = lastTwoLsids([
    _started("ping", 9),
    _started("insert", 1),
    succeeded,
    _started("find", 2),
    succeeded,
  ]);
  assert.deepEqual(previous, { id: new Binary(new Uint8Array([1]), 4) });
  assert.deepEqual(last, { id: new Binary(new Uint8Array([2]), 4) });
});

Deno.test("lastTwoLsids fails with fewer than two commands or a command without lsid", async (t) => {
  const cases: Array<[string, RecordedEvent[], RegExp]> = [
    ["no command", [], /recorded 0/],
    ["one command", [_started("find", 1)], /recorded 1/],
    ["no lsid", [_started("find", 1), _started("hello")], /has no lsid/],
  ];
  for (const [name, events, message] of cases) {
    await t.step(name, () => {
      assert.throws(() => lastTwoLsids(events), (e: Error) => {
        assert.ok(e instanceof MatchError);
        assert.match(e.message, message);
        return true;
      });
    });
  }
});
