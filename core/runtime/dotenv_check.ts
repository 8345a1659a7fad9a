/**
 * The mistakes a `.env` file or an environment can hold that a parser passes in silence: a key
 * with the tool's prefix that no setting reads (`ARCHIVER_HEALT_LAG_WARN`, a typo: the value is
 * never used), and a quote opened and never closed (the value keeps the quote, and the lines after
 * it may be swallowed). Pure: text and names in, problems out.
 *
 * @module
 */

import { closestName } from "./closest_name.ts";

/** The prefix of the tool's variables. */
export const SETTING_PREFIX = "ARCHIVER_";

/**
 * The variables with the tool's prefix that no setting declares: unknown unless in `known`.
 *
 * @param names The variable names found (a `.env` file's keys, the environment's names).
 * @param known Every name the tool reads.
 * @returns The unknown names, each with the nearest known one when it looks like a typo.
 */
export function unknownSettings(
  names: Iterable<string>,
  known: ReadonlySet<string>,
): Array<{ name: string; suggestion?: string }> {
  const unknown: Array<{ name: string; suggestion?: string }> = [];
  for (const name of names) {
    if (!name.startsWith(SETTING_PREFIX) || known.has(name)) continue;
    const suggestion = closestName(name, known);
    unknown.push(suggestion === undefined ? { name } : { name, suggestion });
  }
  return unknown;
}

/**
 * A one-line description of an unknown variable, with its likely meaning.
 *
 * @param unknown The name and its suggestion.
 * @param where Where it was found (`in /opt/archiver/.env`, `in the environment`).
 * @returns `Unknown setting X in …: did you mean Y?`.
 */
export function unknownSettingMessage(
  unknown: { name: string; suggestion?: string },
  where: string,
): string {
  const hint = unknown.suggestion === undefined
    ? "no setting has this name (archiver config --example lists them)"
    : `did you mean ${unknown.suggestion}?`;
  return `Unknown setting ${unknown.name} ${where}: ${hint}`;
}

// A line that opens a quoted value, as dotenv reads keys: `[export ]KEY=` or `KEY: `.
const _QUOTED_VALUE = /^\s*(?:export\s+)?([\w.-]+)(?:\s*=\s*|:\s+)(["'`])/;

/**
 * The first value of a `.env` text whose opening quote is never closed. dotenv then keeps the
 * quote as part of the value (`"abc`), or, for a quote closed lines later, swallows those lines.
 *
 * @param text The file's text.
 * @returns The key, its line (from 1) and the quote, or `undefined` when every quote closes.
 */
export function unterminatedQuote(
  text: string,
): { key: string; line: number; quote: string } | undefined {
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const match = _QUOTED_VALUE.exec(lines[i]!);
    if (!match) continue;
    const [opening, key, quote] = match as unknown as [string, string, string];
    // The rest of the text after the opening quote: a value may span lines (dotenv allows it).
    const rest = [lines[i]!.slice(opening.length), ...lines.slice(i + 1)].join("\n");
    const close = _closingQuote(rest, quote);
    if (close === -1) return { key, line: i + 1, quote };
    // Skip the lines the quoted value spans.
    i += rest.slice(0, close).split("\n").length - 1;
  }
  return undefined;
}

function _closingQuote(text: string, quote: string): number {
  for (let at = 0; at < text.length; at++) {
    if (text[at] === "\\") at++;
    else if (text[at] === quote) return at;
  }
  return -1;
}
