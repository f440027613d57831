// The weight files of the board lab (layout: vis/weights.py): one little-endian binary file per
// model, its tensors listed in index.json as {dtype, offset (bytes), shape}, stored ENCODING
// (byte planes of 2-byte words, gzipped). float16 tensors are widened to Float32Array once, on
// load, so the forward pass runs on plain typed arrays.
// (Typed-array views use the machine's byte order: little-endian on every platform browsers run on.)

import { DataError } from "./errors.js";

const SIZES = { f16: 2, f32: 4 }; // bytes per element of the dtypes vis/weights.py writes
export const ENCODING = "shuffle2+gzip"; // ENCODING in vis/weights.py

let f16table = null; // every float16 bit pattern -> its value (built on first use, ~1 ms)
function halfTable() {
  if (f16table) return f16table;
  f16table = new Float32Array(65536);
  for (let h = 0; h < 65536; h++) {
    const s = h & 0x8000 ? -1 : 1, e = (h >> 10) & 0x1f, m = h & 0x3ff;
    f16table[h] = e === 0 ? s * m * 2 ** -24 : e === 31 ? (m ? NaN : s * Infinity) : s * (1 + m / 1024) * 2 ** (e - 15);
  }
  return f16table;
}

// Uint16 float16 bits -> Float32Array (exported for the browser test of the decoding).
export function decodeHalf(bits) {
  const t = halfTable(), out = new Float32Array(bits.length);
  for (let i = 0; i < bits.length; i++) out[i] = t[bits[i]];
  return out;
}

function fail(file, what) {
  throw new DataError("corrupt", `${file}: ${what}; regenerate the data`);
}

// Check an index entry {file, bytes, tensors} against the tensors a model needs ({name: shape});
// `where` names the entry in index.json.
export function checkWeightsEntry(entry, expected, where, file) {
  if (!entry || typeof entry.file !== "string" || !Number.isInteger(entry.bytes) || !entry.tensors) {
    fail(file, `${where} lacks file, bytes or tensors`);
  }
  if (entry.encoding !== ENCODING) fail(file, `${where} is stored as ${entry.encoding}, this page reads ${ENCODING}`);
  const names = Object.keys(entry.tensors).sort().join(","), want = Object.keys(expected).sort().join(",");
  if (names !== want) fail(file, `${where} holds tensors ${names}, expected ${want}`);
  for (const [name, shape] of Object.entries(expected)) {
    const t = entry.tensors[name];
    if (!SIZES[t.dtype]) fail(file, `${where}: tensor ${name} has dtype ${t.dtype}`);
    if (!Array.isArray(t.shape) || t.shape.join("x") !== shape.join("x")) {
      fail(file, `${where}: tensor ${name} has shape ${t.shape}, expected ${shape.join("x")}`);
    }
    const n = shape.reduce((a, b) => a * b, 1);
    if (!Number.isInteger(t.offset) || t.offset % 4 || t.offset + n * SIZES[t.dtype] > entry.bytes) {
      fail(file, `${where}: tensor ${name} lies outside the file's ${entry.bytes} bytes`);
    }
  }
  return entry;
}

// The stored file -> the decoded one: gunzip, then interleave the low and high byte planes again
async function decodeFile(stored, file) {
  let planes;
  try {
    planes = new Uint8Array(await new Response(new Blob([stored]).stream().pipeThrough(new DecompressionStream("gzip"))).arrayBuffer());
  } catch (err) {
    fail(file, `not a readable gzip stream (${err.message}): truncated or damaged`);
  }
  const half = planes.length >> 1, out = new Uint8Array(planes.length);
  for (let i = 0; i < half; i++) { out[2 * i] = planes[i]; out[2 * i + 1] = planes[half + i]; }
  return out.buffer;
}

// The fetched file -> {name: Float32Array}; its decoded length must be the entry's.
export async function readTensors(stored, entry, file) {
  const buf = await decodeFile(stored, file);
  if (buf.byteLength !== entry.bytes) {
    fail(file, `${buf.byteLength} bytes, index.json says ${entry.bytes}: truncated or from another generation`);
  }
  const out = {};
  for (const [name, t] of Object.entries(entry.tensors)) {
    const n = t.shape.reduce((a, b) => a * b, 1);
    out[name] = t.dtype === "f16" ? decodeHalf(new Uint16Array(buf, t.offset, n)) : new Float32Array(buf.slice(t.offset, t.offset + 4 * n));
  }
  return out;
}
