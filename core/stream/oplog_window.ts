/**
 * The oplog window and the resume headroom, read as MongoDB exposes them: the first and last
 * entries of `local.oplog.rs` in natural order (what mongosh's `db.getReplicationInfo()` reads).
 * The window is the newest entry's time minus the oldest's — projected, while the oplog is not
 * yet full, from how much of its maximum size the span fills (`collStats`' `size` and `maxSize`,
 * as mongosh's `getReplicationInfo()` reads them), since no entry is dropped before it is full;
 * the headroom is the window minus the age of the saved token (the newest entry's time minus the
 * token's cluster time), that is how long before the token falls out of the oplog at the
 * current write rate. While the oplog is not full (under {@link OPLOG_FULL_FILL} of its maximum
 * size) no entry has been dropped: the token cannot leave it before it fills, and a young oplog's
 * projection (from a rate its first burst of writes dominates) is no ground for an alarm — the
 * headroom is not judged until the oplog is full. Server times only,
 * never the host's clock. Reading `local` needs the `clusterMonitor` role (or a read on the
 * `local` database); without it the figures are unknown and nothing fails.
 *
 * @module
 */

import type { MongoClient, Timestamp } from "mongodb";

/**
 * The share of its maximum size from which the oplog is full: entries are being dropped and its
 * window is its capacity. A little under 1, since WiredTiger truncates a full oplog in steps and
 * reads a little under its maximum between them.
 */
export const OPLOG_FULL_FILL = 0.9;

/** What is said when the oplog cannot be read for want of the privilege. */
export const OPLOG_PRIVILEGE_MESSAGE = "unknown (needs read on local: clusterMonitor role)";

/** The oplog's first and last entries. */
export interface OplogWindow {
  /** Cluster time of the oldest entry. */
  first: Timestamp;
  /** Cluster time of the newest entry. */
  last: Timestamp;
  /** Wall time of the oldest entry, if recorded. */
  firstWall: Date | null;
  /** Wall time of the newest entry, if recorded. */
  lastWall: Date | null;
  /**
   * The window, in seconds: newest minus oldest, scaled by `maxSize / size` while the oplog is
   * not full.
   */
  windowSeconds: number;
  /** The span between the oldest and newest entries, in seconds. */
  spanSeconds: number;
  /** The share of its maximum size the oplog uses (1 when full or unknown). */
  fill: number;
}

/** What reading the window gave. */
export type OplogWindowRead =
  | { kind: "ok"; window: OplogWindow }
  | { kind: "unauthorized"; message: string }
  | { kind: "empty" };

/** The headroom figures: the one computation the watcher's gauges and health both show. */
export interface Headroom {
  /** The oplog window, in seconds (projected while the oplog is not full). */
  windowSeconds: number;
  /** The token's age against the newest entry, in seconds (null without a token time). */
  tokenAgeSeconds: number | null;
  /**
   * Window minus token age, in seconds (negative: fallen out); null without a token time, and
   * while the oplog is not full (nothing dropped yet: no headroom to judge).
   */
  headroomSeconds: number | null;
  /** The share of its maximum size the oplog uses (1 when full or unknown). */
  fill: number;
  /** Whether the oplog is full (at least {@link OPLOG_FULL_FILL}): only then is the headroom judged. */
  full: boolean;
}

/** The headroom's level against the thresholds. */
export type HeadroomLevel = "ok" | "warning" | "critical";

/**
 * Whether an error is MongoDB's refusal for want of a privilege (code 13, Unauthorized).
 *
 * @param error The error.
 * @returns True for Unauthorized.
 */
export function isUnauthorized(error: unknown): boolean {
  return typeof error === "object" && error !== null && (error as { code?: unknown }).code === 13;
}

/**
 * Reads the oplog's first and last entries (projected to `ts` and `wall`).
 *
 * @param client A connected client.
 * @param options The server-side time limit per query.
 * @returns The window, `unauthorized` without the privilege, or `empty`.
 * @throws Any other error (unreachable server…).
 */
