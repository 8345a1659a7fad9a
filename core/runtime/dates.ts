/**
 * Date bounds as operators write them: an ISO date or date-time, `today`, `yesterday`, or a
 * duration back from now (`7d`, `12h`, `30m`). A bare date or a named day means the whole day, in
 * the machine's local time: `--date-from 2025-10-01 --date-to 2025-10-31` covers October.
 *
 * @module
 */

import { parseDuration } from "./parse.ts";

/** A parsed bound: the instant a day or time starts, and where the day it names ends. */
export interface DateBound {
  /** Where the bound starts: used as an inclusive lower bound. */
  start: Date;
  /** Where it ends: the next midnight for a day, else the same instant (an exclusive upper bound). */
  end: Date;
}

const FORM = "an ISO date (2025-10-16), date-time (2025-10-16T08:00:00Z), today, yesterday, " +
  "or a duration back from now (7d, 12h, 30m)";

/**
 * Parses a date bound.
 *
 * @param raw What the operator wrote.
 * @param now The current time. @default new Date()
 * @returns The bound's start and end.
 * @throws {TypeError} With the expected forms, when `raw` is none of them.
 */
export function parseDateBound(raw: string, now: Date = new Date()): DateBound {
  const text = raw.trim().toLowerCase();
  if (text === "today" || text === "yesterday") {
    const day = new Date(now.getFullYear(), now.getMonth(), now.getDate());
    if (text === "yesterday") day.setDate(day.getDate() - 1);
    return _wholeDay(day);
  }
  if (/^\d+(\.\d+)?\s*(ms|s|m|h|d)$/.test(text)) {
    const at = new Date(now.getTime() - parseDuration(text));
    return { start: at, end: at };
  }
  const day = /^(\d{4})-(\d{2})-(\d{2})$/.exec(text);
  if (day) {
    const [year, month, date] = [Number(day[1]), Number(day[2]), Number(day[3])];
    if (month < 1 || month > 12) throw new TypeError(`${FORM}; month must be 1-12`);
    const local = new Date(year, month - 1, date);
    if (local.getDate() !== date) throw new TypeError(`${FORM}; day ${date} is not in that month`);
    return _wholeDay(local);
  }
  if (/^\d{4}-\d{2}-\d{2}t\d{2}:\d{2}(:\d{2}(\.\d+)?)?(z|[+-]\d{2}:?\d{2})?$/.test(text)) {
    const at = new Date(raw.trim());
    if (!Number.isNaN(at.getTime())) return { start: at, end: at };
  }
  throw new TypeError(FORM);
}

function _wholeDay(day: Date): DateBound {
  const next = new Date(day);
  next.setDate(next.getDate() + 1);
  return { start: day, end: next };
}
