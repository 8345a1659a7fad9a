/**
 * Quarantine entries for people (a table, a detailed view) and for machines (one JSON object per
 * entry: `_id` as relaxed Extended JSON, so its type survives, and `id` as the shell writes it).
 *
 * @module
 */

import { BSON, type Document } from "mongodb";
import { describeOrderId } from "../../core/archive/order_id.ts";
import type { QuarantineDocument, ReleasedRecord } from "../../core/archive/quarantine.ts";

/** What the archive holds under a conflicting order's number. */
export interface ArchivedUnderNumber {
  /** The archived order's `_id` (absent in documents of older versions). */
  order_id?: unknown;
  /** When it was archived. */
  archived_at?: Date;
  /** By batch or watch. */
  archived_by?: string;
}

const _DETAIL_WIDTH = 60;

/**
 * The quarantine as a table, oldest first: position, number, `_id`, reason, first seen,
 * attempts, next attempt, detail (cut at 60 characters; `show` gives it whole).
 *
 * @param entries The entries shown.
 * @param options How many match in all, the reason asked for, another title.
 * @returns The title and the table, without a trailing newline.
 */
export function formatEntryTable(
  entries: readonly QuarantineDocument[],
  options: { total: number; reason?: string; title?: string },
): string {
  const what = options.reason ? `quarantined as ${options.reason}` : "in the quarantine";
  if (options.total === 0) {
    return options.reason
      ? `No order is quarantined as ${options.reason}`
      : "The quarantine is empty";
  }
  const title = options.title ??
    (entries.length < options.total
      ? `${_plural(options.total, "order")} ${what}, the oldest ${entries.length} shown (--limit)`
      : `${_plural(options.total, "order")} ${what}`);
  const header = [
    "#",
    "number",
    "_id",
    "reason",
    "first seen",
    "attempts",
    "next attempt",
    "detail",
  ];
  const rows = entries.map((entry, i) => [
    `${i + 1}`,
    entry.numero_commande ?? "-",
    describeOrderId(entry._id),
    entry.reason,
    formatTime(entry.first_seen),
    `${entry.attempts ?? 0}`,
    formatTime(entry.next_attempt),
    _cut(entry.detail ?? "", _DETAIL_WIDTH),
  ]);
  const all = [header, ...rows];
  const widths = header.map((_, column) => Math.max(...all.map((row) => row[column]!.length)));
  const right = new Set([0, 5]);
  const line = (cells: string[]) =>
    `  ${
      cells.map((cell, column) =>
        column === cells.length - 1
          ? cell
          : right.has(column)
          ? cell.padStart(widths[column]!)
          : cell.padEnd(widths[column]!)
      ).join("  ")
    }`.trimEnd();
  return [title, ...all.map(line)].join("\n");
}

/**
 * One entry in full, with, for a conflict, what the archive holds under its number.
 *
 * @param entry The entry.
 * @param options What the archive holds under the number (conflicts), when looked up.
 * @returns Aligned `field  value` lines, without a trailing newline.
 */
export function formatEntry(
  entry: QuarantineDocument,
  options: { archived?: ArchivedUnderNumber | null } = {},
): string {
  const rows: Array<[string, string]> = [
    ["_id", describeOrderId(entry._id)],
    ["number", entry.numero_commande ?? "(none)"],
    ["reason", entry.reason],
    ["detail", entry.detail ?? ""],
    ["first seen", formatTime(entry.first_seen)],
    ["last attempt", formatTime(entry.last_attempt)],
    ["attempts", `${entry.attempts ?? 0}`],
    ["next attempt", formatTime(entry.next_attempt)],
  ];
  if (entry.reason === "conflict") {
    rows.push([
      "conflict with",
      entry.conflict_with === undefined ? "(not recorded)" : describeOrderId(entry.conflict_with),
    ]);
    if (options.archived !== undefined) rows.push(["archived", _archived(entry, options.archived)]);
  }
  const width = Math.max(...rows.map(([name]) => name.length));
  const title = `Order ${entry.numero_commande ?? describeOrderId(entry._id)} in the quarantine`;
  return [title, ...rows.map(([name, value]) => `  ${name.padEnd(width)}  ${value}`)].join("\n");
}

/**
 * An entry as one JSON-ready object.
 *
 * @param entry The entry.
 * @param options What the archive holds under its number (conflicts), when looked up.
 * @returns `{ _id, id, numero_commande, reason, detail, conflict_with?, first_seen, … }`.
 */
export function entryJson(
  entry: QuarantineDocument,
  options: { archived?: ArchivedUnderNumber | null } = {},
): Record<string, unknown> {
  const json: Record<string, unknown> = {
    _id: _ejson(entry._id),
    id: describeOrderId(entry._id),
    numero_commande: entry.numero_commande ?? null,
    reason: entry.reason,
    detail: entry.detail ?? null,
  };
  if (entry.conflict_with !== undefined) json.conflict_with = _ejson(entry.conflict_with);
  Object.assign(json, {
    first_seen: _iso(entry.first_seen),
    last_attempt: _iso(entry.last_attempt),
    attempts: entry.attempts ?? 0,
    next_attempt: _iso(entry.next_attempt),
  });
  if (options.archived !== undefined) {
    json.archived_under_number = options.archived === null ? null : {
      order_id: options.archived.order_id === undefined ? null : _ejson(options.archived.order_id),
      archived_at: _iso(options.archived.archived_at),
      archived_by: options.archived.archived_by ?? null,
    };
  }
  return json;
}

/**
 * How a released order reads in one line: `released on … by …`, with the note.
 *
 * @param record The released record.
 * @returns The words.
 */
export function describeRelease(record: ReleasedRecord): string {
  const note = record.note ? ` (${JSON.stringify(record.note)})` : "";
  return `released on ${formatTime(record.released_at)} by ${record.released_by}${note}`;
}

/**
 * A time as `2025-10-14 10:00:00Z` (UTC, to the second), or `-` when absent.
 *
 * @param time The time.
 * @returns The text.
 */
export function formatTime(time: Date | undefined | null): string {
  if (!(time instanceof Date) || Number.isNaN(time.getTime())) return "-";
  return `${time.toISOString().slice(0, 19).replace("T", " ")}Z`;
}

function _archived(entry: QuarantineDocument, archived: ArchivedUnderNumber | null): string {
  const number = entry.numero_commande ?? "(none)";
  if (archived === null) {
    return `nothing under ${number} now: a retry may archive this order`;
  }
  const order = archived.order_id === undefined
    ? "an order of unknown _id (archived by an older version)"
    : describeOrderId(archived.order_id);
  const by = archived.archived_by ? ` by ${archived.archived_by}` : "";
  return `${number} is archived for ${order} on ${formatTime(archived.archived_at)}${by}`;
}

function _ejson(value: unknown): unknown {
  return BSON.EJSON.serialize({ v: value } as Document, { relaxed: true }).v;
}

function _iso(time: Date | undefined | null): string | null {
  return time instanceof Date ? time.toISOString() : null;
}

function _cut(text: string, width: number): string {
  const line = text.replaceAll(/\s+/g, " ");
  return line.length > width ? `${line.slice(0, width - 1)}…` : line;
}

function _plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? "" : "s"}`;
}
