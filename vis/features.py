"""Per-feature statistics of one SAE on one split, computed in a few batched passes.

1. `encode_sparse`: encode the held-out split once, in chunks, keeping only the
   non-zero activations as (row, feature, value) triples. SAEs are sparse, so this
   is N x L0 entries instead of N x d_sae, and every later statistic is a
   segment of these triples sorted by (feature, activation descending).
2. `feature_stats`: density, max, mean (over the positions where the feature
   fires), log-binned histograms, top examples and quantile-band samples, all
   vectorised or one cheap slice per feature.
3. `policy_effects`: the feature's effect on the network. For each feature we
   take up to `samples` random positions WHERE IT FIRES, add its decoder vector
   times its mean firing activation (one more typical firing) at the site, and
   finish the forward pass with `net.run_from`. The change of each move's logit
   is centred over the legal moves of each position (softmax ignores a shared
   shift, so only relative changes mean anything) and averaged over the positions
   where that move is legal; the value change is averaged over all of them.
   All features go through `run_from` in large batches. The standard error of each mean
   (spread over the sampled positions / sqrt(n)) comes with it, so the page can show a
   95% interval and fade changes that are indistinguishable from zero.
4. `similar_features`: the nearest features by decoder cosine similarity.
5. `feature_map`: 2-D coordinates of the decoder directions for the page's feature map.
"""
import numpy as np
import torch
from tqdm import tqdm

from alphazero.network import value_from_logits

N_BINS = 24
HIST_RANGE = 1e-3  # the histogram's lowest edge is at least max * HIST_RANGE (log bins)


def encode_sparse(sae, acts, chunk=4096, desc="encode"):
    """Encode all rows [N, d_in] once; return the non-zero activations as (rows int32, feats int32, vals float32).

    Only per-feature viewer statistics are derived from these; the SAE's own metrics (FVU, L0,
    dead fraction) were computed once at training time and are read from its metrics.
    """
    rows, feats, vals = [], [], []
    for i in tqdm(range(0, len(acts), chunk), desc=desc, unit="chunk", leave=False, disable=None):
        x = torch.from_numpy(np.asarray(acts[i:i + chunk], dtype=np.float32))
        f = sae.encode(x).cpu()
        r, c = torch.nonzero(f > 0, as_tuple=True)
        rows.append((r + i).to(torch.int32).numpy())
        feats.append(c.to(torch.int32).numpy())
        vals.append(f[r, c].numpy())
    return tuple(np.concatenate(a) if a else np.zeros(0, t) for a, t in
                 zip((rows, feats, vals), (np.int32, np.int32, np.float32)))


class Segments:
    """The sparse triples sorted by (feature, activation descending), with per-feature slices."""

    def __init__(self, rows, feats, vals, d_sae):
        order = np.lexsort((-vals, feats))
        self.rows, self.feats, self.vals = rows[order], feats[order], vals[order]
        self.count = np.bincount(self.feats, minlength=d_sae)
        self.start = np.concatenate([[0], np.cumsum(self.count)[:-1]]).astype(np.int64)
        self.d_sae = d_sae

    def of(self, f):
        s = self.start[f]
        return self.rows[s:s + self.count[f]], self.vals[s:s + self.count[f]]


def feature_stats(seg, n_rows, *, top, bands, per_band, seed):
    """Summary arrays and example rows for every feature (dict of numpy arrays / lists)."""
    d, count = seg.d_sae, seg.count
    alive = count > 0
    max_act = np.zeros(d, np.float32)
    max_act[alive] = seg.vals[seg.start[alive]]
    min_act = np.zeros(d, np.float32)
    min_act[alive] = seg.vals[seg.start[alive] + count[alive] - 1]
    mean_act = np.bincount(seg.feats, weights=seg.vals, minlength=d) / np.maximum(count, 1)

    # log-spaced histogram bins per feature, from max(min, max * HIST_RANGE) to max
    lo = np.maximum(min_act, max_act * HIST_RANGE)
    span = np.log(np.maximum(max_act, 1e-30) / np.maximum(lo, 1e-30))
    f = seg.feats
    with np.errstate(divide="ignore", invalid="ignore"):
        pos = np.log(np.maximum(seg.vals, 1e-30) / lo[f]) / np.where(span[f] > 0, span[f], 1)
    b = np.clip((pos * N_BINS).astype(np.int64), 0, N_BINS - 1)
    hist = np.bincount(f.astype(np.int64) * N_BINS + b, minlength=d * N_BINS).reshape(d, N_BINS)

    rng = np.random.default_rng(seed)
    top_rows, top_vals, band_list = [], [], []
    for i in range(d):
        rows, vals = seg.of(i)
        top_rows.append(rows[:top])
        top_vals.append(vals[:top])
        band_list.append(_band_samples(rows, vals, top, bands, per_band, rng))
    return {"density": count / max(n_rows, 1), "count": count, "max": max_act, "mean": mean_act,
            "hist_lo": lo, "hist_hi": max_act, "hist": hist, "top_rows": top_rows, "top_vals": top_vals,
            "bands": band_list}


