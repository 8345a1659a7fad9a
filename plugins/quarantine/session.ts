/**
 * What every `archiver quarantine` subcommand opens: the client, the collection names, the
 * quarantine, and who the operator is.
 *
 * @module
 */

import type { Db, MongoClient } from "mongodb";
import { type CollectionNames, collectionNames } from "../../core/archive/collections.ts";
import { Quarantine } from "../../core/archive/quarantine.ts";
import { connectMongo } from "../../core/mongo/client.ts";
import { describeError, isTransientError } from "../../core/mongo/errors.ts";
import type { GlobalConfig } from "../../core/runtime/config.ts";
import {
  ArchiverError,
  ExitCode,
  exitCodeOf,
  UnreachableError,
} from "../../core/runtime/errors.ts";
import { type QuarantineActionRecord, recordQuarantineAction } from "../../core/archive/history.ts";
import type { PluginContext } from "../../core/runtime/plugin.ts";

/** The settings the subcommands read. */
export interface QuarantineConfig extends GlobalConfig {
  /** How often quarantined orders are retried (the backoff a retry records). */
  retryInterval?: number;
}

/** An open session on the quarantine. */
export interface QuarantineSession {
  /** The connected client. */
  client: MongoClient;
  /** The database. */
  db: Db;
  /** The collection names. */
  names: CollectionNames;
  /** The quarantine. */
  quarantine: Quarantine;
  /** The subcommand's logger. */
  log: PluginContext["logger"];
}

/**
 * Connects and wraps the quarantine; the client closes when the command stops.
 *
 * @param ctx The plugin context.
 * @param config The resolved settings.
 * @returns The session.
 */
export async function openSession(
  ctx: PluginContext,
  config: QuarantineConfig,
): Promise<QuarantineSession> {
  const client = await connectMongo(config, { signal: ctx.lifecycle.signal });
  ctx.lifecycle.onStop(() => client.close());
  const db = client.db(config.db);
  const names = collectionNames(config);
  const quarantine = new Quarantine(db.collection(names.quarantine), {
    retryIntervalMs: config.retryInterval ?? 60_000,
    writeTimeoutMs: config.operationTimeout,
  });
  return { client, db, names, quarantine, log: ctx.logger.getChild("quarantine") };
}

/** What a recorded action says of itself, beside its times, user and exit code. */
export type ActionFigures = Omit<
  QuarantineActionRecord,
  "mode" | "action" | "started_at" | "finished_at" | "host" | "pid" | "user" | "exit_code"
>;

/**
 * Runs an operator's action (retry, release) and records it in the run history whatever its
 * end: its figures when it got that far, its exit code in every case. A lost server is exit 3
 * with one line ({@link losingServerAs}).
 *
 * @param ctx The plugin context (its lifecycle gets the exit code).
 * @param session The open session.
 * @param action What is recorded, and how.
 * @returns Nothing; the work's summary goes to `action.report`.
 */
export async function runRecordedAction<S>(
  ctx: PluginContext,
  session: QuarantineSession,
  action: {
    name: QuarantineActionRecord["action"];
    user: string;
    runsCollection: string;
    timeoutMs: number;
    work: () => Promise<S>;
    exitCode: (summary: S) => number;
    report: (summary: S) => void;
    figures: (summary: S | undefined) => ActionFigures;
  },
): Promise<void> {
  const startedAt = new Date();
  let summary: S | undefined;
  let exitCode: number = ExitCode.ok;
  try {
    summary = await losingServerAs(`the ${action.name}`, action.work);
    exitCode = action.exitCode(summary);
    action.report(summary);
    ctx.lifecycle.exitCode = exitCode;
  } catch (error) {
    exitCode = exitCodeOf(error);
    throw error;
  } finally {
    await recordQuarantineAction(session.db.collection(action.runsCollection), {
      action: action.name,
      started_at: startedAt,
      finished_at: new Date(),
      user: action.user,
      exit_code: exitCode,
      ...action.figures(summary),
    }, { log: session.log, timeoutMs: action.timeoutMs });
  }
}

/**
 * Runs a subcommand's work, turning a lost server into exit 3 with one line.
 *
 * @param what What was being done, for the message (`"the release"`).
 * @param work The work.
 * @returns What the work returns.
 */
export async function losingServerAs<T>(what: string, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (!(error instanceof ArchiverError) && isTransientError(error)) {
      throw new UnreachableError(`Lost MongoDB during ${what}: ${describeError(error)}`, {
        cause: error,
      });
    }
    throw error;
  }
}

/**
 * Who runs the command, for the released record and the history: `user@host` from the OS.
 *
 * @param env The process environment.
 * @returns E.g. `jdupont@ops-01`.
 */
export function operatorName(env: Readonly<Record<string, string | undefined>>): string {
  const user = env.USER ?? env.USERNAME ?? env.LOGNAME ?? "unknown";
  let host = "unknown";
  try {
    host = Deno.hostname();
  } catch {
    // No --allow-sys=hostname: the user alone still says who.
  }
  return `${user}@${host}`;
}
