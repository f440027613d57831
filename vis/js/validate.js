// Checks of every fetched file against the layout vis/viewer_data.py writes, before anything is drawn.
//
// A file cut short by a failed copy, edited by hand, or left from another generation must give an
// error that names it, never a blank board captioned "ply undefined" or a feature silently shown
// as #0. Each check throws DataError("corrupt", "<file>: <what is wrong>"); the router shows it.

import { DataError } from "./errors.js";
import { netTensors } from "./net.js";
import { saeTensors } from "./sae.js";
import { checkWeightsEntry } from "./weights.js";

export const RECORD_BYTES = 20; // the board record getBoard decodes (RECORD_BYTES in vis/viewer_data.py)
// features.json's parallel arrays: SUMMARY_ARRAYS in vis/viewer_data.py (a test keeps the two equal)
export const SUMMARY_ARRAYS = ["density", "max", "mean", "dead", "top_move", "count", "reach", "negligible", "one_hit",
  "effect_lo", "effect_hi", "label", "label_kind", "label_precision", "label_recall", "label_f1", "importance",
  "value_change", "map_x", "map_y"];

const isInt = (v) => Number.isInteger(v);
const isCount = (v) => Number.isInteger(v) && v >= 0;

function fail(file, what) {
  throw new DataError("corrupt", `${file}: ${what}; regenerate the data`);
}

function need(file, ok, what) {
  if (!ok) fail(file, what);
}

export function checkIndex(index, file) {
  need(file, Array.isArray(index.saes), "'saes' is not a list");
  const b = index.boards;
  need(file, b && isCount(b.count) && isInt(b.per_chunk) && b.per_chunk > 0 && isCount(b.chunks),
    "'boards' lacks count / per_chunk / chunks");
  need(file, b.record_bytes === RECORD_BYTES, `boards.record_bytes is ${b.record_bytes}, this page reads ${RECORD_BYTES}-byte records`);
  need(file, b.chunks === Math.max(1, Math.ceil(b.count / b.per_chunk)), `boards.chunks ${b.chunks} does not fit ${b.count} boards`);
  need(file, index.store && isCount(index.store.positions) && typeof index.store.split === "string", "'store' lacks positions / split");
  need(file, index.sweep && typeof index.sweep.eval_split === "string", "'sweep' lacks eval_split");
  const n = index.net;
  need(file, n && [n.d_model, n.n_blocks, n.d_hidden].every((v) => isInt(v) && v > 0) && Array.isArray(n.sites) &&
    n.sites.length === n.n_blocks + 1 && typeof n.ln_eps === "number", "'net' lacks d_model / n_blocks / d_hidden / sites / ln_eps");
  checkWeightsEntry(n, netTensors(n), "net", file);
  const names = new Set();
  index.saes.forEach((s, i) => {
    const where = `saes[${i}]`;
    need(file, s && typeof s.name === "string" && typeof s.dir === "string", `${where} lacks its name or dir`);
    need(file, !names.has(s.name), `${where}: the name ${s.name} appears twice`);
    names.add(s.name);
    need(file, isInt(s.d_sae) && s.d_sae > 0 && isInt(s.shard_size) && s.shard_size > 0, `${where} (${s.name}): bad d_sae or shard_size`);
    need(file, s.shards === Math.ceil(s.d_sae / s.shard_size), `${where} (${s.name}): ${s.shards} shards cannot hold ${s.d_sae} features`);
    need(file, s.metrics && typeof s.metrics === "object" && s.flags && s.definitions, `${where} (${s.name}) lacks metrics, flags or definitions`);
    need(file, n.sites.includes(s.site) && s.d_in === n.d_model, `${where} (${s.name}): site ${s.site} or d_in ${s.d_in} is not the network's`);
    const shapes = saeTensors(s.weights, s.d_in, s.d_sae);
    need(file, shapes !== null && (s.weights.architecture !== "topk" || (isInt(s.weights.k) && s.weights.k > 0)),
      `${where} (${s.name}): weights of architecture ${s.weights?.architecture} (k ${s.weights?.k}) cannot be evaluated`);
    checkWeightsEntry(s.weights, shapes, `${where} (${s.name}).weights`, file);
    need(file, s.map && typeof s.map.method === "string" && Array.isArray(s.map.explained), `${where} (${s.name}) lacks its feature map's method`);
    need(file, s.labels === null || (s.labels && Array.isArray(s.labels.candidates) && isCount(s.labels.alive)),
      `${where} (${s.name}): 'labels' is neither null nor a summary with alive and candidates`);
  });
  checkConcepts(index.concepts, file);
  return index;
}

