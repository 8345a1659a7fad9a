/**
 * The alerting chain for real: a real `archiver watch` on the test database and a real batch
 * run's textfile, scraped every second by a real Prometheus (Debian's `prometheus`) loaded with
 * ops/prometheus/archiver-rules.yml (its `for:` durations 20 times shorter), which sends what
 * fires to a real Alertmanager (Debian's `prometheus-alertmanager`), which delivers it to a
 * webhook this test serves on loopback. Normal traffic — 1 % incomplete, a watcher restart —
 * must deliver nothing; faults the test causes — connection errors from a `failCommand` fail
 * point, a dropped orders collection, a killed watcher — must arrive there with their alert
 * name and severity. Between them, every panel query of ops/grafana/archiver.json runs against
 * the same Prometheus and must return data.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import type { Db } from "mongodb";
import { batch } from "../../plugins/batch/mod.ts";
import { batchArgs, cli, tempDir } from "../support/cli.ts";
import { deliver } from "../support/faults.ts";
import { seedOrders } from "../support/orders.ts";
import { testDatabase } from "../support/test_db.ts";
import { startWatcher } from "../support/watcher.ts";
import { ALERTMANAGER, assertInstalled, OPS_DIR, PROMETHEUS, skipWithout } from "./tools.ts";
import { freePort } from "../support/ports.ts";

/** One alert as Alertmanager's webhook sends it. */
interface WebhookAlert {
  status: "firing" | "resolved";
  labels: Record<string, string>;
  annotations: Record<string, string>;
}

/** What the webhook received, with when. */
interface Delivery {
  at: number;
  alert: WebhookAlert;
}

async function waitUntil<T>(
  what: string,
  timeoutMs: number,
  check: () => Promise<T | undefined> | T | undefined,
  describe: () => string = () => "",
): Promise<T> {
  const end = Date.now() + timeoutMs;
  while (true) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > end) {
      throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}\n${describe()}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

/** A server process whose output goes to a file, killed (then awaited) at the end of the scope. */
interface Server extends AsyncDisposable {
  log(): Promise<string>;
  exited(): boolean;
}

function startServer(path: string, args: string[], logFile: string): Server {
  const child = new Deno.Command(path, {
    args,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let done = false;
  const status = child.status.finally(() => (done = true));
  const file = Deno.openSync(logFile, { write: true, create: true, append: true });
  const drained = Promise.all([
    child.stdout.pipeTo(file.writable, { preventClose: true }),
    child.stderr.pipeTo(file.writable, { preventClose: true }),
  ]).catch(() => {}).finally(() => file.close());
  return {
    log: () => Deno.readTextFile(logFile).catch(() => ""),
    exited: () => done,
    async [Symbol.asyncDispose]() {
      if (!done) {
        child.kill("SIGTERM");
        const timer = setTimeout(() => !done && child.kill("SIGKILL"), 5_000);
        await status;
        clearTimeout(timer);
      }
      await status;
      await drained;
    },
  };
}

/** The webhook receiver Alertmanager delivers to. */
function startWebhook(): AsyncDisposable & { url: string; deliveries: Delivery[] } {
  const deliveries: Delivery[] = [];
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    async (request) => {
      const body = await request.json() as { alerts: WebhookAlert[] };
      for (const alert of body.alerts) deliveries.push({ at: Date.now(), alert });
      return new Response("ok\n");
    },
  );
  return {
    url: `http://127.0.0.1:${server.addr.port}/alerts`,
    deliveries,
    [Symbol.asyncDispose]: () => server.shutdown(),
  };
}

/** How much shorter the rules' `for:` durations are in this test. */
const FOR_DIVISOR = 20;

/**
 * The rules file with every `for:` 20 times shorter (at least 2 s; 0s stays 0s), so the test
 * waits seconds rather than minutes while the durations keep their order: a restart of a few
 * seconds stays under the watcher-down 15 s (5 min), as it stays under 5 min in production.
 */
async function shortenedRules(dir: string): Promise<string> {
  const rules = await Deno.readTextFile(join(OPS_DIR, "prometheus/archiver-rules.yml"));
  const path = join(dir, "archiver-rules.yml");
  const seconds = { s: 1, m: 60, h: 3600 } as const;
  const shortened = rules.replaceAll(/\bfor: (\d+)([smh])\b/g, (_, count: string, unit: "s") => {
    const total = Number(count) * seconds[unit];
    return `for: ${total === 0 ? 0 : Math.max(2, Math.round(total / FOR_DIVISOR))}s`;
  });
  await Deno.writeTextFile(path, shortened);
  return path;
}

/** node_exporter's textfile collector, as far as this test needs it: one file on `/metrics`. */
function startTextfileExporter(file: string): AsyncDisposable & { port: number } {
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    async () =>
      new Response(await Deno.readTextFile(file).catch(() => ""), {
        headers: { "content-type": "text/plain; version=0.0.4" },
      }),
  );
  return { port: server.addr.port, [Symbol.asyncDispose]: () => server.shutdown() };
}

