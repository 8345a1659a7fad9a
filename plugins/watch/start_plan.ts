/**
 * Where the watcher starts: pure, from the flags and the saved token. A usable saved token always
 * wins — the watcher resumes exactly where it stopped, whatever `--catch-up-since` says, so an
 * order delivered while it was down is never skipped for its date. `--catch-up-since` only bounds
 * the catch-up when there is no usable token (first start, a lost, foreign or unusable token);
 * `--from-now` skips both.
 *
 * @module
 */

import type { Document, Timestamp } from "mongodb";
import { parseDateBound } from "../../core/runtime/dates.ts";
import { ConfigError } from "../../core/runtime/errors.ts";
import type { SavedToken } from "../../core/stream/token_store.ts";

/** What the watcher does before streaming. */
export type WatchPlan =
  | { kind: "catch-up"; since?: Date }
  | { kind: "resume"; token: Document }
  | { kind: "from-time"; time: Timestamp }
  | { kind: "now" };

/** The flags that choose where the watcher starts. */
export interface StartFlags {
  /** `--catch-up-since`, as typed. */
  catchUpSince?: string;
  /** `--from-now`. */
  fromNow?: boolean;
}

/**
 * Checks the start flags before the command starts, so a bad one writes nothing.
 *
 * @param flags The command's flags.
 * @returns Where the catch-up starts when `--catch-up-since` is given.
 * @throws {ConfigError} On a bad date or conflicting flags.
 */
export function planWatch(flags: StartFlags): Date | undefined {
  let catchUpSince: Date | undefined;
  if (flags.catchUpSince !== undefined) {
    try {
      catchUpSince = parseDateBound(flags.catchUpSince).start;
    } catch (error) {
      throw new ConfigError(
        `Invalid --catch-up-since ${JSON.stringify(flags.catchUpSince)}: expected ${
          (error as Error).message
        }`,
      );
    }
  }
  if (flags.fromNow && catchUpSince) {
    throw new ConfigError("Choose one of --from-now and --catch-up-since");
  }
  return catchUpSince;
}

/** The start plan and the line that says it. */
export interface StartPlan {
  /** What to do. */
  plan: WatchPlan;
  /** One INFO line saying truthfully which start this is. */
  message: string;
}

/**
 * Chooses the start: `--from-now`, else the usable saved token, else a catch-up (bounded by
 * `--catch-up-since` when given).
 *
 * @param saved The usable saved token, if any (`undefined` when none, lost, foreign or unusable).
 * @param flags `--from-now` and the parsed `--catch-up-since`.
 * @returns The plan and its log line.
 */
export function startPlan(
  saved: SavedToken | undefined,
  flags: { fromNow?: boolean; catchUpSince?: Date },
): StartPlan {
  if (flags.fromNow) {
    return {
      plan: { kind: "now" },
      message: "Streaming from now (--from-now): no catch-up, the saved token is not used",
    };
  }
  if (saved) {
    const since = flags.catchUpSince
      ? `; --catch-up-since ${flags.catchUpSince.toISOString()} not used: the token covers the time the watcher was stopped`
      : "";
    return {
      plan: { kind: "resume", token: saved.token },
      message: `Resuming after the token saved at ${saved.savedAt.toISOString()}${since}`,
    };
  }
  if (flags.catchUpSince) {
    return {
      plan: { kind: "catch-up", since: flags.catchUpSince },
      message:
        `No saved resume token: catching up on delivered orders delivered since ${flags.catchUpSince.toISOString()}`,
    };
  }
  return {
    plan: { kind: "catch-up" },
    message: "No saved resume token: catching up on every delivered order not yet archived",
  };
}
