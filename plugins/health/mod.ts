/**
 * The `health` plugin: `archiver health` runs every check (MongoDB, watcher and its uptime,
 * resume token, last batch, the archive's unique index and completeness, the quarantine, errors
 * and archive rate in the logs, disk) concurrently under one deadline, prints the
 * monitoring-plugin status line (`ARCHIVER <STATE> - <summary> | <perfdata>`) then the table,
 * and exits with the worst state in that convention: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN
 * (also for a bad setting or an unexpected failure).
 *
 * @module
 */

import type { GlobalConfig } from "../../core/runtime/config.ts";
import {
  monitoringPluginFailures,
  type Plugin,
  reportFailuresAs,
} from "../../core/runtime/plugin.ts";
import { addSettingOptions } from "../../core/runtime/settings.ts";
import { healthSettings } from "./settings.ts";

export { healthSettings } from "./settings.ts";

/** Options of the `health` plugin. */
export interface HealthOptions {
  /** The command's name. @default "health" */
  command?: string;
  /** The clock, in ms since the epoch (tests). @default Date.now */
  now?: () => number;
}

/** The defaults merged with what the caller passes. */
export const healthDefaults = {
  command: "health",
  now: Date.now,
} satisfies Required<HealthOptions>;

/**
 * Makes the `health` plugin.
 *
 * @param options Command name and clock.
 * @returns The plugin.
 * @example
 * ```ts
 * const plugins = [health()];
 * // archiver health --json; echo $?   → 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN
 * ```
 */
export function health(options: HealthOptions = {}): Plugin {
  const opts = { ...healthDefaults, ...options };
  const description = "Check MongoDB, the watcher, the last batch, the archive and the disk";
  return {
    name: "health",
    description,
    settings: healthSettings,
    register(program, ctx) {
      const command = program
        .command(opts.command)
        .description(`${description}; exit code 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN`)
        .option("--json", "Print one JSON object on a single line instead of a table")
        .option(
          "--only <checks...>",
          "Run only these checks, named as in the table (space or comma separated)",
        )
        .option("--skip <checks...>", "Run every check but these");
      addSettingOptions(command, healthSettings);
      // A monitoring plugin: a bad setting or a crash is UNKNOWN (3), never CRITICAL (2).
      reportFailuresAs(command, monitoringPluginFailures);
      command.action(async (flags, cmd) => {
        // A check name is known before anything runs (a mistyped one is UNKNOWN, nothing written).
        const { CHECK_NAMES } = await import("./run.ts");
        const { selectChecks } = await import("./selection.ts");
        const checks = selectChecks(CHECK_NAMES, { only: flags.only, skip: flags.skip });
        // Health reads only: a log folder it cannot write (the monitoring agent's user, a full
        // disk) costs one warning line, never the verdict.
        const config = await ctx.start(cmd, healthSettings, { logFileOptional: true });
        const values = config.values;
        const { runHealthChecks } = await import("./run.ts");
        const { thresholdsFrom } = await import("./settings.ts");
        const { healthJson, healthTable } = await import("./table.ts");
        const { STATE_EXIT_CODE } = await import("./state.ts");
        const log = ctx.logger.getChild("health");
        const { statusLine } = await import("./status_line.ts");
        const thresholds = thresholdsFrom(values);
        const report = await runHealthChecks(values as GlobalConfig, {
          thresholds,
          statusFile: values.statusFile,
          tokenFile: values.tokenFile,
          tokenStore: values.tokenStore,
          tokenCollection: values.tokenCollection,
          reportFile: values.reportFile,
          ...(values.url ? { url: values.url } : {}),
          checks,
          graceMs: values.grace,
          archiveExpireAfterMs: values.archiveExpireAfter,
          timeoutMs: values.timeout,
          cwd: ctx.cwd,
          signal: ctx.lifecycle.signal,
          log,
          now: opts.now,
        });
        const line = statusLine(report, thresholds);
        ctx.out(flags.json ? healthJson(report, line) : `${line}\n${healthTable(report)}`);
        const problems = report.checks.filter((check) => check.state !== "OK");
        const summary = problems.map((check) => `${check.name} ${check.state}`).join(", ");
        if (report.state === "OK") log.info(`🩺 Health OK (${report.checks.length} checks)`);
        else if (report.state === "CRITICAL") log.error(`❌ Health CRITICAL: ${summary}`);
        else log.warn(`⚠️ Health ${report.state}: ${summary}`);
        ctx.lifecycle.exitCode = STATE_EXIT_CODE[report.state];
      });
    },
  };
}