/** An instant query against Prometheus' HTTP API. */
async function query(
  promUrl: string,
  expr: string,
): Promise<Array<{ metric: Record<string, string>; value: [number, string] }>> {
  const response = await fetch(`${promUrl}/api/v1/query?query=${encodeURIComponent(expr)}`);
  const body = await response.json();
  if (body.status !== "success") throw new Error(`Query ${expr} failed: ${JSON.stringify(body)}`);
  return body.data.result;
}

/** The part of a Grafana dashboard the test reads. */
interface Dashboard {
  panels: Array<{ type: string; title: string; targets?: Array<{ expr?: string }> }>;
}

/**
 * Every panel's PromQL with Grafana's variables as a dashboard over the test's few minutes
 * would substitute them: all watchers, the whole range, a rate window of several scrapes.
 */
function dashboardQueries(dashboard: Dashboard): Array<{ panel: string; expr: string }> {
  const variables: Record<string, string> = {
    __range: "10m",
    __rate_interval: "15s",
    __interval: "1s",
    instance: ".*",
  };
  return dashboard.panels.flatMap((panel) =>
    (panel.targets ?? []).map((target) => {
      const expr = (target.expr ?? "").replaceAll(
        /\$\{?(\w+)\}?/g,
        (whole, name: string) => variables[name] ?? whole,
      );
      assert.doesNotMatch(expr, /\$/, `${panel.title}: a variable the test does not know`);
      return { panel: panel.title, expr };
    })
  );
}

async function failCommand(db: Db, times: number | undefined): Promise<void> {
  await db.admin().command(
    times
      ? {
        configureFailPoint: "failCommand",
        mode: { times },
        data: {
          failCommands: ["getMore", "aggregate"],
          appName: "archiver",
          closeConnection: true,
        },
      }
      : { configureFailPoint: "failCommand", mode: "off" },
  );
}

