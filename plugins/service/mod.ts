/**
 * The `service` plugin: `archiver service print` prints the NSSM commands that install
 * `archiver watch` as a Windows service (PowerShell lines), and `archiver service install` runs
 * them on a Windows host where `nssm` is on PATH.
 *
 * @module
 */

import type { Plugin } from "../../core/runtime/plugin.ts";
import { FALLBACK_EXE, serviceDefaults, type ServiceOptions } from "./nssm.ts";

/** Options of the `service` plugin: NSSM timings, platform and running binary. */
export interface ServicePluginOptions extends
  Partial<
    Pick<ServiceOptions, "stopTimeoutMs" | "throttleMs" | "restartDelayMs" | "rotateBytes">
  > {
  /** The platform the command runs on. @default Deno.build.os */
  os?: typeof Deno.build.os;
  /**
   * The running `archiver.exe` when this is the compiled Windows binary, else `undefined`.
   * @default Deno.execPath() when compiled and on Windows
   */
  compiledExe?: () => string | undefined;
}

/** The defaults merged with what the caller passes. */
export const servicePluginDefaults = {
  stopTimeoutMs: serviceDefaults.stopTimeoutMs,
  throttleMs: serviceDefaults.throttleMs,
  restartDelayMs: serviceDefaults.restartDelayMs,
  rotateBytes: serviceDefaults.rotateBytes,
  os: Deno.build.os,
  compiledExe: () =>
    Deno.build.standalone && Deno.build.os === "windows" ? Deno.execPath() : undefined,
} satisfies Required<ServicePluginOptions>;

/**
 * Makes the `service` plugin.
 *
 * @param options NSSM timings; platform and running binary (tests).
 * @returns The plugin.
 * @example
 * ```ts
 * // archiver service print --exe "C:\Program Files\archiver\archiver.exe" > install.ps1
 * ```
 */
export function service(options: ServicePluginOptions = {}): Plugin {
  const opts = { ...servicePluginDefaults, ...options };
  return {
    name: "service",
    description: "Install the watcher as a Windows service with NSSM",
    register(program, ctx) {
      const group = program
        .command("service")
        .description("Install the watcher (archiver watch) as a Windows service with NSSM");
      const withFlags = (command: typeof group) =>
        command
          .option("--name <name>", "Windows service name", serviceDefaults.name)
          .option(
            "--exe <path>",
            "Absolute path of archiver.exe on the Windows host (default: this binary when compiled)",
          )
          .option("--workdir <dir>", "Working folder holding .env and logs\\ (default: the exe's)");

      withFlags(
        group
          .command("print")
          .description("Print the NSSM commands that install the service, as PowerShell lines"),
      ).action(async (flags) => {
        const { nssmPlan, powerShellScript } = await import("./nssm.ts");
        const { exe, notes } = _exe(flags.exe, opts.compiledExe());
        const plan = nssmPlan(_options(opts, flags, exe));
        ctx.out(powerShellScript(plan, notes).trimEnd());
      });

      withFlags(
        group
          .command("install")
          .description("Run those commands (Windows, as Administrator, nssm on PATH)"),
      ).action(async (flags) => {
        const { installService } = await import("./install.ts");
        const { exe } = _exe(flags.exe, opts.compiledExe());
        await installService(_options(opts, flags, exe), {
          os: opts.os,
          env: ctx.env,
          out: (line) => ctx.out(line),
        });
      });
    },
  };
}

function _exe(
  given: string | undefined,
  compiled: string | undefined,
): { exe: string; notes: string[] } {
  if (given !== undefined) return { exe: given, notes: [] };
  if (compiled !== undefined) return { exe: compiled, notes: [] };
  return {
    exe: FALLBACK_EXE,
    notes: [`Not run from the compiled archiver.exe and no --exe given: assuming ${FALLBACK_EXE}`],
  };
}

function _options(
  opts: typeof servicePluginDefaults,
  flags: { name: string; workdir?: string },
  exe: string,
): ServiceOptions {
  return {
    name: flags.name,
    exe,
    workdir: flags.workdir,
    stopTimeoutMs: opts.stopTimeoutMs,
    throttleMs: opts.throttleMs,
    restartDelayMs: opts.restartDelayMs,
    rotateBytes: opts.rotateBytes,
  };
}
