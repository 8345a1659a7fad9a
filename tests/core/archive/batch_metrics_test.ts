import assert from "node:assert/strict";
import { join } from "node:path";
import {
  formatBatchMetrics,
  parseLastSuccess,
  writeBatchMetrics,
} from "../../../core/archive/batch_metrics.ts";
import { emptyReport } from "../../../core/archive/report.ts";
import { tempDir } from "../../support/cli.ts";
import { checkMetrics, sampleValue, skipWithoutPromtool } from "../../support/promtool.ts";

const report = {
  ...emptyReport(),
  orders_found: 12,
  orders_archived: 9,
  orders_duplicates: 1,
  orders_incomplete: 2,
  orders_invalid: 0,
  orders_errors: 0,
  orders_recovered: 1,
  orders_still_quarantined: 3,
};
const finishedAt = new Date("2026-03-01T02:00:05Z");

Deno.test("formatBatchMetrics() writes each gauge with its HELP and TYPE lines", () => {
  const text = formatBatchMetrics({
    finishedAt,
    durationSeconds: 5.25,
    exitCode: 0,
    finished: true,
    report,
    lastSuccessSeconds: finishedAt.getTime() / 1000,
  });
  const families = [...text.matchAll(/^# TYPE (\S+) (\S+)$/gm)].map((m) => `${m[1]} ${m[2]}`);
  assert.deepEqual(families, [
    "archiver_batch_last_run_timestamp_seconds gauge",
    "archiver_batch_last_success_timestamp_seconds gauge",
    "archiver_batch_duration_seconds gauge",
    "archiver_batch_orders gauge",
    "archiver_batch_exit_code gauge",
    "archiver_batch_finished gauge",
  ]);
  assert.equal(sampleValue(text, "archiver_batch_finished"), 1);
  assert.equal(sampleValue(text, "archiver_batch_last_run_timestamp_seconds"), 1772330405);
  assert.equal(sampleValue(text, "archiver_batch_duration_seconds"), 5.25);
  const expected: Array<[string, number]> = [
    ["found", 12],
    ["archived", 9],
    ["duplicate", 1],
    ["incomplete", 2],
    ["invalid", 0],
    ["error", 0],
    ["recovered", 1],
    ["still_quarantined", 3],
  ];
  for (const [outcome, value] of expected) {
    assert.equal(sampleValue(text, "archiver_batch_orders", { outcome }), value, outcome);
  }
  assert.ok(text.endsWith("\n"));
});

Deno.test("archiver_batch_finished says 0 for a run that was interrupted or failed, 1 for one that finished, whatever its figures", () => {
  const cases: Array<[number, boolean, number]> = [
    [0, true, 1],
    [1, true, 1], // some orders failed, but the pass ran to its end
    [130, false, 0], // interrupted
    [2, false, 0], // refused
    [3, false, 0], // lost the server
  ];
  for (const [exitCode, finished, expected] of cases) {
    const text = formatBatchMetrics({ finishedAt, durationSeconds: 1, exitCode, finished, report });
    assert.equal(sampleValue(text, "archiver_batch_finished"), expected, `exit ${exitCode}`);
    assert.equal(sampleValue(text, "archiver_batch_exit_code"), exitCode);
  }
});

Deno.test("parseLastSuccess() reads the value back, and nothing from a file without one", () => {
  const cases: Array<[string, number | undefined]> = [
    [
      formatBatchMetrics({
        finishedAt,
        durationSeconds: 1,
        exitCode: 0,
        finished: true,
        report,
        lastSuccessSeconds: 1772330405.5,
      }),
      1772330405.5,
    ],
    [
      formatBatchMetrics({ finishedAt, durationSeconds: 1, exitCode: 3, finished: false, report }),
      undefined,
    ],
    ["", undefined],
    ["archiver_batch_last_success_timestamp_seconds garbage\n", undefined],
  ];
  for (const [text, expected] of cases) assert.equal(parseLastSuccess(text), expected);
});

Deno.test("writeBatchMetrics(): a success sets the last success time, a failure keeps it", async () => {
  await using dir = await tempDir();
  const path = join(dir.path, "batch.prom");
  const run = { durationSeconds: 1, finished: true, report };
  await writeBatchMetrics(path, { ...run, finishedAt, exitCode: 0 });
  const later = new Date(finishedAt.getTime() + 86_400_000);
  await writeBatchMetrics(path, { ...run, finishedAt: later, exitCode: 1 });
  const text = await Deno.readTextFile(path);
  assert.equal(sampleValue(text, "archiver_batch_exit_code"), 1);
  assert.equal(sampleValue(text, "archiver_batch_last_run_timestamp_seconds"), 1772416805);
  assert.equal(sampleValue(text, "archiver_batch_last_success_timestamp_seconds"), 1772330405);
  await writeBatchMetrics(path, { ...run, finishedAt: later, exitCode: 0 });
  assert.equal(
    sampleValue(await Deno.readTextFile(path), "archiver_batch_last_success_timestamp_seconds"),
    1772416805,
  );
});

Deno.test({
  name: "a batch textfile, with or without a last success, passes promtool check metrics",
  ignore: skipWithoutPromtool(),
  async fn() {
    for (const lastSuccessSeconds of [1772330405, undefined]) {
      const text = formatBatchMetrics({
        finishedAt,
        durationSeconds: 0.5,
        exitCode: lastSuccessSeconds ? 0 : 3,
        finished: lastSuccessSeconds !== undefined,
        report,
        lastSuccessSeconds,
      });
      const checked = await checkMetrics(text);
      assert.equal(checked.code, 0, checked.output);
      assert.equal(checked.output, "");
    }
  },
});
