import assert from "node:assert/strict";
import { join } from "node:path";
import { BSON, type Db, ObjectId } from "mongodb";
import { batch } from "../../../plugins/batch/mod.ts";
import { quarantine } from "../../../plugins/quarantine/mod.ts";
import { describeOrderId, orderIdKey } from "../../../core/archive/order_id.ts";
import { batchArgs, cli, tempDir } from "../../support/cli.ts";
import { seedOrders } from "../../support/orders.ts";
import { testDatabase } from "../../support/test_db.ts";
import { assertSnapshot } from "../../support/snapshot.ts";

const plugins = [quarantine(), batch()];
const env = { USER: "jdupont" };

function runQuarantine(uri: string, db: string, dir: string, ...args: string[]) {
  return cli(
    ["--uri", uri, "--db", db, "--log-dir", join(dir, "logs"), "quarantine", ...args],
    { plugins, cwd: dir, env },
  );
}

const at = (minute: number) => new Date(Date.UTC(2025, 9, 14, 10, minute));

/** An entry as another process (batch, a watcher, verify --repair) wrote it. */
const stored = (
  id: unknown,
  number: string | null,
  reason: string,
  minute: number,
  extra: Record<string, unknown> = {},
) => ({
  _id: id,
  numero_commande: number,
  reason,
  detail: `${reason}: detail of ${number}`,
  first_seen: at(minute),
  last_attempt: at(minute + 1),
  attempts: 3,
  next_attempt: at(minute + 2),
  ...extra,
});

const lines = (text: string) => text.trimEnd().split("\n");
const cells = (line: string) => line.trim().split(/\s{2,}/);

Deno.test("quarantine --help and each subcommand's help are snapshotted", async () => {
  for (
    const [name, args] of [
      ["quarantine_help", ["quarantine", "--help"]],
      ["quarantine_list_help", ["quarantine", "list", "--help"]],
      ["quarantine_show_help", ["quarantine", "show", "--help"]],
      ["quarantine_retry_help", ["quarantine", "retry", "--help"]],
      ["quarantine_release_help", ["quarantine", "release", "--help"]],
    ] as const
  ) {
    const { code, stdout } = await cli([...args], { plugins: [quarantine()] });
    assert.equal(code, 0);
    await assertSnapshot(name, stdout);
  }
});

