"""Linear-probe ceiling and random-network floor for the game concepts (othello/concepts.py).

For every concept's detection columns (a square, a quadrant or a bin of a position value; see
`othello.concepts.detection_columns`), on positions of an activation store:

    probe      a linear classifier on a site's activations (standardised with the train rows' mean
               and std), fitted on TRAIN rows; the penalty and the decision threshold (the best
               cut of the scores) are chosen per column on VAL rows; F1 reported on TEST rows
               (held-out games, sae.config.EVAL_SPLIT). `method="ridge"` (default): ridge
               regression on the 0/1 target, closed form, one solve for all columns (as
               scikit-learn's RidgeClassifier); `"logistic"`: L2 logistic regression, all columns
               as one multi-output L-BFGS fit started from the ridge solution (the loss is a sum
               over columns, so this equals one fit per column). On the shared 2-core CPU the
               logistic fit took 80-210 s per site against ~2 s, for +0.02 mean F1 at resid.2.
    untrained  the same probe on the same sites of a network of the same shape, randomly
               initialised with a fixed seed: what any random embedding of the board encodes
    input      the same probe on the 72 input planes (mine, theirs): what is linear in the board
    neurons    the best single MLP hidden unit (ReLU output of the block that writes the site),
               detector `unit > t * max` (max over train rows, t in `unit_thresholds`); unit and t
               chosen on VAL, F1 on TEST
    always-on  a detector that always fires: F1 = 2p / (1 + p), p the test positive rate

A column counts only where it has at least `min_positives` positives in each split; solver
concepts only on rows where the position is solvable, search concepts only on the (at most
`search_rows`) rows searched (the concepts' masks; values from sae.search_concepts).
"""
from dataclasses import dataclass

import numpy as np
import torch
from tqdm import tqdm

from alphazero.checkpoint import file_sha256, load_network, resolve_checkpoint
from alphazero.config import NetConfig
from alphazero.network import AlphaZeroNet
from othello import concepts as cl
from sae.activations import ActivationStoreError
from sae.config import EVAL_SPLIT
from sae.search_concepts import row_concepts

SPLITS = ("train", "val", EVAL_SPLIT)


@dataclass(frozen=True)
class ProbeConfig:
    train_rows: int = 20_000     # train rows sampled (probes are fitted on them)
    val_rows: int = 10_000       # validation rows (first of the split): penalty, thresholds, best unit
    test_rows: int = 10_000      # held-out rows (first of the test split) the F1 is reported on
    method: str = "ridge"        # probe: "ridge" (least squares, closed form) or "logistic" (L-BFGS, ~50x slower)
    ridge: tuple[float, ...] = (1e-3, 1e-2, 1e-1, 1.0)  # ridge penalties tried (on standardised activations)
    l2: tuple[float, ...] = (1e-2, 1e-3, 1e-4)  # logistic: L2 penalties per weight tried (strong to weak, warm-started)
    max_iter: int = 60           # logistic: L-BFGS iterations per penalty
    unit_thresholds: tuple[float, ...] = (0.0, 0.1, 0.2, 0.3, 0.5, 0.7)  # single units: fractions of the max
    min_positives: int = 10      # a column counts only with this many positives in each split
    solve_empties: int = 14      # solver concepts on positions with at most this many empties
    search_rows: int = 6000      # search concepts on at most this many rows (one MCTS each, ~250/s on a core; 0 = off)
    seed: int = 0                # row sampling and the untrained network's initialisation


@dataclass
class Targets:
    y: np.ndarray        # bool [N, K]: the detection columns of every concept
    m: np.ndarray        # bool [N, K]: where each column is defined (the concept's mask)
    columns: list        # K names, e.g. "legal c2"
    concept: list        # K concept names
    group: list          # K concept groups
    kind: list           # K "input" / "computed"

    def rows(self, idx):
        return self.y[idx], self.m[idx]


def targets(values):
    """{concept: values} (othello.concepts.compute) -> Targets over every concept's columns (a mask-only
    concept, `detect` False, gives none)."""
    ys, ms, out = [], [], Targets(None, None, [], [], [], [])
    for name, v in values.items():
        c = cl.BY_NAME[name]
        if not c.detect:
            continue
        y, names = cl.detection_columns(c, v)
        mask = np.asarray(values[c.mask], bool) if c.mask else np.ones(len(y), bool)
        ys.append(y)
        ms.append(np.repeat(mask[:, None], y.shape[1], 1))
        out.columns += names
        out.concept += [c.name] * len(names)
        out.group += [c.group] * len(names)
        out.kind += [c.kind] * len(names)
    out.y, out.m = np.concatenate(ys, 1), np.concatenate(ms, 1)
    return out


