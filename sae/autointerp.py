"""Auto-interpretation without a language model: each SAE feature's best short rule over game concepts,
and its causal importance.

Rules (over the binary detection columns of othello/concepts.py, `sae.probes.targets`; a masked
column, e.g. a solver concept, reads False where it is undefined) form one family, a depth-2 tree:

    root column a; on rows where a holds, a branch; where it does not, another branch;
    each branch is a literal (column b, or "not b"), ALWAYS or NEVER

which contains a single column ("a" = ALWAYS | NEVER, "not a"), a conjunction of two ("a and not b",
"not a and b"), a disjunction ("a or b") and the general tree ("(a and b) or (not a and c)"). A
feature "fires" where its activation exceeds t x its max over the train rows, t in `thresholds`.

Protocol, per alive feature (fires on at least `min_fires` train rows):
    fit     on TRAIN rows, for every threshold t: the best single literal, the best conjunction and the
            best tree by F1 (search: the `beam` best single literals as roots, every column as the second
            literal; the tree's two branches by Dinkelbach's method, exact for F1 given the root)
    choose  on VAL rows: the threshold and rule with the best F1, preferring the simpler kind
            (single < conjunction < tree) within `simplicity_margin`
    score   on TEST rows: precision, recall and F1 of the chosen rule for the chosen firing event
A feature is "explained" at test F1 >= `explained_f1`.

Importance (test rows where the feature fires, up to `importance_rows` per feature): the activation
at the SAE's site is replaced by a - f_j(a) d_j (the feature's own contribution removed, the SAE's
error kept) through the network's hooks; reported as the mean KL(clean || ablated) of the policy over
legal moves, and the mean |value change| (value = P(win) - P(loss)).
"""
from dataclasses import dataclass

import numpy as np
import torch
from tqdm import tqdm

from alphazero.network import value_from_logits
from sae.downstream import _kl, _legal_log_probs

ALWAYS, NEVER = -1, -2  # branch codes besides a column index
KINDS = ("single", "conjunction", "tree")


@dataclass(frozen=True)
class AutoInterpConfig:
    thresholds: tuple[float, ...] = (0.0, 0.1, 0.2, 0.3, 0.5)  # firing events: act > t * max (t chosen on val)
    beam: int = 16               # roots tried per threshold: the best single literals on train
    min_fires: int = 10          # alive: fires on at least this many train rows
    simplicity_margin: float = 0.02  # on val, a simpler rule wins unless the complex one is this much better
    explained_f1: float = 0.8    # a feature is explained when its rule reaches this test F1
    dinkelbach_iters: int = 12   # tree branch search iterations (converges in ~3)
    importance_rows: int = 64    # test positions per feature ablated for importance (0: no importance)
    batch: int = 4096            # (position, feature) pairs per network pass
    top: int = 10                # candidate concepts listed (important, unexplained)


# ------------------------------------------------------------------ rules: representation

def rule_kind(rule):
    """'single', 'conjunction' or 'tree' of a rule (a, true_col, true_sign, false_col, false_sign)."""
    _, tc, _, fc, _ = rule
    if tc < 0 and fc < 0:
        return "single"
    if (tc >= 0 and fc == NEVER) or (fc >= 0 and tc == NEVER):
        return "conjunction"
    return "tree"


def simplify(rule):
    """The same rule without a branch that re-tests the root ("a and a" = a) or repeats the other branch."""
    a, tc, ts, fc, fs = (int(v) for v in rule)
    if tc == a:
        tc, ts = (ALWAYS if ts else NEVER), 0
    if fc == a:
        fc, fs = (NEVER if fs else ALWAYS), 0
    if tc >= 0 and (tc, ts) == (fc, fs):  # both branches test the same literal: the root is irrelevant
        a, tc, ts, fc, fs = tc, (ALWAYS if ts else NEVER), 0, (NEVER if ts else ALWAYS), 0
    return [a, tc, ts, fc, fs]


def rule_text(rule, names):
    """Readable form, e.g. 'legal c2 and not stable_mine b1', '(a and b) or (not a and c)'."""
    a, tc, ts, fc, fs = (int(v) for v in rule)

    def lit(c, s):
        return names[c] if s else f"not {names[c]}"
    A, nA = names[a], f"not {names[a]}"
    if tc < 0 and fc < 0:
        return {(ALWAYS, NEVER): A, (NEVER, ALWAYS): nA, (ALWAYS, ALWAYS): "always"}.get((tc, fc), "never")
    if fc == NEVER:
        return f"{A} and {lit(tc, ts)}" if tc >= 0 else A
    if tc == NEVER:
        return f"{nA} and {lit(fc, fs)}"
    if tc == ALWAYS:
        return f"{A} or {lit(fc, fs)}"
    if fc == ALWAYS:
        return f"{nA} or {lit(tc, ts)}"
    return f"({A} and {lit(tc, ts)}) or ({nA} and {lit(fc, fs)})"


