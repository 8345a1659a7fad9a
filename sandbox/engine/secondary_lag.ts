/**
 * A secondary that lags by a set amount, as MongoDB answers with one: `replSetGetStatus` lists it
 * (`commands/admin.ts`) with an `optimeDate` that far behind the primary's, and a write asking for
 * more than the primary (`w: "majority"`, or a number above 1) waits for it: up to `wtimeout`,
 * then the write stands on the primary with a `writeConcernError` 64 (`WriteConcernFailed`,
 * `errInfo.wtimeout`), or the whole lag when no `wtimeout` bounds it. The set then has two members,
 * so a majority needs the secondary.
 *
 * The write commands are wrapped once in the shared command table; a sandbox without a lag passes
 * straight through.
 *
 * @module
 */

import type { Doc } from "../bson_values.ts";
import { COMMANDS } from "../commands/mod.ts";
import type { CommandContext, CommandHandler } from "./state.ts";

const _WRITES = ["insert", "update", "delete", "findAndModify", "findandmodify"] as const;
const _WRAPPED = Symbol("secondaryLag");

/**
 * How long a write with this write concern waits for a secondary `lagMs` behind, and whether it
 * then fails with a write-concern error. Pure.
 *
 * @param writeConcern The command's `writeConcern`, if any.
 * @param lagMs The secondary's lag.
 * @returns The wait in ms and whether it timed out.
 */
export function majorityWait(
  writeConcern: unknown,
  lagMs: number,
): { waitMs: number; timedOut: boolean } {
  if (lagMs <= 0 || typeof writeConcern !== "object" || writeConcern === null) {
    return { waitMs: 0, timedOut: false };
  }
  const concern = writeConcern as { w?: unknown; wtimeout?: unknown; wtimeoutMS?: unknown };
  const w = concern.w;
  const needsSecondary = w === "majority" || (typeof w === "number" && w > 1) ||
    (typeof w === "object" && w !== null && Number((w as { valueOf(): unknown }).valueOf()) > 1);
  if (!needsSecondary) return { waitMs: 0, timedOut: false };
  const bound = Number(concern.wtimeout ?? concern.wtimeoutMS ?? 0);
  if (bound > 0 && bound < lagMs) return { waitMs: bound, timedOut: true };
  return { waitMs: lagMs, timedOut: false };
}

/** Wraps the write commands so they wait for the state's lagging secondary, once per process. */
export function installSecondaryLag(): void {
  const table = COMMANDS as Map<string, CommandHandler>;
  for (const name of _WRITES) {
    const handler = table.get(name) as (CommandHandler & { [_WRAPPED]?: true }) | undefined;
    if (!handler || handler[_WRAPPED]) continue;
    const wrapped = Object.assign(async (ctx: CommandContext): Promise<Doc> => {
      const reply = await handler(ctx);
      const { waitMs, timedOut } = majorityWait(
        ctx.body.writeConcern,
        ctx.state.secondaryLagMs ?? 0,
      );
      if (waitMs > 0) await new Promise((resolve) => setTimeout(resolve, waitMs));
      if (timedOut) {
        reply.writeConcernError = {
          code: 64,
          codeName: "WriteConcernFailed",
          errmsg: "waiting for replication timed out",
          errInfo: { wtimeout: true },
        };
      }
      return reply;
    }, { [_WRAPPED]: true as const });
    table.set(name, wrapped);
  }
}
