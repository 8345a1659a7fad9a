/**
 * The files through which the commands talk to each other: the watcher's resume token and status
 * file, and the last batch report. Their settings live here because several plugins read them
 * (watch writes the token and status, batch writes the report, health reads all three).
 *
 * @module
 */

import { oneOf, text } from "./parse.ts";
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

/**
 * How often the watcher refreshes its status file (its heartbeat), in ms. Health calls a
 * heartbeat stale after {@link STALE_HEARTBEATS} of them.
 */
export const STATUS_INTERVAL_MS = 5_000;

/** How many heartbeats may be missed before the watcher is taken for gone. */
export const STALE_HEARTBEATS = 3;

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

/** Where the watcher keeps its resume token: a file, or a collection shared by several hosts. */
export const tokenStoreSetting: Setting<"file" | "mongo"> = {
  env: "ARCHIVER_TOKEN_STORE",
  flag: "--token-store <store>",
  description: "Where the resume token is kept: file, or mongo for watchers on several hosts",
  default: "file",
  parse: oneOf(["file", "mongo"] as const),
};

/** The collection of the resume tokens with `--token-store mongo`. */
export const tokenCollectionSetting: Setting<string> = {
  env: "ARCHIVER_TOKEN_COLLECTION",
  description: "Collection of the resume tokens with --token-store mongo",
  default: "archiver_resume_tokens",
  parse: text({ pattern: /^(?!system\.)[^$\0]{1,120}$/, expected: "a collection name" }),
};
