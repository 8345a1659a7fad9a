/**
 * The settings `archiver purge` reads. Nothing is purged until the operator sets the age
 * (`--older-than`, `ARCHIVER_PURGE_AFTER`): it has no default.
 *
 * @module
 */

import { BSON } from "mongodb";
import { duration, formatDuration, integer, text } from "../../core/runtime/parse.ts";
import { formatTimeWindow, parseTimeWindow } from "../../core/archive/purge_throttle.ts";
import type { SettingsSpec } from "../../core/runtime/settings.ts";
import { archiveExpireAfterSetting, runsExpireAfterSetting } from "../../core/archive/retention.ts";

const _promFile = text({
  pattern: /\.prom$/,
  expected: "a file path ending in .prom (the textfile collectors read only those), or off",
});

// "none" (what --help and .env.example show for an unset value) or empty: not set.
function _none(raw: string): boolean {
  return raw.trim() === "" || raw.trim() === "none";
}

/** Reads `--exclude`: a JSON query (Extended JSON accepted) on the orders, or empty for none. */
function _query(raw: string): string {
  if (_none(raw)) return "";
  let value: unknown;
  try {
    value = BSON.EJSON.parse(raw, { relaxed: false });
  } catch {
    throw new TypeError('a JSON query on the orders, such as {"client_id": {"$oid": "…"}}');
  }
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw new TypeError('a JSON query document (an object), such as {"restaurant_id": 42}');
  }
  return raw.trim();
}

/** The purge's settings. */
export const purgeSettings = {
  olderThan: {
    env: "ARCHIVER_PURGE_AFTER",
    flag: "--older-than <age>",
    description:
      "Purge orders archived at least this long ago (30d, 8760h); no default: nothing is purged until set",
    default: 0,
    parse: (raw: string) => _none(raw) ? 0 : duration({ min: 3_600_000 })(raw),
    format: (value: number) => value === 0 ? "none" : formatDuration(value),
  },
  chunk: {
    env: "ARCHIVER_PURGE_CHUNK",
    flag: "--chunk <n>",
    description: "Orders checked and deleted per chunk (one bulk delete, majority)",
    default: 1000,
    parse: integer({ min: 1, max: 10_000 }),
  },
  exclude: {
    env: "ARCHIVER_PURGE_EXCLUDE",
    flag: "--exclude <json>",
    description: "Never purge the orders this JSON query matches (checked in the delete too)",
    default: "",
    parse: _query,
    format: (value: string) => value || "none",
  },
  legalHoldField: {
    env: "ARCHIVER_LEGAL_HOLD_FIELD",
    flag: "--legal-hold-field <name>",
    description:
      "Orders (or archive documents) with this field true are never purged, whatever the flags",
    default: "legal_hold",
    parse: text({ pattern: /^[A-Za-z_][\w.]*$/, expected: "a field name such as legal_hold" }),
  },
  maxLag: {
    env: "ARCHIVER_PURGE_MAX_LAG",
    flag: "--max-lag <duration>",
    description: "Pause while the secondaries lag by more than this",
    default: 10_000,
    parse: duration({ min: 1000 }),
    format: formatDuration,
  },
  maxRate: {
    env: "ARCHIVER_PURGE_MAX_RATE",
    flag: "--max-rate <n>",
    description: "Orders deleted per second at most (0: no bound)",
    default: 0,
    parse: integer({ min: 0, max: 1_000_000 }),
  },
  window: {
    env: "ARCHIVER_PURGE_WINDOW",
    flag: "--window <HH:MM-HH:MM>",
    description: "Purge only inside this daily window, local time (01:00-05:00); empty: any time",
    default: "",
    parse: (raw: string) => _none(raw) ? "" : formatTimeWindow(parseTimeWindow(raw)),
    format: (value: string) => value || "none",
  },
  runTime: {
    env: "ARCHIVER_PURGE_RUN_TIME",
    flag: "--run-time <duration>",
    description: "Stop after this long, at a chunk's end (0: no bound)",
    default: 0,
    parse: (raw: string) => raw.trim() === "0" ? 0 : duration({ min: 1000 })(raw),
    format: (value: number) => value === 0 ? "0" : formatDuration(value),
  },
  archiveExpireAfter: archiveExpireAfterSetting,
  runsExpireAfter: runsExpireAfterSetting,
  metricsFile: {
    env: "ARCHIVER_PURGE_METRICS_FILE",
    flag: "--metrics-file <path>",
    description: "After each run, write its metrics to this .prom file (textfile collectors)",
    default: "",
    parse: (raw: string) => raw.trim() === "off" ? "" : _promFile(raw),
    format: (value: string) => value || "off",
  },
} as const satisfies SettingsSpec;