Deno.test("quarantine list: oldest first, by reason, bounded with the total, as a table or JSON lines", async (t) => {
  await using tdb = await testDatabase("quarantine_list_cli");
  await using dir = await tempDir();
  const oid = new ObjectId();
  await tdb.db.collection("archiver_quarantine").insertMany([
    stored("A-1", "CMD-000003", "incomplete", 30),
    stored(oid, "CMD-000001", "conflict", 10, { conflict_with: 7 }),
    stored({ shop: 3, n: 12 }, null, "invalid", 20),
    stored(BSON.Long.fromNumber(5), "CMD-000005", "incomplete", 40),
  ] as never[]);

  await t.step("the table: title with the total, one row per order, oldest first", async () => {
    const { code, stdout, stderr } = await runQuarantine(tdb.uri, tdb.dbName, dir.path, "list");
    assert.equal(code, 0, stderr);
    const out = lines(stdout);
    assert.equal(out[0], "4 orders in the quarantine");
    assert.deepEqual(cells(out[1]!), [
      "#",
      "number",
      "_id",
      "reason",
      "first seen",
      "attempts",
      "next attempt",
      "detail",
    ]);
    assert.deepEqual(out.slice(2).map((l) => cells(l).slice(0, 5)), [
      ["1", "CMD-000001", `ObjectId("${oid.toHexString()}")`, "conflict", "2025-10-14 10:10:00Z"],
      ["2", "-", "{ shop: 3, n: 12 }", "invalid", "2025-10-14 10:20:00Z"],
      ["3", "CMD-000003", '"A-1"', "incomplete", "2025-10-14 10:30:00Z"],
      ["4", "CMD-000005", "5", "incomplete", "2025-10-14 10:40:00Z"],
    ]);
    assert.match(stderr, /📋 4 orders in the quarantine, 4 listed/);
  });

  await t.step("--reason and --limit: only those, the total still said", async () => {
    const cases: Array<[string[], string, string[]]> = [
      [["--reason", "incomplete"], "2 orders quarantined as incomplete", [
        "CMD-000003",
        "CMD-000005",
      ]],
      [["--limit", "2"], "4 orders in the quarantine, the oldest 2 shown (--limit)", [
        "CMD-000001",
        "-",
      ]],
      [
        ["--reason", "incomplete", "--limit", "1"],
        "2 orders quarantined as incomplete, the oldest 1 shown (--limit)",
        ["CMD-000003"],
      ],
      [["--reason", "error"], "No order is quarantined as error", []],
    ];
    for (const [args, title, numbers] of cases) {
      const { code, stdout } = await runQuarantine(tdb.uri, tdb.dbName, dir.path, "list", ...args);
      assert.equal(code, 0, args.join(" "));
      const out = lines(stdout);
      assert.equal(out[0], title, args.join(" "));
      assert.deepEqual(out.slice(2).map((l) => cells(l)[1]), numbers, args.join(" "));
    }
  });

  await t.step("--json: one object per line, the _id's type kept", async () => {
    const { code, stdout } = await runQuarantine(tdb.uri, tdb.dbName, dir.path, "list", "--json");
    assert.equal(code, 0);
    const objects = lines(stdout).map((l) => JSON.parse(l));
    assert.equal(objects.length, 4);
    assert.deepEqual(objects[0], {
      _id: { $oid: oid.toHexString() },
      id: `ObjectId("${oid.toHexString()}")`,
      numero_commande: "CMD-000001",
      reason: "conflict",
      detail: "conflict: detail of CMD-000001",
      conflict_with: 7,
      first_seen: at(10).toISOString(),
      last_attempt: at(11).toISOString(),
      attempts: 3,
      next_attempt: at(12).toISOString(),
    });
    const ids = objects.map((o) => BSON.EJSON.deserialize({ v: o._id }, { relaxed: false }).v);
    assert.deepEqual(ids.map(orderIdKey), [oid, { shop: 3, n: 12 }, "A-1", 5].map(orderIdKey));
  });

  await t.step("bad flags: one line, exit 2, no log file", async () => {
    await using fresh = await tempDir();
    for (
      const [args, message] of [
        [
          ["--reason", "lost"],
          /Invalid --reason "lost": expected one of incomplete, invalid, conflict, error/,
        ],
        [["--limit", "0"], /Invalid --limit "0": expected an integer/],
      ] as const
    ) {
      const { code, stderr } = await runQuarantine(
        tdb.uri,
        tdb.dbName,
        fresh.path,
        "list",
        ...args,
      );
      assert.equal(code, 2);
      assert.match(stderr, message);
      assert.equal(lines(stderr).length, 1, stderr);
    }
    await assert.rejects(Deno.stat(join(fresh.path, "logs")), "nothing written");
  });
});

// Every shape of _id, and the texts that name it on the command line.
const SHAPES: Array<[string, unknown, string[]]> = [
  ["ObjectId", new ObjectId("65f0c0ffee0000000000002a"), [
    'ObjectId("65f0c0ffee0000000000002a")',
    "65f0c0ffee0000000000002a",
    '{"$oid": "65f0c0ffee0000000000002a"}',
  ]],
  ["string", "A-1", ['"A-1"', "'A-1'"]],
  ["string that looks like a number", "1", ['"1"']],
  ["int", 1, ["1", "NumberLong(1)", '{"$numberLong": "1"}', "1.0"]],
  ["long", BSON.Long.fromString("9007199254740993"), [
    "NumberLong(9007199254740993)",
    "9007199254740993",
    '{"$numberLong": "9007199254740993"}',
  ]],
  ["double", 2.5, ["2.5", 'NumberDecimal("2.50")']],
  ["document", { shop: 3, n: 12 }, ["{ shop: 3, n: 12 }", '{"shop": 3, "n": 12}']],
  ["UUID", new BSON.UUID("0e3c2b6a-1f4d-4c8e-9a57-3b2d1c0f9e8d"), [
    'UUID("0e3c2b6a-1f4d-4c8e-9a57-3b2d1c0f9e8d")',
  ]],
];