Deno.test({
  name: "alerts caused in a real watcher reach a webhook through real Prometheus and Alertmanager",
  ignore: skipWithout(PROMETHEUS, ALERTMANAGER),
  async fn(t) {
    assertInstalled(PROMETHEUS, ALERTMANAGER);
    await using tdb = await testDatabase("ops_alerting");
    await using dir = await tempDir();
    const seeded = await seedOrders(tdb.db, { complete: 3, incomplete: 1, notDelivered: 112 });
    const courier = [...seeded.couriers.values()][0]!._id;
    const pending = [...seeded.notDelivered];

    await using webhook = startWebhook();
    const textfile = join(dir.path, "archiver_batch.prom");
    await using exporter = startTextfileExporter(textfile);
    const metricsPort = freePort();
    const amPort = freePort();
    const promPort = freePort();
    const promUrl = `http://127.0.0.1:${promPort}`;

    const amConfig = join(dir.path, "alertmanager.yml");
    await Deno.writeTextFile(
      amConfig,
      JSON.stringify({
        route: {
          receiver: "webhook",
          group_by: ["alertname", "instance"],
          group_wait: "1s",
          group_interval: "1s",
          repeat_interval: "1h",
        },
        receivers: [{
          name: "webhook",
          webhook_configs: [{ url: webhook.url, send_resolved: true }],
        }],
      }),
    );
    await using alertmanager = startServer(ALERTMANAGER.path, [
      `--config.file=${amConfig}`,
      `--storage.path=${join(dir.path, "alertmanager-data")}`,
      `--web.listen-address=127.0.0.1:${amPort}`,
      "--cluster.listen-address=",
    ], join(dir.path, "alertmanager.log"));

    const promConfig = join(dir.path, "prometheus.yml");
    await Deno.writeTextFile(
      promConfig,
      JSON.stringify({
        global: { scrape_interval: "1s", scrape_timeout: "1s", evaluation_interval: "1s" },
        rule_files: [await shortenedRules(dir.path)],
        alerting: { alertmanagers: [{ static_configs: [{ targets: [`127.0.0.1:${amPort}`] }] }] },
        scrape_configs: [{
          job_name: "archiver-watch",
          static_configs: [{ targets: [`127.0.0.1:${metricsPort}`] }],
        }, {
          job_name: "node",
          static_configs: [{ targets: [`127.0.0.1:${exporter.port}`] }],
        }],
      }),
    );
    await using prometheus = startServer(PROMETHEUS.path, [
      `--config.file=${promConfig}`,
      `--storage.tsdb.path=${join(dir.path, "prometheus-data")}`,
      `--web.listen-address=127.0.0.1:${promPort}`,
      "--rules.alert.resend-delay=1s",
    ], join(dir.path, "prometheus.log"));

    // The nightly batch, with its textfile for the exporter: the seeded orders, one incomplete.
    const run = await cli(batchArgs(tdb.uri, tdb.dbName, dir.path, "--metrics-file", textfile), {
      plugins: [batch()],
      cwd: dir.path,
    });
    assert.equal(run.code, 0, run.stderr);

    const start = () =>
      startWatcher(tdb.uri, tdb.dbName, dir.path, [
        "--metrics-port",
        String(metricsPort),
        "--retry-interval",
        "1s",
      ]);
    let watcher = start();
    await using _watcher = {
      [Symbol.asyncDispose]: async () => void (await watcher.stop("SIGKILL")),
    };

    const logs = async () =>
      `--- prometheus\n${(await prometheus.log()).slice(-3000)}\n--- alertmanager\n${
        (await alertmanager.log()).slice(-3000)
      }\n--- watcher\n${watcher.stderr().slice(-3000)}\n--- webhook\n${
        JSON.stringify(webhook.deliveries.map((d) => d.alert.labels))
      }`;
    let diagnostics = "";
    const refresh = async () => void (diagnostics = await logs());
    const firing = (alertname: string, since: number) =>
      waitUntil(
        `${alertname} delivered to the webhook`,
        45_000,
        async () => {
          await refresh();
          return webhook.deliveries.find((d) =>
            d.at >= since && d.alert.status === "firing" && d.alert.labels.alertname === alertname
          )?.alert;
        },
        () => diagnostics,
      );

    await t.step("Prometheus scrapes the watcher", async () => {
      await watcher.waitFor(/Change Stream opened successfully/, 30_000);
      await waitUntil("the watcher's target up", 30_000, async () => {
        await refresh();
        const up = await query(promUrl, 'up{job="archiver-watch"} == 1').catch(() => []);
        return up.length > 0 ? true : undefined;
      }, () => diagnostics);
    });

    await t.step(
      "normal traffic with 1 % incomplete and a watcher restart deliver no alert",
      async () => {
        const since = Date.now();
        const burst = pending.splice(0, 99);
        await tdb.db.collection("Commande").updateMany({ numero_commande: { $in: burst } }, {
          $set: { status: "livrée", date_livraison: new Date(), livreur_id: courier },
        });
        await deliver(tdb.db, pending.shift()!, { courier, dangling: true });
        const counted = (expr: string) =>
          waitUntil(expr, 30_000, async () => {
            await refresh();
            return (await query(promUrl, expr).catch(() => [])).length > 0 ? true : undefined;
          }, () => diagnostics);
        await counted('archiver_orders_total{job="archiver-watch",outcome="archived"} >= 99');

        // A restart: the new process counts from 0 and counts the quarantined orders again.
        await watcher.stop("SIGTERM");
        watcher = start();
        await watcher.waitFor(/Change Stream opened successfully/, 30_000);
        await counted(
          'resets(archiver_orders_total{job="archiver-watch",outcome="archived"}[5m]) > 0',
        );
        await counted('up{job="archiver-watch"} == 1');

        // Every rule evaluated past the longest shortened for: a restart could start (the
        // watcher down for 5 min, 15 s here), with the restart and the incomplete orders in its
        // window; nothing may fire, nothing may be delivered.
        const until = Date.now() + (5 * 60 / FOR_DIVISOR + 5) * 1000;
        await waitUntil("the rules to see the restart", 30_000, async () => {
          await refresh();
          const firing = await query(promUrl, 'ALERTS{alertstate="firing"}');
          assert.deepEqual(
            firing.map((a) => a.metric.alertname),
            [],
            `alerts firing on normal traffic:\n${diagnostics}`,
          );
          return Date.now() > until ? true : undefined;
        }, () => diagnostics);
        const incomplete = await query(
          promUrl,
          'increase(archiver_orders_total{job="archiver-watch",outcome="incomplete"}[1h]) > 0',
        );
        assert.ok(incomplete.length > 0, `no incomplete order counted:\n${diagnostics}`);
        assert.deepEqual(
          webhook.deliveries.filter((d) => d.at >= since).map((d) => d.alert.labels.alertname),
          [],
        );
      },
    );

    await t.step("orders delivered while it streams are counted", async () => {
      for (const number of pending.splice(0, 4)) await deliver(tdb.db, number, { courier });
      await deliver(tdb.db, pending.shift()!, { courier, dangling: true });
      const invalid = pending.shift()!;
      await tdb.db.collection("Commande").updateOne({ numero_commande: invalid }, {
        $set: {
          status: "livrée",
          date_livraison: new Date(),
          livreur_id: courier,
          items: "1x Plat",
        },
      });
      await waitUntil("archived orders in Prometheus", 30_000, async () => {
        await refresh();
        const archived = await query(
          promUrl,
          'archiver_orders_total{job="archiver-watch",outcome="archived"} >= 4',
        ).catch(() => []);
        return archived.length > 0 ? true : undefined;
      }, () => diagnostics);
    });

    await t.step("connection errors fire ArchiverConnectionErrors (P1)", async () => {
      const since = Date.now();
      await failCommand(tdb.db, 12);
      try {
        const alert = await firing("ArchiverConnectionErrors", since);
        assert.equal(alert.labels.severity, "P1");
        assert.equal(alert.labels.job, "archiver-watch");
        assert.equal(alert.labels.instance, `127.0.0.1:${metricsPort}`);
        assert.match(
          alert.annotations.summary ?? "",
          /more than 3 connection errors in 10 minutes/,
        );
      } finally {
        await failCommand(tdb.db, undefined);
      }
    });

    await t.step("every panel query of the Grafana dashboard returns data", async () => {
      const dashboard = JSON.parse(
        await Deno.readTextFile(join(OPS_DIR, "grafana/archiver.json")),
      ) as Dashboard;
      const queries = dashboardQueries(dashboard);
      assert.ok(queries.length >= 15, `only ${queries.length} panel queries`);
      // A quarantine pass, a token save and a scrape or two after the last event.
      const deadline = Date.now() + 15_000;
      const empty = await waitUntil("every panel query to return data", 20_000, async () => {
        await refresh();
        const results = await Promise.all(
          queries.map(async (q) => ({ ...q, result: await query(promUrl, q.expr) })),
        );
        // The sandbox's oplog is young and far from full: the watcher exports no headroom then
        // (it is not judged until the oplog has filled, so it cannot page a new install), and
        // Grafana shows that panel empty on purpose.
        const missing = results.filter((r) =>
          r.result.length === 0 && !r.expr.includes("archiver_resume_headroom_seconds")
        );
        return missing.length === 0 ? [] : (Date.now() > deadline ? missing : undefined);
      }, () => diagnostics);
      assert.deepEqual(
        empty.map((m) => `${m.panel}: ${m.expr}`),
        [],
        `panel queries without data:\n${diagnostics}`,
      );
    });

    await t.step("a dropped orders collection fires ArchiverWatcherInvalidated (P1)", async () => {
      const since = Date.now();
      await tdb.db.collection("Commande").drop();
      const alert = await firing("ArchiverWatcherInvalidated", since);
      assert.equal(alert.labels.severity, "P1");
      assert.equal(alert.labels.state, "invalidated");
    });

    await t.step("a killed watcher fires ArchiverWatcherDown (P1)", async () => {
      const since = Date.now();
      await watcher.stop("SIGKILL");
      const alert = await firing("ArchiverWatcherDown", since);
      assert.equal(alert.labels.severity, "P1");
      assert.equal(alert.labels.instance, `127.0.0.1:${metricsPort}`);
    });
  },
});
