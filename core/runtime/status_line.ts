/**
 * The monitoring-plugin status line Nagios, Icinga and their kin read as the first line of a
 * check (`ARCHIVER <STATE> - <summary> | <perfdata>`), its performance data in the plugin
 * guidelines' format `'label'=value[UOM];[warn];[crit];[min];[max]`. One format for every check
 * the tool offers (`archiver health`, `archiver logs check`). Pure.
 *
 * @module
 */

/** The service name leading the status line. */
export const SERVICE_LABEL = "ARCHIVER";

/** One performance datum. */
export interface PerfDatum {
  /** The label, such as `stream_lag`. */
  label: string;
  /** The value. */
  value: number;
  /** The unit of measure: `s`, `%`, `B`, `c` or none. */
  uom?: "s" | "%" | "B" | "c";
  /** The warning range (`10`: above 10; `20:`: below 20). */
  warn?: string;
  /** The critical range. */
  crit?: string;
  /** The smallest possible value. */
  min?: number;
  /** The largest possible value. */
  max?: number;
}

/**
 * One datum as the plugin guidelines write it: `label=value[UOM];[warn];[crit];[min];[max]`,
 * trailing empty fields dropped, the label quoted when it holds a space or a quote.
 *
 * @param datum The datum.
 * @returns Its text.
 */
export function formatPerfDatum(datum: PerfDatum): string {
  const label = /[\s'=]/.test(datum.label) ? `'${datum.label.replaceAll("'", "''")}'` : datum.label;
  const fields = [
    `${perfNumber(datum.value)}${datum.uom ?? ""}`,
    datum.warn ?? "",
    datum.crit ?? "",
    datum.min === undefined ? "" : perfNumber(datum.min),
    datum.max === undefined ? "" : perfNumber(datum.max),
  ];
  while (fields.length > 1 && fields.at(-1) === "") fields.pop();
  return `${label}=${fields.join(";")}`;
}

/**
 * A status line: `<service> <STATE> - <summary> | <perfdata>`, the summary on one line without
 * the `|` that starts the performance data.
 *
 * @param state The check's state (`OK`, `WARNING`, `CRITICAL`, `UNKNOWN`).
 * @param options The summary, the performance data and the service label.
 * @returns One line, without a line ending.
 * @example
 * ```ts
 * pluginStatusLine("OK", { service: "ARCHIVER LOGS", summary: "no alert", perf: [] });
 * // ARCHIVER LOGS OK - no alert
 * ```
 */
export function pluginStatusLine(
  state: string,
  options: {
    summary: string;
    perf?: readonly PerfDatum[];
    /** @default "ARCHIVER" */
    service?: string;
  },
): string {
  const perf = (options.perf ?? []).map(formatPerfDatum).join(" ");
  const service = options.service ?? SERVICE_LABEL;
  return `${service} ${state} - ${statusText(options.summary)}${perf ? ` | ${perf}` : ""}`;
}

/**
 * Text made fit for a status line's summary: one line, no `|` (it starts the performance data).
 *
 * @param text Any text.
 * @returns The text with `|` as `/` and runs of white space as one space.
 */
export function statusText(text: string): string {
  return text.replaceAll("|", "/").replace(/\s+/g, " ").trim();
}

/**
 * A number as performance data writes it: at most three decimals.
 *
 * @param value The number.
 * @returns Its text.
 */
export function perfNumber(value: number): string {
  return String(Math.round(value * 1000) / 1000);
}
