/**
 * Logging for people and for machines: console lines in the operators' pattern
 * (`2025-10-16 12:34:56 [INFO] [batch] ✅ Archived 150 orders`, colour only on a terminal) or JSON
 * lines, and JSON-lines files rotated by size in the log folder. JSON lines carry Elastic Common
 * Schema names (`@timestamp`, `log.level`, `log.logger`, `message`, `service.*`, `process.pid`,
 * `event.action`, `event.outcome`, `error.*`), the tool's own properties under `archiver`, as
 * ECS advises for custom fields. Every line passes through `redact`, so no credential reaches a
 * console or a file.
 *
 * @module
 */

import { getRotatingFileSink } from "@logtape/file";
import {
  configure,
  dispose,
  getLogger,
  type Logger,
  type LogRecord,
  type Sink,
} from "@logtape/logtape";
import { join } from "node:path";
import denoJson from "../../deno.json" with { type: "json" };
import type { LogLevelName } from "./config.ts";
import { ConfigError } from "./errors.ts";
import { redact } from "./mask.ts";
import { besideProgressBar } from "./progress.ts";

/** The root category; plugins log under `["archiver", "<plugin>"]`. */
export const ROOT_CATEGORY = "archiver";

/** How to log for one command run. */
export interface LoggingOptions {
  /** Lowest level logged. */
  level: LogLevelName;
  /** Console lines for people (`pretty`) or collectors (`json`). @default "pretty" */
  format?: "pretty" | "json";
  /** The command being run, as `event.action` (`batch`, `logs check`). */
  action?: string;
  /** Writes one console line; defaults to standard error. */
  write?: (line: string) => void;
  /** Colours the level on the console. @default whether stderr is a terminal and NO_COLOR unset */
  color?: boolean;
  /** The rotating JSON-lines file; none when absent. */
  file?: {
    /** The log folder, created if missing. */
    dir: string;
    /** The file's base name; the file is `<dir>/<name>.jsonl`. */
    name: string;
    /** Size in bytes at which the file is rotated. */
    maxSize: number;
    /** Rotated files kept besides the current one. */
    maxFiles: number;
    /**
     * Whether the command runs without its file when the folder cannot be written: one warning
     * on the console, then console only. For read-only commands (`health`, `logs check`), which
     * must never fail, nor turn UNKNOWN, because they cannot write their own log. @default false
     */
    optional?: boolean;
  };
}

/**
 * The path of a command's JSON-lines log file.
 *
 * @param dir The log folder.
 * @param name The command name.
 * @returns `<dir>/<name>.jsonl`.
 */
export function logFilePath(dir: string, name: string): string {
  return join(dir, `${name}.jsonl`);
}

// The configurations in force, innermost last: a command that runs other commands in-process
// (`archiver demo`) gets its own logging back when the inner run closes its logs.
const _active: LoggingOptions[] = [];

/**
 * Configures LogTape for a command run. Call the returned function before exiting: it flushes
 * and closes the log file. Runs may nest (a command running other commands in-process): closing
 * the innermost run's logging restores the enclosing run's, and closing the last one disposes.
 *
 * @param options Level, console format and file.
 * @returns A function that flushes and closes every sink.
 * @throws {ConfigError} When the log folder cannot be created or written.
 */
export async function setupLogging(options: LoggingOptions): Promise<() => Promise<void>> {
  await _configure(options);
  _active.push(options);
  let closed = false;
  return async () => {
    if (closed) return;
    closed = true;
    const index = _active.lastIndexOf(options);
    const innermost = index === _active.length - 1;
    if (index >= 0) _active.splice(index, 1);
    const enclosing = _active.at(-1);
    if (!enclosing) await dispose();
    else if (innermost) await _configure(enclosing);
  };
}

