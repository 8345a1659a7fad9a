/**
 * `archiver service install`: runs the NSSM commands of {@link nssmPlan} on a Windows host with
 * `nssm` on PATH, stopping at the first that fails. Everywhere else it refuses with one line.
 *
 * @module
 */

import { win32 } from "node:path";
import { ConfigError, PartialFailureError } from "../../core/runtime/errors.ts";
import { nssmPlan, powerShellLine, type ServiceOptions } from "./nssm.ts";

/** Where the installation runs and reports. */
export interface InstallContext {
  /** The platform. */
  os: typeof Deno.build.os;
  /** The environment, for PATH. */
  env: Readonly<Record<string, string | undefined>>;
  /** Writes one line of progress to standard output. */
  out(line: string): void;
}

/**
 * Installs and starts the service.
 *
 * @param options Service name, exe, working folder and timings.
 * @param context Platform, environment and output.
 * @throws {ConfigError} Off Windows, without nssm on PATH, or with a bad flag or missing exe
 * (exit 2).
 * @throws {PartialFailureError} When an nssm command fails (exit 1); the steps before it stay.
 */
export async function installService(
  options: ServiceOptions,
  context: InstallContext,
): Promise<void> {
  const refusal = "Cannot install the service here: archiver service install only runs on Windows" +
    " with nssm on PATH";
  const instead = 'run "archiver service print" and paste its lines into an elevated PowerShell';
  if (context.os !== "windows") {
    throw new ConfigError(
      `${refusal} (this host runs ${context.os}); ${instead} on the Windows host`,
    );
  }
  const nssm = await findOnPath("nssm.exe", context.env);
  if (nssm === undefined) {
    throw new ConfigError(
      `${refusal} (nssm.exe is not on PATH); install NSSM (https://nssm.cc) or ${instead}`,
    );
  }
  const plan = nssmPlan(options);
  if (!(await _isFile(plan.exe))) {
    throw new ConfigError(
      `Cannot install --exe ${
        JSON.stringify(plan.exe)
      }: file not found (build it with deno task compile:windows and copy it there)`,
    );
  }
  if (!(await _isFile(win32.join(plan.workdir, ".env")))) {
    context.out(
      `Note: no .env in ${plan.workdir}; the service will use its environment and defaults`,
    );
  }
  for (const step of plan.steps) {
    const line = powerShellLine(step);
    context.out(`> ${line}`);
    if (step.program === "mkdir") {
      await Deno.mkdir(step.args[0]!, { recursive: true });
      continue;
    }
    const result = await new Deno.Command(nssm, { args: step.args, stdin: "null" }).output();
    const output = `${_decode(result.stdout)} ${_decode(result.stderr)}`.replace(/\s+/g, " ")
      .trim();
    if (result.code !== 0) {
      throw new PartialFailureError(
        `${line} failed with exit code ${result.code}${output ? `: ${output}` : ""}` +
          ` (the steps before it were applied; "nssm remove ${plan.name} confirm" undoes them)`,
      );
    }
  }
  context.out(
    `Service "${plan.name}" installed and started; its console output is in ${plan.logDir}`,
  );
}

/**
 * Finds an executable in the PATH folders (Windows: `;`-separated, the variable's name in any case).
 *
 * @param file The file name, such as `nssm.exe`.
 * @param env The environment.
 * @returns Its full path, or `undefined`.
 */
export async function findOnPath(
  file: string,
  env: Readonly<Record<string, string | undefined>>,
): Promise<string | undefined> {
  const key = Object.keys(env).find((name) => name.toUpperCase() === "PATH");
  const folders = (key ? env[key] ?? "" : "").split(";").map((dir) =>
    dir.trim().replace(/^"|"$/g, "")
  );
  for (const dir of folders) {
    if (dir === "") continue;
    const path = win32.join(dir, file);
    if (await _isFile(path)) return path;
  }
  return undefined;
}

async function _isFile(path: string): Promise<boolean> {
  try {
    return (await Deno.stat(path)).isFile;
  } catch {
    return false;
  }
}

// NSSM writes UTF-16LE when its output is not a console.
function _decode(bytes: Uint8Array): string {
  const zeros = bytes.filter((byte, i) => i % 2 === 1 && byte === 0).length;
  const utf16 = bytes.length >= 2 && zeros >= bytes.length / 4;
  return new TextDecoder(utf16 ? "utf-16le" : "utf-8").decode(bytes).replaceAll("\0", "");
}
