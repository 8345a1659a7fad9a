/**
 * One line of a JSON-lines log file, parsed, and what it says in the operators' vocabulary:
 * orders archived, incomplete or duplicate, connection failures, change stream errors, stream lag.
 * Lines are Elastic Common Schema (`log.level`, `event.action`, the tool's counts under
 * `archiver`); lines of files rotated before that format (`level`, `logger`, `properties`) are
 * read too. Pure functions: `logs check`, `logs follow` and `health` feed them text.
 *
 * @module
 */

/** A parsed log line. */
export interface LogEntry {
  /** The line's time, in ms since the epoch. */
  time: number;
  /** `DEBUG`, `INFO`, `WARN`, `ERROR` or `FATAL` (`WARNING` is read as `WARN`). */
  level: string;
  /** The message. */
  message: string;
  /** The logger's category, such as `archiver.batch`. */
  logger: string;
  /** Structured properties (`archiver.*` in ECS lines, `properties` in older ones). */
  properties: Record<string, unknown>;
  /** The command that wrote the line (`event.action`), when the line says. */
  action?: string;
  /** `success`, `failure` or `unknown` (`event.outcome`), when the line says. */
  outcome?: string;
  /** The error's type (`error.type`), when the line is about one. */
  errorType?: string;
  /** `ecs` for Elastic Common Schema lines, `legacy` for the format before it. */
  format: "ecs" | "legacy";
}

/** The operators' patterns a line matched, and the counts it carries. */
export interface LogSignals {
  /** Orders archived, from a run's summary line (`✅ Archived N orders`, `orders_archived`). */
  archived: number;
  /** Incomplete orders, from a run's summary line (`orders_incomplete`), never per-order warnings. */
  incomplete: number;
  /** Duplicates, from a run's summary line (`orders_duplicates`, `♻️ N orders already archived`). */
  duplicates: number;
  /** Invalid orders, from a run's summary line (`orders_invalid`). */
  invalid: number;
  /** Orders that failed for a reason of their own, from a run's summary line (`orders_errors`). */
  errors: number;
  /** Delivered orders found by a batch, from its summary line (`orders_found`). */
  found: number;
  /** Whether the line is the summary of a dry run: it counts no order. */
  dryRun: boolean;
  /** `❌ Failed to connect to MongoDB`. */
  connectionFailure: boolean;
  /** `❌ Change Stream error`. */
  changeStreamError: boolean;
  /** `❌ Error enriching order`. */
  enrichError: boolean;
  /** `✅ Change Stream opened successfully`. */
  changeStreamOpened: boolean;
  /** `✅ Connected to database`. */
  connected: boolean;
  /** `⚠️ Could not load resume token`. */
  tokenNotLoaded: boolean;
  /** `properties.stream_lag_seconds`, when the line carries it. */
  lagSeconds?: number;
}

/**
 * The orders a line's summary counts, each once: archived, duplicates, incomplete, invalid and
 * failing. Zero for every line that is not a run's summary (per-order warnings, progress lines).
 *
 * @param signals What a line says.
 * @returns The number of orders its run settled.
 */
export function ordersSettled(signals: LogSignals): number {
  return signals.archived + signals.duplicates + signals.incomplete + signals.invalid +
    signals.errors;
}

/** The commands that watch the tool rather than do its work: their lines judge, never count. */
export const MONITORING_COMMANDS = ["health", "logs"] as const;

/**
 * Whether a line was written by one of the tool's monitoring commands (`health`, `logs check`,
 * `logs follow`, `logs prune`): known by the command that wrote it (`event.action`) or by its
 * LogTape category (`archiver.health`, `archiver.logs…`, for lines without an action). Such a
 * line reports what the checks found: counting it as the service's error would make one CRITICAL
 * health run the reason of the next alarm.
 *
 * @param entry A parsed line.
 * @returns `true` for the monitoring commands' own lines.
 */
export function isMonitoringLine(entry: LogEntry): boolean {
  const command = entry.action?.split(" ")[0];
  if (command !== undefined) return (MONITORING_COMMANDS as readonly string[]).includes(command);
  const [root, part] = entry.logger.split(".");
  return root === "archiver" && part !== undefined &&
    (MONITORING_COMMANDS as readonly string[]).includes(part);
}

const LEVELS: Record<string, string> = {
  TRACE: "DEBUG",
  DEBUG: "DEBUG",
  INFO: "INFO",
  WARN: "WARN",
  WARNING: "WARN",
  ERROR: "ERROR",
  FATAL: "FATAL",
};

/**
 * Parses one line of a log file.
 *
 * @param line The line, without its line ending.
 * @returns The entry, or `undefined` when the line is not a log record (not JSON, a truncated
 * last line, no valid `@timestamp`).
 */
