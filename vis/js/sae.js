// The SAEs' encoders in the page, written out from sae/archs.py + sae/base.py for the folded,
// exported SAEs (sae/export.py: weights on RAW activations, unit decoder rows):
//   pre = sae_in(x) @ W_enc + b_enc,  sae_in(x) = x - b_dec if apply_b_dec_to_input else x
//   standard (relu): f = relu(pre)            topk: the k largest pre kept, then relu
//   jumprelu (also BatchTopK's export): p = relu(pre), f = p where p > threshold
//   gated: proj = sae_in(x) @ W_enc; f = (proj + b_gate > 0) * relu(proj * exp(r_mag) + b_mag)
// Steering splices at the site: x' = x + sum_i (f'_i - f_i) W_dec[i]  (the SAE's error term stays).

// SAELens tensors of each architecture (sae/export.py SAELENS_TENSORS; a test keeps the two equal)
export const SAE_TENSORS = {
  standard: ["W_enc", "b_enc", "W_dec", "b_dec"],
  topk: ["W_enc", "b_enc", "W_dec", "b_dec"],
  jumprelu: ["W_enc", "b_enc", "W_dec", "b_dec", "threshold"],
  gated: ["W_enc", "b_gate", "b_mag", "r_mag", "W_dec", "b_dec"],
};

// {name: shape} the index entry of an SAE with `d_in` inputs and `d_sae` features must hold
export function saeTensors(entry, d_in, d_sae) {
  const names = SAE_TENSORS[entry?.architecture];
  if (!names) return null;
  const shapes = { W_enc: [d_in, d_sae], W_dec: [d_sae, d_in], b_dec: [d_in] };
  return Object.fromEntries(names.map((n) => [n, shapes[n] || [d_sae]]));
}

export class Sae {
  // entry: the SAE's index `weights`; t: its tensors; d_in, d_sae: its index d_in and d_sae
  constructor(entry, t, d_in, d_sae) {
    Object.assign(this, { arch: entry.architecture, k: entry.k, subtract: entry.apply_b_dec_to_input, t, d_in, d_sae });
    this.bias = this.arch === "gated" ? new Float32Array(d_sae) : t.b_enc;
    if (this.arch === "gated") this.magScale = t.r_mag.map(Math.exp);
  }

  // x [d_in] -> f [d_sae] (Float32Array)
  encode(x) {
    const { W_enc, b_dec } = this.t, F = this.d_sae;
    const pre = new Float64Array(F);
    for (let f = 0; f < F; f++) pre[f] = this.bias[f];
    for (let i = 0; i < this.d_in; i++) { // rows of W_enc [d_in, d_sae]: contiguous
      const xi = this.subtract ? x[i] - b_dec[i] : x[i];
      if (xi === 0) continue;
      const r = i * F;
      for (let f = 0; f < F; f++) pre[f] += xi * W_enc[r + f];
    }
    const out = new Float32Array(F);
    if (this.arch === "standard") {
      for (let f = 0; f < F; f++) out[f] = pre[f] > 0 ? pre[f] : 0;
    } else if (this.arch === "topk") {
      const idx = [...Array(F).keys()].sort((a, b) => pre[b] - pre[a]).slice(0, this.k);
      for (const f of idx) out[f] = pre[f] > 0 ? pre[f] : 0;
    } else if (this.arch === "jumprelu") {
      const th = this.t.threshold;
      for (let f = 0; f < F; f++) out[f] = pre[f] > 0 && pre[f] > th[f] ? pre[f] : 0;
    } else { // gated: pre holds proj (no bias)
      const { b_gate, b_mag } = this.t;
      for (let f = 0; f < F; f++) {
        const mag = pre[f] * this.magScale[f] + b_mag[f];
        out[f] = pre[f] + b_gate[f] > 0 && mag > 0 ? mag : 0;
      }
    }
    return out;
  }

  // x += coef * W_dec[i]
  addDecoder(x, i, coef) {
    const W = this.t.W_dec, r = i * this.d_in;
    for (let j = 0; j < this.d_in; j++) x[j] += coef * W[r + j];
  }
}

// Active features of `f`, largest first: [[id, activation], ...]
export function activeFeatures(f) {
  const out = [];
  for (let i = 0; i < f.length; i++) if (f[i] > 0) out.push([i, f[i]]);
  return out.sort((a, b) => b[1] - a[1]);
}

// The steered activation f'_i of one feature: clamp to v, scale by v, or ablate (0)
export function steered(mode, v, f) {
  return mode === "clamp" ? v : mode === "scale" ? f * v : 0;
}
