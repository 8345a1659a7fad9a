import assert from "node:assert/strict";
import { tempDir } from "../../support/cli.ts";
import { cli } from "../../support/cli.ts";
import { seedOrders } from "../../support/orders.ts";
import { deliver } from "../../support/faults.ts";
import { testDatabase } from "../../support/test_db.ts";
import { eventually, startWatcher } from "../../support/watcher.ts";
import { checkMetrics, sampleValue, skipWithoutPromtool } from "../../support/promtool.ts";
import { WATCH_STATES } from "../../../core/stream/watch_status.ts";
import { watch } from "../../../plugins/watch/mod.ts";
import { isHealthy } from "../../../plugins/watch/metrics_server.ts";
import { freePort } from "../../support/ports.ts";

Deno.test({
  name:
    "a scrape of a running watcher passes promtool check metrics and counts its events, orders and lag",
  ignore: skipWithoutPromtool(),
  async fn() {
    await using tdb = await testDatabase("watch_prometheus");
    await using dir = await tempDir();
    const seeded = await seedOrders(tdb.db, { complete: 2, incomplete: 1, notDelivered: 5 });
    const courier = [...seeded.couriers.values()][0]!._id;
    const port = freePort();
    await using watcher = startWatcher(tdb.uri, tdb.dbName, dir.path, [
      "--metrics-port",
      String(port),
    ]);
    await watcher.waitFor(/✅ Change Stream opened successfully/);

    // Three deliveries on the stream: two complete, one whose client does not exist.
    const [a, b, c] = seeded.notDelivered;
    await deliver(tdb.db, a!, { courier });
    await deliver(tdb.db, b!, { courier });
    await deliver(tdb.db, c!, { courier, dangling: true });
    const url = `http://127.0.0.1:${port}/metrics`;
    let text = "";
    await eventually(
      async () => {
        text = await (await fetch(url)).text();
        return sampleValue(text, "archiver_change_events_total") === 3;
      },
      10_000,
      "3 change events counted",
    );

    const checked = await checkMetrics(text);
    assert.equal(checked.code, 0, checked.output);
    assert.equal(checked.output, "", "no lint problems");

    const archived = await tdb.db.collection("Historique").countDocuments();
    assert.equal(archived, 4, "2 caught up, 2 streamed");
    assert.equal(sampleValue(text, "archiver_orders_total", { outcome: "archived" }), archived);
    assert.equal(sampleValue(text, "archiver_orders_total", { outcome: "incomplete" }), 2);
    assert.equal(sampleValue(text, "archiver_orders_total", { outcome: "error" }), 0);
    assert.equal(sampleValue(text, "archiver_change_event_lag_seconds_count"), 3, "one per event");
    assert.ok(sampleValue(text, "archiver_micro_batch_duration_seconds_count")! >= 1);
    for (const state of WATCH_STATES) {
      const expected = state === "streaming" ? 1 : 0;
      assert.equal(sampleValue(text, "archiver_watch_state", { state }), expected, state);
    }
    assert.equal(sampleValue(text, "archiver_build_info", { deno: Deno.version.deno }), 1);
    // Counted after the catch-up quarantined the first incomplete order.
    assert.equal(sampleValue(text, "archiver_quarantine_orders", { reason: "incomplete" }), 1);
    assert.equal(sampleValue(text, "archiver_connection_errors_total"), 0);
    const now = Date.now() / 1000;
    for (
      const name of [
        "archiver_watch_start_time_seconds",
        "archiver_resume_token_saved_timestamp_seconds",
        "archiver_last_change_event_timestamp_seconds",
        "archiver_last_stream_read_timestamp_seconds",
      ]
    ) {
      const value = sampleValue(text, name);
      assert.ok(value !== undefined && now - value < 60 && value - now < 5, `${name} ${value}`);
    }
    assert.ok(sampleValue(text, "process_resident_memory_bytes")! > 0, "process metrics kept");

    const health = await fetch(`http://127.0.0.1:${port}/healthz`);
    assert.equal(health.status, 200);
    assert.match(health.headers.get("content-type") ?? "", /application\/json/);
    const status = await health.json();
    assert.equal(status.state, "streaming");
    assert.equal(status.metrics.events_processed, 3, "the status file's figures, unchanged");
  },
});

