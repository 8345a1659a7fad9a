/**
 * Read-only views (`create` with `viewOn` and `pipeline`): a view is kept in the catalog as a
 * collection without documents whose options name its source; reads on it run its pipeline
 * over the source (itself possibly a view) first, writes on it fail as on MongoDB.
 *
 * @module
 */

import type { Doc } from "../bson_values.ts";
import type { Collection } from "./collection.ts";
import { CommandError } from "../errors.ts";
import type { Storage } from "./storage.ts";

/** The most views MongoDB lets one view be defined on, directly or not. */
const _MAX_DEPTH = 20;

/** What a read on a view reads. */
export interface ResolvedView {
  /** The collection at the end of the chain, if it exists. */
  collection: Collection | undefined;
  /** The pipelines of the chain, the source's first. */
  pipeline: Doc[];
}

/**
 * Tells whether a catalog entry is a view.
 *
 * @param collection A catalog entry.
 * @returns `true` for a view.
 */
export function isView(collection: Collection | undefined): boolean {
  return typeof collection?.options.viewOn === "string";
}

/**
 * Follows a view to the collection it reads and the pipeline to run over it.
 *
 * @param storage The server storage.
 * @param view The view.
 * @returns The source collection and the combined pipeline.
 */
export function resolveView(storage: Storage, view: Collection): ResolvedView {
  let pipeline: Doc[] = [];
  let current: Collection | undefined = view;
  for (let depth = 0; current && isView(current); depth++) {
    if (depth >= _MAX_DEPTH) {
      throw new CommandError(
        13,
        `View depth too deep or view cycle detected; maximum depth is ${_MAX_DEPTH}`,
      );
    }
    pipeline = [...((current.options.pipeline as Doc[] | undefined) ?? []), ...pipeline];
    current = storage.collection(current.db, String(current.options.viewOn));
  }
  return { collection: current, pipeline };
}

/**
 * Fails a write or index build aimed at a view, with MongoDB's error.
 *
 * @param collection The target, if it exists.
 */
export function rejectViewWrite(collection: Collection | undefined): void {
  if (collection && isView(collection)) {
    throw new CommandError(166, `Namespace ${collection.ns} is a view, not a collection`);
  }
}
