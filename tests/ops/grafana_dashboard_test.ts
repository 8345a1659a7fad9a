/**
 * The Grafana dashboard (ops/grafana/archiver.json) imports anywhere: schema 39, a Prometheus
 * data-source variable every query uses, and a panel for each item of the plan's live view.
 * Every query reads metrics the watcher or a batch's textfile exposes; that each returns data is
 * proven against a real Prometheus by alerting_e2e_test.ts.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { OPS_DIR } from "./tools.ts";
import { createWatchMetrics } from "../../core/stream/metrics.ts";
import { formatBatchMetrics } from "../../core/archive/batch_metrics.ts";
import { emptyReport } from "../../core/archive/report.ts";

interface Panel {
  id: number;
  type: string;
  title: string;
  datasource?: { type: string; uid: string };
  targets?: Array<{ expr?: string; refId: string; datasource?: { uid: string } }>;
}

const dashboard = JSON.parse(await Deno.readTextFile(join(OPS_DIR, "grafana/archiver.json"))) as {
  schemaVersion: number;
  uid: string;
  templating: { list: Array<{ name: string; type: string; query: unknown }> };
  panels: Panel[];
};

Deno.test("the dashboard has schema 39 and a Prometheus data-source variable every query uses", () => {
  assert.equal(dashboard.schemaVersion, 39);
  assert.equal(dashboard.uid, "archiver-live");
  const variable = dashboard.templating.list.find((v) => v.name === "datasource");
  assert.deepEqual({ type: variable?.type, query: variable?.query }, {
    type: "datasource",
    query: "prometheus",
  });
  const panels = dashboard.panels.filter((p) => p.type !== "row");
  assert.equal(new Set(dashboard.panels.map((p) => p.id)).size, dashboard.panels.length);
  for (const panel of panels) {
    assert.deepEqual(panel.datasource, { type: "prometheus", uid: "${datasource}" }, panel.title);
    assert.ok((panel.targets ?? []).length > 0, `${panel.title} has no query`);
    for (const target of panel.targets ?? []) {
      assert.equal(target.datasource?.uid, "${datasource}", `${panel.title} ${target.refId}`);
      assert.match(target.expr ?? "", /\S/, `${panel.title} ${target.refId} has no expr`);
    }
  }
});

Deno.test("the dashboard has a panel for each item of the plan's live view", () => {
  const titles = dashboard.panels.map((p) => p.title);
  const items = [
    /^Uptime$/,
    /^Status$/,
    /^Last event$/,
    /^Archived$/,
    /^Duplicates$/,
    /^Incomplete$/,
    /^Errors$/,
    /processing time/,
    /lag p50 \/ p99/,
    /^CPU$/,
    /^Memory$/,
    /^Quarantine$/,
    /^Connection errors/,
  ];
  for (const item of items) assert.ok(titles.some((t) => item.test(t)), `no panel ${item}`);
});

/** Every metric a scrape can hold: the watcher's (process metrics included) and the batch's. */
async function exposedMetricNames(): Promise<Set<string>> {
  const watcher = createWatchMetrics({ version: "0.0.0" });
  watcher.tokenSaved(new Date());
  watcher.streamRead(new Date());
  watcher.observeMicroBatch({
    eventTimesMs: [Date.now()],
    writtenAtMs: Date.now(),
    durationSeconds: 1,
  });
  watcher.setOplogHeadroom(86400, 86000);
  const batch = formatBatchMetrics({
    finishedAt: new Date(),
    durationSeconds: 1,
    exitCode: 0,
    finished: true,
    report: emptyReport(),
    lastSuccessSeconds: 1,
  });
  const text = `${await watcher.registry.metrics()}\n${batch}`;
  const names = new Set(["up"]);
  // A sample's name (histograms' _bucket, _sum, _count), or a HELP line's for a metric without a
  // sample yet (the quarantine before its first count).
  for (const match of text.matchAll(/^(?:# HELP )?([a-zA-Z_:][a-zA-Z0-9_:]*)[{ ]/gm)) {
    names.add(match[1]!);
  }
  return names;
}

Deno.test("every panel query reads metrics that the watcher or a batch's textfile exposes", async () => {
  const exposed = await exposedMetricNames();
  const functions =
    /^(by|without|on|ignoring|group_left|group_right|and|or|unless|sum|max|min|avg|count|rate|increase|irate|time|histogram_quantile|job|instance|outcome|state|reason|le|bool|offset)$/;
  for (const panel of dashboard.panels) {
    for (const target of panel.targets ?? []) {
      // Label values and variables are in quotes; what is left of identifiers is a function,
      // a keyword, a label name or a metric.
      const bare = (target.expr ?? "").replaceAll(/"[^"]*"/g, '""').replaceAll(/\[[^\]]*\]/g, "");
      const metrics = [...bare.matchAll(/[a-zA-Z_:][a-zA-Z0-9_:]*/g)]
        .map((m) => m[0])
        .filter((name) => !functions.test(name));
      assert.ok(metrics.length > 0, `${panel.title}: no metric in ${target.expr}`);
      for (const name of metrics) {
        assert.ok(exposed.has(name), `${panel.title}: ${name} is not exposed (${target.expr})`);
      }
    }
  }
});

Deno.test("the quarantine panel takes the largest count: two HA watchers count one collection", () => {
  const quarantine = dashboard.panels.find((p) => p.title === "Quarantine")!;
  const expr = quarantine.targets![0]!.expr!;
  assert.match(expr, /^max by \(reason\) \(archiver_quarantine_orders\{/);
});

Deno.test("the dashboard has panels for the oplog headroom and the batch runs", () => {
  const expected: Array<[string, RegExp]> = [
    ["Oplog headroom", /archiver_resume_headroom_seconds/],
    ["Last batch run", /archiver_batch_last_run_timestamp_seconds/],
    ["Last batch success", /archiver_batch_last_success_timestamp_seconds/],
    ["Last batch exit code", /archiver_batch_exit_code/],
    ["Last batch run orders", /archiver_batch_orders/],
    ["Batch duration", /archiver_batch_duration_seconds/],
  ];
  for (const [title, metric] of expected) {
    const panel = dashboard.panels.find((p) => p.title === title);
    assert.ok(panel, `no panel ${title}`);
    assert.ok(panel.targets?.some((t) => metric.test(t.expr ?? "")), `${title} reads no ${metric}`);
  }
});