# ------------------------------------------------------------------ detectors and scores

def f1_table(pred, y, m):
    """F1 per column of bool predictions `pred [N, K]` (or `[N, K, T]`) on defined rows."""
    y, m = torch.as_tensor(y), torch.as_tensor(m)
    if pred.dim() == 3:
        y, m = y[..., None], m[..., None]
    p = pred & m
    tp = (p & y).sum(0).float()
    return 2 * tp / (p.sum(0) + (y & m).sum(0)).float().clamp_min(1)


def best_threshold(z, y, m):
    """The decision threshold maximising F1 per column, over every cut of the scores.

    z: scores `[N, K]`; y, m bool `[N, K]` -> (threshold `[K]`, its F1 `[K]`); predict z > threshold.
    """
    z, y, m = torch.as_tensor(z), torch.as_tensor(y), torch.as_tensor(m)
    zs, order = torch.where(m, z, torch.tensor(-torch.inf)).sort(0, descending=True)
    tp = torch.cumsum(torch.gather(y & m, 0, order).float(), 0)      # predicting the top i+1 rows
    fires = torch.arange(1, len(z) + 1, dtype=torch.float32)[:, None]
    f1 = 2 * tp / (fires + (y & m).sum(0)).clamp_min(1)
    f1 = torch.where(torch.isfinite(zs), f1, torch.tensor(-1.0))     # cuts among defined rows only
    best, i = f1.max(0)
    nxt = torch.gather(zs, 0, (i + 1).clamp_max(len(z) - 1)[None])[0]
    here = torch.gather(zs, 0, i[None])[0]
    thr = torch.where(torch.isfinite(nxt) & (i + 1 < len(z)), (here + nxt) / 2, here - 1)
    return thr, best.clamp_min(0)


def always_on_f1(y, m):
    """F1 `[K]` of a detector that always fires: 2p / (1 + p), p the positive rate on defined rows."""
    p = (y & m).sum(0) / np.maximum(m.sum(0), 1)
    return 2 * p / (1 + p)


def fit_logistic(x, y, m, l2, max_iter, init=None):
    """Multi-output logistic regression: x `[N, d]` float32, y, m bool `[N, K]` -> (W `[d, K]`, b `[K]`).

    Minimises, per column k, the mean binary cross-entropy over its defined rows + l2 * |W_k|^2.
    """
    x = torch.as_tensor(x)
    yt, mt = torch.as_tensor(y).float(), torch.as_tensor(m).float()
    w_rows = mt / mt.sum(0).clamp_min(1)  # each column's own mean over its defined rows
    if init is None:
        init = ridge_init(x, yt, mt)
    W, b = (t.clone().requires_grad_(True) for t in init)
    opt = torch.optim.LBFGS([W, b], lr=1, max_iter=max_iter, history_size=10, line_search_fn="strong_wolfe",
                            tolerance_grad=1e-7, tolerance_change=1e-10)

    def closure():
        opt.zero_grad()
        z = x @ W + b
        loss = (torch.nn.functional.binary_cross_entropy_with_logits(z, yt, reduction="none") * w_rows).sum()
        loss = loss + l2 * (W * W).sum()
        loss.backward()
        return loss
    opt.step(closure)
    return W.detach(), b.detach()


def ridge_init(x, y, m, ridge=1e-2):
    """A logistic starting point from least squares on y in {0, 1}: (W `[d, K]`, b `[K]`).

    Least squares on a 0/1 target gives the discriminant direction up to scale; near z = 0,
    sigmoid(z) ~ 1/2 + z/4, so z = 4 (x.w + c - 1/2) matches the fit there. Rows outside a column's mask are left out by solving
    once per distinct mask (columns share a few masks: everywhere, solvable positions).
    """
    d = x.shape[1]
    W, b = torch.zeros(d, y.shape[1]), torch.zeros(y.shape[1])
    masks, which = torch.unique(m.T, dim=0, return_inverse=True)
    for i, mask in enumerate(masks):
        cols, rows = which == i, mask > 0
        if rows.sum() < 2:
            continue
        xr = torch.cat([x[rows], torch.ones(int(rows.sum()), 1)], 1)
        gram = xr.T @ xr / len(xr) + ridge * torch.eye(d + 1)
        sol = torch.linalg.solve(gram, xr.T @ y[rows][:, cols] / len(xr))  # [d + 1, k]
        W[:, cols], b[cols] = 4 * sol[:d], 4 * (sol[d] - 0.5)  # sigmoid(z) ~ 1/2 + z/4
    return W, b