// index.concepts: where the labels come from; either a note saying there are none or the headline table
function checkConcepts(c, file) {
  need(file, c && (c.file === null ? typeof c.note === "string" : c.headline && Array.isArray(c.headline.methods) &&
    Array.isArray(c.headline.columns) && Array.isArray(c.headline.groups) && c.headline.rows),
  "'concepts' is neither a note nor a headline table");
}

export function checkFeatures(summary, sae, file) {
  need(file, summary.n === sae.d_sae, `holds ${summary.n} features, index.json says ${sae.name} has ${sae.d_sae}`);
  for (const k of SUMMARY_ARRAYS) {
    const a = summary[k];
    need(file, Array.isArray(a) && a.length === sae.d_sae, `'${k}' has ${Array.isArray(a) ? a.length : "no"} entries, expected ${sae.d_sae}`);
  }
  return summary;
}

export function checkShard(shard, sae, k, boards, file) {
  const first = k * sae.shard_size;
  const n = Math.min(sae.shard_size, sae.d_sae - first);
  need(file, shard.first === first, `starts at feature ${shard.first}, expected ${first}`);
  need(file, Array.isArray(shard.features) && shard.features.length === n,
    `holds ${shard.features?.length ?? "no"} features, expected ${n}`);
  const okBoard = (ex) => Array.isArray(ex) && isInt(ex[0]) && ex[0] >= 0 && ex[0] < boards.count;
  shard.features.forEach((f, j) => {
    need(file, f && f.id === first + j, `entry ${j} is feature ${f?.id}, expected ${first + j}`);
    need(file, isCount(f.count) && Array.isArray(f.top) && Array.isArray(f.bands) && f.hist && Array.isArray(f.similar),
      `feature ${f.id} lacks count, top, bands, hist or similar`);
    const ex = [...f.top, ...f.bands.flatMap((b) => b.ex || [null])];
    need(file, ex.every(okBoard), `feature ${f.id} refers to a board outside the table of ${boards.count}`);
    need(file, f.effect === null || (Array.isArray(f.effect.logit) && f.effect.logit.length === 37 &&
      Array.isArray(f.effect.logit_se) && f.effect.logit_se.length === 37), `feature ${f.id}: effect is not 37 moves`);
  });
  return shard;
}

export function checkChunk(buf, k, boards, file) {
  need(file, k < boards.chunks, `the table has ${boards.chunks} chunks`);
  const records = k < boards.chunks - 1 ? boards.per_chunk : boards.count - boards.per_chunk * (boards.chunks - 1);
  const want = records * boards.record_bytes;
  need(file, buf.byteLength === want, `${buf.byteLength} bytes, expected ${want} (${records} boards of ${boards.record_bytes} bytes): truncated or from another generation`);
  return buf;
}

// A feature id from a link: a whole number from 0 to d_sae - 1, or a message saying what is wrong.
export function featureIdProblem(raw, sae) {
  const id = Number(raw);
  if (!/^\d+$/.test(raw) || !Number.isSafeInteger(id)) {
    return `“${raw}” is not a feature id: ids are whole numbers from 0 to ${sae.d_sae - 1}`;
  }
  return id < sae.d_sae ? null : `${sae.name} has no feature ${id}: its ids run from 0 to ${sae.d_sae - 1}`;
}
