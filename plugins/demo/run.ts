/**
 * One run of `archiver demo`. Every step is the real command: `simulate`, `batch --dry-run`,
 * `batch`, `simulate --live` and `health` run in-process through the context's `runCommand`,
 * exactly as typed on a command line, and `watch` runs as a child process of this same program, stopped by SIGTERM like
 * a service. The demo itself only starts the sandbox, reads the commands' JSON output, checks the
 * archive with one query and cleans up.
 *
 * @module
 */

import { join } from "node:path";
import type { Db, Document } from "mongodb";
import { collectionNames } from "../../core/archive/collections.ts";
import { type SelfProcess, spawnSelf } from "../../core/runtime/child_process.ts";
import type { globalSettings, LoadedConfig } from "../../core/runtime/config.ts";
import { enrichmentPipeline } from "../../core/archive/enrich.ts";
import { ArchiverError, ConfigError, ExitCode } from "../../core/runtime/errors.ts";
import { activeConsole } from "../../core/runtime/logging.ts";
import { maskUri } from "../../core/runtime/mask.ts";
import { connectMongo } from "../../core/mongo/client.ts";
import { decimal, duration, formatDuration, integer } from "../../core/runtime/parse.ts";
import type { PluginContext } from "../../core/runtime/plugin.ts";
import { sleep } from "../../core/runtime/retry.ts";
import type { DemoOptions } from "./mod.ts";
import {
  type ArchiveCheck,
  archivedExactlyOnce,
  type BatchFigures,
  type DemoReport,
  type HealthProblem,
  renderDemoReport,
  type SimulatedFigures,
} from "./report.ts";

/** The flags of `archiver demo`, as commander gives them, with the plugin's options. */
export interface DemoFlags extends Pick<DemoOptions, "pIncomplete" | "waitMs"> {
  count: string;
  duration: string;
  seed: string;
  rate: string;
  keep?: boolean;
  json?: boolean;
  /** The global `--env-file`, handed on to the commands the demo runs. */
  envFile?: string;
}

/** The database the demo writes to unless `--db` names another. */
export const DEMO_DATABASE = "archiver_demo";

/** A step of the demo that did not succeed: one line naming the step, the step's exit code. */
export class DemoStepError extends ArchiverError {
  /**
   * @param step The step, as the command it ran (`batch --dry-run`).
   * @param reason What went wrong.
   * @param exitCode The exit code the demo ends with.
   */
  constructor(step: string, reason: string, exitCode: number = ExitCode.partialFailure) {
    super(`Demo step "${step}" failed: ${reason}`, exitCode === 0 ? 1 : exitCode);
  }
}

interface _Plan {
  count: number;
  durationMs: number;
  seed: number;
  rate: number;
}

function _plan(flags: DemoFlags): _Plan {
  const read = <T>(flag: string, raw: string, parse: (raw: string) => T): T => {
    try {
      return parse(raw);
    } catch (error) {
      throw new ConfigError(
        `Invalid ${flag} ${JSON.stringify(raw)}: expected ${(error as Error).message}`,
      );
    }
  };
  return {
    count: read("--count", flags.count, integer({ min: 1, max: 1_000_000 })),
    durationMs: read("--duration", flags.duration, duration({ min: 1_000 })),
    seed: read("--seed", flags.seed, integer({ min: 0 })),
    rate: read("--rate", flags.rate, decimal({ min: 1, max: 10_000 })),
  };
}

/**
 * Runs the demo and prints its report.
 *
 * @param ctx The plugin context.
 * @param config The global configuration (`--uri` and `--db` given as flags are used).
 * @param flags The command's flags and the plugin's options.
 * @throws {DemoStepError} Naming the step that failed, with its exit code.
 */