def probe_f1(x, t, split_rows, cfg):
    """Probe F1 `[K]` on test, with the penalty and threshold chosen per column on val.

    x: activations `[N, d]` of all selected rows; split_rows: {split: row indices into x}.
    """
    tr, va, te = (split_rows[s] for s in SPLITS)
    x = torch.as_tensor(np.asarray(x, np.float32))
    mu, sd = x[tr].mean(0), x[tr].std(0).clamp_min(1e-6)  # dead units stay 0 after scaling
    x = (x - mu) / sd
    best_val = torch.full((t.y.shape[1],), -1.0)
    best_test = torch.zeros(t.y.shape[1])
    init = None
    if cfg.method not in ("ridge", "logistic"):
        raise ValueError(f"probe method must be 'ridge' or 'logistic', got {cfg.method!r}")
    for l2 in cfg.ridge if cfg.method == "ridge" else cfg.l2:
        if cfg.method == "ridge":
            init = ridge_init(x[tr], *(torch.as_tensor(a).float() for a in t.rows(tr)), ridge=l2)
        else:
            init = fit_logistic(x[tr], *t.rows(tr), l2, cfg.max_iter, init)
        thr, score = best_threshold(x[va] @ init[0] + init[1], *t.rows(va))
        f_te = f1_table(x[te] @ init[0] + init[1] > thr, *t.rows(te))
        better = score > best_val
        best_val, best_test = torch.where(better, score, best_val), torch.where(better, f_te, best_test)
    return best_test.numpy()


def unit_f1(h, t, split_rows, cfg, chunk=256):
    """Best single unit F1 `[K]` on test: unit and threshold (fraction of its train max) chosen on val.

    h: non-negative unit activations `[N, units]` (e.g. an MLP's ReLU outputs) of all selected rows.
    """
    tr, va, te = (split_rows[s] for s in SPLITS)
    h = torch.as_tensor(np.asarray(h, np.float32))
    top = h[tr].max(0).values.clamp_min(1e-12)
    y_va, m_va = (torch.as_tensor(a).float() for a in t.rows(va))
    pos_va = (y_va * m_va).sum(0)
    best, unit, frac = torch.full((t.y.shape[1],), -1.0), torch.zeros(t.y.shape[1], dtype=torch.long), torch.zeros(t.y.shape[1])
    for f in cfg.unit_thresholds:
        for a in range(0, h.shape[1], chunk):  # [units, K] tables, a chunk of units at a time
            c = (h[va, a:a + chunk] > f * top[a:a + chunk]).float()
            f1 = 2 * (c.T @ (y_va * m_va)) / (c.T @ m_va + pos_va).clamp_min(1)
            score, j = f1.max(0)
            better = score > best
            best = torch.where(better, score, best)
            unit, frac = torch.where(better, j + a, unit), torch.where(better, torch.tensor(f), frac)
    pred = h[te][:, unit] > frac * top[unit]
    return f1_table(pred, *t.rows(te)).numpy()


# ------------------------------------------------------------------ activations

@torch.no_grad()
def site_activations(net, boards, keep=None, batch=4096):
    """{site: [N, d_model]} at every site, and {"mlp.L": [N, d_hidden]} (ReLU outputs of block L) for
    every block, of `net` on boards `[N, 36]` (+1 mine, -1 theirs, 0 empty); only `keep` if given."""
    out = {}
    for a in range(0, len(boards), batch):
        _, _, cache = net.run_with_cache(torch.as_tensor(np.asarray(boards[a:a + batch], np.float32)), net.sites)
        for i, blk in enumerate(net.blocks):  # block i reads the site before it
            cache[f"mlp.{i}"] = torch.relu(blk.fc1(blk.ln(cache[net.sites[i]])))
        for k, v in cache.items():
            if keep is None or k in keep:
                out.setdefault(k, []).append(v.float().numpy())
    return {k: np.concatenate(v) for k, v in out.items()}


def untrained_network(net_config, seed):
    """A randomly initialised network of the given shape (torch default init, fixed seed)."""
    torch.manual_seed(seed)
    return AlphaZeroNet(NetConfig(**{"aux_heads": False, **net_config})).eval()


def select_rows(store, cfg):
    """{split: store row indices}: a seeded sample of train rows, the first rows of val and test."""
    rng = np.random.default_rng(cfg.seed)
    out = {}
    for s, n in zip(SPLITS, (cfg.train_rows, cfg.val_rows, cfg.test_rows)):
        a, b = store.split_rows(s)
        idx = np.sort(rng.choice(b - a, min(n, b - a), replace=False)) if s == "train" else np.arange(min(n, b - a))
        out[s] = a + idx
    return out


