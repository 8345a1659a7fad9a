/**
 * A server that enforces authentication, with an administrator, for the least-privilege tests:
 * the sandbox with `auth: true` (its first user, `root`, made through the localhost exception),
 * or the real server of `MONGODB_TEST_URI` when that string carries an administrator's
 * credentials. Each call gets its own database, role and user names, removed on disposal, so a
 * real server is left as it was.
 *
 * @example
 * ```ts
 * authTest("a user with exactly the role runs batch", async (server) => {
 *   const uri = server.userUri(server.user, "pw");
 * });
 * ```
 *
 * @module
 */

import { MongoClient } from "mongodb";
import { rolePrivileges } from "../../core/mongo/privileges.ts";
import {
  type PrivilegeTarget,
  privilegeTarget,
  requiredPrivileges,
} from "../../core/tool_privileges.ts";
import { type GlobalConfig, globalSettings } from "../../core/runtime/config.ts";
import { type Sandbox, startSandbox } from "../../sandbox/mod.ts";

/** A server with authentication on, and names for one test. */
export interface AuthServer extends AsyncDisposable {
  /** Which kind of server. */
  backend: "sandbox" | "uri";
  /** The administrator's connection string. */
  adminUri: string;
  /** The administrator's password, which no output may show. */
  adminPassword: string;
  /** A client connected as the administrator. */
  admin: MongoClient;
  /** This test's database. */
  dbName: string;
  /** This test's role and user names. */
  role: string;
  /** This test's user name. */
  user: string;
  /**
   * The connection string of a user defined on `admin`.
   *
   * @param user The user's name.
   * @param password Its password.
   */
  userUri(user: string, password: string): string;
  /**
   * Creates this test's role from the tool's own privilege table (for the default collection
   * names in this test's database), edited as the test needs, and this test's user with it.
   *
   * @param password The user's password.
   * @param edit Changes the privileges (remove one to see it refused). @default none
   * @returns The user's connection string.
   */
  toolUser(password: string, edit?: (privileges: Privileges) => unknown[]): Promise<string>;
}

/** The tool's privilege table, as `rolePrivileges` gives it. */
export type Privileges = ReturnType<typeof rolePrivileges>;

/**
 * The configuration at its defaults, on a database.
 *
 * @param db The database.
 * @returns Every global setting at its default, `db` set.
 */
export function defaultConfig(db: string): GlobalConfig {
  const defaults = Object.fromEntries(
    Object.entries(globalSettings).map(([key, setting]) => [key, setting.default]),
  ) as GlobalConfig;
  return { ...defaults, db };
}

/**
 * The tool's privilege table's names at their defaults (collections, runs, tokens, leases), in
 * the database `food_delivery`: what the privilege tests read their expected rows against.
 */
export const DEFAULT_TARGET: PrivilegeTarget = privilegeTarget(defaultConfig("food_delivery"));

/** One row of a role's privileges, as `rolePrivileges()` gives it. */
export const privilegeRow = (collection: string, actions: string[], db = "food_delivery") => ({
  resource: { db, collection },
  actions,
});

const ADMIN_PASSWORD = "Admin-Secret-Ω-42";
let _counter = 0;

/**
 * Starts (or reaches) a server with authentication on.
 *
 * @returns The server, or why the test cannot run (a `MONGODB_TEST_URI` without credentials).
 */
export async function authServer(): Promise<AuthServer | AsyncDisposable & { skip: string }> {
  const suffix = `${Date.now().toString(36)}_${++_counter}`;
  const names = { dbName: `lp_${suffix}`, role: `archiver_${suffix}`, user: `archiver_${suffix}` };
  const given = Deno.env.get("MONGODB_TEST_URI");
  if (given) {
    const password = _password(given);
    if (!password) {
      return {
        skip: "skipped: MONGODB_TEST_URI carries no administrator's credentials",
        async [Symbol.asyncDispose]() {},
      };
    }
    const admin = await new MongoClient(given).connect();
    return _server("uri", given, password, admin, names, async () => {
      await admin.db(names.dbName).dropDatabase().catch(() => {});
      await admin.db("admin").command({ dropUser: names.user }).catch(() => {});
      await admin.db("admin").command({ dropRole: names.role }).catch(() => {});
      await admin.close();
    });
  }
  const sandbox: Sandbox = await startSandbox({ auth: true });
  const bootstrap = new MongoClient(sandbox.uri);
  try {
    await bootstrap.db("admin").command({
      createUser: "admin",
      pwd: ADMIN_PASSWORD,
      roles: ["root"],
    });
  } finally {
    await bootstrap.close();
  }
  const adminUri = withCredentials(sandbox.uri, "admin", ADMIN_PASSWORD);
  const admin = await new MongoClient(adminUri).connect();
  return _server("sandbox", adminUri, ADMIN_PASSWORD, admin, names, async () => {
    await admin.close();
    await sandbox.stop();
  });
}

/**
 * A connection string with other credentials, authenticating on `admin`.
 *
 * @param uri A connection string, with or without credentials.
 * @param user The user.
 * @param password Its password.
 * @returns The same hosts and options with these credentials and `authSource=admin`.
 */
export function withCredentials(uri: string, user: string, password: string): string {
  const match = /^(mongodb(?:\+srv)?:\/\/)(?:[^@/?]*@)?([^/?]*)(\/[^?]*)?(\?.*)?$/.exec(uri);
  if (!match) throw new TypeError("not a connection string");
  const [, scheme, hosts, path, query] = match;
  const params = new URLSearchParams((query ?? "").slice(1));
  params.set("authSource", "admin");
  const credentials = `${encodeURIComponent(user)}:${encodeURIComponent(password)}@`;
  return `${scheme}${credentials}${hosts}${path || "/"}?${params}`;
}

function _password(uri: string): string | undefined {
  const match = /^mongodb(?:\+srv)?:\/\/[^:@/?]*:([^@/?]*)@/.exec(uri);
  return match ? decodeURIComponent(match[1]!) : undefined;
}

function _server(
  backend: "sandbox" | "uri",
  adminUri: string,
  adminPassword: string,
  admin: MongoClient,
  names: { dbName: string; role: string; user: string },
  dispose: () => Promise<void>,
): AuthServer {
  return {
    backend,
    adminUri,
    adminPassword,
    admin,
    ...names,
    userUri: (user, password) => withCredentials(adminUri, user, password),
    async toolUser(password, edit = (privileges) => privileges) {
      const table = rolePrivileges(
        requiredPrivileges(privilegeTarget(defaultConfig(names.dbName))),
      );
      const db = admin.db("admin");
      await db.command({ createRole: names.role, privileges: edit(table), roles: [] });
      await db.command({
        createUser: names.user,
        pwd: password,
        roles: [{ role: names.role, db: "admin" }],
      });
      return withCredentials(adminUri, names.user, password);
    },
    [Symbol.asyncDispose]: dispose,
  };
}

/**
 * A test that needs a server with authentication: it gets one (dropped at the end), or is
 * reported skipped with the reason where none can be had.
 *
 * @param name The test's name.
 * @param fn The test, given the server and the test context.
 */
export function authTest(
  name: string,
  fn: (server: AuthServer, t: Deno.TestContext) => Promise<void>,
): void {
  Deno.test({
    name,
    // The driver's pools and the sandbox's listener outlive a test by a tick.
    sanitizeOps: false,
    sanitizeResources: false,
    async fn(t) {
      await using server = await authServer();
      if ("skip" in server) {
        await t.step({ name: server.skip, ignore: true, fn() {} });
        return;
      }
      await fn(server, t);
    },
  });
}
