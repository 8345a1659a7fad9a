/**
 * The watcher's position in the stream, and its saved copy. The position lives in memory — the
 * last acknowledged event's token, the stream's token while idle, or the catch-up's start time —
 * and every reopen resumes from it, whatever the saved token says: a save that keeps failing (a
 * full disk, a read-only token folder) or a token lost to the oplog never sends the watcher back
 * to an old point. The saved token is what a restart uses; it is written after each acknowledged
 * micro-batch and every idle interval, always with its cluster time, fenced under `--ha`.
 *
 * @module
 */

import type { Logger } from "@logtape/logtape";
import { type Document, Timestamp } from "mongodb";
import { describeError } from "../../core/mongo/errors.ts";
import {
  CorruptTokenError,
  FencedTokenError,
  type SavedToken,
  type TokenStore,
} from "../../core/stream/token_store.ts";
import type { WatchMetricsRecorder } from "../../core/stream/metrics.ts";
import { type HaController, LeaseLostError } from "./ha.ts";
import type { WatchFigures } from "./figures.ts";
import type { WatchPlan } from "./start_plan.ts";

/** Where the watcher is in the stream. */
export type StreamPosition =
  | { kind: "token"; token: Document; clusterTime: Timestamp | null }
  | { kind: "time"; time: Timestamp };

/**
 * The cluster time a resume token points at: its `_data` is MongoDB's KeyString encoding, which
 * begins with the Timestamp type byte (130, `0x82`) and the timestamp's 8 bytes, seconds then
 * increment, big-endian.
 *
 * @param token A resume token (`{ _data: "82…" }`).
 * @returns Its cluster time, or `null` when it is not in that form.
 */
export function resumeTokenTime(token: Document | undefined | null): Timestamp | null {
  const data = token?._data;
  if (typeof data !== "string") return null;
  const match = /^82([0-9a-f]{8})([0-9a-f]{8})/i.exec(data);
  if (!match) return null;
  return new Timestamp({ t: parseInt(match[1]!, 16), i: parseInt(match[2]!, 16) });
}

/** Options of {@link TokenSaver}. */
export interface TokenSaverOptions {
  /** `<db>.<collection>` of the stream. */
  namespace: string;
  /** Where loads and save failures are logged. */
  log: Logger;
  /** Where save failures are counted. */
  figures: WatchFigures;
  /** Told when a token is saved. */
  prom: Pick<WatchMetricsRecorder, "tokenSaved">;
  /** How often an idle watcher saves its stream's token, in ms. */
  idleSaveMs: number;
  /** `--ha`: the lease controller, whose epoch fences every save. */
  ha?: () => HaController | undefined;
  /** The signal of the current term: a save after it ended is dropped. */
  signal: () => AbortSignal;
}

/** The watcher's in-memory position and saved token. */
export class TokenSaver {
  readonly #store: TokenStore;
  readonly #options: TokenSaverOptions;
  #saved: SavedToken | undefined;
  #position: StreamPosition | undefined;
  #failing = false;

  /**
   * A saver on a store.
   *
   * @param store Where the token is saved.
   * @param options Namespace, logger, figures, idle interval, `--ha`.
   */
  constructor(store: TokenStore, options: TokenSaverOptions) {
    this.#store = store;
    this.#options = options;
  }

  /** The last token saved or loaded (what a restart resumes from). */
  get saved(): SavedToken | undefined {
    return this.#saved;
  }

  /** Where the watcher is, in memory. */
  get position(): StreamPosition | undefined {
    return this.#position;
  }

