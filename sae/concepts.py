"""Board-concept evaluation of an SAE (after Karvonen et al. 2024, Othello/chess SAEs).

Properties of each position (from the store, board seen from the mover's side):
mine / theirs / empty for each of the 36 squares, and "legal move" per square:
144 binary properties. Each feature j with threshold t is a classifier
act_j > t * max_act_j (max over training rows), t in THRESHOLDS.

coverage        per property, the best F1 over (feature, t) -- chosen on TRAIN rows,
                scored on held-out rows -- averaged per property group and overall
                (over the properties that occur in both splits)
features        per feature, the property it predicts best (F1 chosen over properties and
                thresholds on train rows) with that classifier's held-out F1, precision
                and recall; None where the best train F1 is below MIN_FEATURE_F1
reconstruction  label each (feature, t) with every property it implies at >= 95% precision
                on train rows (and >= MIN_FIRES firings); on held-out positions a square's
                state is predicted from the labelled features that fire (the state with the
                largest summed label precision wins), else the square's most common training state. Reported with
                that fallback alone as the baseline, and legal-move F1 of the labels.
"""
import numpy as np
import torch

THRESHOLDS = (0.0, 0.1, 0.3, 0.5)
PRECISION = 0.95
MIN_FIRES = 10
GROUPS = ("mine", "theirs", "empty", "legal")
MIN_FEATURE_F1 = 0.2
SQUARE_NAMES = [f"{'abcdef'[s % 6]}{s // 6 + 1}" for s in range(36)]
PROPERTY_NAMES = [f"{sq} {g}" for g in GROUPS for sq in SQUARE_NAMES]  # column order of board_properties


def board_properties(boards, legal):
    """bool [N, 144]: mine(36) | theirs(36) | empty(36) | legal(36)."""
    b = np.asarray(boards)
    return np.concatenate([b == 1, b == -1, b == 0, np.asarray(legal)[:, :36]], axis=1)


@torch.no_grad()
def _features(sae, acts, device, chunk=8192):
    return torch.cat([sae.encode(torch.from_numpy(np.array(acts[i:i + chunk], dtype=np.float32)).to(device)).float().cpu()
                      for i in range(0, len(acts), chunk)])


def _f1_tables(C, P):
    """Per (feature, property): true positives, fires, positives (as float tensors)."""
    tp = C.T @ P                      # [F, 144]
    return tp, C.sum(0)[:, None], P.sum(0)[None, :]


