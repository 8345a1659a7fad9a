/**
 * What a micro-batch of change events means for the archive: its orders, each once by `_id`
 * (keyed with {@link orderIdKey}: a document `_id`, or `1` beside `"1"`, is never merged with
 * another order nor dropped), and the times its events happened.
 *
 * @module
 */

import type { ChangeStreamDocument, Document, Timestamp } from "mongodb";
import type { OrderRef } from "../../core/archive/archiver.ts";
import { orderIdKey } from "../../core/archive/order_id.ts";

/** Events that end a collection's stream: the collection is gone (or renamed away). */
export const ENDING_EVENTS: readonly string[] = ["invalidate", "drop", "rename", "dropDatabase"];

/**
 * Whether an event ends the stream.
 *
 * @param event A change event.
 * @returns True for invalidate, drop, rename and dropDatabase.
 */
export function isEnding(event: ChangeStreamDocument): boolean {
  return ENDING_EVENTS.includes(event.operationType);
}

/**
 * The orders of a micro-batch, one per `_id` (the event's `documentKey._id`), in the order of
 * their latest event.
 *
 * @param events The micro-batch.
 * @returns Their `_id`s.
 */
export function orderRefs(events: readonly ChangeStreamDocument[]): OrderRef[] {
  const byId = new Map<string, OrderRef>();
  for (const event of events) {
    const key = (event as { documentKey?: Document }).documentKey;
    if (!key || !("_id" in key)) continue;
    const id = orderIdKey(key._id);
    byId.delete(id); // the latest event decides the order's place
    byId.set(id, { _id: key._id });
  }
  return [...byId.values()];
}

/**
 * When an event happened: its wall time, else its cluster time, else now.
 *
 * @param event A change event.
 * @returns Milliseconds since the epoch.
 */
export function eventTime(event: ChangeStreamDocument): number {
  const wall = (event as { wallTime?: Date }).wallTime;
  if (wall instanceof Date) return wall.getTime();
  const clusterTime = (event as { clusterTime?: Timestamp }).clusterTime;
  return clusterTime ? clusterTime.getHighBitsUnsigned() * 1000 : Date.now();
}

/**
 * Says what an ending event means, for the log.
 *
 * @param event The ending event.
 * @returns E.g. `shop.Commande was dropped`.
 */
export function describeEnding(event: ChangeStreamDocument): string {
  const ns = (event as { ns?: { db?: string; coll?: string } }).ns;
  const to = (event as { to?: { db?: string; coll?: string } }).to;
  const name = ns?.coll ? `${ns.db}.${ns.coll}` : ns?.db ?? "the collection";
  switch (event.operationType) {
    case "drop":
      return `${name} was dropped`;
    case "rename":
      return `${name} was renamed to ${to?.db}.${to?.coll}`;
    case "dropDatabase":
      return `the database ${ns?.db} was dropped`;
    default:
      return "the collection was dropped or renamed";
  }
}
