/**
 * `runOnRequirements` and `schemaVersion` of the unified test format, evaluated against what the
 * server said about itself. Pure.
 *
 * @module
 */

import type { Document } from "mongodb";

/** What the runner knows about the server under test */
export interface ServerInfo {
  /** `buildInfo.versionArray`'s first three numbers, or undefined when buildInfo failed */
  version: [number, number, number] | undefined;
  /** Why the version is unknown, when it is */
  versionError?: string;
  /** Topology type as the format names it */
  topology: "single" | "replicaset" | "sharded" | "load-balanced";
  /** Whether the server is Atlas Serverless (never, for this runner) */
  serverless: boolean;
  /** Whether the connection string carries credentials */
  auth: boolean;
}

/** Highest schema version of the format this runner reads */
export const SUPPORTED_SCHEMA_VERSION = [1, 21] as const;

/** Why a test that needs an authenticating server is skipped on one without. */
export const NEEDS_AUTHENTICATION = "needs authentication";

/**
 * Parses a version string: `major[.minor[.patch]]`, anything after the patch discarded.
 *
 * @param version e.g. `"4.1.11"` or `"4.9.0-alpha4"`
 * @returns `[major, minor, patch]`
 * @throws {Error} when the string does not start with a number
 */
export function parseVersion(version: string): [number, number, number] {
  const match = /^(\d+)(?:\.(\d+))?(?:\.(\d+))?/.exec(version);
  if (match === null) throw new Error(`Cannot parse version "${version}"`);
  return [Number(match[1]), Number(match[2] ?? 0), Number(match[3] ?? 0)];
}

/**
 * Compares two versions component by component.
 *
 * @param a one version
 * @param b the other
 * @returns negative, zero or positive as `a` is lower, equal or higher
 */
export function compareVersions(a: readonly number[], b: readonly number[]): number {
  for (let i = 0; i < 3; i++) {
    const diff = (a[i] ?? 0) - (b[i] ?? 0);
    if (diff !== 0) return diff;
  }
  return 0;
}

/**
 * Whether the runner can read a test file of this schema version (same major, minor not newer).
 *
 * @param schemaVersion the file's `schemaVersion`
 * @returns undefined when supported, otherwise the reason
 */
export function unsupportedSchema(schemaVersion: unknown): string | undefined {
  if (typeof schemaVersion !== "string") return "schemaVersion is missing";
  const [major, minor] = parseVersion(schemaVersion);
  const [maxMajor, maxMinor] = SUPPORTED_SCHEMA_VERSION;
  if (major !== maxMajor || minor > maxMinor) {
    return `schemaVersion "${schemaVersion}" is not supported (runner reads ${maxMajor}.0-${maxMajor}.${maxMinor})`;
  }
  return undefined;
}

/**
 * Evaluates a `runOnRequirements` array: met when any one requirement is met.
 *
 * @param requirements the array from the file or the test (undefined: no requirement)
 * @param server what the server said about itself
 * @returns undefined when the tests may run, otherwise why they are skipped
 */
export function unmetRequirements(
  requirements: readonly Document[] | undefined,
  server: ServerInfo,
): string | undefined {
  if (requirements === undefined || requirements.length === 0) return undefined;
  const reasons: string[] = [];
  for (const requirement of requirements) {
    const reason = unmetRequirement(requirement, server);
    if (reason === undefined) return undefined;
    reasons.push(reason);
  }
  return reasons.join("; or ");
}

/**
 * Evaluates one `runOnRequirement`.
 *
 * @param requirement `{ minServerVersion?, maxServerVersion?, topologies?, serverless?, auth?, ... }`
 * @param server what the server said about itself
 * @returns undefined when met, otherwise why not
 */
export function unmetRequirement(requirement: Document, server: ServerInfo): string | undefined {
  const { minServerVersion, maxServerVersion, topologies, serverless, auth, csfle } = requirement;
  if (minServerVersion !== undefined || maxServerVersion !== undefined) {
    if (server.version === undefined) {
      return `needs server version ${
        _range(minServerVersion, maxServerVersion)
      }, but the version is unknown (${server.versionError ?? "buildInfo failed"})`;
    }
    const actual = server.version.join(".");
    if (
      minServerVersion !== undefined &&
      compareVersions(server.version, parseVersion(String(minServerVersion))) < 0
    ) {
      return `needs server >= ${minServerVersion}, server is ${actual}`;
    }
    if (
      maxServerVersion !== undefined &&
      compareVersions(server.version, parseVersion(String(maxServerVersion))) > 0
    ) {
      return `needs server <= ${maxServerVersion}, server is ${actual}`;
    }
  }
  if (Array.isArray(topologies)) {
    const accepted = new Set<string>(topologies as string[]);
    // "sharded" accepts any sharded cluster, "sharded-replicaset" included.
    if (accepted.has("sharded-replicaset")) accepted.add("sharded");
    if (!accepted.has(server.topology)) {
      return `needs topology ${topologies.join("|")}, server is ${server.topology}`;
    }
  }
  if (serverless === "require" && !server.serverless) return "needs Atlas Serverless";
  if (serverless === "forbid" && server.serverless) return "cannot run on Atlas Serverless";
  if (auth === true && !server.auth) return NEEDS_AUTHENTICATION;
  if (auth === false && server.auth) return "needs authentication disabled";
  if (csfle === true) return "needs client-side field level encryption";
  if (requirement.serverParameters !== undefined) {
    return "needs serverParameters checks, which this runner does not evaluate";
  }
  if (requirement.authMechanism !== undefined) {
    return `needs auth mechanism ${requirement.authMechanism}, which this runner does not check`;
  }
  return undefined;
}

function _range(min: unknown, max: unknown): string {
  if (min !== undefined && max !== undefined) return `${min}-${max}`;
  return min !== undefined ? `>= ${min}` : `<= ${max}`;
}
