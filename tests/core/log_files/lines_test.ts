import assert from "node:assert/strict";
import { LineSplitter } from "../../../core/log_files/lines.ts";

const bytes = (text: string) => new TextEncoder().encode(text);

Deno.test("LineSplitter joins lines split across chunks, even inside a character", () => {
  const splitter = new LineSplitter();
  const all = bytes("✅ Archived 3 orders\r\nsecond ⚠️ line\nthird");
  const lines = [];
  for (let i = 0; i < all.length; i += 3) lines.push(...splitter.push(all.subarray(i, i + 3)));
  assert.deepEqual(lines, ["✅ Archived 3 orders", "second ⚠️ line"]);
  assert.equal(splitter.pending, true);
  assert.deepEqual(splitter.end(), ["third"]);
});

Deno.test("LineSplitter drops a line longer than its limit and keeps going", () => {
  const splitter = new LineSplitter(10);
  const lines = [
    ...splitter.push(bytes("short\n0123456789ABCDEF")),
    ...splitter.push(bytes("GHIJ\nafter\n")),
  ];
  assert.deepEqual(lines, ["short", { overlong: true }, "after"]);
});
