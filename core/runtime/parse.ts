/**
 * Parsers for setting values. Each takes the raw text and returns the typed value or throws a
 * `TypeError` whose message is the expected form ("a positive integer"), which the configuration
 * layer turns into one line naming the setting and the bad value.
 *
 * @module
 */

/** Parses raw text into a value, throwing a `TypeError` that states the expected form. */
export type Parser<T> = (raw: string) => T;

/**
 * An integer parser with optional bounds.
 *
 * @param options Inclusive bounds.
 * @returns A parser of whole numbers written in decimal.
 */
export function integer(options: { min?: number; max?: number } = {}): Parser<number> {
  const { min = Number.MIN_SAFE_INTEGER, max = Number.MAX_SAFE_INTEGER } = options;
  const expected = _rangeText("an integer", min, max);
  return (raw) => {
    const text = raw.trim();
    if (!/^[+-]?\d+$/.test(text)) throw new TypeError(expected);
    const value = Number(text);
    if (!Number.isSafeInteger(value) || value < min || value > max) throw new TypeError(expected);
    return value;
  };
}

/**
 * A decimal number parser with optional bounds.
 *
 * @param options Inclusive bounds.
 * @returns A parser of finite numbers.
 */
export function decimal(options: { min?: number; max?: number } = {}): Parser<number> {
  const { min = -Infinity, max = Infinity } = options;
  const expected = _rangeText("a number", min, max);
  return (raw) => {
    const text = raw.trim();
    if (!/^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i.test(text)) throw new TypeError(expected);
    const value = Number(text);
    if (!Number.isFinite(value) || value < min || value > max) throw new TypeError(expected);
    return value;
  };
}

/**
 * A parser that accepts one of a fixed list of words, in any case (`INFO` is `info`: level names
 * are written upper case in logs and in other tools' settings).
 *
 * @param choices The accepted values.
 * @returns A parser returning the matched choice.
 */
export function oneOf<const T extends string>(choices: readonly T[]): Parser<T> {
  return (raw) => {
    const text = raw.trim().toLowerCase();
    const found = choices.find((choice) => choice.toLowerCase() === text);
    if (found === undefined) throw new TypeError(`one of ${choices.join(", ")}`);
    return found;
  };
}

/**
 * A parser of non-empty text, optionally constrained by a pattern.
 *
 * @param options A pattern the text must match and how to describe it.
 * @returns A parser returning the trimmed text.
 */
export function text(options: { pattern?: RegExp; expected?: string } = {}): Parser<string> {
  const expected = options.expected ?? "a non-empty value";
  return (raw) => {
    const value = raw.trim();
    if (value === "" || (options.pattern && !options.pattern.test(value))) {
      throw new TypeError(expected);
    }
    return value;
  };
}

/** Parses `true/false/yes/no/1/0/on/off`. */
export const boolean: Parser<boolean> = (raw: string): boolean => {
  const value = raw.trim().toLowerCase();
  if (["true", "yes", "1", "on"].includes(value)) return true;
  if (["false", "no", "0", "off"].includes(value)) return false;
  throw new TypeError("true or false");
};

const DURATION_UNITS: Record<string, number> = {
  ms: 1,
  s: 1_000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
};

/**
 * Parses a duration such as `500ms`, `30s`, `10m`, `1h` or `7d` into milliseconds.
 *
 * @param raw The text to parse.
 * @returns The duration in milliseconds.
 * @example
 * ```ts
 * parseDuration("90s"); // 90000
 * ```
 */
export function parseDuration(raw: string): number {
  const match = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)$/i.exec(raw.trim());
  const unit = match?.[2]?.toLowerCase();
  if (!match || !unit) throw new TypeError("a duration such as 500ms, 30s, 10m, 1h or 7d");
  return Math.round(Number(match[1]) * DURATION_UNITS[unit]!);
}

/**
 * A duration parser with optional bounds, in milliseconds.
 *
 * @param options Inclusive bounds in milliseconds.
 * @returns A parser returning milliseconds.
 */
export function duration(options: { min?: number } = {}): Parser<number> {
  const { min = 0 } = options;
  return (raw) => {
    const value = parseDuration(raw);
    if (value < min) throw new TypeError(`a duration of at least ${formatDuration(min)}`);
    return value;
  };
}

const SIZE_UNITS: Record<string, number> = {
  b: 1,
  kb: 1024,
  mb: 1024 ** 2,
  gb: 1024 ** 3,
};

/**
 * Parses a size such as `512KB`, `10MB`, `1GB` or a plain number of bytes.
 *
 * @param raw The text to parse.
 * @returns The size in bytes.
 */
export function parseSize(raw: string): number {
  const match = /^(\d+(?:\.\d+)?)\s*(b|kb|mb|gb)?$/i.exec(raw.trim());
  if (!match || Number(match[1]) <= 0) throw new TypeError("a size such as 512KB, 10MB or 1GB");
  return Math.round(Number(match[1]) * SIZE_UNITS[(match[2] ?? "b").toLowerCase()]!);
}

/**
 * Formats a size in bytes the way `parseSize` reads it (`10MB`, `512KB`).
 *
 * @param bytes A size in bytes.
 * @returns The largest exact unit form.
 */
export function formatSize(bytes: number): string {
  for (const unit of ["gb", "mb", "kb"] as const) {
    const size = SIZE_UNITS[unit]!;
    if (bytes >= size && bytes % size === 0) return `${bytes / size}${unit.toUpperCase()}`;
  }
  return `${bytes}`;
}

/**
 * Formats milliseconds the way durations are written in flags (`90s`, `10m`, `2h`).
 *
 * @param ms A duration in milliseconds.
 * @returns The shortest exact unit form.
 */
export function formatDuration(ms: number): string {
  for (const unit of ["d", "h", "m", "s"] as const) {
    const size = DURATION_UNITS[unit]!;
    if (ms >= size && ms % size === 0) return `${ms / size}${unit}`;
  }
  return `${ms}ms`;
}

function _rangeText(noun: string, min: number, max: number): string {
  const hasMin = Number.isFinite(min) && min > Number.MIN_SAFE_INTEGER;
  const hasMax = Number.isFinite(max) && max < Number.MAX_SAFE_INTEGER;
  if (noun === "an integer" && min === 1 && !hasMax) return "a positive integer";
  if (noun === "an integer" && min === 0 && !hasMax) return "a non-negative integer";
  if (hasMin && hasMax) return `${noun} from ${min} to ${max}`;
  if (hasMin) return `${noun} of at least ${min}`;
  if (hasMax) return `${noun} of at most ${max}`;
  return noun;
}