# ------------------------------------------------------------------ the whole evaluation

def evaluate_probes(store, cfg, sites=None, neuron_sites=None, search=None, values=None):
    """Probe / untrained / input / neuron / always-on F1 per detection column. Returns a dict:

    columns, concept, group, kind  [K] lists;  positives {split: [K]};  counted [K] bool;
    f1 {method: [K]} with methods "trained:<site>", "untrained:<site>", "input",
    "neurons:trained:mlp.L", "neurons:untrained:mlp.L", "always-on"; rows {split: n}; search (its rows
    and time). `sites`: probe sites (default all); `neuron_sites`: blocks' MLPs as "mlp.L" (default: those
    feeding the store's sites, i.e. block L for resid.L); `search`: the SearchConfig of the search concepts
    (default: the players'); `values`: (concept values, search info) of sae.search_concepts.row_concepts
    on select_rows(store, cfg), when the caller has them already (the search is not run twice).
    """
    m = store.manifest
    path = resolve_checkpoint(m["checkpoint"])
    if not path.is_file() or file_sha256(path) != m["checkpoint_sha256"]:
        raise ActivationStoreError(f"the store's checkpoint {path} is missing or is not the file it was collected "
                                   f"with (sha256 {m['checkpoint_sha256'][:12]}...)")
    trained = load_network(path)
    sites = sites or trained.sites
    neuron_sites = neuron_sites or [f"mlp.{s.split('.')[1]}" for s in store.sites if s.startswith("resid.")]
    rows = select_rows(store, cfg)
    allrows = np.concatenate([rows[s] for s in SPLITS])
    split_rows, at = {}, 0
    for s in SPLITS:
        split_rows[s] = np.arange(at, at + len(rows[s]))
        at += len(rows[s])
    boards = np.asarray(store.arrays["boards"][allrows])
    values, searched = values or row_concepts(store, rows, cfg.solve_empties, cfg.search_rows, search, cfg.seed,
                                              net=trained)
    t = targets(values)
    positives = {s: (t.y[r] & t.m[r]).sum(0) for s, r in split_rows.items()}
    counted = np.all([positives[s] >= cfg.min_positives for s in SPLITS], 0)
    f1 = {"always-on": always_on_f1(*t.rows(split_rows[EVAL_SPLIT]))}
    planes = np.concatenate([boards > 0, boards < 0], 1).astype(np.float32)
    jobs = [("input", planes)]
    for label, net in (("trained", trained), ("untrained", untrained_network(m["net_config"], cfg.seed))):
        acts = site_activations(net, boards, keep={*sites, *neuron_sites, *store.sites})
        for s in store.sites if label == "trained" else ():  # the store's activations are this network's
            gap = np.abs(acts[s][split_rows[EVAL_SPLIT][:256]] - store.acts(s)[rows[EVAL_SPLIT][:256]]).max()
            if gap > 0.05 * np.abs(acts[s]).max():
                raise ActivationStoreError(f"recomputed {s} activations differ from the store's by {gap:.3g}")
        jobs += [(f"{label}:{s}", acts[s]) for s in sites]
        for s in neuron_sites:
            f1[f"neurons:{label}:{s}"] = unit_f1(acts[s], t, split_rows, cfg)
    for name, x in tqdm(jobs, desc="probes", disable=None):
        f1[name] = probe_f1(x, t, split_rows, cfg)
    return {"columns": t.columns, "concept": t.concept, "group": t.group, "kind": t.kind,
            "positives": {s: v.tolist() for s, v in positives.items()}, "counted": counted.tolist(),
            "f1": {k: np.asarray(v).tolist() for k, v in f1.items()},
            "rows": {s: len(r) for s, r in rows.items()}, "search": searched}


def group_means(result):
    """{method: {group: mean F1 over counted columns}}, plus "input" / "computed" kinds and "all"."""
    counted = np.asarray(result["counted"])
    keys = {g: np.asarray(result["group"]) == g for g in dict.fromkeys(result["group"])}
    keys.update({f"[{k}]": np.asarray(result["kind"]) == k for k in ("input", "computed")})
    keys["[all]"] = np.ones(len(counted), bool)
    return {meth: {g: float(np.mean(np.asarray(v)[sel & counted])) for g, sel in keys.items() if (sel & counted).any()}
            for meth, v in result["f1"].items()}