Deno.test("quarantine show: an order of every _id shape, by each form of its _id and by number", async (t) => {
  await using tdb = await testDatabase("quarantine_show_cli");
  await using dir = await tempDir();
  await tdb.db.collection("archiver_quarantine").insertMany(
    SHAPES.map(([, id], i) => stored(id, `CMD-00000${i}`, "incomplete", i)) as never[],
  );
  for (const [name, id, texts] of SHAPES) {
    await t.step(name, async () => {
      const number = `CMD-00000${SHAPES.findIndex(([n]) => n === name)}`;
      for (const text of [describeOrderId(id), ...texts, number]) {
        const { code, stdout, stderr } = await runQuarantine(
          tdb.uri,
          tdb.dbName,
          dir.path,
          "show",
          text,
          "--json",
        );
        assert.equal(code, 0, `${text}: ${stderr}`);
        const shown = lines(stdout).map((l) => JSON.parse(l));
        assert.deepEqual(shown.map((s) => s.numero_commande), [number], text);
        assert.equal(shown[0].id, describeOrderId(id), text);
      }
    });
  }

  await t.step("an _id that parses to nothing: one line, exit 2", async () => {
    for (const text of ['ObjectId("xyz")', "{ shop: ", "[1]", '"open', ""]) {
      const { code, stderr } = await runQuarantine(tdb.uri, tdb.dbName, dir.path, "show", text);
      assert.equal(code, 2, text);
      assert.match(stderr, /^error: Cannot read ".*" as an order/, text);
      assert.equal(lines(stderr).length, 1, stderr);
    }
  });

  await t.step("an order the quarantine does not hold: exit 1, said", async () => {
    for (const text of ["CMD-999999", '"1.0"', "NumberLong(2)"]) {
      const { code, stderr } = await runQuarantine(tdb.uri, tdb.dbName, dir.path, "show", text);
      assert.equal(code, 1, text);
      assert.match(stderr, /❌ No order with .* is in the quarantine archiver_quarantine/, text);
    }
  });
});

Deno.test("quarantine show of a conflict names the other order and what the archive holds under the number", async () => {
  await using tdb = await testDatabase("quarantine_show_conflict");
  await using dir = await tempDir();
  const mine = new ObjectId();
  const other = new ObjectId();
  await tdb.db.collection("archiver_quarantine").insertMany([
    stored(mine, "CMD-000042", "conflict", 0, { conflict_with: other }),
    stored("lonely", "CMD-000043", "conflict", 1, { conflict_with: "gone" }),
  ] as never[]);
  await tdb.db.collection("Historique").insertOne({
    numero_commande: "CMD-000042",
    order_id: other,
    archived_at: at(5),
    archived_by: "watch",
  });
  const { code, stdout } = await runQuarantine(tdb.uri, tdb.dbName, dir.path, "show", "CMD-000042");
  assert.equal(code, 0);
  const out = lines(stdout);
  assert.equal(out[0], "Order CMD-000042 in the quarantine");
  const field = (name: string) => out.find((l) => l.trim().startsWith(`${name}  `))?.trim();
  assert.equal(field("reason"), "reason         conflict");
  assert.equal(field("conflict with"), `conflict with  ObjectId("${other.toHexString()}")`);
  assert.equal(
    field("archived"),
    `archived       CMD-000042 is archived for ObjectId("${other.toHexString()}") on 2025-10-14 10:05:00Z by watch`,
  );
  const json = JSON.parse(
    (await runQuarantine(tdb.uri, tdb.dbName, dir.path, "show", '"lonely"', "--json")).stdout,
  );
  assert.equal(json.conflict_with, "gone");
  assert.equal(json.archived_under_number, null, "nothing archived under CMD-000043 now");
});

