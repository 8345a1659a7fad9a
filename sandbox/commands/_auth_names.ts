/**
 * What the user and role commands share: the name a command manages, as mongod checks it.
 *
 * @module
 */

import { CommandError } from "../errors.ts";
import type { CommandContext } from "../engine/state.ts";

/** The user or role name a command manages (its command field), as mongod checks it. */
export function principalName(ctx: CommandContext, what: "user" | "role"): string {
  const name = ctx.body[ctx.name];
  if (typeof name !== "string" || name === "") {
    throw new CommandError(
      2,
      `${what === "user" ? "User" : "Role"} name must be a non-empty string`,
    );
  }
  if (name.includes("@") && what === "role") {
    throw new CommandError(2, `Role names cannot contain "@": ${name}`);
  }
  return name;
}
