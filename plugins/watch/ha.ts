/**
 * `watch --ha`: the lease controller. A standby tries to take the lease on a timer; once it
 * holds it, it fences the token store with its epoch and hands the watcher a signal for its
 * active term. While active it renews the lease on a timer; when a renewal is refused (another
 * holder, a wiped lease) or none succeeded before the renewal deadline (the lease time minus a
 * margin, counted on this process's monotonic clock from when the last successful renewal was
 * sent), it aborts the term: the watcher closes its stream and drops the micro-batch in flight
 * without saving its token, before the lease can end, and waits as standby again. The lease's
 * own times are all the server's (core/stream/lease.ts).
 *
 * @module
 */

import type { Logger } from "@logtape/logtape";
import { Gauge, type Registry } from "prom-client";
import type { Lease, LeaseDocument } from "../../core/stream/lease.ts";
import { describeError } from "../../core/mongo/errors.ts";
import { sleep } from "../../core/runtime/retry.ts";
import type { MongoTokenStore } from "../../core/stream/token_store.ts";
import type { WatchRole } from "../../core/stream/watch_status.ts";

/** A token save attempted after the renewal deadline passed: the lease may be someone else's. */
export class LeaseLostError extends Error {
  /**
   * Creates the error.
   *
   * @param message Why the lease is lost.
   */
  constructor(message: string) {
    super(message);
    this.name = "LeaseLostError";
  }
}

/** Options of {@link HaController}. */
export interface HaOptions {
  /** Where the role changes are logged. */
  log: Logger;
  /** The registry the `archiver_watch_role` gauge goes to, when metrics are served. */
  registry?: Registry;
  /** Counts a failed lease read or write as a connection error. */
  onError?: (error: unknown) => void;
}

/** The lease as the watcher uses it: standby, active terms, fencing, readiness. */
export class HaController {
  readonly #lease: Lease;
  readonly #store: MongoTokenStore;
  readonly #log: Logger;
  readonly #onError: (error: unknown) => void;
  readonly #gauge: Gauge<"role"> | undefined;
  #role: WatchRole = "standby";
  #term: AbortController | undefined;
  #deadline = 0; // performance.now() after which this holder must not act on its lease
  #timer: ReturnType<typeof setTimeout> | undefined;
  #lastLeaseRead = -Infinity; // performance.now() of the last successful lease command