def apply_rules(rules_R5, x_NK):
    """Boolean predictions [N, R] of rules [R, 5] on concept columns x bool [N, K]."""
    r = torch.as_tensor(np.asarray(rules_R5), dtype=torch.long)
    x = torch.as_tensor(x_NK)

    def branch(col, sign):
        val = x[:, col.clamp_min(0)] == sign.bool()
        return torch.where(col >= 0, val, (col == ALWAYS).expand_as(val))
    return torch.where(x[:, r[:, 0]], branch(r[:, 1], r[:, 2]), branch(r[:, 3], r[:, 4]))


def prf(pred_NR, fire_NR):
    """(precision, recall, F1) [R] of predictions against firing events, both bool [N, R]."""
    tp = (pred_NR & fire_NR).sum(0).float()
    p, f = pred_NR.sum(0).float(), fire_NR.sum(0).float()
    return tp / p.clamp_min(1), tp / f.clamp_min(1), 2 * tp / (p + f).clamp_min(1)


# ------------------------------------------------------------------ rules: search on train rows

class RuleSearch:
    """Best rules of each kind for firing events on train rows, over concept columns x bool [N, K]."""

    def __init__(self, x_NK, cfg):
        self.x = torch.as_tensor(x_NK).float()
        self.cfg, self.n, self.k = cfg, len(x_NK), x_NK.shape[1]
        self.cnt_K = self.x.sum(0)              # rows where each column holds
        self.g_KK = self.x.T @ self.x           # co-occurrence: rows where both columns hold

    def fit(self, rows, fire_nT):
        """Firing events (bool [n, T], on train rows `rows`; zero elsewhere) -> rules [T, 3, 5] (kinds
        in KINDS order) and their train F1 [T, 3]. Only rows where the feature fires are touched."""
        xr = self.x[rows]                                   # [n, K]
        w = fire_nT.float()                                 # [n, T]
        P = w.sum(0)[:, None]                               # [T, 1] positives per threshold
        tp1 = w.T @ xr                                      # [T, K]
        cnt, N, K = self.cnt_K[None], float(self.n), self.k
        f1_pos, f1_neg = 2 * tp1 / (cnt + P).clamp_min(1), 2 * (P - tp1) / (N - cnt + P).clamp_min(1)
        lits = torch.cat([f1_pos, f1_neg], 1)               # [T, 2K] single literals
        T, m = w.shape[1], min(self.cfg.beam, K)
        best1, i1 = lits.max(1)
        singles = torch.stack([i1 % K, torch.where(i1 < K, ALWAYS, NEVER), torch.zeros_like(i1),
                               torch.where(i1 < K, NEVER, ALWAYS), torch.zeros_like(i1)], 1)
        roots = lits.topk(m, 1).indices % K                 # [T, m] root columns
        # tp of "root and b" for every (threshold, root, b): one matmul over the firing rows
        tp_ab = (w[:, :, None] * xr[:, roots]).reshape(len(xr), T * m).T @ xr   # [T*m, K]
        tp_a = tp1.gather(1, roots).reshape(-1, 1)          # [T*m, 1]
        Pr = P.repeat_interleave(m, 0)                      # [T*m, 1]
        g = self.g_KK[roots.reshape(-1)]                    # [T*m, K] rows where root and b hold
        cnt_a = self.cnt_K[roots.reshape(-1)][:, None]
        tp_nb = tp1.repeat_interleave(m, 0) - tp_ab        # not root and b
        zero = torch.zeros_like(tp_a)
        # branch options: b, not b, ALWAYS, NEVER ([T*m, 2K + 2] true positives and firings)
        tp_T = torch.cat([tp_ab, tp_a - tp_ab, tp_a, zero], 1)
        fi_T = torch.cat([g, cnt_a - g, cnt_a, zero], 1)
        tp_F = torch.cat([tp_nb, (Pr - tp_a) - tp_nb, Pr - tp_a, zero], 1)
        fi_F = torch.cat([cnt - g, (N - cnt_a) - (cnt - g), N - cnt_a, zero], 1)
        # one branch an option, the other NEVER: singles (option ALWAYS) and conjunctions (a literal)
        c_T, c_F = 2 * tp_T / (fi_T + Pr).clamp_min(1), 2 * tp_F / (fi_F + Pr).clamp_min(1)   # [T*m, 2K + 2]
        conj = torch.cat([c_T[:, :2 * K], c_F[:, :2 * K]], 1).reshape(T, m * 4 * K)
        best2, i2 = conj.max(1)
        r, rest = i2 // (4 * K), i2 % (4 * K)
        side_false, opt = rest >= 2 * K, rest % (2 * K)
        a = roots.gather(1, r[:, None])[:, 0]
        lit_c, lit_s = opt % K, (opt < K).long()
        conjs = torch.stack([a, torch.where(side_false, NEVER, lit_c), lit_s, torch.where(side_false, lit_c, NEVER), lit_s], 1)
        # trees: maximise 2 (tpT + tpF) / (fiT + fiF + P) over the two branches, per root (Dinkelbach:
        # start from a tree the root reaches, lambda = its F1; the argmax of 2 tp - lambda fi, separable
        # over the branches, has F1 >= lambda; at a fixpoint it is the root's best tree)
        lam = torch.maximum(c_T.max(1).values, c_F.max(1).values)[:, None]
        for _ in range(self.cfg.dinkelbach_iters):
            jt, jf = (2 * tp_T - lam * fi_T).argmax(1, keepdim=True), (2 * tp_F - lam * fi_F).argmax(1, keepdim=True)
            new = 2 * (tp_T.gather(1, jt) + tp_F.gather(1, jf)) / (fi_T.gather(1, jt) + fi_F.gather(1, jf) + Pr).clamp_min(1)
            if bool((new <= lam + 1e-7).all()):
                break
            lam = torch.maximum(new, lam)
        best3, i3 = new.reshape(T, m).max(1)
        jt, jf = jt.reshape(T, m).gather(1, i3[:, None])[:, 0], jf.reshape(T, m).gather(1, i3[:, None])[:, 0]

        def code(j):  # branch option index -> (col, sign)
            return torch.where(j < 2 * K, j % K, torch.where(j == 2 * K, ALWAYS, NEVER)), (j < K).long()
        (tc, ts), (fc, fs) = code(jt), code(jf)
        trees = torch.stack([roots.gather(1, i3[:, None])[:, 0], tc, ts, fc, fs], 1)
        return torch.stack([singles, conjs, trees], 1), torch.stack([best1, best2, best3], 1)