def _band_samples(rows, vals, top, bands, per_band, rng):
    """Quantile bands of the firing activations (lowest band first), each with a few random examples.

    Bands split the firing positions into equal-count ranges by activation; examples are
    drawn from outside the top list when enough remain, so they show new boards.
    """
    n = len(vals)
    if n <= top:
        return []  # every firing position is already among the top examples
    out = []
    edges = np.linspace(0, n, bands + 1).astype(int)  # ranks, highest activation first
    for k in range(bands - 1, -1, -1):
        a, b = edges[k], edges[k + 1]
        pool = np.arange(max(a, top), b) if b - max(a, top) >= per_band else np.arange(a, b)
        pick = np.sort(rng.choice(pool, size=min(per_band, len(pool)), replace=False)) if len(pool) else pool
        out.append({"q": [round(1 - b / n, 4), round(1 - a / n, 4)], "lo": float(vals[b - 1]), "hi": float(vals[a]),
                    "rows": rows[pick], "vals": vals[pick]})
    return out


@torch.inference_mode()
def policy_effects(net, site, acts, legal, seg, mean_act, W_dec, *, samples, seed, device, batch_rows=8192):
    """Effect of each feature's decoder direction, averaged over up to `samples` positions where it fires.

    Returns (d_logit [d, 37] mean centred logit change, NaN where never legal; d_value [d] mean value
    change; n [d] positions used; logit_se [d, 37] and value_se [d], standard errors of those means,
    NaN where fewer than 2 positions back the mean).
    """
    d = seg.d_sae
    rng = np.random.default_rng(seed + 1)
    picks = []
    for i in range(d):
        rows, _ = seg.of(i)
        picks.append(rows if len(rows) <= samples else rng.choice(rows, size=samples, replace=False))
    d_logit = np.full((d, 37), np.nan, np.float32)
    d_value = np.full(d, np.nan, np.float32)
    logit_se = np.full((d, 37), np.nan, np.float32)
    value_se = np.full(d, np.nan, np.float32)
    W = torch.from_numpy(np.ascontiguousarray(W_dec)).to(device)
    feats = [i for i in range(d) if len(picks[i])]
    groups, cur, cur_rows = [], [], 0
    for i in feats:  # batches of whole features, about batch_rows rows each
        cur.append(i)
        cur_rows += len(picks[i])
        if cur_rows >= batch_rows:
            groups.append(cur)
            cur, cur_rows = [], 0
    if cur:
        groups.append(cur)
    for group in tqdm(groups, desc="effects", unit="batch", leave=False, disable=None):
        rows = np.concatenate([picks[i] for i in group])
        which = np.repeat(np.arange(len(group)), [len(picks[i]) for i in group])
        uniq, inv = np.unique(rows, return_inverse=True)  # acts are memmapped: read each row once
        x0 = torch.from_numpy(np.asarray(acts[uniq], dtype=np.float32)).to(device)
        base_logits, base_v = net.run_from(site, x0)
        x0, base_logits, base_v = x0[inv], base_logits[inv], value_from_logits(base_v)[inv]
        g = torch.as_tensor(group, device=device)[torch.from_numpy(which).to(device)]
        scale = torch.from_numpy(mean_act.astype(np.float32)).to(device)[g]
        logits, v = net.run_from(site, x0 + scale[:, None] * W[g])
        delta = (logits - base_logits).float().cpu().numpy()
        dv = (value_from_logits(v) - base_v).float().cpu().numpy()
        mask = np.asarray(legal[uniq])[inv].astype(np.float32)
        centred = delta - (delta * mask).sum(1, keepdims=True) / np.maximum(mask.sum(1, keepdims=True), 1)
        n_legal = np.zeros((len(group), 37), np.float64)
        sums = np.zeros((len(group), 37), np.float64)
        squares = np.zeros((len(group), 37), np.float64)
        np.add.at(n_legal, which, mask)
        np.add.at(sums, which, centred * mask)
        np.add.at(squares, which, (centred * centred) * mask)
        d_logit[group], logit_se[group] = _mean_se(sums, squares, n_legal)
        n_pos = np.bincount(which, minlength=len(group)).astype(np.float64)
        d_value[group], value_se[group] = _mean_se(np.bincount(which, weights=dv, minlength=len(group)),
                                                   np.bincount(which, weights=dv.astype(np.float64) ** 2,
                                                               minlength=len(group)), n_pos)
    return d_logit, d_value, np.array([len(p) for p in picks]), logit_se, value_se


