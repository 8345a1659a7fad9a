/**
 * The `privileges` check, the operators' monthly "audit des permissions MongoDB" run every time:
 * what the connected user may do (`connectionStatus` with `showPrivileges: true`) against the table
 * of core/tool_privileges.ts. A privilege missing is CRITICAL, naming it (the command that needs
 * it will fail); more than needed (`root`, `dbOwner`, `__system`, `anyAction`, `anyResource`, a
 * write on the orders or reference collections) is a WARNING naming it.  Without authentication (no
 * user authenticated and the server answers anyway), every client has every privilege: nothing is
 * missing, but nothing is restricted either. On a loopback address (the sandbox, a developer's
 * server, the demo) that is how it is meant to be, so it is OK with that message; anywhere else it
 * is a WARNING, because whoever reaches the server can read and change the orders, and a check that
 * is OK there would pass the audit it stands for. Not CRITICAL: the tool itself works.
 *
 * @module
 */

import type { MongoClient } from "mongodb";
import type { GlobalConfig } from "../../../core/runtime/config.ts";
import { closeWithin, createMongoClient } from "../../../core/mongo/client.ts";
import { describeError } from "../../../core/mongo/errors.ts";
import {
  type ConnectionPrivileges,
  describeMissing,
  excessPrivileges,
  missingPrivileges,
  readConnectionPrivileges,
} from "../../../core/mongo/privileges.ts";
import {
  type PrivilegeTarget,
  privilegeTarget,
  requiredPrivileges,
  sourceResources,
} from "../../../core/tool_privileges.ts";
import { type CheckResult, result } from "../state.ts";

/** The check's name. */
export const PRIVILEGES_CHECK = "privileges";

/** At most this many findings are named in the reason; `--json` lists them all. */
const _NAMED = 4;

/** What the check judges. */
export type PrivilegesSeen =
  | {
    /** A user is authenticated: its roles and privileges. */
    kind: "authenticated";
    status: ConnectionPrivileges;
  }
  | {
    /** No user, and the server answered a command that needs a privilege: auth is off. */
    kind: "no-authentication";
    /** Whether every host of the connection string is a loopback address. */
    loopback: boolean;
    /** The hosts, for the message. */
    hosts: string[];
  }
  | {
    /** No user, and the server refused: the connection string lacks credentials. */
    kind: "unauthenticated";
    reason: string;
  };

/**
 * Judges the privileges seen (pure).
 *
 * @param seen What the server said.
 * @param target The database and collection names the table is computed from.
 * @returns The check's result.
 */
export function privilegesCheck(seen: PrivilegesSeen, target: PrivilegeTarget): CheckResult {
  if (seen.kind === "no-authentication") {
    const data = { authentication: false, hosts: seen.hosts };
    const message = "authentication disabled: every client has every privilege";
    if (seen.loopback) return result(PRIVILEGES_CHECK, "OK", message, data);
    return result(
      PRIVILEGES_CHECK,
      "WARNING",
      `${message}, and ${
        seen.hosts.join(",")
      } is not a loopback address: enable authorization and run archiver setup role`,
      data,
    );
  }
  if (seen.kind === "unauthenticated") {
    return result(
      PRIVILEGES_CHECK,
      "CRITICAL",
      `No user authenticated and the server requires one: put the user of archiver setup role in the connection string (${seen.reason})`,
      { authentication: true, users: [] },
    );
  }
  const { status } = seen;
  const required = requiredPrivileges(target);
  const missing = describeMissing(missingPrivileges(required, status.privileges));
  const excess = excessPrivileges(status.privileges, status.roles, sourceResources(target));
  const data = {
    authentication: true,
    users: status.users,
    roles: status.roles.map((role) => `${role.role}@${role.db}`),
    missing,
    excess,
  };
  const who = status.users.join(", ");
  if (missing.length > 0) {
    const also = excess.length > 0 ? `; more than needed: ${_named(excess)}` : "";
    return result(PRIVILEGES_CHECK, "CRITICAL", `User ${who}: ${_named(missing)}${also}`, data);
  }
  if (excess.length > 0) {
    return result(
      PRIVILEGES_CHECK,
      "WARNING",
      `User ${who} has more than needed: ${_named(excess)}`,
      data,
    );
  }
  const actions = required.reduce((n, row) => n + row.actions.length, 0);
  return result(
    PRIVILEGES_CHECK,
    "OK",
    `User ${who} holds the ${actions} actions batch, watch and health need, and no admin or write-on-source privilege`,
    data,
  );
}