# ------------------------------------------------------------------ the whole protocol

def explain(f, x, top_F, cfg, names):
    """Rules of every alive feature. f: {split: feature activations [N_s, F]}, x: {split: concept columns
    bool [N_s, K]} for "train", "val", "test"; top_F: each feature's max on train rows.

    Returns a list over features: None (dead) or {rule, text, kind, threshold, precision, recall, f1,
    f1_val, f1_train, fires_test, f1_always (test F1 of the rule "always")}; rule = [a, true_col,
    true_sign, false_col, false_sign] with ALWAYS / NEVER codes (rule_text reads it)."""
    search = RuleSearch(x["train"], cfg)
    th = torch.tensor(cfg.thresholds)
    fire_tr = f["train"] > 0
    alive = torch.nonzero(fire_tr.sum(0) >= cfg.min_fires)[:, 0]
    F = f["train"].shape[1]
    rules, f1_tr = torch.zeros(F, len(th), 3, 5, dtype=torch.long), torch.zeros(F, len(th), 3)
    for j in tqdm(alive.tolist(), desc="rules", disable=None, leave=False):
        rows = torch.nonzero(fire_tr[:, j])[:, 0]
        rules[j], f1_tr[j] = search.fit(rows, f["train"][rows, j][:, None] > th * top_F[j])
    R = torch.tensor([simplify(r) for r in rules[alive].reshape(-1, 5).tolist()], dtype=torch.long).reshape(-1, 5)  # [A*T*3, 5]
    fire = {s: (f[s][:, alive][:, :, None] > th * top_F[alive][:, None]) for s in ("val", "test")}  # [N, A, T]
    ev = {s: prf(apply_rules(R, x[s]), fire[s][:, :, :, None].expand(-1, -1, -1, 3).reshape(len(fire[s]), -1))
          for s in ("val", "test")}
    f1_val = ev["val"][2].reshape(len(alive), len(th), 3)
    # the simplest kind within the margin of the best val F1, then its best threshold
    best_any = f1_val.amax((1, 2))
    kind_best = f1_val.amax(1)                                               # [A, 3]
    ok = kind_best >= (best_any[:, None] - cfg.simplicity_margin)
    kind = ok.float().argmax(1)                                              # first kind that is good enough
    t_idx = f1_val.gather(2, kind[:, None, None].expand(-1, len(th), 1))[:, :, 0].argmax(1)
    pick = (torch.arange(len(alive)) * len(th) + t_idx) * 3 + kind
    out = [None] * F
    for i, j in enumerate(alive.tolist()):
        p = pick[i]
        rule = R[p].tolist()
        out[j] = {"rule": rule, "text": rule_text(rule, names), "kind": rule_kind(rule),
                  "threshold": float(th[t_idx[i]]), "precision": float(ev["test"][0][p]),
                  "recall": float(ev["test"][1][p]), "f1": float(ev["test"][2][p]), "f1_val": float(f1_val[i, t_idx[i], kind[i]]),
                  "f1_train": float(f1_tr[j, t_idx[i], kind[i]]), "fires_test": int(fire["test"][:, i, t_idx[i]].sum())}
        p_fire = out[j]["fires_test"] / max(len(fire["test"]), 1)
        out[j]["f1_always"] = 2 * p_fire / (1 + p_fire)  # the rule "always": what a dense feature gets for free
    return out