export function parseLogLine(line: string): LogEntry | undefined {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return undefined;
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) return undefined;
  const record = value as Record<string, unknown>;
  const stamp = record["@timestamp"];
  const time = typeof stamp === "string" ? Date.parse(stamp) : NaN;
  if (Number.isNaN(time)) return undefined;
  const message = typeof record.message === "string"
    ? record.message
    : String(record.message ?? "");
  if (typeof record["log.level"] === "string") {
    const entry: LogEntry = {
      time,
      level: _level(record["log.level"]),
      message,
      logger: typeof record["log.logger"] === "string" ? record["log.logger"] : "",
      properties: _object(record.archiver),
      format: "ecs",
    };
    if (typeof record["event.action"] === "string") entry.action = record["event.action"];
    if (typeof record["event.outcome"] === "string") entry.outcome = record["event.outcome"];
    if (typeof record["error.type"] === "string") entry.errorType = record["error.type"];
    return entry;
  }
  return {
    time,
    level: _level(typeof record.level === "string" ? record.level : "INFO"),
    message,
    logger: typeof record.logger === "string" ? record.logger : "",
    properties: _object(record.properties),
    format: "legacy",
  };
}

function _level(text: string): string {
  const upper = text.toUpperCase();
  return LEVELS[upper] ?? upper;
}

function _object(value: unknown): Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value)
    ? value as Record<string, unknown>
    : {};
}

const ARCHIVED = /Archived (\d+) orders?\b/;
const DUPLICATE_COUNT = /(\d+) orders? already archived/;
const INCOMPLETE_COUNT = /(\d+) orders? (?:are |were )?incomplete/;
const FOUND = /Found (\d+) delivered orders?/;

/**
 * What a line says in the operators' patterns. Order counts come from the runs' summary lines
 * only (`✅ Archived N orders` with `orders_archived`, `orders_duplicates`, `orders_incomplete`,
 * `orders_invalid`, `orders_errors`, `orders_found`), so each order is counted once: the
 * per-order warnings (`⚠️ Order … is incomplete`) precede their summary and would count the
 * same orders again, and before the summary they would make a rate of them alone (10 warnings
 * read as "100 % incomplete" in a run of 1,000). A dry run's summary counts nothing.
 *
 * @param entry A parsed line.
 * @returns The matched patterns and counts.
 */
export function classify(entry: LogEntry): LogSignals {
  const message = entry.message;
  const props = entry.properties;
  const signals: LogSignals = {
    archived: 0,
    incomplete: 0,
    duplicates: 0,
    invalid: 0,
    errors: 0,
    found: 0,
    dryRun: props.dry_run === true,
    connectionFailure: message.includes("Failed to connect to MongoDB"),
    changeStreamError: message.includes("Change Stream error"),
    enrichError: message.includes("Error enriching order"),
    changeStreamOpened: message.includes("Change Stream opened successfully"),
    connected: message.includes("Connected to database"),
    tokenNotLoaded: message.includes("Could not load resume token"),
  };
  const lag = props.stream_lag_seconds;
  if (typeof lag === "number" && Number.isFinite(lag)) signals.lagSeconds = lag;
  if (signals.dryRun) return signals;
  if (entry.format === "ecs") {
    // An ECS summary line says its counts in fields, whatever its text.
    if (_count(props.orders_archived) !== undefined) _summaryFields(props, signals);
    return signals;
  }

  const archived = ARCHIVED.exec(message);
  const duplicateCount = DUPLICATE_COUNT.exec(message);
  const incompleteCount = INCOMPLETE_COUNT.exec(message);
  // Counts in properties are trusted only on the summary lines that define them, so a progress
  // line carrying running totals is not added twice.
  if (archived) {
    _summaryFields(props, signals);
    signals.archived = _count(props.orders_archived) ?? Number(archived[1]);
    signals.found = 0;
  } else if (duplicateCount) signals.duplicates = Number(duplicateCount[1]);
  else if (incompleteCount) signals.incomplete = Number(incompleteCount[1]);
  // Files written before the summaries carried `orders_found` said it on the batch's first line.
  const found = FOUND.exec(message);
  if (found) signals.found = Number(found[1]);
  return signals;
}

function _summaryFields(props: Record<string, unknown>, signals: LogSignals): void {
  signals.archived = _count(props.orders_archived) ?? 0;
  signals.duplicates = _count(props.orders_duplicates) ?? 0;
  signals.incomplete = _count(props.orders_incomplete) ?? 0;
  signals.invalid = _count(props.orders_invalid) ?? 0;
  signals.errors = _count(props.orders_errors) ?? 0;
  signals.found = _count(props.orders_found) ?? 0;
}

function _count(value: unknown): number | undefined {
  return typeof value === "number" && Number.isFinite(value) && value >= 0 ? value : undefined;
}
