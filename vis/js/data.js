// Loading the generated data (vis/data, written by vis/generate_vis_data.py).
//
// Only index.json is needed to draw the landing page. An SAE page needs that SAE's
// features.json (summary arrays, ~25 bytes per feature) and, for the feature on screen,
// one shard of details plus the board-table chunks its examples point into. Everything is
// fetched once and cached, so stepping through features only fetches a new shard every
// shard_size features. The layout (and the board record) is documented in vis/viewer_data.py.
// Every file is checked (vis/js/validate.js) before it is cached, so nothing drawn comes from a
// file that is cut short or inconsistent with index.json.

import { DataError } from "./errors.js";
import { checkChunk, checkFeatures, checkIndex, checkShard, featureIdProblem } from "./validate.js";
import { readTensors } from "./weights.js";
import { Net } from "./net.js";
import { Sae } from "./sae.js";

export { DataError };
export const FORMAT = "othello-vis/5"; // must match FORMAT in vis/viewer_data.py
export const DATA = "data/";
export const COLS = "abcdef";

const cache = new Map(); // url -> Promise (so concurrent requests share one fetch)

// Every JSON file carries the format it was written in; a file of another format (an older
// generation, a half-copied folder) is refused with its name, never drawn.
async function readJson(r, url) {
  let obj;
  try {
    obj = await r.json();
  } catch (err) {
    throw new DataError("corrupt", `${DATA + url} is not valid JSON (${err.message})`);
  }
  if (obj === null || typeof obj !== "object" || obj.format !== FORMAT) {
    throw new DataError("stale", `${DATA + url} was written in format "${obj?.format}", this page reads "${FORMAT}"`);
  }
  return obj;
}

// `check(obj, file)` validates the file once, before it is cached; it throws a DataError naming the file.
function fetchOnce(url, as, check = (x) => x) {
  if (!cache.has(url)) {
    const p = fetch(DATA + url).then(async (r) => {
      if (!r.ok) throw new DataError(r.status === 404 ? "missing" : "http", `${DATA + url}: HTTP ${r.status}`);
      const obj = await (as === "bin" ? r.arrayBuffer() : readJson(r, url));
      try {
        return await check(obj, DATA + url); // await: an async check's errors are named too
      } catch (err) { // a shape the checks did not foresee still names the file
        throw err instanceof DataError ? err : new DataError("corrupt", `${DATA + url}: malformed (${err.message}); regenerate the data`);
      }
    });
    p.catch(() => cache.delete(url)); // a failed fetch may be retried after regenerating
    cache.set(url, p);
  }
  return cache.get(url);
}

export function loadIndex() {
  return fetchOnce("index.json", "json", checkIndex);
}

export function saeByName(index, name) {
  return index.saes.find((s) => s.name === name);
}

export function loadFeatures(sae) {
  return fetchOnce(`${sae.dir}/features.json`, "json", (obj, file) => checkFeatures(obj, sae, file));
}

export function shardOf(sae, id) {
  return Math.floor(id / sae.shard_size);
}

export async function loadFeature(sae, id) {
  const problem = featureIdProblem(String(id), sae); // never request a shard that cannot exist
  if (problem) throw new DataError("id", problem);
  const k = shardOf(sae, id);
  const shard = await fetchOnce(`${sae.dir}/shards/${k}.json`, "json", (obj, file) => checkShard(obj, sae, k, boardInfo, file));
  return shard.features[id - shard.first];
}

// ---------------------------------------------------------------- models (board lab)
// The network and the SAEs, fetched on first use only (the landing page and the feature pages do
// without them). Their index entries were checked by checkIndex.
const models = new Map(); // file -> Promise(model)

function loadModel(entry, make) {
  if (!models.has(entry.file)) {
    const p = fetchOnce(entry.file, "bin", (buf, file) => readTensors(buf, entry, file)).then(make);
    p.catch(() => models.delete(entry.file));
    models.set(entry.file, p);
  }
  return models.get(entry.file);
}

export function loadNet(index) {
  return loadModel(index.net, (t) => new Net(index.net, t));
}

export function loadSae(sae) {
  return loadModel(sae.weights, (t) => new Sae(sae.weights, t, sae.d_in, sae.d_sae));
}

// ---------------------------------------------------------------- boards
let boardInfo = null; // index.boards, checked by checkIndex
const chunks = new Map(); // chunk index -> Uint8Array

export function setBoardInfo(info) { boardInfo = info; }

// Make sure the chunks holding these board ids are loaded (ids were checked against the table by checkShard).
export async function ensureBoards(ids) {
  const need = [...new Set(ids.map((i) => Math.floor(i / boardInfo.per_chunk)))].filter((k) => !chunks.has(k));
  await Promise.all(need.map(async (k) => {
    chunks.set(k, new Uint8Array(await fetchOnce(`boards/${k}.bin`, "bin", (buf, file) => checkChunk(buf, k, boardInfo, file))));
  }));
}

function bit(bytes, offset, i) {
  return (bytes[offset + (i >> 3)] >> (i & 7)) & 1;
}

// Board id -> {cells: Int8Array(36) (+1 mover, -1 opponent, 0 empty), legal: bool[37], move, ply,
// moverBlack, value, prob}. Call ensureBoards first.
export function getBoard(id) {
  const rec = chunks.get(Math.floor(id / boardInfo.per_chunk));
  const o = (id % boardInfo.per_chunk) * boardInfo.record_bytes;
  const cells = new Int8Array(36);
  const legal = [];
  for (let i = 0; i < 36; i++) cells[i] = bit(rec, o, i) - bit(rec, o + 5, i);
  for (let i = 0; i < 37; i++) legal.push(bit(rec, o + 10, i) === 1);
  return {
    cells, legal, move: rec[o + 15], ply: rec[o + 16], moverBlack: rec[o + 17] === 1,
    value: ((rec[o + 18] << 24) >> 24) / 127, prob: rec[o + 19] / 255,
  };
}

export function moveName(a) {
  return a === 36 ? "pass" : `${COLS[a % 6]}${Math.floor(a / 6) + 1}`;
}