  /**
   * Loads the saved token and makes it the position when usable: not corrupt, of this namespace,
   * and not ahead of the server's cluster time (a restored cluster, another deployment with the
   * same names). An unusable token is reported in one WARNING line.
   *
   * @param serverTime The server's cluster time now.
   * @returns The usable token, or `undefined`.
   */
  async load(serverTime: Timestamp): Promise<SavedToken | undefined> {
    const { log, namespace } = this.#options;
    this.#saved = undefined;
    this.#position = undefined;
    let saved: SavedToken | undefined;
    try {
      saved = await this.#store.load();
    } catch (error) {
      const reason = error instanceof CorruptTokenError ? error.message : describeError(error);
      log.warn(`⚠️ Could not load resume token: ${reason}; catching up instead`);
      return undefined;
    }
    if (!saved) return undefined;
    if (saved.namespace !== namespace) {
      log.warn(
        `⚠️ Could not load resume token: ${this.#store.description} belongs to ${saved.namespace}, not ${namespace}; catching up instead`,
      );
      return undefined;
    }
    const time = saved.clusterTime ?? resumeTokenTime(saved.token);
    if (time && time.greaterThan(serverTime)) {
      log.warn(
        `⚠️ The resume token in ${this.#store.description} is ahead of the server (its cluster time ${
          _describe(time)
        }, the server's ${
          _describe(serverTime)
        }): a token of a restored or another deployment; catching up instead`,
      );
      return undefined;
    }
    this.#saved = saved;
    this.#position = { kind: "token", token: saved.token, clusterTime: time };
    this.#options.prom.tokenSaved(saved.savedAt);
    return saved;
  }

  /**
   * Where to reopen the stream: the in-memory position.
   *
   * @returns The plan, or `undefined` before the watcher has a position (keep the start plan).
   */
  resumePlan(): WatchPlan | undefined {
    const position = this.#position;
    if (!position) return undefined;
    return position.kind === "token"
      ? { kind: "resume", token: position.token }
      : { kind: "from-time", time: position.time };
  }

  /**
   * The catch-up started at this cluster time: the stream opens from it.
   *
   * @param time The cluster time noted before the catch-up.
   */
  caughtUpFrom(time: Timestamp): void {
    this.#position = { kind: "time", time };
  }

  /** The position cannot be resumed from (history lost): the next start is a catch-up. */
  forget(): void {
    this.#position = undefined;
  }

  /**
   * A micro-batch was acknowledged: moves the position past it and saves the token.
   *
   * @param token The last event's token.
   * @param clusterTime The last event's cluster time.
   */
  async acknowledge(token: Document, clusterTime: Timestamp | null): Promise<void> {
    if (this.#options.signal().aborted && this.#options.ha?.()) return; // the term ended
    const time = clusterTime ?? resumeTokenTime(token);
    this.#position = { kind: "token", token, clusterTime: time };
    await this.#save(token, time);
  }

  /**
   * The stream is idle with nothing unprocessed: its post-batch token becomes the position, and
   * is saved once per idle interval.
   *
   * @param token The stream's resume token.
   */
  async idle(token: Document | undefined): Promise<void> {
    if (!token) return;
    if (this.#options.signal().aborted && this.#options.ha?.()) return;
    const time = resumeTokenTime(token);
    this.#position = { kind: "token", token, clusterTime: time };
    const saved = this.#saved;
    if (saved && Date.now() - saved.savedAt.getTime() < this.#options.idleSaveMs) return;
    await this.#save(token, time);
  }

  async #save(token: Document, clusterTime: Timestamp | null): Promise<void> {
    const { log, figures } = this.#options;
    if (this.#saved && JSON.stringify(this.#saved.token) === JSON.stringify(token)) return;
    const ha = this.#options.ha?.();
    const saved: SavedToken = {
      token,
      clusterTime,
      savedAt: new Date(),
      namespace: this.#options.namespace,
    };
    try {
      await this.#store.save(saved, ha ? { fence: ha.fence() } : undefined);
    } catch (error) {
      if (ha && (error instanceof FencedTokenError || error instanceof LeaseLostError)) {
        ha.lost(`token not saved: ${error.message}`);
        return;
      }
      figures.tokenSaveError();
      if (!this.#failing) {
        log.error(
          `❌ Could not save resume token to ${this.#store.description}: ${describeError(error)}`,
        );
      }
      this.#failing = true;
      return;
    }
    if (this.#failing) log.info(`Resume token saved again to ${this.#store.description}`);
    this.#failing = false;
    this.#saved = saved;
    this.#options.prom.tokenSaved(saved.savedAt);
  }
}

function _describe(time: Timestamp): string {
  const t = time.getHighBitsUnsigned();
  return `${new Date(t * 1000).toISOString()} (${t}, ${time.getLowBitsUnsigned()})`;
}
