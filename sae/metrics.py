"""Reconstruction and sparsity metrics of an SAE on held-out activations.

Everything is accumulated over the WHOLE evaluation set (never one batch):
    mse        sum ||x - x_hat||^2 / (N * d_in)                (raw activation units)
    fvu        sum ||x - x_hat||^2 / sum ||x - mu||^2, mu = mean of the evaluation set
    nmse_zero  sum ||x - x_hat||^2 / sum ||x||^2  (the prior project's "normalised MSE"; kept
               only for comparison: the stream has a large mean, so this flatters every SAE)
    l0, l1     mean number / mean sum of active features per input (raw-space features)
    dead_frac  features that never fire on the evaluation set; dense_frac: fire on > 10%
    density_hist  counts of log10(firing frequency) in half-decade bins (dead features excluded)
    norm_ratio  mean ||x_hat|| / ||x||;  shrinkage  E||x_hat||^2 / E[x . x_hat]
    (and *_centered: the same about b_dec, the part the features must explain; < 1 = shrinkage)
`sae` is any module with encode/decode on RAW activations (sae.export.fold / load_sae).

95% intervals (a reviewer's question: how much would these move on other games?): the evaluation
rows are clustered by game (positions of one game are correlated), so the bootstrap resamples GAMES
with replacement, never rows. `evaluate(..., game_id=...)` also returns per-game sums ("games"); a
ratio metric is recomputed from the resampled games' sums (`bootstrap_weights`, `percentile_ci`):
fvu = sum sse / (sum ||x||^2 - ||sum x||^2 / n) and l0 = sum l0 / n over the resampled games.
"""
import numpy as np
import torch

HIST_EDGES = np.arange(-7.0, 0.01, 0.5)  # log10 firing-frequency bin edges


CI_LEVEL = 0.95  # every interval of the toolkit's reports


def bootstrap_weights(n_groups, n_boot, seed):
    """[n_boot, n_groups] float64 counts: how often each group (game) is drawn in each bootstrap resample."""
    rng = np.random.default_rng([seed, n_groups, n_boot])
    return rng.multinomial(n_groups, np.full(n_groups, 1.0 / n_groups), size=n_boot).astype(np.float64)


def percentile_ci(samples, level=CI_LEVEL):
    """[low, high]: the central `level` percentile interval of bootstrap `samples` (non-finite ones dropped)."""
    s = np.asarray(samples, dtype=np.float64)
    s = s[np.isfinite(s)]
    if not len(s):
        return [float("nan"), float("nan")]
    lo, hi = np.quantile(s, [(1 - level) / 2, (1 + level) / 2])
    return [float(lo), float(hi)]


def game_index(game_id):
    """(inverse [N] int64 in 0..G-1, G): the game of each row as a dense index."""
    _, inv = np.unique(np.asarray(game_id), return_inverse=True)
    return inv.astype(np.int64), int(inv.max()) + 1 if len(inv) else 0


def reconstruction_ci(games, n_boot, seed):
    """{fvu, l0: [low, high]}: 95% bootstrap intervals over the games of `games` (evaluate's per-game sums)."""
    W = bootstrap_weights(len(games["n"]), n_boot, seed)
    n = W @ games["n"]
    sx = W @ games["sx"]
    total_var = W @ games["xx"] - (sx * sx).sum(1) / n
    return {"fvu": percentile_ci((W @ games["sse"]) / np.maximum(total_var, 1e-12)),
            "l0": percentile_ci((W @ games["l0"]) / n)}


@torch.no_grad()
def evaluate(sae, acts, batch_size=8192, device="cpu", game_id=None):
    """Metrics dict of `sae` on activations `acts [N, d_in]` (numpy/memmap/tensor, any float dtype).

    `game_id [N]`: the game of each row; then the dict also has "games": per-game sums
    {n, sse, xx, l0 [G], sx [G, d_in]} (float64 numpy) for the bootstrap; callers drop it before JSON."""
    n, d = acts.shape
    gidx, n_games = game_index(game_id) if game_id is not None else (None, 0)
    if gidx is not None:
        if len(gidx) != n:
            raise ValueError(f"game_id has {len(gidx)} rows, the activations {n}")
        g = {k: torch.zeros(n_games, dtype=torch.float64) for k in ("n", "sse", "xx", "l0")}
        g["sx"] = torch.zeros(n_games, d, dtype=torch.float64)
    sums = {k: 0.0 for k in ("sse", "xx", "l0", "l1", "ratio", "hh", "xh", "ratio_c", "hh_c", "xh_c")}
    sum_x = torch.zeros(d, dtype=torch.float64)
    fired_F = None
    b_dec = sae.b_dec.detach().float().to(device)
    for i in range(0, n, batch_size):
        x = torch.from_numpy(np.array(acts[i:i + batch_size])).to(device).float()
        f = sae.encode(x)
        x_hat = sae.decode(f).float()
        active = f > 0
        fired_F = active.sum(0).cpu() if fired_F is None else fired_F + active.sum(0).cpu()
        xc, hc = x - b_dec, x_hat - b_dec
        sums["sse"] += (x - x_hat).pow(2).sum().item()
        sums["xx"] += x.pow(2).sum().item()
        sums["l0"] += active.sum().item()
        sums["l1"] += f.float().sum().item()
        sums["ratio"] += (x_hat.norm(dim=1) / x.norm(dim=1).clamp_min(1e-8)).sum().item()
        sums["hh"] += x_hat.pow(2).sum().item()
        sums["xh"] += (x * x_hat).sum().item()
        sums["ratio_c"] += (hc.norm(dim=1) / xc.norm(dim=1).clamp_min(1e-8)).sum().item()
        sums["hh_c"] += hc.pow(2).sum().item()
        sums["xh_c"] += (xc * hc).sum().item()
        sum_x += x.sum(0).double().cpu()
        if gidx is not None:
            idx = torch.from_numpy(gidx[i:i + batch_size])
            for key, v in (("n", torch.ones(len(x))), ("sse", (x - x_hat).pow(2).sum(1)), ("xx", x.pow(2).sum(1)),
                           ("l0", active.sum(1)), ("sx", x)):
                g[key].index_add_(0, idx, v.double().cpu())
    mu = sum_x / n
    total_var = sums["xx"] - n * float(mu.pow(2).sum())  # sum ||x - mu||^2
    freq = fired_F.double().numpy() / n
    live = freq[freq > 0]
    hist, _ = np.histogram(np.log10(live), bins=HIST_EDGES) if len(live) else (np.zeros(len(HIST_EDGES) - 1, int), None)
    out = {"games": {k: v.numpy() for k, v in g.items()}} if gidx is not None else {}
    return {
        **out,
        "n_eval": int(n),
        "mse": sums["sse"] / (n * d),
        "fvu": sums["sse"] / max(total_var, 1e-12),
        "nmse_zero": sums["sse"] / max(sums["xx"], 1e-12),
        "l0": sums["l0"] / n,
        "l1": sums["l1"] / n,
        "dead_frac": float((freq == 0).mean()),
        "dense_frac": float((freq > 0.1).mean()),
        "norm_ratio": sums["ratio"] / n,
        "shrinkage": sums["hh"] / max(sums["xh"], 1e-12),
        "norm_ratio_centered": sums["ratio_c"] / n,
        "shrinkage_centered": sums["hh_c"] / max(sums["xh_c"], 1e-12),
        "density_hist": {"log10_edges": HIST_EDGES.tolist(), "counts": hist.tolist(), "dead": int((freq == 0).sum())},
        "feature_freq": freq.astype(np.float32),  # per-feature firing frequency; callers drop it before JSON
    }
