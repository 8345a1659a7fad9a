/**
 * Splits bytes into lines with bounded memory: only the unfinished last line is kept between
 * chunks, and a line longer than the limit (a binary file, a runaway record) is dropped and
 * reported as overlong instead of growing without end.
 *
 * @module
 */

const NEWLINE = 0x0a;

/** A line read, or the marker of one dropped for being too long. */
export type Line = string | { overlong: true };

/** Splits a byte stream into UTF-8 lines. */
export class LineSplitter {
  readonly #maxBytes: number;
  readonly #decoder = new TextDecoder();
  #pending: Uint8Array[] = [];
  #pendingBytes = 0;
  #skipping = false;

  /** @param maxBytes The longest line kept, in bytes. @default 1 MiB */
  constructor(maxBytes = 1024 * 1024) {
    this.#maxBytes = maxBytes;
  }

  /**
   * Adds bytes and returns the lines they complete.
   *
   * @param chunk The next bytes of the stream.
   * @returns The complete lines, without line endings (a trailing `\r` is removed).
   */
  push(chunk: Uint8Array): Line[] {
    const lines: Line[] = [];
    let start = 0;
    for (;;) {
      const end = chunk.indexOf(NEWLINE, start);
      if (end === -1) break;
      const piece = chunk.subarray(start, end);
      if (this.#skipping) {
        this.#skipping = false;
        lines.push({ overlong: true });
      } else if (this.#pendingBytes + piece.length > this.#maxBytes) {
        this.#reset();
        lines.push({ overlong: true });
      } else {
        lines.push(this.#decode(piece));
      }
      start = end + 1;
    }
    const rest = chunk.subarray(start);
    if (rest.length > 0 && !this.#skipping) {
      if (this.#pendingBytes + rest.length > this.#maxBytes) {
        this.#reset();
        this.#skipping = true;
      } else {
        // Copy: the caller may reuse its buffer.
        this.#pending.push(rest.slice());
        this.#pendingBytes += rest.length;
      }
    }
    return lines;
  }

  /**
   * Ends the stream: the unfinished last line, if any (often a truncated record).
   *
   * @returns The last line, or nothing.
   */
  end(): Line[] {
    if (this.#skipping) {
      this.#skipping = false;
      return [{ overlong: true }];
    }
    if (this.#pendingBytes === 0) return [];
    return [this.#decode(new Uint8Array(0))];
  }

  /** Whether a partial line is waiting for its end. */
  get pending(): boolean {
    return this.#pendingBytes > 0 || this.#skipping;
  }

  #decode(piece: Uint8Array): string {
    let bytes = piece;
    if (this.#pending.length > 0) {
      bytes = new Uint8Array(this.#pendingBytes + piece.length);
      let offset = 0;
      for (const part of this.#pending) {
        bytes.set(part, offset);
        offset += part.length;
      }
      bytes.set(piece, offset);
      this.#reset();
    }
    const text = this.#decoder.decode(bytes);
    return text.endsWith("\r") ? text.slice(0, -1) : text;
  }

  #reset(): void {
    this.#pending = [];
    this.#pendingBytes = 0;
  }
}

/**
 * Reads a file's lines, streaming.
 *
 * @param path The file.
 * @param options The longest line kept and an abort signal.
 * @returns The lines, in order; the last unfinished line too.
 */
export async function* readLines(
  path: string,
  options: { maxLineBytes?: number; signal?: AbortSignal } = {},
): AsyncGenerator<Line> {
  const splitter = new LineSplitter(options.maxLineBytes);
  using file = await Deno.open(path, { read: true });
  const buffer = new Uint8Array(256 * 1024);
  for (;;) {
    options.signal?.throwIfAborted();
    const read = await file.read(buffer);
    if (read === null) break;
    yield* splitter.push(buffer.subarray(0, read));
  }
  yield* splitter.end();
}
