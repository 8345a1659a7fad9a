/**
 * `archiver health --only CHECK…` and `--skip CHECK…`: which checks a run makes, by the names of
 * the table (`watcher`, `resume_token`, …). An unknown name stops the run before anything, with
 * the nearest known one (UNKNOWN 3, as every bad setting of health).
 *
 * @module
 */

import { closestName } from "../../core/runtime/closest_name.ts";
import { ConfigError } from "../../core/runtime/errors.ts";

/**
 * The checks a run makes.
 *
 * @param known Every check's name, in the table's order.
 * @param flags The names given to `--only` and `--skip` (each may hold several, comma separated).
 * @returns The checks to run, in the table's order.
 * @throws {ConfigError} On an unknown name, or a selection that leaves no check.
 * @example
 * ```ts
 * selectChecks(CHECK_NAMES, { only: ["watcher,resume_token"] }); // ["watcher", "resume_token"]
 * ```
 */
export function selectChecks(
  known: readonly string[],
  flags: { only?: readonly string[]; skip?: readonly string[] },
): string[] {
  const only = _names(known, "--only", flags.only);
  const skip = _names(known, "--skip", flags.skip);
  const chosen = known.filter((name) => (!only || only.has(name)) && !skip?.has(name));
  if (chosen.length === 0) {
    throw new ConfigError("No check left to run: --skip leaves out every check --only names");
  }
  return chosen;
}

function _names(
  known: readonly string[],
  flag: string,
  given: readonly string[] | undefined,
): Set<string> | undefined {
  if (given === undefined) return undefined;
  const names = given.flatMap((value) => value.split(",")).map((name) => name.trim())
    .filter((name) => name !== "");
  for (const name of names) {
    if (known.includes(name)) continue;
    const near = closestName(name, known);
    throw new ConfigError(
      `Unknown check ${JSON.stringify(name)} for ${flag}: ${
        near ? `did you mean ${near}?` : `the checks are ${known.join(", ")}`
      }`,
    );
  }
  return new Set(names);
}
