/**
 * The flags the `archiver quarantine` subcommands share, checked before anything runs: a bad one
 * is one line and exit 2, with nothing written, not even a log file.
 *
 * @module
 */

import { QUARANTINE_REASONS, type QuarantineReason } from "../../core/archive/quarantine.ts";
import { ConfigError } from "../../core/runtime/errors.ts";
import { integer } from "../../core/runtime/parse.ts";

/**
 * Reads `--reason`.
 *
 * @param raw The flag's value, if given.
 * @returns The reason, or undefined when not given.
 * @throws {ConfigError} When it is not one of the reasons.
 */
export function reasonFlag(raw: string | undefined): QuarantineReason | undefined {
  if (raw === undefined) return undefined;
  const reason = QUARANTINE_REASONS.find((r) => r === raw.trim());
  if (!reason) {
    throw new ConfigError(
      `Invalid --reason ${JSON.stringify(raw)}: expected one of ${QUARANTINE_REASONS.join(", ")}`,
    );
  }
  return reason;
}

/**
 * Reads `--limit`.
 *
 * @param raw The flag's value, if given.
 * @param fallback The default.
 * @returns The bound, from 1 to 100000.
 * @throws {ConfigError} When it is not such a whole number.
 */
export function limitFlag(raw: string | undefined, fallback: number): number {
  if (raw === undefined) return fallback;
  try {
    return integer({ min: 1, max: 100_000 })(raw);
  } catch (error) {
    throw new ConfigError(
      `Invalid --limit ${JSON.stringify(raw)}: expected ${(error as Error).message}`,
    );
  }
}
