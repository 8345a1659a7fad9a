/**
 * What an error from the driver means for the archiver, decided with the driver's own knowledge
 * (its error classes and labels) and the server's codes, never by the error's name alone:
 *
 * - `transient`: the network, an election, a shutdown, an unconfirmed write — a later attempt
 *   may succeed, so wait and retry;
 * - `deployment`: refused credentials or privileges, a conflicting index, a server without
 *   change streams — no retry can help, the operator must act (exit 2);
 * - `data`: the server refused this work for a reason that may belong to one order's data — the
 *   caller splits its batch until the order is isolated, and quarantines it;
 * - `internal`: not a MongoDB error at all — a defect of the tool (exit 70).
 *
 * @module
 */

import {
  MongoBulkWriteError,
  MongoError,
  MongoErrorLabel,
  MongoMissingCredentialsError,
  MongoNetworkError,
  MongoOperationTimeoutError,
  MongoServerClosedError,
  MongoServerError,
  MongoServerSelectionError,
  MongoTopologyClosedError,
  MongoWriteConcernError,
} from "mongodb";
import { redact } from "../runtime/mask.ts";
import { ArchiverError, ConfigError, UnreachableError } from "../runtime/errors.ts";

/** What an error means for the archiver. */
export type ErrorKind = "transient" | "deployment" | "data" | "internal";

// Server error codes MongoDB and its drivers treat as transient: network, elections, shutdown,
// the codes the driver retries reads on (its isRetryableReadError), and an unconfirmed write.
const TRANSIENT_CODES = new Set([
  6, // HostUnreachable
  7, // HostNotFound
  43, // CursorNotFound
  50, // MaxTimeMSExpired: our own bound on a slow server
  63, // StaleShardVersion
  64, // WriteConcernFailed (wtimeout): not confirmed, write again
  89, // NetworkTimeout
  91, // ShutdownInProgress
  112, // WriteConflict
  133, // FailedToSatisfyReadPreference
  134, // ReadConcernMajorityNotAvailableYet
  150, // StaleEpoch
  189, // PrimarySteppedDown
  234, // RetryChangeStream
  262, // ExceededTimeLimit
  462, // IngressRequestRateLimitExceeded
  9001, // SocketException
  10107, // NotWritablePrimary
  11600, // InterruptedAtShutdown
  11602, // InterruptedDueToReplStateChange
  13388, // StaleConfig
  13435, // NotPrimaryNoSecondaryOk
  13436, // NotPrimaryOrSecondary
]);

const TRANSIENT_LABELS = [
  MongoErrorLabel.RetryableWriteError,
  MongoErrorLabel.ResumableChangeStreamError,
  MongoErrorLabel.TransientTransactionError,
  MongoErrorLabel.RetryableError,
  MongoErrorLabel.SystemOverloadedError,
];

// Codes that no retry can heal: the operator must change the deployment or the configuration.
const DEPLOYMENT_CODES = new Set([
  11, // UserNotFound
  13, // Unauthorized
  18, // AuthenticationFailed
  85, // IndexOptionsConflict
  86, // IndexKeySpecsConflict
  8000, // AtlasError: an Atlas user without the privilege
  40324, // Unrecognized pipeline stage ($changeStream on a server without it)
  40573, // The $changeStream stage is only supported on replica sets
  79, // UnknownReplWriteConcern: a write concern the replica set does not define
  100, // UnsatisfiableWriteConcern: not enough data-bearing members, ever
]);

const AUTH_CODES = new Set([11, 13, 18, 8000]);

/**
 * Decides what an error means: retry it, stop for the operator, isolate an order, or report a
 * defect.
 *
 * @param error What was thrown.
 * @returns Its kind.
 * @example
 * ```ts
 * if (errorKind(error) === "transient") await sleep(backoffDelay(attempt));
 * ```
 */
export function errorKind(error: unknown): ErrorKind {
  if (!(error instanceof MongoError)) return "internal";
  if (isAuthError(error)) return "deployment";
  const unconfirmed = writeConcernErrorOf(error);
  if (unconfirmed) return DEPLOYMENT_CODES.has(unconfirmed.code) ? "deployment" : "transient";
  const code = _code(error);
  if (code !== undefined && DEPLOYMENT_CODES.has(code)) return "deployment";
  if (isTransientError(error)) return "transient";
  if (error instanceof MongoServerError) return "data";
  // A driver-side error that is neither network nor server (a bad argument, a closed cursor):
  // the tool asked for something wrong.
  return "internal";
}

/**
 * Whether a server error code is one MongoDB and its drivers treat as transient (a per-document
 * write error carries a code but is no `Error`).
 *
 * @param code The server's error code.
 * @returns `true` for network, election, shutdown and unconfirmed-write codes.
 */
export function isTransientCode(code: number | undefined): boolean {
  return code !== undefined && TRANSIENT_CODES.has(code);
}

/**
 * Whether an error is worth retrying: network trouble, no reachable server, an election, a
 * shutdown, a write the majority did not confirm — anything a later attempt may not meet.
 *
 * @param error What the driver threw.
 * @returns `true` for transient errors.
 */
