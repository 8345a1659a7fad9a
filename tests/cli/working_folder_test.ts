import assert from "node:assert/strict";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { userWorkingFolder } from "../../cli/working_folder.ts";
import { tempDir } from "../support/cli.ts";

const REPO = fileURLToPath(new URL("../..", import.meta.url));

Deno.test("userWorkingFolder() takes INIT_CWD only in the task's folder", () => {
  const cases: Array<[Record<string, string>, { cwd: string; taskDir?: string }, string]> = [
    // deno task ran in the repository; the user typed the command in /home/me/shop.
    [{ INIT_CWD: "/home/me/shop" }, { cwd: "/repo", taskDir: "/repo/" }, "/home/me/shop"],
    // No task: the process's own folder.
    [{}, { cwd: "/repo", taskDir: "/repo" }, "/repo"],
    [{ INIT_CWD: "" }, { cwd: "/repo", taskDir: "/repo" }, "/repo"],
    // Inherited by a process started elsewhere (a test's child, a service): not its own.
    [{ INIT_CWD: "/repo" }, { cwd: "/tmp/case", taskDir: "/repo" }, "/tmp/case"],
    // A compiled binary runs no task.
    [{ INIT_CWD: "/home/me/shop" }, { cwd: "/opt/archiver" }, "/opt/archiver"],
  ];
  for (const [env, options, expected] of cases) {
    assert.equal(userWorkingFolder(env, options), expected, JSON.stringify([env, options]));
  }
});

Deno.test("deno task archiver works in the user's folder and reads its .env", async () => {
  await using dir = await tempDir();
  await Deno.writeTextFile(join(dir.path, ".env"), "MONGODB_DB=from_users_folder\n");
  const env = Deno.env.toObject();
  delete env.INIT_CWD; // as in a shell: deno task sets it
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["task", "-q", "--config", join(REPO, "deno.json"), "archiver", "config", "--json"],
    cwd: dir.path,
    env,
    clearEnv: true,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stderr = new TextDecoder().decode(output.stderr);
  assert.equal(output.code, 0, stderr);
  const config = JSON.parse(new TextDecoder().decode(output.stdout));
  assert.equal(config.envFile, join(dir.path, ".env"));
  const db = (config.settings as Array<{ setting: string; value: string; source: string }>)
    .find((s) => s.setting === "MONGODB_DB");
  assert.deepEqual(db, {
    setting: "MONGODB_DB",
    value: "from_users_folder",
    source: `.env (${join(dir.path, ".env")})`,
  });
});
