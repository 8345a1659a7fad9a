/**
 * The Grafana dashboard (ops/grafana/archiver.json) imports anywhere: schema 39, a Prometheus
 * data-source variable every query uses, and a panel for each item of the plan's live view.
 * That each query returns data is proven against a real Prometheus by alerting_e2e_test.ts.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { OPS_DIR } from "./tools.ts";

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