  /**
   * A controller for one watcher.
   *
   * @param lease The lease on the watched namespace.
   * @param store The shared token store, fenced with each new epoch.
   * @param options Logger, metrics registry, error counter.
   */
  constructor(lease: Lease, store: MongoTokenStore, options: HaOptions) {
    this.#lease = lease;
    this.#store = store;
    this.#log = options.log;
    this.#onError = options.onError ?? (() => {});
    if (options.registry) {
      this.#gauge = new Gauge({
        name: "archiver_watch_role",
        help: "watch --ha role: 1 for the current role (active holds the lease), 0 for the other",
        labelNames: ["role"] as const,
        registers: [options.registry],
      });
    }
    this.#setRole("standby");
  }

  /** `active` while holding the lease, `standby` otherwise. */
  get role(): WatchRole {
    return this.#role;
  }

  /** The epoch held, or `null` in standby. */
  get epoch(): number | null {
    return this.#role === "active" ? this.#lease.epoch ?? null : null;
  }

  /**
   * Whether a standby can take over: its last lease command succeeded within two attempts.
   *
   * @returns True when the lease was read or written recently.
   */
  canTakeOver(): boolean {
    return performance.now() - this.#lastLeaseRead < 2 * this.#pollMs() + 1_000;
  }

  /**
   * Waits as standby, trying to take the lease on a timer, until it is taken.
   *
   * @param signal The watcher's stop signal.
   * @returns The signal of the active term (aborted when the lease is lost or the watcher
   *   stops), or `undefined` when the watcher stopped first.
   */
  async standby(signal: AbortSignal): Promise<AbortSignal | undefined> {
    this.#setRole("standby");
    let waiting = false;
    while (!signal.aborted) {
      let taken: LeaseDocument | undefined;
      const sent = performance.now();
      try {
        taken = await this.#lease.acquire();
        this.#lastLeaseRead = performance.now();
        if (taken) await this.#store.fence(taken.epoch);
      } catch (error) {
        if (signal.aborted) return undefined;
        this.#lease.drop();
        taken = undefined;
        this.#onError(error);
        this.#log.warn(`⚠️ Could not take the lease: ${describeError(error)}`);
      }
      if (taken) {
        this.#deadline = sent + this.#lease.timings.ttlMs - this.#lease.timings.marginMs;
        const term = new AbortController();
        this.#term = term;
        signal.addEventListener("abort", () => term.abort(signal.reason), { once: true });
        this.#setRole("active");
        this.#log.info(`✅ Lease taken (epoch ${taken.epoch}): archiving as the active watcher`, {
          lease_epoch: taken.epoch,
          holder: this.#lease.holder,
        });
        this.#scheduleRenewal();
        return term.signal;
      }
      if (!waiting) {
        this.#log.info("Standby: another watcher holds the lease; waiting to take over");
        waiting = true;
      }
      try {
        await sleep(this.#pollMs(), signal);
      } catch {
        return undefined;
      }
    }
    return undefined;
  }

  /**
   * The fence of a token save, checked at the moment of saving.
   *
   * @returns The epoch held.
   * @throws {LeaseLostError} When the renewal deadline passed or the lease is lost; the term is
   *   aborted.
   */
  fence(): { epoch: number } {
    const epoch = this.#lease.epoch;
    if (this.#role !== "active" || epoch === undefined) {
      throw new LeaseLostError("The lease is not held");
    }
    if (performance.now() >= this.#deadline) {
      const message = "The lease was not renewed before its deadline";
      this.lost(message);
      throw new LeaseLostError(message);
    }
    return { epoch };
  }

  /**
   * Ends the active term: the lease is (or may be) someone else's.
   *
   * @param reason Why, for the log.
   * @param epoch The epoch that was held.
   */
  lost(reason: string, epoch = this.#lease.epoch): void {
    if (this.#role !== "active") return;
    clearTimeout(this.#timer);
    this.#lease.drop();
    this.#setRole("standby");
    this.#log.warn(`⚠️ Lease lost (epoch ${epoch}): ${reason}; stopping, then standby`, {
      lease_epoch: epoch ?? null,
    });
    this.#term?.abort(new LeaseLostError(reason));
  }

  /** Gives the lease up on a clean stop, so a standby takes over at once. */
  async release(): Promise<void> {
    clearTimeout(this.#timer);
    if (this.#role !== "active") return;
    this.#setRole("standby");
    try {
      await this.#lease.release();
      this.#log.info("Lease released");
    } catch (error) {
      this.#log.warn(`⚠️ Could not release the lease: ${describeError(error)}; it expires`);
    }
  }

  #pollMs(): number {
    return Math.min(this.#lease.timings.renewMs, 3_000);
  }

  #scheduleRenewal(): void {
    clearTimeout(this.#timer);
    // Renew on the interval, and wake at the deadline at the latest to give the lease up.
    const untilDeadline = Math.max(0, this.#deadline - performance.now());
    const wait = Math.min(this.#lease.timings.renewMs, untilDeadline);
    this.#timer = setTimeout(() => void this.#renew(), wait);
  }

  async #renew(): Promise<void> {
    if (this.#role !== "active") return;
    if (performance.now() >= this.#deadline) {
      this.lost("no renewal succeeded before the renewal deadline");
      return;
    }
    const sent = performance.now();
    const epoch = this.#lease.epoch;
    try {
      const renewed = await this.#lease.renew();
      if (this.#role !== "active") return;
      this.#lastLeaseRead = performance.now();
      if (!renewed) {
        this.lost("another watcher holds it, or the lease document is gone", epoch);
        return;
      }
      this.#deadline = sent + this.#lease.timings.ttlMs - this.#lease.timings.marginMs;
    } catch (error) {
      if (this.#role !== "active") return;
      this.#onError(error);
      this.#log.warn(`⚠️ Could not renew the lease: ${describeError(error)}; retrying`);
    }
    this.#scheduleRenewal();
  }

  #setRole(role: WatchRole): void {
    this.#role = role;
    this.#gauge?.set({ role: "active" }, role === "active" ? 1 : 0);
    this.#gauge?.set({ role: "standby" }, role === "standby" ? 1 : 0);
  }
}