export async function readOplogWindow(
  client: MongoClient,
  options: { maxTimeMs?: number } = {},
): Promise<OplogWindowRead> {
  const oplog = client.db("local").collection("oplog.rs");
  const edge = (natural: 1 | -1) =>
    oplog.find({}, {
      sort: { $natural: natural },
      limit: 1,
      projection: { _id: 0, ts: 1, wall: 1 },
      ...(options.maxTimeMs ? { maxTimeMS: options.maxTimeMs } : {}),
    }).next();
  let first, last;
  try {
    [first, last] = await Promise.all([edge(1), edge(-1)]);
  } catch (error) {
    if (isUnauthorized(error)) return { kind: "unauthorized", message: OPLOG_PRIVILEGE_MESSAGE };
    throw error;
  }
  if (!first || !last || !_isTimestamp(first.ts) || !_isTimestamp(last.ts)) {
    return { kind: "empty" };
  }
  const spanSeconds = Math.max(0, last.ts.getHighBitsUnsigned() - first.ts.getHighBitsUnsigned());
  const fill = await _fill(client, options.maxTimeMs);
  return {
    kind: "ok",
    window: {
      first: first.ts,
      last: last.ts,
      firstWall: first.wall instanceof Date ? first.wall : null,
      lastWall: last.wall instanceof Date ? last.wall : null,
      spanSeconds,
      fill,
      windowSeconds: Math.round(spanSeconds / fill),
    },
  };
}

/**
 * How full the oplog is, from `collStats` (`size` ÷ `maxSize`); 1 (full, no projection) when the
 * server does not say, so the window is never overstated.
 */
async function _fill(client: MongoClient, maxTimeMs: number | undefined): Promise<number> {
  try {
    const stats = await client.db("local").command({
      collStats: "oplog.rs",
      ...(maxTimeMs ? { maxTimeMS: maxTimeMs } : {}),
    });
    const size = Number(stats.size);
    const maxSize = Number(stats.maxSize);
    if (!(size > 0) || !(maxSize > 0)) return 1;
    // At least a thousandth: a near-empty oplog projects to a thousand times its span, no more.
    return Math.min(1, Math.max(0.001, size / maxSize));
  } catch {
    return 1;
  }
}

/**
 * The resume headroom: the window minus the token's age against the newest entry.
 *
 * @param window The newest entry and the window.
 * @param tokenTime The saved token's cluster time.
 * @returns The figures (the headroom null without a token time, or while the oplog is not full).
 */
export function resumeHeadroom(
  window: { last: Timestamp; windowSeconds: number; fill?: number },
  tokenTime: Timestamp | null,
): Headroom {
  const last = window.last.getHighBitsUnsigned();
  const windowSeconds = window.windowSeconds;
  const fill = window.fill ?? 1;
  const full = fill >= OPLOG_FULL_FILL;
  if (!tokenTime) {
    return { windowSeconds, tokenAgeSeconds: null, headroomSeconds: null, fill, full };
  }
  const tokenAgeSeconds = Math.max(0, last - tokenTime.getHighBitsUnsigned());
  const headroomSeconds = full ? windowSeconds - tokenAgeSeconds : null;
  return { windowSeconds, tokenAgeSeconds, headroomSeconds, fill, full };
}

/**
 * The level of a headroom: critical under the critical threshold, warning under the warning one.
 *
 * @param headroomSeconds The headroom.
 * @param limits The thresholds, in seconds.
 * @returns The level.
 */
export function headroomLevel(
  headroomSeconds: number,
  limits: { warningSeconds: number; criticalSeconds: number },
): HeadroomLevel {
  if (headroomSeconds < limits.criticalSeconds) return "critical";
  if (headroomSeconds < limits.warningSeconds) return "warning";
  return "ok";
}

function _isTimestamp(value: unknown): value is Timestamp {
  return typeof value === "object" && value !== null &&
    (value as { _bsontype?: unknown })._bsontype === "Timestamp";
}
