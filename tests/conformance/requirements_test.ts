import assert from "node:assert/strict";
import {
  compareVersions,
  parseVersion,
  type ServerInfo,
  unmetRequirements,
  unsupportedSchema,
} from "./requirements.ts";

const replicaSet70: ServerInfo = {
  version: [7, 0, 2],
  topology: "replicaset",
  serverless: false,
  auth: false,
};

Deno.test("parseVersion() keeps major, minor and patch and drops pre-release suffixes", () => {
  assert.deepEqual(parseVersion("4.9.0-alpha4-271-g7d5cf02"), [4, 9, 0]);
  assert.deepEqual(parseVersion("3.6"), [3, 6, 0]);
  assert.deepEqual(parseVersion("6"), [6, 0, 0]);
  assert.ok(compareVersions(parseVersion("4.0.10"), parseVersion("4.0.9")) > 0);
  assert.ok(compareVersions(parseVersion("3.6"), parseVersion("4.2.0")) < 0);
});

Deno.test("unmetRequirements() is met when any one requirement is met", () => {
  assert.equal(unmetRequirements(undefined, replicaSet70), undefined);
  assert.equal(
    unmetRequirements(
      [{ minServerVersion: "3.6", maxServerVersion: "5.2.99" }, { minServerVersion: "6.0" }],
      replicaSet70,
    ),
    undefined,
  );
  assert.match(
    unmetRequirements([{ maxServerVersion: "5.2.99" }], replicaSet70)!,
    /needs server <= 5.2.99, server is 7.0.2/,
  );
});

Deno.test("unmetRequirements() checks topologies and serverless", () => {
  const single: ServerInfo = { ...replicaSet70, topology: "single" };
  const changeStreams = [{
    minServerVersion: "3.6",
    topologies: ["replicaset"],
    serverless: "forbid",
  }];
  assert.equal(unmetRequirements(changeStreams, replicaSet70), undefined);
  assert.match(
    unmetRequirements(changeStreams, single)!,
    /needs topology replicaset, server is single/,
  );
  assert.match(unmetRequirements([{ serverless: "require" }], replicaSet70)!, /Serverless/);
});

Deno.test("unmetRequirements() skips version checks it cannot make, saying why", () => {
  const unknown: ServerInfo = { ...replicaSet70, version: undefined, versionError: "no buildInfo" };
  assert.match(unmetRequirements([{ minServerVersion: "4.2" }], unknown)!, /no buildInfo/);
  assert.equal(unmetRequirements([{ topologies: ["replicaset"] }], unknown), undefined);
});

Deno.test("unsupportedSchema() accepts 1.x up to the runner's minor version", () => {
  assert.equal(unsupportedSchema("1.0"), undefined);
  assert.equal(unsupportedSchema("1.12"), undefined);
  assert.match(unsupportedSchema("2.0")!, /not supported/);
  assert.match(unsupportedSchema(undefined)!, /missing/);
});