export async function runDemo(
  ctx: PluginContext,
  config: LoadedConfig<typeof globalSettings>,
  flags: DemoFlags,
): Promise<void> {
  const started = performance.now();
  const plan = _plan(flags);
  const log = ctx.logger.getChild("demo");
  const signal = ctx.lifecycle.signal;
  const values = config.values;
  const names = collectionNames(values);
  const useUri = config.sources.uri === "flag";
  const database = config.sources.db === "flag" ? values.db : DEMO_DATABASE;

  // The commands' own lines (and the watcher's) go where the demo's lines go.
  const console = activeConsole();
  const resources = new _Resources();
  ctx.lifecycle.onStop(() => resources.close());
  const workDir = await Deno.makeTempDir({ prefix: "archiver-demo-" });
  resources.add(() => flags.keep ? undefined : Deno.remove(workDir, { recursive: true }));
  const files = {
    logDir: join(workDir, "logs"),
    token: join(workDir, ".resume_token.json"),
    status: join(workDir, "archiver-status.json"),
    report: join(workDir, "last-batch.json"),
  };

  let uri = values.uri;
  if (!useUri) {
    const { startSandbox } = await import("../../sandbox/mod.ts");
    const sandbox = await startSandbox({ host: "127.0.0.1", port: 0 });
    resources.add(() => sandbox.stop());
    uri = sandbox.uri;
    log.info(`🧪 No --uri given: the demo runs on this in-process sandbox (in memory)`);
  }
  const client = await connectMongo({ ...values, uri }, { signal });
  resources.add(() => client.close());
  const db = client.db(database);
  // The sandbox (in-process, or one given by --uri) keeps its bounded oplog in memory.
  const onSandbox = !useUri ||
    (await db.admin().command({ buildInfo: 1 }).catch(() => ({}) as Document)).sandbox === true;
  if (useUri) {
    await _ensureEmpty(db, maskUri(uri));
    resources.add(() => flags.keep ? undefined : db.dropDatabase().then(() => undefined));
    log.info(`Using database ${database} on ${maskUri(uri)}; it is dropped at the end`);
  }
  log.info(`📁 Logs, resume token, status and batch report go to ${workDir}`);
  const shown = (arg: string) => arg.startsWith(workDir) ? arg.slice(workDir.length + 1) : arg;

  const globals = [
    "--uri",
    uri,
    "--db",
    database,
    "--log-dir",
    files.logDir,
    "--log-level",
    values.logLevel,
    "--log-format",
    values.logFormat,
  ];
  const env = { ...ctx.env, ...(flags.envFile ? { ARCHIVER_ENV_FILE: flags.envFile } : {}) };
  const step = async (
    args: string[],
    accept: (code: number) => boolean = (c) => c === 0,
    extraEnv: Record<string, string> = {},
  ) => {
    const name = args.filter((arg) => arg.startsWith("--dry-run") || !arg.startsWith("-"))
      .slice(0, 2).join(" ");
    log.info(`▶️ archiver ${args.map(shown).join(" ")}`);
    let stdout = "";
    let stderr = "";
    const code = await ctx.runCommand([...globals, ...args], {
      env: { ...env, ...extraEnv },
      stdout: (text) => (stdout += text),
      stderr: (text) => {
        stderr += text;
        for (const line of text.replace(/\n$/, "").split("\n")) console(line);
      },
    });
    if (signal.aborted) throw signal.reason;
    if (!accept(code)) {
      const detail = stderr.trim().split("\n").at(-1);
      throw new DemoStepError(
        name,
        `exit code ${code}${detail ? `: ${detail}` : " (its error is logged above)"}`,
        code,
      );
    }
    const last = stdout.trim().split("\n").at(-1) ?? "";
    try {
      return { code, json: JSON.parse(last) as Record<string, unknown> };
    } catch {
      throw new DemoStepError(name, `its --json output is not JSON: ${JSON.stringify(last)}`);
    }
  };

  // 1. A dataset with a few incomplete orders.
  const simulated = await step([
    "simulate",
    "--count",
    String(plan.count),
    "--seed",
    String(plan.seed),
    "--p-incomplete",
    String(flags.pIncomplete),
    "--json",
  ]);
  const simulatedFigures: SimulatedFigures = {
    orders: (simulated.json.collections as Record<string, number>)[names.orders] ?? 0,
    statuses: simulated.json.statuses as Record<string, number>,
    incomplete: simulated.json.incomplete as number,
  };

  // 2. What a backfill would do, then the backfill.
  const dryRun = (await step(["batch", "--dry-run", "--json"])).json as unknown as BatchFigures;
  const batch = (await step(["batch", "--report-file", files.report, "--json"]))
    .json as unknown as BatchFigures;

  // 3. The watcher, as its own process, the way the service manager runs it. Its URI goes in
  // the environment, not the arguments, where any local user could read a password with `ps`.
  const childGlobals = globals.filter((_, i) =>
    globals[i] !== "--uri" && globals[i - 1] !== "--uri"
  );
  const watchArgs = [
    ...childGlobals,
    "watch",
    "--token-store",
    "file",
    "--token-file",
    files.token,
    "--status-file",
    files.status,
    "--metrics-port",
    "0",
    "--batch-wait-ms",
    "100",
  ];
  log.info(
    `▶️ archiver ${watchArgs.slice(childGlobals.length).map(shown).join(" ")} (child process)`,
  );
  const watcher = spawnSelf(watchArgs, {
    cwd: ctx.cwd,
    env: { ...env, MONGODB_URI: uri },
    onLine: console,
  });
  resources.add(async () => {
    await watcher.stop(5_000);
  });
  await _waitForStreaming(watcher, files.status, { timeoutMs: flags.waitMs, signal });
  log.info(`👀 Watcher (process ${watcher.pid}) caught up and is streaming changes`);

  // 4. Live deliveries, archived by the watcher as they happen.
  const live = await step([
    "simulate",
    "--live",
    "--rate",
    String(plan.rate),
    "--duration",
    formatDuration(plan.durationMs),
    "--seed",
    String(plan.seed),
    "--p-incomplete",
    "0",
    "--json",
  ]);
  const trafficEnded = performance.now();
  const liveStatuses = live.json.statuses as Record<string, number>;
  let check = await _archiveCheck(db, values.deliveredStatus, names);
  const settleBy = Date.now() + flags.waitMs;
  while (!archivedExactlyOnce(check) && Date.now() < settleBy) {
    await _untilSignal(200, signal);
    check = await _archiveCheck(db, values.deliveredStatus, names);
  }
  const settledMs = performance.now() - trafficEnded;
  const deliveries = liveStatuses[values.deliveredStatus] ?? 0;
  log.info(
    `🚚 ${deliveries} live deliveries; the watcher archived ${check.by_watch} orders, archive complete ${
      Math.round(settledMs)
    } ms after traffic stopped`,
  );
  if (!archivedExactlyOnce(check)) {
    throw new DemoStepError(
      "watch",
      `the archive holds ${check.total} documents (${check.distinct} orders) for ${check.complete_delivered} complete delivered orders, ${check.missing} missing, after waiting ${
        Math.round(flags.waitMs / 1000)
      } s`,
    );
  }

  // 5. Health, while the watcher still runs: its heartbeat and token are part of the checks.
  // The watcher started seconds ago: the daily check that it has run for 23 h does not apply.
  const health = await step(
    [
      "health",
      "--json",
      "--min-uptime",
      "0s",
      "--token-file",
      files.token,
      "--status-file",
      files.status,
      "--report-file",
      files.report,
    ],
    (code) => code !== 2,
    onSandbox
      ? {
        // The sandbox keeps a bounded oplog in memory that the demo's writes fill in minutes: its
        // resume headroom is truly short, and says nothing about a real replica set's.
        ARCHIVER_HEALTH_OPLOG_HEADROOM_WARNING: "0s",
        ARCHIVER_HEALTH_OPLOG_HEADROOM_CRITICAL: "0s",
      }
      : {},
  );
  const checks = (health.json.checks ?? []) as HealthProblem[];
  const healthState = String(health.json.state);

  // 6. Stop the watcher like a service manager does, and everything else.
  const stop = await watcher.stop(10_000);
  const cleanStop = !stop.killed && (stop.code === 0 || Deno.build.os === "windows");
  if (cleanStop) {
    log.info(`🛑 Watcher stopped in ${Math.round(stop.ms)} ms, exit code ${stop.code}`);
  } else {
    const detail = watcher.stderr().trim().split("\n").at(-1);
    throw new DemoStepError(
      "watch",
      `the watcher ${
        stop.killed ? "did not stop within 10 s and was killed" : "stopped"
      } with exit code ${stop.code}${detail ? `: ${detail}` : ""}`,
    );
  }
  await resources.close();

  const report: DemoReport = {
    ok: true,
    server: useUri ? "uri" : "sandbox",
    database,
    seed: plan.seed,
    simulated: simulatedFigures,
    dry_run: dryRun,
    batch,
    live: {
      changes: live.json.changes as number,
      created: live.json.created as number,
      deliveries,
      archived_by_watch: check.by_watch,
      settled_ms: Math.round(settledMs),
    },
    watch: { exit_code: stop.code, stop_ms: Math.round(stop.ms), killed: stop.killed },
    archive: { ...check, exactly_once: true },
    health: {
      state: healthState,
      checks: checks.length,
      problems: checks.filter((c) => c.state !== "OK").map(({ name, state, reason }) => ({
        name,
        state,
        reason,
      })),
    },
    work_dir: workDir,
    kept: flags.keep === true,
    duration_ms: Math.round(performance.now() - started),
  };
  log.info(`✅ Demo finished in ${(report.duration_ms / 1000).toFixed(1)} s`);
  ctx.out(renderDemoReport(report, { json: flags.json }));
}

