/**
 * The files through which the commands talk to each other: the watcher's resume token and status
 * file, and the last batch report. Their settings live here because several plugins read them
 * (watch writes the token and status, batch writes the report, health reads all three).
 *
 * @module
 */

import { text } from "./parse.ts";
import type { Setting } from "./settings.ts";

const PATH = text({ expected: "a file path" });

/** Where the watcher keeps its resume token. */
export const tokenFileSetting: Setting<string> = {
  env: "ARCHIVER_TOKEN_FILE",
  flag: "--token-file <path>",
  description: "Resume-token file of the watcher",
  default: ".resume_token.json",
  parse: PATH,
};

/** Where the watcher writes its status (heartbeat and metrics) every few seconds. */
export const statusFileSetting: Setting<string> = {
  env: "ARCHIVER_STATUS_FILE",
  flag: "--status-file <path>",
  description: "Status file the watcher refreshes and health reads",
  default: "archiver-status.json",
  parse: PATH,
};

/** Where batch saves its last report. */
export const reportFileSetting: Setting<string> = {
  env: "ARCHIVER_REPORT_FILE",
  flag: "--report-file <path>",
  description: "Last batch report, read by health",
  default: "last-batch.json",
  parse: PATH,
};
