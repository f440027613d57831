// The network's forward pass in the page, written out by hand from alphazero/network.py:
//   x = embed([mine planes | theirs planes])                 (Linear 72 -> d)
//   per block: x += fc2(relu(fc1(LayerNorm(x))))             (pre-norm, d -> hidden -> d)
//   policy logits [37], W/D/L logits [3] = heads(LayerNorm_f(x)); value = P(win) - P(loss)
// Sites: index 0 = "embed" (after the embedding), index L+1 = "resid.L" (after block L).
// Weights are torch Linear layout [out, in], row-major; sums are carried in float64 (JS numbers).

// {name: shape} of the tensors the index entry must hold (vis/weights.py net_tensors)
export function netTensors(e) {
  const d = e.d_model, h = e.d_hidden;
  const t = { "embed.weight": [d, 72], "embed.bias": [d] };
  for (let i = 0; i < e.n_blocks; i++) {
    Object.assign(t, { [`blocks.${i}.ln.weight`]: [d], [`blocks.${i}.ln.bias`]: [d], [`blocks.${i}.fc1.weight`]: [h, d],
      [`blocks.${i}.fc1.bias`]: [h], [`blocks.${i}.fc2.weight`]: [d, h], [`blocks.${i}.fc2.bias`]: [d] });
  }
  return Object.assign(t, { "ln_f.weight": [d], "ln_f.bias": [d], "policy_head.weight": [37, d], "policy_head.bias": [37],
    "value_head.weight": [3, d], "value_head.bias": [3] });
}

// out[o] = b[o] + W[o, :] . x   (relu: clamp at 0; add: accumulate into out instead of overwriting)
function linear(W, b, x, out, relu = false, add = false) {
  const n = x.length;
  for (let o = 0; o < out.length; o++) {
    let s = b[o];
    const r = o * n;
    for (let i = 0; i < n; i++) s += W[r + i] * x[i];
    if (relu && s < 0) s = 0;
    out[o] = add ? out[o] + s : s;
  }
}

function layerNorm(x, g, b, eps, out) {
  const n = x.length;
  let m = 0, v = 0;
  for (let i = 0; i < n; i++) m += x[i];
  m /= n;
  for (let i = 0; i < n; i++) v += (x[i] - m) * (x[i] - m);
  const inv = 1 / Math.sqrt(v / n + eps);
  for (let i = 0; i < n; i++) out[i] = (x[i] - m) * inv * g[i] + b[i];
}

export class Net {
  // entry: index.json's `net`; t: its tensors (weights.readTensors)
  constructor(entry, t) {
    this.d = entry.d_model;
    this.eps = entry.ln_eps;
    this.sites = entry.sites;
    this.t = t;
    this.blocks = [...Array(entry.n_blocks).keys()].map((i) => ["ln.weight", "ln.bias", "fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"]
      .map((p) => t[`blocks.${i}.${p}`]));
    this.ln = new Float32Array(this.d);
    this.hidden = new Float32Array(entry.d_hidden);
  }

  siteIndex(site) {
    const i = this.sites.indexOf(site);
    if (i < 0) throw new Error(`unknown site ${site}`);
    return i;
  }

  // board: 36 cells from the mover's side (+1 mine, -1 theirs, 0 empty) -> stream after the embedding
  embed(board) {
    const W = this.t["embed.weight"], x = Float32Array.from(this.t["embed.bias"]);
    for (let j = 0; j < 36; j++) { // planes are 0/1: add the columns of the occupied squares
      const col = board[j] > 0 ? j : board[j] < 0 ? 36 + j : -1;
      if (col < 0) continue;
      for (let o = 0; o < this.d; o++) x[o] += W[o * 72 + col];
    }
    return x;
  }

  block(i, x) { // in place: x += fc2(relu(fc1(LN(x))))
    const [g, b, W1, b1, W2, b2] = this.blocks[i];
    layerNorm(x, g, b, this.eps, this.ln);
    linear(W1, b1, this.ln, this.hidden, true);
    linear(W2, b2, this.hidden, x, false, true);
  }

  heads(x) {
    layerNorm(x, this.t["ln_f.weight"], this.t["ln_f.bias"], this.eps, this.ln);
    const logits = new Float32Array(37), wdl = new Float32Array(3);
    linear(this.t["policy_head.weight"], this.t["policy_head.bias"], this.ln, logits);
    linear(this.t["value_head.weight"], this.t["value_head.bias"], this.ln, wdl);
    return { logits, wdl };
  }

  // Whole pass: {acts: [stream at each site (copies)], logits, wdl}
  run(board) {
    const x = this.embed(board), acts = [Float32Array.from(x)];
    for (let i = 0; i < this.blocks.length; i++) {
      this.block(i, x);
      acts.push(Float32Array.from(x));
    }
    return { acts, ...this.heads(x) };
  }

  // Finish the pass from the stream `act` at site index `s` (net.run_from); `act` is not modified.
  runFrom(s, act) {
    const x = Float32Array.from(act);
    for (let i = s; i < this.blocks.length; i++) this.block(i, x);
    return this.heads(x);
  }
}

// softmax of `logits` over the actions where mask[a] is true (all when mask is null)
export function softmax(logits, mask = null) {
  let m = -Infinity;
  for (let a = 0; a < logits.length; a++) if (!mask || mask[a]) m = Math.max(m, logits[a]);
  const p = new Float64Array(logits.length);
  let z = 0;
  for (let a = 0; a < logits.length; a++) if (!mask || mask[a]) { p[a] = Math.exp(logits[a] - m); z += p[a]; }
  for (let a = 0; a < logits.length; a++) p[a] /= z;
  return p;
}

export function valueOf(wdl) { // P(win) - P(loss) for the mover
  const p = softmax(wdl);
  return p[0] - p[2];
}
