/**
 * The `sandbox` plugin: `archiver sandbox` runs the local MongoDB-compatible server on loopback,
 * so the tool can be tried and tested without a MongoDB installation. A development and test aid:
 * production always means a real MongoDB.
 *
 * @module
 */

import { integer, text } from "../../core/runtime/parse.ts";
import type { Plugin } from "../../core/runtime/plugin.ts";
import { addSettingOptions, type SettingsSpec } from "../../core/runtime/settings.ts";

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
} as const satisfies SettingsSpec;

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
        );
      addSettingOptions(command, sandboxSettings);
      command.action(async (_flags, cmd) => {
        const config = await ctx.start(cmd, sandboxSettings);
        const { startSandbox } = await import("../../core/sandbox/mod.ts");
        const { host, port, oplogSize } = config.values;
        const log = ctx.logger.getChild("sandbox");
        let server;
        try {
          server = await startSandbox({ host, port, oplogSize });
        } catch (error) {
          if (error instanceof Deno.errors.AddrInUse) {
            const { ConfigError } = await import("../../core/runtime/errors.ts");
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
          `Sandbox listening on ${server.host}:${server.port} (in memory, oplog ${oplogSize} entries); Ctrl+C stops it`,
        );
        await new Promise((resolve) =>
          ctx.lifecycle.signal.addEventListener("abort", resolve, { once: true })
        );
        log.info("Sandbox stopped");
      });
    },
  };
}
