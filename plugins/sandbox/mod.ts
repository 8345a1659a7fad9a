/**
 * The `sandbox` plugin: `archiver sandbox` runs the local MongoDB-compatible server on loopback,
 * so the tool can be tried and tested without a MongoDB installation. A development and test aid:
 * production always means a real MongoDB.
 *
 * @module
 */

import { ConfigError } from "../../core/runtime/errors.ts";
import { boolean, duration, formatDuration, integer, text } from "../../core/runtime/parse.ts";
import type { Plugin } from "../../core/runtime/plugin.ts";
import { addSettingOptions, type SettingsSpec } from "../../core/runtime/settings.ts";
import { isLoopback } from "../../sandbox/auth/loopback.ts";

/** The settings of `archiver sandbox`. */
export const sandboxSettings = {
  host: {
    env: "ARCHIVER_SANDBOX_HOST",
    flag: "--host <host>",
    description: "Address the sandbox listens on (loopback unless told otherwise)",
    default: "127.0.0.1",
    parse: text({ expected: "a host name or IP address" }),
  },
  port: {
    env: "ARCHIVER_SANDBOX_PORT",
    flag: "--port <port>",
    description: "TCP port; 0 picks a free one",
    default: 27017,
    parse: integer({ min: 0, max: 65535 }),
  },
  oplogSize: {
    env: "ARCHIVER_SANDBOX_OPLOG_SIZE",
    flag: "--oplog-size <entries>",
    description: "Change-stream history kept, in entries; older resume tokens are lost",
    default: 100_000,
    parse: integer({ min: 1 }),
  },
  secondaryLag: {
    env: "ARCHIVER_SANDBOX_SECONDARY_LAG",
    flag: "--secondary-lag <duration>",
    description:
      "Simulate a secondary this far behind (20s): replSetGetStatus shows it, majority writes wait for it (0: none)",
    default: 0,
    parse: (raw: string) => raw.trim() === "0" ? 0 : duration({ min: 1 })(raw),
    format: (value: number) => value === 0 ? "0" : formatDuration(value),
  },
  auth: {
    env: "ARCHIVER_SANDBOX_AUTH",
    description:
      "Require authentication (also --auth): SCRAM users and roles as mongod --auth; create the first user from this machine",
    default: false,
    parse: boolean,
  },
} as const satisfies SettingsSpec;

/**
 * Refuses to listen beyond loopback without authentication: anyone who can reach the port
 * could read and write every database.
 *
 * @param host The address to listen on.
 * @param auth Whether authentication is on.
 * @throws {ConfigError} For a non-loopback address without auth.
 */
export function checkSandboxExposure(host: string, auth: boolean): void {
  if (auth || isLoopback(host)) return;
  throw new ConfigError(
    `Refusing to listen on ${host} without --auth: anyone on the network could read and write every database (use --auth, or a loopback address such as 127.0.0.1)`,
  );
}

/**
 * Creates the sandbox plugin.
 *
 * @returns The plugin.
 */
export function sandbox(): Plugin {
  return {
    name: "sandbox",
    description: "Run a local MongoDB-compatible server for trying and testing the tool",
    settings: sandboxSettings,
    register(program, ctx) {
      const command = program
        .command("sandbox")
        .description(
          "Run a local MongoDB-compatible server (in memory) until Ctrl+C; prints its connection string",
        )
        .option(
          "--auth",
          "Require authentication, as mongod --auth; the first user is created from this machine (env ARCHIVER_SANDBOX_AUTH)",
        );
      addSettingOptions(command, sandboxSettings);
      command.action(async (flags, cmd) => {
        const config = await ctx.start(cmd, sandboxSettings);
        const { host, port, oplogSize, secondaryLag } = config.values;
        const auth = flags.auth === true || config.values.auth;
        checkSandboxExposure(host, auth);
        const { startSandbox } = await import("../../sandbox/mod.ts");
        const log = ctx.logger.getChild("sandbox");
        let server;
        try {
          server = await startSandbox({
            host,
            port,
            oplogSize,
            auth,
            secondaryLagMs: secondaryLag,
          });
        } catch (error) {
          if (error instanceof Deno.errors.AddrInUse) {
            throw new ConfigError(
              `Cannot listen on ${host}:${port}: the port is in use (choose another with --port, or --port 0)`,
              { cause: error },
            );
          }
          throw error;
        }
        ctx.lifecycle.onStop(() => server.stop());
        ctx.out(server.uri);
        log.info(
          `Sandbox listening on ${server.host}:${server.port} (in memory, oplog ${oplogSize} entries${
            secondaryLag > 0 ? `, a secondary ${formatDuration(secondaryLag)} behind` : ""
          }${
            auth
              ? "; authentication required: create the first user on admin from this machine"
              : ""
          }); Ctrl+C stops it`,
        );
        await new Promise((resolve) =>
          ctx.lifecycle.signal.addEventListener("abort", resolve, { once: true })
        );
        log.info("Sandbox stopped");
      });
    },
  };
}