def _mean_se(sums, squares, n):
    """Mean and standard error of the mean from running sums (NaN mean where n = 0, NaN SE where n < 2)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(n > 0, sums / n, np.nan)
        var = np.maximum(squares / n - mean * mean, 0) * n / (n - 1)  # unbiased sample variance
        se = np.where(n > 1, np.sqrt(var / n), np.nan)
    return mean, se


def stream_rms(acts, chunk=65536):
    """Typical size of the activation at the site: sqrt(mean ||x - mean(x)||^2) over the rows (float).

    The yardstick of vis/magnitudes.py: a feature whose largest contribution to the
    reconstruction is a tiny fraction of it cannot matter, whatever its density says.
    """
    n = len(acts)
    total, sq = 0.0, 0.0
    for i in range(0, n, chunk):
        x = np.asarray(acts[i:i + chunk], dtype=np.float64)
        total = total + x.sum(0)
        sq += float((x * x).sum())
    mean = total / max(n, 1)
    return float(np.sqrt(max(sq / max(n, 1) - float(mean @ mean), 0.0)))


@torch.inference_mode()
def similar_features(W_dec, *, k, chunk=1024):
    """Top-k other features by decoder cosine similarity: (ids [d, k], cos [d, k])."""
    W = torch.from_numpy(np.ascontiguousarray(W_dec, dtype=np.float32))
    W = W / W.norm(dim=1, keepdim=True).clamp_min(1e-12)
    d = W.shape[0]
    k = min(k, d - 1)
    ids, sims = np.zeros((d, k), np.int64), np.zeros((d, k), np.float32)
    for i in range(0, d, chunk):
        s = W[i:i + chunk] @ W.T
        s[torch.arange(len(s)), torch.arange(i, i + len(s))] = -2  # never oneself
        v, j = s.topk(k, dim=1)
        ids[i:i + chunk], sims[i:i + chunk] = j.numpy(), v.numpy()
    return ids, sims


MAP_METHOD = "PCA of the unit decoder directions (the top two principal components)"


def feature_map(W_dec):
    """Decoder rows [d_sae, d_in] -> (xy [d_sae, 2] scaled into [0, 1], explained variance fraction [2]).

    PCA via numpy's SVD, not UMAP: umap-learn pulls in scikit-learn and took ~55 s per run here
    (import and first fit: numba compilation) for 512 features, where this takes milliseconds and is
    deterministic. Each component's sign is fixed (its largest loading positive) so reruns agree.
    """
    W = np.asarray(W_dec, np.float64)
    W = W / np.maximum(np.linalg.norm(W, axis=1, keepdims=True), 1e-12)
    C = W - W.mean(0)
    _, s, vt = np.linalg.svd(C, full_matrices=False)
    comps = vt[:2] * np.sign(vt[:2][np.arange(len(vt[:2])), np.abs(vt[:2]).argmax(1)])[:, None]
    xy = C @ comps.T
    if xy.shape[1] < 2:  # a single feature or a one-dimensional stream: nothing to spread
        xy = np.pad(xy, ((0, 0), (0, 2 - xy.shape[1])))
    lo, hi = xy.min(0), xy.max(0)
    xy = (xy - lo) / np.where(hi > lo, hi - lo, 1.0)
    var = s ** 2
    explained = (var[:2] / var.sum()) if var.sum() > 0 else np.zeros(2)
    return xy, np.pad(explained, (0, 2 - len(explained)))
