/**
 * The user's working folder when the CLI is run from source with `deno task archiver`: the task
 * runs in the repository's folder (where `deno.json` is), and Deno gives the folder the user
 * typed the command in as `INIT_CWD` (set only when not already set, as `npm run` does). Relative
 * paths and the `.env` file are the user's, so the CLI works there.
 *
 * @module
 */

/**
 * The folder the CLI should work in.
 *
 * `INIT_CWD` is used only when the process runs in the task's folder: a variable inherited by a
 * process started elsewhere (a test's child in its temporary folder, a service) is not its own.
 *
 * @param env The environment (`INIT_CWD`).
 * @param options The process's working folder and the task's folder (the repository's; absent
 * for a compiled binary, which runs no task).
 * @returns The user's folder, or the process's working folder.
 * @example
 * ```ts
 * // cd ~/shop && deno task --config ~/archiver/deno.json archiver batch
 * userWorkingFolder({ INIT_CWD: "/home/me/shop" }, { cwd: "/home/me/archiver", taskDir: "/home/me/archiver" });
 * // "/home/me/shop"
 * ```
 */
export function userWorkingFolder(
  env: Readonly<Record<string, string | undefined>>,
  options: { cwd: string; taskDir?: string },
): string {
  const init = env.INIT_CWD;
  if (!init || options.taskDir === undefined) return options.cwd;
  return _samePath(options.cwd, options.taskDir) ? init : options.cwd;
}

function _samePath(a: string, b: string): boolean {
  const trim = (path: string) => path.replace(/[\\/]+$/, "");
  return trim(a) === trim(b);
}