async function quarantineOf(db: Db) {
  return (await db.collection("archiver_quarantine").find().toArray())
    .map((d) => `${d.numero_commande}:${d.reason}`).sort();
}

async function archivedNumbers(db: Db) {
  return (await db.collection("Historique").find().toArray()).map((d) => d.numero_commande).sort();
}

Deno.test("quarantine retry archives an order whose missing reference was restored, and leaves the incomplete one with its reason", async (t) => {
  await using tdb = await testDatabase("quarantine_retry_cli");
  await using dir = await tempDir();
  const seeded = await seedOrders(tdb.db, { complete: 2, incomplete: 2, notDelivered: 0 });
  const [missingClient, missingCourier] = Object.keys(seeded.incomplete).sort();
  // Another process quarantines them: a batch run.
  const first = await cli(batchArgs(tdb.uri, tdb.dbName, dir.path), { plugins, cwd: dir.path });
  assert.equal(first.code, 0, first.stderr);
  assert.deepEqual(await quarantineOf(tdb.db), [
    `${missingClient}:incomplete`,
    `${missingCourier}:incomplete`,
  ]);

  await t.step("without a selection: exit 2, nothing retried", async () => {
    const { code, stderr } = await runQuarantine(tdb.uri, tdb.dbName, dir.path, "retry");
    assert.equal(code, 2);
    assert.match(stderr, /Say which orders to retry: their _ids or numbers, --all, or --reason/);
    const both = await runQuarantine(tdb.uri, tdb.dbName, dir.path, "retry", "X", "--all");
    assert.equal(both.code, 2);
  });

  await t.step(
    "--all after the client is restored: one archived, one still incomplete, exit 1",
    async () => {
      const order = seeded.orders.get(missingClient!)!;
      await tdb.db.collection("Client").insertOne({
        _id: order.client_id as ObjectId,
        nom: "Back",
      });
      const { code, stdout, stderr } = await runQuarantine(
        tdb.uri,
        tdb.dbName,
        dir.path,
        "retry",
        "--all",
      );
      assert.equal(code, 1, stderr);
      assert.equal(
        lines(stdout)[0],
        "Retried 2 quarantined orders: 1 archived, 0 already archived, 0 no longer delivered, 1 still quarantined (incomplete 1)",
      );
      assert.match(stdout, new RegExp(`${missingCourier}\\s.*incomplete\\s.*missing`));
      assert.deepEqual(await quarantineOf(tdb.db), [`${missingCourier}:incomplete`]);
      assert.ok((await archivedNumbers(tdb.db)).includes(missingClient!));
      const entry = await tdb.db.collection("archiver_quarantine").findOne({});
      assert.equal(entry?.attempts, 2, "the retry is an attempt");
    },
  );

  await t.step(
    "by number after the courier is restored: archived, exit 0; a stranger: exit 1",
    async () => {
      const order = seeded.orders.get(missingCourier!)!;
      await tdb.db.collection("Livreur").insertOne({
        _id: order.livreur_id as ObjectId,
        nom: "Back",
      });
      const stranger = await runQuarantine(
        tdb.uri,
        tdb.dbName,
        dir.path,
        "retry",
        missingCourier!,
        "CMD-999999",
      );
      assert.equal(stranger.code, 1, "one named order was not in the quarantine");
      assert.match(stranger.stdout, /^Retried 1 quarantined order: 1 archived/);
      assert.match(stranger.stdout, /Not in the quarantine:\n {2}number "CMD-999999"/);
      assert.deepEqual(await quarantineOf(tdb.db), []);
      assert.deepEqual(
        await archivedNumbers(tdb.db),
        [
          ...seeded.complete,
          missingClient!,
          missingCourier!,
        ].sort(),
      );
      const nothing = await runQuarantine(tdb.uri, tdb.dbName, dir.path, "retry", "--all");
      assert.equal(nothing.code, 0);
      assert.match(nothing.stdout, /^Retried 0 quarantined orders/);
    },
  );

  await t.step("each retry is in the run history, mode quarantine", async () => {
    const runs = await tdb.db.collection("archiver_runs").find({ mode: "quarantine" })
      .sort({ started_at: 1 }).toArray();
    assert.deepEqual(
      runs.map((r) => [r.action, r.exit_code, r.orders_requested, r.orders_archived]),
      [["retry", 1, 2, 1], ["retry", 1, 1, 1], ["retry", 0, 0, 0]],
    );
    assert.deepEqual(runs[0]!.orders_still_quarantined, {
      incomplete: 1,
      invalid: 0,
      conflict: 0,
      error: 0,
    });
    assert.match(runs[0]!.user, /^jdupont@/);
  });
});

