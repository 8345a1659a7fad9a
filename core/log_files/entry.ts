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
  /** Orders archived (`✅ Archived N orders`, or `properties.orders_archived` on that line). */
  archived: number;
  /** Incomplete orders (`⚠️ Order … is incomplete`, one each, or a bare `N orders incomplete`). */
  incomplete: number;
  /** Duplicates (`⚠️ Order … already archived`, `♻️ N orders already archived`, or `properties.orders_duplicates`). */
  duplicates: number;
  /** Delivered orders found by a batch (`📦 Found N delivered orders`). */
  found: number;
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
 * What a line says in the operators' patterns. Archived and duplicate counts come from the
 * summary line's properties (`orders_archived`, `orders_duplicates`) when present, else from the
 * number in the message; incomplete orders are counted from their per-order warnings, which the
 * tool writes once for each.
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
    found: 0,
    connectionFailure: message.includes("Failed to connect to MongoDB"),
    changeStreamError: message.includes("Change Stream error"),
    enrichError: message.includes("Error enriching order"),
    changeStreamOpened: message.includes("Change Stream opened successfully"),
    connected: message.includes("Connected to database"),
    tokenNotLoaded: message.includes("Could not load resume token"),
  };
  const lag = props.stream_lag_seconds;
  if (typeof lag === "number" && Number.isFinite(lag)) signals.lagSeconds = lag;
  if (entry.format === "ecs") return _classifyFields(props, signals);

  const archived = ARCHIVED.exec(message);
  const duplicateCount = DUPLICATE_COUNT.exec(message);
  const incompleteCount = INCOMPLETE_COUNT.exec(message);
  // Counts in properties are trusted only on the summary lines that define them, so a progress
  // line carrying running totals is not added twice.
  const summary = archived !== null || duplicateCount !== null || incompleteCount !== null;
  if (archived) signals.archived = _count(props.orders_archived) ?? Number(archived[1]);
  if (summary) {
    signals.duplicates = _count(props.orders_duplicates) ??
      (duplicateCount ? Number(duplicateCount[1]) : 0);
  }
  // Batch and watch warn once about each incomplete order (`⚠️ Order … is incomplete`) and also
  // total them on their summary line: the per-order warnings are the count, so the total is used
  // only from a line that says nothing else (`N orders incomplete`).
  if (incompleteCount && !archived) signals.incomplete = Number(incompleteCount[1]);
  if (/Order \S+ is incomplete/.test(message)) signals.incomplete += 1;
  if (/Order \S+ already archived/.test(message)) signals.duplicates += 1;
  const found = FOUND.exec(message);
  if (found) signals.found = Number(found[1]);
  return signals;
}

// An ECS line says its counts in fields: the summary lines of batch and watch carry
// `orders_archived` and `orders_duplicates`; each incomplete order has its own warning with
// `reason: "incomplete"` (the summary's `orders_incomplete` total would count them twice); a
// batch's start carries `orders_delivered`.
function _classifyFields(props: Record<string, unknown>, signals: LogSignals): LogSignals {
  const archived = _count(props.orders_archived);
  if (archived !== undefined) {
    signals.archived = archived;
    signals.duplicates = _count(props.orders_duplicates) ?? 0;
  }
  if (props.reason === "incomplete" && "order_id" in props) signals.incomplete = 1;
  signals.found = _count(props.orders_delivered) ?? 0;
  return signals;
}

function _count(value: unknown): number | undefined {
  return typeof value === "number" && Number.isFinite(value) && value >= 0 ? value : undefined;
}