Deno.test("a quarantine retry counts an order once: still incomplete adds nothing, completed is recovered", async () => {
  await using tdb = await testDatabase("watch_prometheus_retry");
  await using dir = await tempDir();
  const seeded = await seedOrders(tdb.db, { complete: 1, incomplete: 1, notDelivered: 0 });
  const [number] = Object.keys(seeded.incomplete);
  const port = freePort();
  await using watcher = startWatcher(tdb.uri, tdb.dbName, dir.path, [
    "--metrics-port",
    String(port),
    "--retry-interval",
    "100ms",
  ]);
  await watcher.waitFor(/✅ Change Stream opened successfully/);
  const quarantine = tdb.db.collection("archiver_quarantine");
  const attempts = async () => (await quarantine.findOne({ numero_commande: number }))?.attempts;
  const scrape = async () => await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  await eventually(async () => (await attempts() ?? 0) >= 2, 10_000, "two attempts");
  let text = await scrape();
  // Counted when quarantined (the catch-up, and the stream's replay of the overlap, if any).
  const incomplete = sampleValue(text, "archiver_orders_total", { outcome: "incomplete" })!;
  assert.ok(incomplete >= 1);
  const seen = (await attempts())!;
  await eventually(async () => (await attempts())! >= seen + 3, 10_000, "three more attempts");
  text = await scrape();
  assert.equal(
    sampleValue(text, "archiver_orders_total", { outcome: "incomplete" }),
    incomplete,
    "retries that leave it incomplete add nothing",
  );
  assert.equal(sampleValue(text, "archiver_quarantine_orders", { reason: "incomplete" }), 1);

  // The missing client arrives: the next retry archives the order.
  const order = (await tdb.db.collection("Commande").findOne({ numero_commande: number }))!;
  const client = { ...[...seeded.clients.values()][0]!, _id: order.client_id };
  await tdb.db.collection("Client").insertOne(client);
  await eventually(
    async () => {
      text = await scrape();
      return sampleValue(text, "archiver_quarantine_orders", { reason: "incomplete" }) === 0;
    },
    10_000,
    "the quarantine emptied",
  );
  assert.equal(sampleValue(text, "archiver_orders_total", { outcome: "recovered" }), 1);
  assert.equal(sampleValue(text, "archiver_orders_total", { outcome: "archived" }), 2);
  assert.equal(
    sampleValue(text, "archiver_orders_total", { outcome: "incomplete" }),
    incomplete,
  );
  assert.equal(await tdb.db.collection("Historique").countDocuments(), 2);
});

Deno.test("/healthz is 200 only while the watcher archives (streaming or catching up)", () => {
  const healthy = WATCH_STATES.filter(isHealthy);
  assert.deepEqual(healthy, ["catching-up", "streaming"]);
});

Deno.test("a port already in use stops the watcher with exit 2 and the address in one line", async () => {
  await using dir = await tempDir();
  using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  await using watcher = startWatcher("mongodb://127.0.0.1:9", "db", dir.path, [
    "--metrics-port",
    String(port),
  ]);
  assert.equal(await watcher.exited, 2, watcher.stderr());
  assert.match(watcher.stderr(), new RegExp(`Cannot serve metrics on 127\\.0\\.0\\.1:${port}`));
});

Deno.test("--metrics-host: a bad address is refused before anything runs (exit 2)", async () => {
  await using dir = await tempDir();
  const { code, stderr } = await cli(
    ["--log-dir", dir.path, "watch", "--metrics-port", "9464", "--metrics-host", "not a host"],
    { plugins: [watch()], cwd: dir.path },
  );
  assert.equal(code, 2);
  assert.match(stderr, /Invalid --metrics-host "not a host".*host name or an IPv4 or IPv6 address/);
});