Deno.test("quarantine retry --reason retries only that reason; an order no longer delivered leaves", async () => {
  await using tdb = await testDatabase("quarantine_retry_reason");
  await using dir = await tempDir();
  const seeded = await seedOrders(tdb.db, { complete: 2, incomplete: 0, notDelivered: 1 });
  const [a, b] = seeded.complete;
  const cancelled = seeded.notDelivered[0]!;
  const id = (n: string) => seeded.orders.get(n)!._id;
  await tdb.db.collection("archiver_quarantine").insertMany([
    stored(id(a!), a!, "error", 0),
    stored(id(b!), b!, "invalid", 1),
    stored(id(cancelled), cancelled, "error", 2),
  ] as never[]);
  const { code, stdout, stderr } = await runQuarantine(
    tdb.uri,
    tdb.dbName,
    dir.path,
    "retry",
    "--reason",
    "error",
  );
  assert.equal(code, 0, stderr);
  assert.equal(
    lines(stdout)[0],
    "Retried 2 quarantined orders: 1 archived, 0 already archived, 1 no longer delivered, 0 still quarantined",
  );
  assert.deepEqual(await quarantineOf(tdb.db), [`${b}:invalid`]);
  assert.deepEqual(await archivedNumbers(tdb.db), [a]);
});

