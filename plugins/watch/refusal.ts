/**
 * What MongoDB refused the watcher, in one line: the action on the collection it refused (read
 * from the server's own message, `not authorized on <db> to execute command { <command>:
 * "<collection>", … }`, which mongod and the sandbox both write) and the privileges the user
 * lacks (from `connectionStatus`, {@link explainRefusal}). "Refused to watch" is said only of the
 * change stream: a user that may watch but not write the archive is told it was refused writing
 * to the archive.
 *
 * @module
 */

import type { MongoClient } from "mongodb";
import { describeError, isAuthError } from "../../core/mongo/errors.ts";
import { explainRefusal, isUnauthorized } from "../../core/mongo/privileges.ts";
import {
  privilegeTarget,
  type ResourceUse,
  type ToolPrivilege,
  watchNeeds,
} from "../../core/tool_privileges.ts";
import { ConfigError } from "../../core/runtime/errors.ts";
import { maskUri } from "../../core/runtime/mask.ts";
import type { WatchConfig } from "./watcher.ts";

const _REFUSED = /not authorized on (\S+) to execute command \{ (\w+): "([^"]*)"/;

const _NOUNS: Record<ResourceUse, string> = {
  orders: "the orders",
  references: "the collection",
  archive: "the archive",
  quarantine: "the quarantine",
  released: "the released orders",
  runs: "the run history",
  tokens: "the resume tokens",
  leases: "the lease",
  database: "the database",
  oplog: "the oplog",
};

const _WRITES = new Set(["insert", "update", "delete", "findAndModify", "findandmodify"]);

/**
 * The action a refusal was about, in words.
 *
 * @param error What the server answered (code 13).
 * @param needs The watcher's rows of the privilege table, to name the collection's use.
 * @returns E.g. `write to the archive Historique`, `watch the orders Commande`; `undefined`
 *   when the message does not say.
 */
export function refusedAction(
  error: unknown,
  needs: readonly ToolPrivilege[],
): string | undefined {
  const text = (error as { message?: unknown })?.message;
  const message = typeof text === "string" ? text : "";
  const match = _REFUSED.exec(message);
  if (!match) return undefined;
  const [, db, command, collection] = match as unknown as [string, string, string, string];
  const row = needs.find((need) =>
    need.resource.db === db && need.resource.collection === collection
  );
  const what = `${row ? _NOUNS[row.uses[0]!] : "the collection"} ${collection}`;
  if (command === "aggregate" && message.includes("$changeStream")) return `watch ${what}`;
  if (_WRITES.has(command)) return `write to ${what}`;
  if (command === "createIndexes") return `create an index on ${what}`;
  return `read ${what}`;
}

/**
 * The ConfigError of a refused watcher: what was refused and the missing privilege, else what
 * the server said.
 *
 * @param error What the driver threw.
 * @param context The client that was refused, the settings and the orders' namespace.
 * @returns The error the watcher stops with (exit 2).
 */
export async function refusal(
  error: unknown,
  context: { client: MongoClient; config: WatchConfig; namespace: string },
): Promise<ConfigError> {
  const { client, config, namespace } = context;
  const needs = watchNeeds(privilegeTarget(config), config);
  // A missing privilege: name it (from connectionStatus), never "authentication failed".
  const lacking = isUnauthorized(error)
    ? await explainRefusal(client.db("admin"), needs)
    : undefined;
  if (lacking) {
    const action = refusedAction(error, needs) ?? `run the watcher on ${namespace}`;
    return new ConfigError(
      `MongoDB refused to ${action}: ${lacking} (Unauthorized, code 13); archiver setup role grants what the tool needs`,
      { cause: error },
    );
  }
  const why = isAuthError(error) && !isUnauthorized(error)
    ? `Authentication to MongoDB at ${maskUri(config.uri)} failed`
    : isUnauthorized(error)
    ? `MongoDB refused to ${refusedAction(error, needs) ?? `run the watcher on ${namespace}`}`
    : `Cannot watch ${namespace}`;
  return new ConfigError(`${why}: ${describeError(error)}`, { cause: error });
}
