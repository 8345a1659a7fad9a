/**
 * What reading a state file gave (the status file, the batch report): nothing, something
 * unreadable, or a value — what the file-based checks judge.
 *
 * @module
 */

/** What reading a state file gave: nothing, something unreadable, or a value. */
export type FileRead<T> =
  | { kind: "missing"; path: string }
  | { kind: "invalid"; path: string; reason: string }
  | { kind: "found"; path: string; value: T };
