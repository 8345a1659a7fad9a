import assert from "node:assert/strict";
import { configure, type LogRecord, reset } from "@logtape/logtape";
import { deserialize, Long, ObjectId, serialize } from "bson";
import { takeBatch } from "../../sandbox/engine/cursors.ts";
import { encodeMsg, encodeReply } from "../../sandbox/wire/wire.ts";
import { MongoClient } from "mongodb";
import { dedicatedSandbox } from "../support/test_db.ts";

function _frame(opCode: number, payload: Uint8Array, declared?: number): Uint8Array {
  const frame = new Uint8Array(16 + payload.byteLength);
  const view = new DataView(frame.buffer);
  view.setInt32(0, declared ?? frame.byteLength, true);
  view.setInt32(4, 1, true);
  view.setInt32(12, opCode, true);
  frame.set(payload, 16);
  return frame;
}

function _opMsg(body: Uint8Array): Uint8Array {
  const payload = new Uint8Array(5 + body.byteLength);
  payload[4] = 0;
  payload.set(body, 5);
  return _frame(2013, payload);
}

async function _readUntilClosed(conn: Deno.Conn, timeoutMs = 3000): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  const buffer = new Uint8Array(4096);
  const timer = setTimeout(() => conn.close(), timeoutMs);
  try {
    while (true) {
      const n = await conn.read(buffer);
      if (n === null) break;
      chunks.push(buffer.slice(0, n));
    }
  } catch {
    // Closed by the timer: the server kept the connection open.
    return new Uint8Array([0xff]);
  } finally {
    clearTimeout(timer);
  }
  try {
    conn.close();
  } catch {
    // Already closed.
  }
  return new Uint8Array(chunks.flatMap((c) => [...c]));
}

Deno.test("malformed messages close their connection and the server carries on", async (t) => {
  const records: LogRecord[] = [];
  await configure({
    sinks: { memory: (record) => records.push(record) },
    loggers: [
      { category: ["archiver", "sandbox"], sinks: ["memory"], lowestLevel: "debug" },
      { category: ["logtape", "meta"], sinks: [], lowestLevel: "error" },
    ],
    reset: true,
  });
  try {
    await using sandbox = await dedicatedSandbox();
    if (!sandbox) return; // Raw-byte checks target the sandbox's own logging.
    const connect = () => Deno.connect({ hostname: "127.0.0.1", port: sandbox.port });
    const cases: Array<[string, Uint8Array, RegExp]> = [
      ["an unknown opcode", _frame(9999, new Uint8Array(8)), /Unknown opcode 9999/],
      [
        "an impossible length",
        _frame(2013, new Uint8Array(8), 64_000_000),
        /Impossible message length/,
      ],
      ["a negative length", _frame(2013, new Uint8Array(8), -5), /Impossible message length/],
      [
        "broken BSON",
        _opMsg(new Uint8Array([20, 0, 0, 0, 2, 97, 0, 200, 0, 0, 0, 98, 0, 0, 0, 0, 0, 0, 0, 0])),
        /Invalid BSON|BSON document/,
      ],
    ];
    for (const [name, bytes, reason] of cases) {
      await t.step(`${name} closes the connection without a reply`, async () => {
        const conn = await connect();
        await conn.write(bytes);
        const received = await _readUntilClosed(conn);
        assert.equal(received.byteLength, 0);
        await new Promise((resolve) => setTimeout(resolve, 20));
        assert.ok(
          records.some((r) => reason.test(String(r.properties.reason))),
          `no log matching ${reason}`,
        );
      });
    }
    await t.step("a truncated frame is logged when the peer hangs up", async () => {
      const conn = await connect();
      const ping = _opMsg(serialize({ ping: 1, $db: "admin" }));
      await conn.write(ping.subarray(0, ping.byteLength - 3));
      conn.close();
      await new Promise((resolve) => setTimeout(resolve, 50));
      assert.ok(records.some((r) => /truncated frame/.test(String(r.properties.reason))));
    });
    await t.step("a well-formed raw OP_MSG still gets a reply", async () => {
      const conn = await connect();
      await conn.write(_opMsg(serialize({ ping: 1, $db: "admin" })));
      const header = new Uint8Array(16);
      let read = 0;
      while (read < 16) read += (await conn.read(header.subarray(read))) ?? 16;
      const view = new DataView(header.buffer);
      assert.equal(view.getInt32(8, true), 1);
      assert.equal(view.getInt32(12, true), 2013);
      conn.close();
    });
    await t.step("the driver still works", async () => {
      const client = new MongoClient(sandbox.uri);
      try {
        assert.deepEqual((await client.db("admin").command({ ping: 1 })).ok, 1);
      } finally {
        await client.close();
      }
    });
  } finally {
    await reset();
  }
});

Deno.test("a reply whose batch was encoded when cut is the same bytes as the reply encoded whole", () => {
  const docs = [
    { _id: new ObjectId(), a: "é", nested: { list: [1, 2.5, null], when: new Date(7) } },
    { _id: 2, skipped: undefined, big: Long.fromNumber(2 ** 40) },
    {},
  ];
  for (const field of ["firstBatch", "nextBatch"]) {
    const batch = takeBatch(docs, 0, 10);
    const reply = {
      cursor: { [field]: batch, id: Long.fromNumber(5), ns: "db.c", atClusterTime: 3 },
      ok: 1,
      $clusterTime: { clusterTime: 1 },
    };
    const fresh = {
      ...reply,
      cursor: { ...reply.cursor, [field]: [...docs] },
    };
    const kept = encodeMsg(1, 2, reply);
    assert.deepEqual(kept, encodeMsg(1, 2, fresh));
    assert.deepEqual(encodeReply(1, 2, reply), encodeReply(1, 2, fresh));
    assert.equal(new DataView(kept.buffer).getInt32(0, true), kept.byteLength);
    const decoded = deserialize(kept.subarray(21));
    assert.deepEqual(decoded.cursor[field][0].nested.when, new Date(7));
    assert.equal(decoded.cursor[field].length, 3);
    // A batch changed after it was cut is encoded anew, not from stale bytes.
    batch.pop();
    assert.equal(deserialize(encodeMsg(1, 2, reply).subarray(21)).cursor[field].length, 2);
  }
});