async function _configure(options: LoggingOptions): Promise<void> {
  const write = options.write ?? _writeStderr;
  const color = options.color ?? (_stderrIsTerminal() && !Deno.env.get("NO_COLOR"));
  const ecs = (record: LogRecord) => formatEcs(record, { action: options.action });
  const format = options.format === "json"
    ? ecs
    : (record: LogRecord) => formatPretty(record, { color });
  const sinks: Record<string, Sink> = {
    // A line written while a progress bar is shown takes the bar's line; the bar is drawn again.
    console: (record) => {
      const line = redact(format(record));
      besideProgressBar(() => write(line));
    },
  };
  let unwritable: string | undefined;
  if (options.file) {
    const { dir, name } = options.file;
    const path = logFilePath(dir, name);
    try {
      await Deno.mkdir(dir, { recursive: true });
      // Probe the folder now: a log sink failing later would be silent.
      await Deno.writeTextFile(path, "", { append: true });
    } catch (error) {
      const message = `Cannot write logs to ${JSON.stringify(dir)}: ${logFolderReason(error)}`;
      if (!options.file.optional) {
        throw new ConfigError(`${message} (set --log-dir)`, { cause: error });
      }
      unwritable = `${message}: logging to the console only`;
    }
  }
  if (options.file && unwritable === undefined) {
    const { dir, name, maxSize, maxFiles } = options.file;
    const path = logFilePath(dir, name);
    const file = getRotatingFileSink(path, {
      formatter: (record) => `${redact(ecs(record))}\n`,
      maxSize,
      maxFiles,
      // Unbuffered: a service killed by its manager must not lose its last lines.
      bufferSize: 0,
    });
    sinks.file = options.file.optional ? _givingUp(file, dir, sinks.console!) : file;
  }
  await configure({
    reset: true,
    sinks,
    loggers: [
      { category: [ROOT_CATEGORY], lowestLevel: options.level, sinks: Object.keys(sinks) },
      { category: ["logtape", "meta"], lowestLevel: "warning", sinks: ["console"] },
    ],
  });
  if (unwritable !== undefined) logger().warn(unwritable);
}

// An optional log file that fails after its probe (a disk that fills up: the probe appends
// nothing) is given up at its first failure with one warning, instead of LogTape's meta logger
// writing a FATAL record per line.
function _givingUp(file: Sink, dir: string, console: Sink): Sink {
  let failed = false;
  return (record) => {
    if (failed) return;
    try {
      file(record);
    } catch (error) {
      failed = true;
      console({
        ...record,
        level: "warning",
        message: [
          `Cannot write logs to ${JSON.stringify(dir)}: ${
            logFolderReason(error)
          }: logging to the console only`,
        ],
        rawMessage: "",
        properties: {},
      });
    }
  };
}

/**
 * The console of the logging in force (the innermost run's): a command that runs other commands
 * shows their output where its own lines go. Lines are masked; without logging, standard error.
 *
 * @returns A function writing one line, without its line ending.
 */
export function activeConsole(): (line: string) => void {
  const write = _active.at(-1)?.write ?? _writeStderr;
  return (line) => besideProgressBar(() => write(redact(line)));
}

/**
 * The logger of a part of the tool.
 *
 * @param name Sub-categories under `archiver`, such as `"batch"`.
 * @returns A LogTape logger.
 */
export function logger(...name: string[]): Logger {
  return getLogger([ROOT_CATEGORY, ...name]);
}

const LEVEL_TEXT: Record<string, string> = {
  trace: "TRACE",
  debug: "DEBUG",
  info: "INFO",
  warning: "WARNING",
  error: "ERROR",
  fatal: "FATAL",
};

const LEVEL_COLOR: Record<string, string> = {
  trace: "\x1b[90m",
  debug: "\x1b[90m",
  info: "\x1b[32m",
  warning: "\x1b[33m",
  error: "\x1b[31m",
  fatal: "\x1b[31m",
};

/**
 * Formats a record as the operators' console line: local time, level, component, message.
 *
 * @param record A LogTape record.
 * @param options Whether to colour the level.
 * @returns One line, without a line ending.
 */
export function formatPretty(record: LogRecord, options: { color?: boolean } = {}): string {
  const time = _localTime(new Date(record.timestamp));
  const level = LEVEL_TEXT[record.level] ?? record.level.toUpperCase();
  const shownLevel = options.color ? `${LEVEL_COLOR[record.level] ?? ""}${level}\x1b[0m` : level;
  const component = record.category.slice(1).join(".") || ROOT_CATEGORY;
  return `${time} [${shownLevel}] [${component}] ${_renderMessage(record)}`;
}

/** The ECS version the JSON lines follow (`ecs.version`). */
export const ECS_VERSION = "8.11.0";

/** The service name of every JSON line (`service.name`). */
export const SERVICE_NAME = "archiver";

/** The namespace of the tool's own properties in JSON lines, as ECS advises for custom fields. */
export const CUSTOM_NAMESPACE = "archiver";

/**
 * Formats a record as one Elastic Common Schema JSON line: `@timestamp`, `log.level`,
 * `log.logger`, `message`, `ecs.version`, `service.name`, `service.version`, `process.pid`,
 * `event.action` (the command), `event.outcome` when the line says (an `outcome` property, an
 * error, a failure count), `error.message`/`error.type`/`error.stack_trace` for an error, and the
 * other properties under `archiver`.
 *
 * @param record A LogTape record.
 * @param options The command being run.
 * @returns One JSON line, without a line ending.
 * @example
 * ```ts
 * // {"@timestamp":"2025-10-16T10:34:56.000Z","log.level":"info","log.logger":"archiver.batch",
 * //  "message":"✅ Archived 150 orders",…,"event.action":"batch","event.outcome":"success",
 * //  "archiver":{"orders_archived":150,…}}
 * ```
 */