Deno.test("quarantine release: records, then takes out; without --yes nothing; a re-run is harmless", async (t) => {
  await using tdb = await testDatabase("quarantine_release_cli");
  await using dir = await tempDir();
  const oid = new ObjectId();
  const quarantined = tdb.db.collection("archiver_quarantine");
  const released = tdb.db.collection("archiver_released");
  await quarantined.insertMany([
    stored(oid, "CMD-000001", "incomplete", 0),
    stored({ shop: 3, n: 12 }, "CMD-000002", "conflict", 1, { conflict_with: 9 }),
    stored("twin-a", "CMD-000003", "conflict", 2),
    stored("twin-b", "CMD-000003", "conflict", 3),
  ] as never[]);
  const snapshot = async () => ({
    quarantine: await quarantined.find().toArray(),
    released: await released.find().toArray(),
  });

  await t.step(
    "without --yes: one line saying what would be released, exit 2, nothing written",
    async () => {
      await using fresh = await tempDir();
      const before = await snapshot();
      const { code, stdout, stderr } = await runQuarantine(
        tdb.uri,
        tdb.dbName,
        fresh.path,
        "release",
        oid.toHexString(),
        "CMD-000002",
      );
      assert.equal(code, 2);
      assert.equal(stdout, "");
      assert.equal(
        stderr.trim(),
        `error: Would release 2 orders (_id ObjectId("${oid.toHexString()}"), number "CMD-000002"): a released order is never archived; add --yes to release`,
      );
      assert.deepEqual(await snapshot(), before);
      await assert.rejects(Deno.stat(join(fresh.path, "logs")), "no log file either");
    },
  );

  await t.step(
    "with --yes: recorded with who, when and the note, then out of the quarantine; a stranger exit 1",
    async () => {
      const { code, stdout, stderr } = await runQuarantine(
        tdb.uri,
        tdb.dbName,
        dir.path,
        "release",
        `ObjectId("${oid.toHexString()}")`,
        "CMD-000002",
        '"nobody"',
        "--yes",
        "--note",
        "refunded",
      );
      assert.equal(code, 1, "one named order was not in the quarantine");
      assert.equal(
        lines(stdout)[0],
        "Released 2 orders (recorded in archiver_released), 0 already released, 1 not released",
      );
      assert.match(
        stderr,
        /🔓 Released order CMD-000001 \(_id ObjectId\(.*\)\), quarantined as incomplete/,
      );
      assert.match(stderr, /❌ Not released: the order with _id "nobody": not in the quarantine/);
      assert.deepEqual((await quarantined.find().toArray()).map((d) => d._id).sort(), [
        "twin-a",
        "twin-b",
      ]);
      const records = await released.find().sort({ numero_commande: 1 }).toArray();
      assert.deepEqual(records.map((r) => [r.numero_commande, r.reason, r.note]), [
        ["CMD-000001", "incomplete", "refunded"],
        ["CMD-000002", "conflict", "refunded"],
      ]);
      assert.deepEqual(records[1]!._id, { shop: 3, n: 12 });
      assert.equal(records[1]!.conflict_with, 9);
      assert.match(records[0]!.released_by, /^jdupont@/);
      assert.ok(records[0]!.released_at instanceof Date);
      assert.deepEqual(records[0]!.first_seen, at(0));
    },
  );

  await t.step("run again: already released, exit 0, the records unchanged", async () => {
    const before = await snapshot();
    const { code, stdout } = await runQuarantine(
      tdb.uri,
      tdb.dbName,
      dir.path,
      "release",
      oid.toHexString(),
      "{ shop: 3, n: 12 }",
      "--yes",
    );
    assert.equal(code, 0);
    assert.match(
      stdout,
      /^Released 0 orders \(recorded in archiver_released\), 2 already released, 0 not released/,
    );
    assert.deepEqual(await snapshot(), before);
  });

  await t.step(
    "a number two orders share is refused (exit 1); their _ids release them",
    async () => {
      const twin = await runQuarantine(
        tdb.uri,
        tdb.dbName,
        dir.path,
        "release",
        "CMD-000003",
        "--yes",
      );
      assert.equal(twin.code, 1);
      assert.match(
        twin.stderr,
        /it names 2 quarantined orders \("twin-a", "twin-b"\): release them by _id/,
      );
      assert.equal(await quarantined.countDocuments(), 2);
      const both = await runQuarantine(
        tdb.uri,
        tdb.dbName,
        dir.path,
        "release",
        '"twin-a"',
        "'twin-b'",
        "--yes",
      );
      assert.equal(both.code, 0, both.stderr);
      assert.equal(await quarantined.countDocuments(), 0);
      assert.equal(await released.countDocuments(), 4);
    },
  );

  await t.step("each release is in the run history", async () => {
    const runs = await tdb.db.collection("archiver_runs").find({ mode: "quarantine" })
      .sort({ started_at: 1 }).toArray();
    assert.deepEqual(
      runs.map((r) => [r.action, r.exit_code, r.orders_released, r.orders_not_found]),
      [["release", 1, 2, 1], ["release", 0, 0, 0], ["release", 1, 0, 1], ["release", 0, 2, 0]],
    );
    assert.equal(runs[0]!.note, "refunded");
  });
});
