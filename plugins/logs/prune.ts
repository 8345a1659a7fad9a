/**
 * `archiver logs prune`: deletes rotated log files (`<command>.jsonl.N`) last written before the
 * retention, never a current `.jsonl`, and reports the bytes freed.
 *
 * @module
 */

import type { LogFile } from "../../core/log_files/files.ts";
import { listLogFiles } from "../../core/log_files/files.ts";

/** What a prune did or would do. */
export interface PruneReport {
  /** Whether nothing was deleted. */
  dry_run: boolean;
  /** ISO time before which rotated files are pruned. */
  older_than: string;
  /** The files deleted (or that would be). */
  files: Array<{ name: string; bytes: number; modified_at: string }>;
  /** Their total size. */
  bytes: number;
  /** Files that could not be deleted, with why. */
  failed: Array<{ name: string; reason: string }>;
}

/**
 * The rotated files past the retention.
 *
 * @param files The folder's log files.
 * @param cutoff Files last written before this time (ms since the epoch) go.
 * @returns The files to delete; never a current file.
 */
export function selectPrunable(files: readonly LogFile[], cutoff: number): LogFile[] {
  return files.filter((file) => file.rotation > 0 && file.mtime < cutoff);
}

/**
 * Deletes (or, dry, lists) the rotated files past the retention.
 *
 * @param dir The log folder.
 * @param options The cut-off (ms since the epoch) and whether to only list.
 * @returns What was (or would be) freed.
 */
export async function pruneLogs(
  dir: string,
  options: { cutoff: number; dryRun: boolean },
): Promise<PruneReport> {
  const prunable = selectPrunable(await listLogFiles(dir), options.cutoff);
  const report: PruneReport = {
    dry_run: options.dryRun,
    older_than: new Date(options.cutoff).toISOString(),
    files: [],
    bytes: 0,
    failed: [],
  };
  for (const file of prunable) {
    if (!options.dryRun) {
      try {
        await Deno.remove(file.path);
      } catch (error) {
        if (error instanceof Deno.errors.NotFound) continue;
        report.failed.push({
          name: file.name,
          reason: error instanceof Error ? error.message : String(error),
        });
        continue;
      }
    }
    report.files.push({
      name: file.name,
      bytes: file.size,
      modified_at: new Date(file.mtime).toISOString(),
    });
    report.bytes += file.size;
  }
  return report;
}
