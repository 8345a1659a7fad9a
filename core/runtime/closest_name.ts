/**
 * The closest known name to a mistyped one (`ARCHIVER_HEALT_LAG_WARN` → `ARCHIVER_HEALTH_LAG_WARN`),
 * by edit distance, for "did you mean" hints. Pure.
 *
 * @module
 */

/**
 * The known name nearest to `name`, when it is near enough to be a typo: at most a fifth of the
 * name's letters apart (2 at least), so a short name is not matched to an unrelated one.
 *
 * @param name The mistyped name.
 * @param known The names it may have meant.
 * @returns The nearest known name, or `undefined` when none is close.
 * @example
 * ```ts
 * closestName("ARCHIVER_HEALT_LAG_WARN", ["ARCHIVER_HEALTH_LAG_WARN"]); // "ARCHIVER_HEALTH_LAG_WARN"
 * ```
 */
export function closestName(name: string, known: Iterable<string>): string | undefined {
  const limit = Math.max(2, Math.floor(name.length / 5));
  let best: string | undefined;
  let bestDistance = limit + 1;
  for (const candidate of known) {
    const distance = editDistance(name.toUpperCase(), candidate.toUpperCase());
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return best;
}

/**
 * The Levenshtein distance: the fewest letters inserted, deleted or replaced to turn one text
 * into the other. One row of the classic table at a time: O(a·b) time, O(b) memory.
 *
 * @param a One text.
 * @param b The other.
 * @returns The distance.
 */
export function editDistance(a: string, b: string): number {
  // previous[j]: the distance between the first i-1 letters of a and the first j of b.
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const replace = previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1);
      current.push(Math.min(previous[j]! + 1, current[j - 1]! + 1, replace));
    }
    previous = current;
  }
  return previous[b.length]!;
}
