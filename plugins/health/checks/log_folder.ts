/**
 * `log_folder`: the log folder's size. Pure: a function of what was read, the time and the
 * thresholds.
 *
 * @module
 */

import { formatBytes } from "../format.ts";
import { type CheckResult, result } from "../state.ts";
import type { HealthThresholds } from "../thresholds.ts";

/**
 * The log folder's size.
 *
 * @param size The folder's bytes and file count, or why it could not be measured.
 * @param limits The thresholds.
 * @returns The `log_folder` check.
 */
export function logFolderCheck(
  size: { dir: string; bytes: number; files: number } | { dir: string; error: string },
  limits: HealthThresholds,
): CheckResult {
  const name = "log_folder";
  if ("error" in size) {
    return result(name, "UNKNOWN", `Cannot measure log folder ${size.dir}: ${size.error}`);
  }
  const data = { log_dir_bytes: size.bytes, log_files: size.files };
  const text = `${formatBytes(size.bytes)} in ${size.files} file${size.files === 1 ? "" : "s"}`;
  if (size.bytes > limits.maxLogDirBytes) {
    return result(
      name,
      "WARNING",
      `Log folder holds ${text} (> ${formatBytes(limits.maxLogDirBytes)}): run archiver logs prune`,
      data,
    );
  }
  return result(name, "OK", `Log folder holds ${text}`, data);
}
