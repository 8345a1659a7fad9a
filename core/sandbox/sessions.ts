/**
 * The logical sessions a server has seen (every command's `lsid`), as `$listLocalSessions`
 * lists them and `endSessions` forgets them. Without authentication every session belongs to
 * the same (empty) user, whose `uid` is the SHA-256 of the empty user name, as on mongod.
 *
 * @module
 */

import { Binary } from "bson";
import { type Doc, isPlainDoc } from "./bson_values.ts";

/** SHA-256 of "", the `uid` mongod gives sessions without an authenticated user. */
const _NO_USER_UID = new Binary(
  Uint8Array.from(
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855".match(/../g)!,
    (h) => parseInt(h, 16),
  ),
  0,
);

/** The server's session cache. */
export class LocalSessions {
  readonly #sessions = new Map<string, { id: Binary; lastUse: number }>();

  /**
   * Notes that a command used a session (one map update per command).
   *
   * @param lsid The command's `lsid`.
   */
  touch(lsid: unknown): void {
    const id = isPlainDoc(lsid) ? lsid.id : undefined;
    if (!(id instanceof Binary)) return;
    const key = id.toString("hex");
    const known = this.#sessions.get(key);
    if (known) known.lastUse = Date.now();
    else this.#sessions.set(key, { id, lastUse: Date.now() });
  }

  /**
   * Forgets sessions (`endSessions`).
   *
   * @param ids The `lsid` documents.
   */
  end(ids: unknown[]): void {
    for (const lsid of ids) {
      const id = isPlainDoc(lsid) ? lsid.id : undefined;
      if (id instanceof Binary) this.#sessions.delete(id.toString("hex"));
    }
  }

  /**
   * Lists the sessions as `$listLocalSessions` returns them.
   *
   * @returns `{ _id: { id, uid }, lastUse }` documents, oldest use first.
   */
  list(): Doc[] {
    return [...this.#sessions.values()]
      .sort((a, b) => a.lastUse - b.lastUse)
      .map(({ id, lastUse }) => ({ _id: { id, uid: _NO_USER_UID }, lastUse: new Date(lastUse) }));
  }
}
