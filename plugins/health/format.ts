/**
 * How health's checks word figures: durations (`3h 20m`), sizes (`1.5 MB`), percentages, one-line
 * reasons. Shared by every check so they read alike.
 *
 * @module
 */

/**
 * A duration as people read it: `45s`, `12m 5s`, `3h 20m`, `2d 4h`.
 *
 * @param ms A duration in milliseconds.
 * @returns Its two largest units.
 */
export function formatAge(ms: number): string {
  const seconds = Math.floor(ms / 1000);
  if (seconds < 60) return `${seconds}s`;
  const units: Array<[string, number]> = [["d", 86_400], ["h", 3_600], ["m", 60], ["s", 1]];
  const parts: string[] = [];
  let rest = seconds;
  for (const [unit, size] of units) {
    const n = Math.floor(rest / size);
    rest -= n * size;
    if (n > 0 || parts.length > 0) parts.push(`${n}${unit}`);
    if (parts.length === 2) break;
  }
  return parts.filter((part) => !part.startsWith("0")).join(" ");
}

/**
 * A size as people read it: `512 B`, `1.5 MB`, `2.0 GB`.
 *
 * @param bytes A size in bytes.
 * @returns Its text.
 */
export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  const units = ["KB", "MB", "GB", "TB"];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(1)} ${units[unit]}`;
}

export function oneLine(text: string): string {
  const line = text.split("\n")[0] ?? "";
  return line.length > 120 ? `${line.slice(0, 120)}…` : line;
}

export function capitalize(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

export function percent(part: number, whole: number): number {
  return whole > 0 ? (part / whole) * 100 : 0;
}

export function round1(value: number): number {
  return Math.round(value * 10) / 10;
}

export function signedAge(seconds: number): string {
  return seconds < 0 ? `-${formatAge(-seconds * 1000)}` : formatAge(seconds * 1000);
}