/**
 * Whether a host is a loopback address: `localhost`, `127.x.x.x` or `::1`.
 *
 * @param host A host, with or without its port.
 * @returns True for loopback.
 */
export function isLoopbackHost(host: string): boolean {
  const name = host.startsWith("[") ? host.slice(1, host.indexOf("]")) : host.replace(/:\d+$/, "");
  return name === "localhost" || name === "::1" || /^127\.\d+\.\d+\.\d+$/.test(name);
}

/**
 * The hosts of a connection string, without credentials, ports kept; a `mongodb+srv` name is one.
 *
 * @param uri The connection string.
 * @returns The hosts.
 */
export function uriHosts(uri: string): string[] {
  const rest = uri.replace(/^mongodb(\+srv)?:\/\//, "");
  const authority = rest.split(/[/?]/)[0] ?? "";
  const hosts = authority.slice(authority.lastIndexOf("@") + 1);
  return hosts.split(",").filter((host) => host !== "");
}

/**
 * Reads what the check judges, with one short-lived client, bounded.
 *
 * @param config The connection and collection settings (and the token and lease collections).
 * @param options The time budget.
 * @returns The result.
 */
export async function runPrivilegesCheck(
  config: GlobalConfig & { tokenCollection?: string; leaseCollection?: string },
  options: { budgetMs: number },
): Promise<CheckResult> {
  const timeout = Math.max(100, Math.min(config.connectTimeout, options.budgetMs - 500));
  let client: MongoClient | undefined;
  try {
    client = createMongoClient({ uri: config.uri, connectTimeout: timeout }, {
      connectTimeoutMS: timeout,
      socketTimeoutMS: timeout,
    });
    await client.connect();
    const status = await readConnectionPrivileges(client.db("admin"), { maxTimeMs: timeout });
    return privilegesCheck(
      await _classify(client, config, status, timeout),
      privilegeTarget(config),
    );
  } catch (error) {
    return result(
      PRIVILEGES_CHECK,
      "UNKNOWN",
      `Cannot read the user's privileges: ${describeError(error)}`,
    );
  } finally {
    await closeWithin(client);
  }
}

async function _classify(
  client: MongoClient,
  config: GlobalConfig,
  status: ConnectionPrivileges,
  timeout: number,
): Promise<PrivilegesSeen> {
  if (status.users.length > 0) return { kind: "authenticated", status };
  // No user: either authorization is off, or the URI carries no credentials. A command that
  // needs a privilege tells them apart.
  try {
    await client.db(config.db).command({ listCollections: 1, nameOnly: true, maxTimeMS: timeout });
  } catch (error) {
    if ((error as { code?: unknown }).code === 13) {
      return { kind: "unauthenticated", reason: describeError(error) };
    }
    throw error;
  }
  const hosts = uriHosts(config.uri);
  const loopback = !config.uri.startsWith("mongodb+srv:") && hosts.length > 0 &&
    hosts.every(isLoopbackHost);
  return { kind: "no-authentication", loopback, hosts };
}

function _named(findings: readonly string[]): string {
  const shown = findings.slice(0, _NAMED).join("; ");
  const more = findings.length - _NAMED;
  return more > 0 ? `${shown}; and ${more} more (--json lists them)` : shown;
}
