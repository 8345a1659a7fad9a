/**
 * The `logs` plugin: `archiver logs check` reads the JSON-lines log files (rotated ones
 * included, streaming) and applies the operators' alert rules, exiting 0 OK, 1 WARNING or
 * 2 CRITICAL (3 UNKNOWN on a bad setting); `logs follow` prints each alert live; `logs prune` deletes rotated files past the
 * retention.
 *
 * @module
 */

import { resolve } from "node:path";
import {
  monitoringPluginFailures,
  type Plugin,
  reportFailuresAs,
} from "../../core/runtime/plugin.ts";
import { counted } from "../../core/runtime/plural.ts";
import { addSettingOptions, settingOptions } from "../../core/runtime/settings.ts";
import { logCheckSettings, logMonitorSettings, logPruneSettings } from "./settings.ts";

export { logMonitorSettings } from "./settings.ts";

/** Options of the `logs` plugin. */
export interface LogsOptions {
  /** The command's name. @default "logs" */
  command?: string;
  /** The log file these commands write their own lines to, or `false`. @default "logs" */
  logFile?: string | false;
  /** The clock, in ms since the epoch (tests). @default Date.now */
  now?: () => number;
}

/** The defaults merged with what the caller passes. */
export const logsDefaults = {
  command: "logs",
  logFile: "logs",
  now: Date.now,
} satisfies Required<LogsOptions>;

/**
 * Makes the `logs` plugin.
 *
 * @param options Command name, own log file and clock.
 * @returns The plugin.
 * @example
 * ```ts
 * const plugins = [logs()];
 * // archiver logs check --since 24h --json; echo $?   → 0 OK, 1 WARNING, 2 CRITICAL
 * ```
 */
export function logs(options: LogsOptions = {}): Plugin {
  const opts = { ...logsDefaults, ...options };
  return {
    name: "logs",
    description: "Check, follow and prune the JSON-lines log files",
    settings: logMonitorSettings,
    register(program, ctx) {
      const group = program
        .command(opts.command)
        .description("Check, follow and prune the JSON-lines log files");

      const check = group
        .command("check")
        .description(
          "Count lines by level and pattern and apply the alert rules; exit 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN",
        )
        .option("--json", "Print one JSON object on a single line");
      addSettingOptions(check, logCheckSettings);
      // Read by monitoring systems: a bad setting is UNKNOWN (3), not CRITICAL (2).
      reportFailuresAs(check, monitoringPluginFailures);
      check.action(async (flags, cmd) => {
        // A check reads: it never fails because it cannot write its own log.
        const config = await ctx.start(cmd, logCheckSettings, {
          logFile: opts.logFile,
          logFileOptional: true,
        });
        const { checkLogs } = await import("./check.ts");
        const { rulesFrom } = await import("./settings.ts");
        const { logCheckSummary } = await import("./summary.ts");
        const { alertsState } = await import("./rules.ts");
        const now = opts.now();
        const rules = rulesFrom(config.values);
        const report = await checkLogs(resolve(ctx.cwd, config.values.logDir), {
          since: now - config.values.since,
          rules,
          now,
          signal: ctx.lifecycle.signal,
        });
        ctx.out(flags.json ? JSON.stringify(report) : logCheckSummary(report, rules));
        ctx.lifecycle.exitCode = alertsState(report.alerts.map((alert) => alert.state)).exitCode;
      });

      const follow = group
        .command("follow")
        .description(
          "Follow the current log files across rotations and print each alert as it fires",
        )
        .option("--json", "Print each alert as one JSON line")
        .option("--from-start", "Read the current files from their start, not their end");
      for (const option of settingOptions(logCheckSettings)) {
        if (option.attributeName() !== "since") follow.addOption(option);
      }
      follow.action(async (flags, cmd) => {
        const config = await ctx.start(cmd, logCheckSettings, {
          logFile: opts.logFile,
          logFileOptional: true,
        });
        const { followLogs } = await import("./tail.ts");
        const { rulesFrom } = await import("./settings.ts");
        const { alertLine } = await import("./summary.ts");
        const dir = resolve(ctx.cwd, config.values.logDir);
        ctx.logger.getChild("logs").info(`Following the log files in ${config.values.logDir}`);
        await followLogs(dir, {
          rules: rulesFrom(config.values),
          signal: ctx.lifecycle.signal,
          pollMs: config.values.pollInterval,
          fromStart: flags.fromStart === true,
          onAlert: (alert) => ctx.out(flags.json ? JSON.stringify(alert) : alertLine(alert)),
        });
      });

      const prune = group
        .command("prune")
        .description("Delete rotated log files older than the retention and report what was freed")
        .option("--dry-run", "List what would be deleted, deleting nothing")
        .option("--json", "Print one JSON object on a single line");
      addSettingOptions(prune, logPruneSettings);
      prune.action(async (flags, cmd) => {
        const config = await ctx.start(cmd, logPruneSettings, { logFile: opts.logFile });
        const { pruneLogs } = await import("./prune.ts");
        const { PartialFailureError } = await import("../../core/runtime/errors.ts");
        const report = await pruneLogs(resolve(ctx.cwd, config.values.logDir), {
          cutoff: opts.now() - config.values.olderThan,
          dryRun: flags.dryRun === true,
        });
        if (flags.json) ctx.out(JSON.stringify(report));
        else {
          const verb = report.dry_run ? "Would delete" : "Deleted";
          const lines = report.files.map((file) =>
            `${verb} ${file.name} (${file.bytes} bytes, last written ${file.modified_at})`
          );
          lines.push(
            `${verb} ${counted(report.files.length, "rotated file")}, ${_size(report.bytes)} ${
              report.dry_run ? "would be " : ""
            }freed`,
          );
          ctx.out(lines.join("\n"));
        }
        const log = ctx.logger.getChild("logs");
        if (!report.dry_run && report.files.length > 0) {
          log.info(`🧹 Pruned ${counted(report.files.length, "rotated log file")}`, {
            files: report.files.length,
            bytes_freed: report.bytes,
          });
        }
        if (report.failed.length > 0) {
          throw new PartialFailureError(
            `Cannot delete ${counted(report.failed.length, "log file")}: ${
              report.failed.map((f) => `${f.name} (${f.reason})`).join(", ")
            }`,
          );
        }
      });
    },
  };
}

function _size(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 ** 2) return `${(bytes / 1024).toFixed(1)} KB`;
  if (bytes < 1024 ** 3) return `${(bytes / 1024 ** 2).toFixed(1)} MB`;
  return `${(bytes / 1024 ** 3).toFixed(2)} GB`;
}