/** Clean-up steps run once, last added first, whether the demo succeeds or not. */
class _Resources {
  #steps: Array<() => unknown> = [];

  add(step: () => unknown): void {
    this.#steps.push(step);
  }

  async close(): Promise<void> {
    const steps = this.#steps.reverse();
    this.#steps = [];
    for (const step of steps) {
      try {
        await step();
      } catch {
        // Best effort: one failed clean-up must not keep the others from running.
      }
    }
  }
}

async function _ensureEmpty(db: Db, where: string): Promise<void> {
  const collections = await db.listCollections({}, { nameOnly: true }).toArray();
  if (collections.length > 0) {
    throw new ConfigError(
      `Refusing to run the demo in database "${db.databaseName}" on ${where}: it already holds ${collections.length} ${
        collections.length === 1 ? "collection" : "collections"
      } (name an empty database with --db)`,
    );
  }
}

async function _waitForStreaming(
  watcher: SelfProcess,
  statusFile: string,
  options: { timeoutMs: number; signal: AbortSignal },
): Promise<void> {
  let exited: number | undefined;
  watcher.exited.then((code) => (exited = code));
  const end = Date.now() + options.timeoutMs;
  while (Date.now() < end) {
    if (exited !== undefined) {
      const detail = watcher.stderr().trim().split("\n").at(-1);
      throw new DemoStepError(
        "watch",
        `the watcher exited with code ${exited}${detail ? `: ${detail}` : ""}`,
        exited,
      );
    }
    try {
      const status = JSON.parse(await Deno.readTextFile(statusFile)) as { state?: string };
      if (status.state === "streaming") return;
    } catch {
      // Not written yet, or being replaced.
    }
    await _untilSignal(50, options.signal);
  }
  throw new DemoStepError(
    "watch",
    `the watcher was not streaming after ${Math.round(options.timeoutMs / 1000)} s`,
  );
}

async function _archiveCheck(
  db: Db,
  deliveredStatus: string,
  names: ReturnType<typeof collectionNames>,
): Promise<ArchiveCheck> {
  // "Complete" is what batch and watch mean by it: the shared enrichment says so.
  const complete = await db.collection(names.orders).aggregate<{ numero_commande: string }>([
    ...enrichmentPipeline({ status: deliveredStatus }, names),
    { $match: { complete: true } },
    { $project: { _id: 0, numero_commande: 1 } },
  ]).toArray();
  const archived = await db.collection(names.archive)
    .find({}, { projection: { _id: 0, numero_commande: 1, archived_by: 1 } })
    .toArray();
  const inArchive = new Set(archived.map((doc) => String(doc.numero_commande)));
  return {
    total: archived.length,
    distinct: inArchive.size,
    complete_delivered: complete.length,
    missing: complete.filter((order) => !inArchive.has(order.numero_commande)).length,
    by_batch: archived.filter((doc) => doc.archived_by === "batch").length,
    by_watch: archived.filter((doc) => doc.archived_by === "watch").length,
  };
}

async function _untilSignal(ms: number, signal: AbortSignal): Promise<void> {
  try {
    await sleep(ms, signal);
  } catch {
    throw signal.reason;
  }
}
