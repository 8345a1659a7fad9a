/**
 * `maxTimeMS` as mongod honours it: an operation still running when its time limit passes
 * fails with MaxTimeMSExpired (50, "operation exceeded time limit"). mongod checks the limit at
 * its interrupt points; the sandbox checks it when the command starts, between the statements of
 * a write command, and when a read's result is complete (its scans are not interrupted midway).
 * The `maxTimeAlwaysTimeOut` fail point makes every operation with a limit time out at its first
 * check, `maxTimeNeverTimeOut` makes limits ignored, as on mongod. A tailable awaitData getMore
 * (change streams) uses `maxTimeMS` as its wait instead, and does not come here.
 *
 * @module
 */

import { type Doc, numericValue } from "../bson_values.ts";
import { CommandError } from "../errors.ts";
import type { CommandContext } from "./state.ts";

const _INT32_MAX = 2 ** 31 - 1;

/**
 * Reads and validates a command's `maxTimeMS`.
 *
 * @param body The command.
 * @returns The limit in milliseconds (0: none).
 */
export function parseMaxTimeMS(body: Doc): number {
  const value = body.maxTimeMS;
  if (value === undefined || value === null) return 0;
  const n = numericValue(value);
  if (n === undefined) throw new CommandError(2, "maxTimeMS must be a number");
  if (!Number.isInteger(n) || n < 0 || n > _INT32_MAX) {
    throw new CommandError(2, `${n} value for maxTimeMS is out of range [0, ${_INT32_MAX}]`);
  }
  return n;
}

/** The time limit of one running command. */
export class Deadline {
  readonly #at: number;
  #alwaysTimeOut: boolean;

  /**
   * @param at When the limit passes (ms since the epoch).
   * @param alwaysTimeOut Whether `maxTimeAlwaysTimeOut` fired for this operation.
   */
  constructor(at: number, alwaysTimeOut: boolean) {
    this.#at = at;
    this.#alwaysTimeOut = alwaysTimeOut;
  }

  /**
   * Fails the operation when its time limit has passed.
   *
   * @throws {CommandError} MaxTimeMSExpired (50).
   */
  check(): void {
    if (this.#alwaysTimeOut || Date.now() > this.#at) {
      this.#alwaysTimeOut = true; // once expired, every later check fails too
      throw new CommandError(50, "operation exceeded time limit");
    }
  }
}

/**
 * Starts the time limit of a command, checking it once.
 *
 * @param ctx The command context.
 * @returns The deadline to check as the command runs, or `undefined` without a limit.
 * @throws {CommandError} MaxTimeMSExpired (50) under `maxTimeAlwaysTimeOut`.
 */
export function startDeadline(ctx: CommandContext): Deadline | undefined {
  const ms = parseMaxTimeMS(ctx.body);
  if (ms === 0) return undefined;
  const override = ctx.state.failPoints.maxTimeOverride();
  if (override === "never") return undefined;
  const deadline = new Deadline(Date.now() + ms, override === "timeOut");
  deadline.check();
  return deadline;
}