@torch.no_grad()
def importance(net, sae, site, boards, legal, f_NF, cfg, device="cpu"):
    """Mean policy KL and |value change| [F] when each feature is ablated, over (up to
    `importance_rows` of) the rows of boards [N, 36] where it fires (f_NF > 0); NaN where it never fires."""
    F = f_NF.shape[1]
    fires = (f_NF > 0).T                                                       # [F, N]
    rank = fires.long().cumsum(1) * fires                                      # 1.. for the firing rows
    feat, row = torch.nonzero(fires & (rank <= cfg.importance_rows), as_tuple=True)
    kl, dv = torch.zeros(F), torch.zeros(F)
    cnt = torch.bincount(feat, minlength=F).float()
    net, sae = net.to(device).eval(), sae.to(device)
    for a in tqdm(range(0, len(feat), cfg.batch), desc="ablate", disable=None, leave=False):
        fj, r = feat[a:a + cfg.batch].to(device), row[a:a + cfg.batch]
        b = torch.as_tensor(np.asarray(boards)[r.numpy()], dtype=torch.float32, device=device)
        lg = torch.as_tensor(np.asarray(legal)[r.numpy()][:, :37], device=device)

        def ablate(act):  # remove the feature's own contribution: a - f_j(a) d_j
            coef = sae.encode(act.float()).gather(1, fj[:, None])
            return (act.float() - coef * sae.W_dec[fj].float()).to(act.dtype)
        p0, v0 = net(b)
        p1, v1 = net(b, hooks={site: ablate})
        kl.index_add_(0, fj.cpu(), _kl(_legal_log_probs(p0, lg), _legal_log_probs(p1, lg), lg).float().cpu())
        dv.index_add_(0, fj.cpu(), (value_from_logits(v0.float()) - value_from_logits(v1.float())).abs().cpu())
    nan = torch.tensor(float("nan"))
    return torch.where(cnt > 0, kl / cnt.clamp_min(1), nan), torch.where(cnt > 0, dv / cnt.clamp_min(1), nan), cnt


def summarise(features, kl, dv, freq, cfg):
    """Per-SAE summary: alive, explained fraction, and the important-but-unexplained candidates
    (alive, test F1 < explained_f1, ranked by mean policy KL when ablated)."""
    alive = [j for j, r in enumerate(features) if r is not None]
    for j in alive:
        features[j].update(kl=_num(kl[j]), value_change=_num(dv[j]), freq_test=_num(freq[j]))
    explained = [j for j in alive if features[j]["f1"] >= cfg.explained_f1]
    cand = sorted((j for j in alive if features[j]["f1"] < cfg.explained_f1 and features[j]["kl"] is not None),
                  key=lambda j: -features[j]["kl"])
    f1s = [features[j]["f1"] for j in alive]
    return {"alive": len(alive), "explained": len(explained),
            "explained_frac": len(explained) / max(len(alive), 1), "median_f1": float(np.median(f1s)) if f1s else None,
            "median_f1_always": float(np.median([features[j]["f1_always"] for j in alive])) if alive else None,
            "by_kind": {k: sum(features[j]["kind"] == k for j in alive) for k in KINDS},
            "candidates": [{"feature": j, **{k: features[j][k] for k in ("text", "f1", "kl", "value_change", "freq_test")}}
                           for j in cand[:cfg.top]]}


def _num(v):
    v = float(v)
    return None if not np.isfinite(v) else round(v, 6)