export function isTransientError(error: unknown): boolean {
  if (!(error instanceof MongoError)) return false;
  if (isAuthError(error)) return false;
  const unconfirmed = writeConcernErrorOf(error);
  if (unconfirmed) return !DEPLOYMENT_CODES.has(unconfirmed.code);
  if (TRANSIENT_LABELS.some((label) => error.hasErrorLabel(label))) return true;
  if (
    error instanceof MongoNetworkError ||
    error instanceof MongoServerSelectionError ||
    error instanceof MongoServerClosedError ||
    error instanceof MongoTopologyClosedError ||
    error instanceof MongoOperationTimeoutError ||
    error instanceof MongoWriteConcernError
  ) return true;
  // Pool and wait-queue errors carry no label on every version: known by name.
  if (error.name === "MongoPoolClearedError" || error.name === "MongoWaitQueueTimeoutError") {
    return true;
  }
  return isTransientCode(_code(error));
}

/**
 * The write-concern error an error carries, if any: the write may have been applied, but the
 * majority did not confirm it in time, so it must be treated as not written. A bulk write that
 * met a write-concern error is thrown as a `MongoBulkWriteError` that may look like something
 * else: with the write-concern error's code and an empty `writeErrors` while its result still
 * holds per-document errors (seen with driver 7.8), or with the per-document errors in view and
 * the write-concern error only in its result (bulk/common.js `handleWriteError`). Either way the
 * result's `getWriteConcernError()` has it.
 *
 * @param error What the driver threw.
 * @returns The write-concern error's code and message, or `undefined`.
 */
export function writeConcernErrorOf(
  error: unknown,
): { code: number; errmsg: string } | undefined {
  if (error instanceof MongoWriteConcernError) {
    return { code: _code(error) ?? 64, errmsg: error.message };
  }
  if (error instanceof MongoBulkWriteError) {
    const found = error.result?.getWriteConcernError?.();
    if (found) return { code: found.code ?? 64, errmsg: found.errmsg ?? "write concern error" };
  }
  return undefined;
}

/**
 * Whether the server refused the credentials or the privileges: retrying cannot help, the
 * operator must act.
 *
 * @param error What the driver threw.
 * @returns `true` for authentication and authorization failures.
 */
export function isAuthError(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  if (error instanceof MongoMissingCredentialsError || error.name === "MongoAuthError") {
    return true;
  }
  let cause: unknown = error;
  for (let depth = 0; cause instanceof Error && depth < 5; depth++) {
    const code = _code(cause);
    if (code !== undefined && AUTH_CODES.has(code)) return true;
    cause = cause.cause;
  }
  return false;
}

/**
 * A one-line, credential-free description of a driver error.
 *
 * @param error What was thrown.
 * @returns `message (code N)` with any credential removed.
 */
export function describeError(error: unknown): string {
  if (!(error instanceof Error)) return redact(String(error));
  const code = _code(error);
  const firstLine = error.message.split("\n")[0] ?? error.message;
  return redact(code !== undefined ? `${firstLine} (code ${code})` : firstLine);
}

/**
 * What the servers said of their replica set, when the connection string names another: the
 * driver drops a server whose set is not the one given (`replicaSet=`), then reports only that no
 * server could be selected — "Cannot reach MongoDB" while the server answers. The servers' own
 * `hello` replies (heartbeats) still say which set they belong to.
 *
 * @param expected The `replicaSet` of the connection string, if any.
 * @param seen Each server's address and the `setName` its `hello` reply gave (`null`: none, a
 * standalone server).
 * @returns One line naming the server, its set and the one given, or `undefined` when no server
 * answered with another set.
 * @example
 * ```ts
 * replicaSetMismatch("rs1", new Map([["127.0.0.1:27017", "rs0"]]));
 * // The server at 127.0.0.1:27017 belongs to replica set "rs0", not "rs1" given in the URI: fix replicaSet=
 * ```
 */
export function replicaSetMismatch(
  expected: string | undefined,
  seen: ReadonlyMap<string, string | null>,
): string | undefined {
  if (expected === undefined || expected === "") return undefined;
  for (const setName of seen.values()) {
    if (setName === expected) return undefined; // one member of the right set answered
  }
  for (const [address, setName] of seen) {
    if (setName === null) {
      return `The server at ${address} is not a replica set member, but the URI asks for replica set ${
        JSON.stringify(expected)
      }: remove replicaSet= or start the server as a replica set`;
    }
    return `The server at ${address} belongs to replica set ${JSON.stringify(setName)}, not ${
      JSON.stringify(expected)
    } given in the URI: fix replicaSet=`;
  }
  return undefined;
}

function _code(error: unknown): number | undefined {
  const code = (error as { code?: unknown }).code;
  return typeof code === "number" ? code : undefined;
}

/**
 * What a failed pass of a command (a batch, a purge) ends with: its own error when it carries an
 * exit code, a lost server as unreachable (exit 3), a refusal as a configuration problem (exit 2),
 * anything else as it is (an internal error, exit 70).
 *
 * @param failure What the pass threw.
 * @param what The pass, for the message (`"the batch"`).
 * @returns The error to throw.
 */
export function passFailure(failure: unknown, what: string): unknown {
  if (failure instanceof ArchiverError) return failure;
  const kind = errorKind(failure);
  if (kind === "transient") {
    return new UnreachableError(`Lost MongoDB during ${what}: ${describeError(failure)}`, {
      cause: failure,
    });
  }
  if (kind === "deployment") {
    return new ConfigError(`MongoDB refused ${what}: ${describeError(failure)}`, {
      cause: failure,
    });
  }
  return failure;
}