def evaluate_concepts(sae, store, site, eval_split, train_rows=20_000, eval_rows=10_000, device="cpu"):
    """Coverage and board-reconstruction scores of `sae` (raw-activation SAE) on the store's boards."""
    a, b = store.split_rows("train")
    tr = np.sort(np.random.default_rng(0).choice(b - a, size=min(train_rows, b - a), replace=False))
    f_tr = _features(sae, store.acts(site, "train")[tr], device)
    P_tr = torch.from_numpy(board_properties(store.array("boards", "train")[tr], store.array("legal", "train")[tr])).float()
    n_ev = min(eval_rows, store.split_rows(eval_split)[1] - store.split_rows(eval_split)[0])
    f_ev = _features(sae, store.acts(site, eval_split)[:n_ev], device)
    P_ev = torch.from_numpy(board_properties(store.array("boards", eval_split)[:n_ev],
                                             store.array("legal", eval_split)[:n_ev])).float()
    max_act = f_tr.max(0).values.clamp_min(1e-12)
    best_f1_tr = torch.full((P_tr.shape[1],), -1.0)
    best_f1_ev = torch.zeros(P_tr.shape[1])
    labels = []  # per threshold: (precision [F, 144] masked to labelled entries)
    feat_best = torch.full((f_tr.shape[1],), -1.0)       # per feature: best train F1 over (threshold, property)
    feat_prop = torch.zeros(f_tr.shape[1], dtype=torch.long)
    feat_t = torch.zeros(f_tr.shape[1])
    feat_ev = torch.zeros(f_tr.shape[1], 3)              # held-out F1, precision, recall of that classifier
    for t in THRESHOLDS:
        C_tr, C_ev = (f_tr > t * max_act).float(), (f_ev > t * max_act).float()
        tp, fires, pos = _f1_tables(C_tr, P_tr)
        f1 = 2 * tp / (fires + pos).clamp_min(1)
        j = f1.argmax(0)                                  # best feature per property on train
        better = f1.max(0).values > best_f1_tr
        tp_e, fires_e, pos_e = _f1_tables(C_ev[:, j], P_ev)
        f1_ev = (2 * tp_e.diagonal() / (fires_e.squeeze(1) + pos_e.squeeze(0)).clamp_min(1))
        best_f1_ev = torch.where(better, f1_ev, best_f1_ev)
        best_f1_tr = torch.maximum(best_f1_tr, f1.max(0).values)
        # per feature: its best property at this threshold, scored on held-out rows
        fbest, fprop = f1.max(1)
        upd = fbest > feat_best
        tp_f = (C_ev * P_ev[:, fprop]).sum(0)
        fires_f, pos_f = C_ev.sum(0), P_ev[:, fprop].sum(0)
        ev_stats = torch.stack([2 * tp_f / (fires_f + pos_f).clamp_min(1), tp_f / fires_f.clamp_min(1),
                                tp_f / pos_f.clamp_min(1)], 1)
        feat_best, feat_prop = torch.where(upd, fbest, feat_best), torch.where(upd, fprop, feat_prop)
        feat_t, feat_ev = torch.where(upd, torch.tensor(t), feat_t), torch.where(upd[:, None], ev_stats, feat_ev)
        precision = tp / fires.clamp_min(1)
        labels.append(torch.where((precision >= PRECISION) & (fires >= MIN_FIRES), precision, torch.zeros(())))
    # properties that never hold (train or held-out) have no F1: left out of the averages
    defined = (P_tr.sum(0) > 0) & (P_ev.sum(0) > 0)
    coverage = {g: float(best_f1_ev[i * 36:(i + 1) * 36][defined[i * 36:(i + 1) * 36]].mean()) for i, g in enumerate(GROUPS)}
    coverage["all"] = float(best_f1_ev[defined].mean())
    coverage["n_properties"] = int(defined.sum())
    # --- board reconstruction: pick the threshold whose labels reconstruct TRAIN boards best ---
    majority = P_tr[:, :108].view(-1, 3, 36).sum(0).argmax(0)  # most common state per square
    results = []
    for t, lab in zip(THRESHOLDS, labels):
        results.append((_reconstruct(f_tr > t * max_act, lab, P_tr, majority),
                        _reconstruct(f_ev > t * max_act, lab, P_ev, majority), t, int((lab > 0).any(1).sum())))
    (_, ev, t_best, n_labelled) = max(results, key=lambda r: r[0]["square_acc"])
    baseline = float((P_ev[:, :108].view(-1, 3, 36).argmax(1) == majority).float().mean())
    return {"coverage": coverage, "reconstruction": {**ev, "baseline_square_acc": baseline, "threshold": t_best,
                                                      "labelled_features": n_labelled},
            "features": [None if feat_best[j] < MIN_FEATURE_F1 else
                         {"property": PROPERTY_NAMES[int(feat_prop[j])], "f1": round(float(feat_ev[j, 0]), 4),
                          "precision": round(float(feat_ev[j, 1]), 4), "recall": round(float(feat_ev[j, 2]), 4),
                          "f1_train": round(float(feat_best[j]), 4), "threshold": float(feat_t[j])}
                         for j in range(len(feat_best))],
            "n_train": len(tr), "n_eval": int(n_ev), "thresholds": list(THRESHOLDS)}


def _reconstruct(C, lab, P, majority):
    """Square-state accuracy and legal-move F1 predicted from the labelled features that fire."""
    score = C.float() @ lab  # [N, 144]: summed precision of the firing features labelled with each property
    states = score[:, :108].view(-1, 3, 36)
    pred = torch.where(states.max(1).values > 0, states.argmax(1), majority.expand(len(C), 36))
    square_acc = float((pred == P[:, :108].view(-1, 3, 36).argmax(1)).float().mean())
    legal_pred, legal_true = score[:, 108:] > 0, P[:, 108:] > 0
    tp = float((legal_pred & legal_true).sum())
    f1 = 2 * tp / max(float(legal_pred.sum() + legal_true.sum()), 1.0)
    return {"square_acc": square_acc, "legal_f1": f1}
