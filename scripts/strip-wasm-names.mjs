#!/usr/bin/env node
// Drops the `name` custom section (function names for stack traces) from a wasm file, copying every
// other section byte for byte: no re-encoding, so nothing about the code can change.
//   node scripts/strip-wasm-names.mjs build/index_bg.wasm
import { readFileSync, writeFileSync } from "node:fs";

const path = process.argv[2];
const wasm = readFileSync(path);
const leb = (buf, pos) => {
  let value = 0, shift = 0, byte;
  do {
    byte = buf[pos++];
    value += (byte & 0x7f) * 2 ** shift;
    shift += 7;
  } while (byte & 0x80);
  return [value, pos];
};
if (wasm.readUInt32LE(0) !== 0x6d736100) throw new Error(`${path} is not a wasm module`);
const kept = [wasm.subarray(0, 8)];
let pos = 8;
let dropped = 0;
while (pos < wasm.length) {
  const start = pos;
  const id = wasm[pos++];
  const [size, payload] = leb(wasm, pos);
  const end = payload + size;
  let drop = false;
  if (id === 0) {
    const [nameLen, namePos] = leb(wasm, payload);
    drop = wasm.subarray(namePos, namePos + nameLen).toString("utf8") === "name";
  }
  if (drop) dropped += end - start;
  else kept.push(wasm.subarray(start, end));
  pos = end;
}
writeFileSync(path, Buffer.concat(kept));
console.log(`strip-wasm-names: removed ${dropped} bytes from ${path}`);
