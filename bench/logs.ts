/**
 * Benchmark of `archiver logs check`: writes about 1 GB of realistic JSON-lines logs (batch and
 * watch files, rotated at 10 MB like the defaults) into a temporary folder, runs the check
 * in-process, and reports the time and the peak resident memory, which must stay bounded however
 * large the logs are.
 *
 * ```sh
 * deno run --allow-read --allow-write --allow-env --allow-sys bench/logs.ts            # 1 GB
 * deno run --allow-read --allow-write --allow-env --allow-sys bench/logs.ts --size 100MB
 * ```
 *
 * @module
 */

import { join } from "node:path";
import { runCli } from "../cli/program.ts";
import { parseSize } from "../core/runtime/parse.ts";
import { logs } from "../plugins/logs/mod.ts";

/** The figures of one run. */
export interface LogsBenchResult {
  /** Bytes of logs generated. */
  bytes: number;
  /** Files generated. */
  files: number;
  /** Lines generated. */
  lines: number;
  /** Seconds to generate them. */
  generateSeconds: number;
  /** Seconds `logs check` took. */
  checkSeconds: number;
  /** Throughput of the check, in MB/s. */
  mbPerSecond: number;
  /** Resident memory before the check, in bytes. */
  rssBeforeBytes: number;
  /** Peak resident memory during the check, in bytes. */
  peakRssBytes: number;
  /** Lines the check counted. */
  linesCounted: number;
  /** The check's exit code. */
  exitCode: number;
}

const FILE_BYTES = 10 * 1024 * 1024;

/**
 * Generates logs of about the given size and times `logs check` over them.
 *
 * @param options Total size in bytes, and a folder to use instead of a temporary one.
 * @returns Time, throughput and peak memory.
 */
export async function benchLogsCheck(
  options: { bytes?: number; dir?: string } = {},
): Promise<LogsBenchResult> {
  const target = options.bytes ?? 1024 ** 3;
  const dir = options.dir ?? await Deno.makeTempDir({ prefix: "archiver-bench-logs-" });
  try {
    const started = performance.now();
    const generated = await _generate(dir, target);
    const generateSeconds = (performance.now() - started) / 1000;

    const rssBeforeBytes = Deno.memoryUsage().rss;
    let peakRssBytes = rssBeforeBytes;
    const sampler = setInterval(() => {
      peakRssBytes = Math.max(peakRssBytes, Deno.memoryUsage().rss);
    }, 20);
    let stdout = "";
    const checkStarted = performance.now();
    let exitCode: number;
    try {
      exitCode = await runCli(["logs", "check", "--json", "--since", "2d", "--log-dir", dir], {
        plugins: [logs()],
        env: {},
        cwd: dir,
        stdout: (text) => (stdout += text),
        stderr: () => {},
        interactive: false,
      });
    } finally {
      clearInterval(sampler);
    }
    const checkSeconds = (performance.now() - checkStarted) / 1000;
    peakRssBytes = Math.max(peakRssBytes, Deno.memoryUsage().rss);
    const report = JSON.parse(stdout) as { lines: number };
    return {
      ...generated,
      generateSeconds,
      checkSeconds,
      mbPerSecond: generated.bytes / 1024 ** 2 / checkSeconds,
      rssBeforeBytes,
      peakRssBytes,
      linesCounted: report.lines,
      exitCode,
    };
  } finally {
    if (!options.dir) await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

async function _generate(
  dir: string,
  target: number,
): Promise<{ bytes: number; files: number; lines: number }> {
  const encoder = new TextEncoder();
  const perCommand = Math.ceil(target / 2 / FILE_BYTES);
  const now = Date.now();
  // Spread over the last 20 hours, oldest first, as a day of service would leave them.
  const span = 20 * 3_600_000;
  let bytes = 0;
  let lines = 0;
  let files = 0;
  for (const command of ["batch", "watch"]) {
    let n = 0;
    for (let file = perCommand; file >= 0; file--) {
      const remaining = target / 2 - (perCommand - file) * FILE_BYTES;
      if (remaining <= 0) break;
      const name = file === 0 ? `${command}.jsonl` : `${command}.jsonl.${file}`;
      const size = Math.min(FILE_BYTES, remaining);
      const out = await Deno.open(join(dir, name), { write: true, create: true, truncate: true });
      try {
        let written = 0;
        while (written < size) {
          let chunk = "";
          while (chunk.length < 1024 * 1024 && written + chunk.length < size) {
            const time = now - span +
              Math.floor(
                ((perCommand - file) * FILE_BYTES + written + chunk.length) /
                  (target / 2) * span,
              );
            chunk += _line(command, n++, time);
          }
          const data = encoder.encode(chunk);
          await out.write(data);
          written += data.length;
          lines += chunk.split("\n").length - 1;
        }
        bytes += written;
        files++;
      } finally {
        out.close();
      }
    }
  }
  return { bytes, files, lines };
}

function _line(command: string, n: number, time: number): string {
  const number = `CMD-${String(n % 1_000_000).padStart(6, "0")}`;
  const kind = n % 50;
  let level = "INFO";
  let message: string;
  let properties: Record<string, unknown>;
  if (kind === 0) {
    message = "📦 Found 150 delivered orders";
    properties = { orders_found: 150 };
  } else if (kind === 1) {
    level = "WARN";
    message = `⚠️ Order ${number} is incomplete`;
    properties = { numero_commande: number, missing: ["livreur"] };
  } else if (kind === 2) {
    level = "WARN";
    message = `⚠️ Order ${number} already archived`;
    properties = { numero_commande: number };
  } else if (kind === 3) {
    message = "📊 Progress: 150/150 processed";
    properties = { processed: 150, total: 150 };
  } else if (kind < 10) {
    message = "✅ Archived 20 orders";
    properties = {
      orders_archived: 20,
      orders_duplicates: 0,
      orders_incomplete: 0,
      stream_lag_seconds: command === "watch" ? (n % 7) / 2 : undefined,
    };
  } else {
    level = "DEBUG";
    message = `Enriched order ${number}`;
    properties = { numero_commande: number, items: 2, duration_ms: n % 40 };
  }
  return `${
    JSON.stringify({
      "@timestamp": new Date(time).toISOString(),
      level,
      message,
      logger: `archiver.${command}`,
      properties,
    })
  }\n`;
}

if (import.meta.main) {
  const at = Deno.args.indexOf("--size");
  const bytes = at >= 0 ? parseSize(Deno.args[at + 1] ?? "") : 1024 ** 3;
  const result = await benchLogsCheck({ bytes });
  const mb = (value: number) => `${(value / 1024 ** 2).toFixed(0)} MB`;
  console.log(
    `logs check: ${mb(result.bytes)} in ${result.files} files, ${result.lines} lines ` +
      `(generated in ${result.generateSeconds.toFixed(1)}s)\n` +
      `  checked ${result.linesCounted} lines in ${result.checkSeconds.toFixed(1)}s ` +
      `(${result.mbPerSecond.toFixed(1)} MB/s), exit ${result.exitCode}\n` +
      `  RSS before ${mb(result.rssBeforeBytes)}, peak ${mb(result.peakRssBytes)}`,
  );
  console.log(JSON.stringify(result));
}
