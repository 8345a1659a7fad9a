/**
 * Runs `archiver` as another user, the way a monitoring agent (Nagios, Icinga, Zabbix) runs
 * `archiver health` as its own account: `setpriv` (or `runuser`) to `nobody` from a test running
 * as root. Deno's module cache sits under root's home, which `nobody` cannot read: the runner
 * gives the child its own cache, hard links of root's npm packages (no copy), `--cached-only`.
 *
 * @module
 */

import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { SELF_PERMISSIONS } from "../../core/runtime/child_process.ts";
import { pathExists } from "./cli.ts";

/** The user the runner switches to. */
export const OTHER_USER = "nobody";

/** Runs `archiver` as {@link OTHER_USER}; dispose it to remove its module cache. */
export interface OtherUserRunner extends AsyncDisposable {
  /** Runs `archiver <args>` in `cwd`; resolves with its exit code and output. */
  run(
    args: readonly string[],
    options: { cwd: string; env?: Record<string, string> },
  ): Promise<{ code: number; stdout: string; stderr: string }>;
}

/**
 * Prepares a runner, or says why there can be none here (not Linux, not root, no `setpriv` nor
 * `runuser` that works): the caller skips with that reason.
 *
 * @returns The runner, or the reason to skip.
 */
export async function otherUserRunner(): Promise<OtherUserRunner | { skip: string }> {
  if (Deno.build.os !== "linux") return { skip: "switching users is tested on Linux" };
  if (Deno.uid() !== 0) return { skip: "the tests do not run as root, so cannot switch user" };
  const prefix = await _switcher();
  if (!prefix) return { skip: "neither setpriv nor runuser can switch to nobody here" };
  const denoDir = await _denoDir();
  const cache = await Deno.makeTempDir({ prefix: "archiver-other-user-deno-" });
  await Deno.chmod(cache, 0o755);
  for (const part of ["npm", "remote"]) {
    const from = join(denoDir, part);
    if (!(await pathExists(from))) continue;
    const linked = await _output("cp", ["-al", from, join(cache, part)]);
    if (!linked.success) await _output("cp", ["-a", from, join(cache, part)]);
  }
  await _output("chown", [OTHER_USER, cache]);
  const main = fileURLToPath(new URL("../../cli/main.ts", import.meta.url));
  const config = fileURLToPath(new URL("../../deno.json", import.meta.url));
  return {
    async run(args, options) {
      const env = { NO_COLOR: "1", ...options.env, DENO_DIR: cache, HOME: cache };
      const command = new Deno.Command(prefix[0]!, {
        args: [
          ...prefix.slice(1),
          "env",
          ...Object.entries(env).map(([key, value]) => `${key}=${value}`),
          Deno.execPath(),
          "run",
          "--cached-only",
          ...SELF_PERMISSIONS,
          "--allow-run",
          "--config",
          config,
          main,
          ...args,
        ],
        cwd: options.cwd,
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
      });
      const output = await command.output();
      const decode = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
      return { code: output.code, stdout: decode(output.stdout), stderr: decode(output.stderr) };
    },
    async [Symbol.asyncDispose]() {
      await Deno.remove(cache, { recursive: true }).catch(() => {});
    },
  };
}

async function _switcher(): Promise<string[] | undefined> {
  const candidates = [
    ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"],
    ["runuser", "-u", OTHER_USER, "--"],
  ];
  for (const prefix of candidates) {
    const probe = await _output(prefix[0]!, [...prefix.slice(1), "id", "-u"]);
    if (probe.success && probe.stdout.trim() !== "0") return prefix;
  }
  return undefined;
}

async function _denoDir(): Promise<string> {
  const info = await _output(Deno.execPath(), ["info", "--json"]);
  return (JSON.parse(info.stdout) as { denoDir: string }).denoDir;
}

async function _output(
  command: string,
  args: string[],
): Promise<{ success: boolean; stdout: string }> {
  try {
    const output = await new Deno.Command(command, { args, stdout: "piped", stderr: "null" })
      .output();
    return { success: output.success, stdout: new TextDecoder().decode(output.stdout) };
  } catch {
    return { success: false, stdout: "" };
  }
}
