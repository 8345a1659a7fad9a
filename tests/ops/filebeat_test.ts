/**
 * The Filebeat configuration (ops/filebeat/archiver.yml) ships the files the tool writes, with
 * the parser their lines need.
 */

import assert from "node:assert/strict";
import { parse } from "yaml";
import { formatEcs, logFilePath } from "../../core/runtime/logging.ts";

const CONFIG = new URL("../../ops/filebeat/archiver.yml", import.meta.url);

interface FilestreamInput {
  type: string;
  id?: string;
  enabled?: boolean;
  paths: string[];
  parsers: Array<{ ndjson?: Record<string, unknown> }>;
  fields: Record<string, string>;
}

async function config(): Promise<
  { "filebeat.inputs": FilestreamInput[] } & Record<string, unknown>
> {
  return parse(await Deno.readTextFile(CONFIG));
}

/** A Filebeat path glob as a regular expression, with ARCHIVER_LOG_DIR at its default. */
function glob(path: string): RegExp {
  const expanded = path.replace(/\$\{ARCHIVER_LOG_DIR:([^}]*)\}/, "$1");
  const escaped = expanded.replace(/[.+^${}()|[\]\\]/g, "\\$&").replaceAll("*", "[^/]*");
  return new RegExp(`^${escaped}$`);
}

Deno.test("the Filebeat config reads every current and rotated log file through a filestream input", async () => {
  const inputs = (await config())["filebeat.inputs"];
  assert.equal(inputs.length, 1);
  const input = inputs[0]!;
  assert.equal(input.type, "filestream");
  assert.equal(input.id, "archiver-logs");
  assert.equal(input.enabled, true);
  const patterns = input.paths.map(glob);
  const matched = (path: string) => patterns.some((pattern) => pattern.test(path));
  for (const name of ["batch", "watch", "health", "logs"]) {
    const current = logFilePath("/var/log/archiver", name);
    assert.ok(matched(current), `${current} is shipped`);
    assert.ok(matched(`${current}.3`), `${current}.3 is shipped`);
  }
  assert.ok(!matched("/var/log/archiver/archiver-status.json"), "state files are not logs");
  assert.ok(!matched("/var/log/other/batch.jsonl"));
});

Deno.test("the Filebeat config parses each line as ECS JSON, with the plan's fields", async () => {
  const parsed = await config();
  const input = parsed["filebeat.inputs"][0]!;
  assert.equal(input.parsers.length, 1);
  const ndjson = input.parsers[0]!.ndjson;
  assert.ok(ndjson, "an ndjson parser");
  assert.deepEqual(
    { target: ndjson.target, expand_keys: ndjson.expand_keys, message_key: ndjson.message_key },
    { target: "", expand_keys: true, message_key: "message" },
  );
  assert.equal(ndjson.add_error_key, true);
  assert.deepEqual(input.fields, { service: "mongodb-archiver", environment: "production" });
  assert.deepEqual(parsed["output.elasticsearch"], { hosts: ["localhost:9200"] });
  // The message key is a field every line the tool writes has.
  const line = JSON.parse(formatEcs({
    category: ["archiver", "batch"],
    level: "info",
    message: ["✅ Archived 3 orders"],
    rawMessage: "",
    timestamp: Date.now(),
    properties: { orders_archived: 3 },
  }));
  assert.equal(typeof line[ndjson.message_key as string], "string");
  assert.equal(typeof line["@timestamp"], "string");
});