export function formatEcs(record: LogRecord, options: { action?: string } = {}): string {
  const line: Record<string, unknown> = {
    "@timestamp": new Date(record.timestamp).toISOString(),
    "log.level": record.level,
    "log.logger": record.category.join("."),
    message: _renderMessage(record),
    "ecs.version": ECS_VERSION,
    "service.name": SERVICE_NAME,
    "service.version": denoJson.version,
    "process.pid": Deno.pid,
  };
  if (options.action) line["event.action"] = options.action;
  const custom: Record<string, unknown> = {};
  let error: Error | undefined;
  let outcome: unknown;
  for (const [key, value] of Object.entries(record.properties)) {
    if (value instanceof Error) {
      error ??= value;
      custom[key] = value.message;
    } else if (key === "outcome") outcome = value;
    else custom[key] = value;
  }
  error ??= record.message.find((part, i) => i % 2 === 1 && part instanceof Error) as
    | Error
    | undefined;
  const outcomeText = _outcome(record, outcome, error, custom);
  if (outcomeText) line["event.outcome"] = outcomeText;
  if (error) {
    line["error.message"] = error.message;
    line["error.type"] = error.name || error.constructor?.name || "Error";
    if (error.stack) line["error.stack_trace"] = error.stack;
  }
  if (Object.keys(custom).length > 0) line[CUSTOM_NAMESPACE] = custom;
  return _stringify(line);
}

function _outcome(
  record: LogRecord,
  outcome: unknown,
  error: Error | undefined,
  custom: Record<string, unknown>,
): string | undefined {
  if (outcome === "success" || outcome === "failure" || outcome === "unknown") return outcome;
  if (error || record.level === "error" || record.level === "fatal") return "failure";
  // A summary line (it carries `orders_archived`) succeeded when no order failed.
  if (typeof custom.orders_archived === "number") {
    const failed = (Number(custom.orders_errors) || 0) + (Number(custom.orders_invalid) || 0);
    return failed > 0 ? "failure" : "success";
  }
  return undefined;
}

function _stringify(line: Record<string, unknown>): string {
  try {
    return JSON.stringify(line, _jsonValue);
  } catch {
    // A property JSON cannot hold (a cycle): keep the line, drop the properties.
    const { [CUSTOM_NAMESPACE]: _dropped, ...rest } = line;
    return JSON.stringify(rest, _jsonValue);
  }
}

function _jsonValue(_key: string, value: unknown): unknown {
  if (typeof value === "bigint") return value.toString();
  if (value instanceof Error) return value.message;
  return value;
}

function _renderMessage(record: LogRecord): string {
  return record.message
    .map((part, i) => (i % 2 === 0 ? String(part) : _renderValue(part)))
    .join("");
}

function _renderValue(value: unknown): string {
  if (typeof value === "string") return value;
  if (value instanceof Error) return value.message;
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

function _localTime(date: Date): string {
  const pad = (n: number) => String(n).padStart(2, "0");
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())} ` +
    `${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}`;
}

const _encoder = new TextEncoder();

function _writeStderr(line: string): void {
  Deno.stderr.writeSync(_encoder.encode(`${line}\n`));
}

function _stderrIsTerminal(): boolean {
  try {
    return Deno.stderr.isTerminal();
  } catch {
    return false;
  }
}

/**
 * Why a log folder cannot be written, in the operating system's words and without Deno's advice
 * on its flags: `permission denied`, `read-only file system`, `not a folder`, `a file is in the
 * way`, or, for the system folders Deno keeps to programs run with every permission (`/proc`,
 * `/dev`), `a system folder`.
 *
 * @param error What creating or writing the folder threw.
 * @returns A short reason, lower case.
 */
export function logFolderReason(error: unknown): string {
  if (error instanceof Deno.errors.NotCapable) {
    return "a system folder, not a place for log files";
  }
  if (error instanceof Deno.errors.PermissionDenied) return "permission denied";
  if (error instanceof Deno.errors.NotADirectory) return "not a folder";
  if (error instanceof Deno.errors.AlreadyExists) return "a file is in the way";
  if (error instanceof Deno.errors.IsADirectory) return "a folder is in the way of the file";
  const message = error instanceof Error ? error.message : String(error);
  // `Read-only file system (os error 30): mkdir '/mnt/ro/logs'` → `read-only file system`
  const os = /^(.*?) \(os error \d+\)/.exec(message);
  const reason = (os?.[1] ?? message).split("\n")[0]!;
  return reason.charAt(0).toLowerCase() + reason.slice(1);
}
