"""Probes (sae/probes.py) on planted synthetic data where the answer is known, and end to end on a tiny store."""
import numpy as np
import pytest
import torch

from alphazero.config import NetConfig
from sae import probes
from sae.activations import ActivationStore
from tests.synthetic import make_random_store


def planted(n=8000, d=16, seed=0):
    """x [n, d] Gaussian; column 0 is linear in one direction plus noise, column 1 random labels,
    column 2 a rare linear concept (5% positives), column 3 defined on half of the rows only."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, d)).astype(np.float32)
    u = rng.normal(size=d)
    u /= np.linalg.norm(u)
    s = x @ u + 0.05 * rng.normal(size=n)
    y = np.stack([s > 0.3, rng.random(n) < 0.4, s > np.quantile(s, 0.95), x[:, 1] > 0], 1)
    m = np.ones_like(y)
    m[: n // 3, 3] = False
    y[: n // 3, 3] = rng.random(n // 3) < 0.5  # labels outside the mask are noise: must be ignored
    t = probes.Targets(y, m, ["linear", "random", "rare", "masked"], ["c"] * 4, ["g"] * 4, ["computed"] * 4)
    a, b = int(0.6 * n), int(0.8 * n)
    split = {"train": np.arange(0, a), "val": np.arange(a, b), "test": np.arange(b, n)}
    return x, t, split


@pytest.mark.parametrize("method", ["ridge", "logistic"])
def test_probe_finds_a_planted_direction_and_not_random_labels(method):
    x, t, split = planted()
    f1 = probes.probe_f1(x, t, split, probes.ProbeConfig(method=method, max_iter=30))
    floor = probes.always_on_f1(*t.rows(split["test"]))
    assert f1[0] > 0.95 and f1[2] > 0.8 and f1[3] > 0.95  # rare: ridge ~0.86, logistic ~0.94 here
    assert f1[1] < floor[1] + 0.05  # random labels: no better than always answering yes
    assert abs(floor[1] - 2 * 0.4 / 1.4) < 0.05


def test_single_unit_baseline_picks_the_planted_unit():
    x, t, split = planted()
    rng = np.random.default_rng(1)
    h = np.maximum(rng.normal(size=(len(x), 64)), 0).astype(np.float32)   # random ReLU units
    h[:, 17] = np.maximum(3 * x[:, 1], 0)                                  # unit 17 fires when x_1 > 0
    f1 = probes.unit_f1(h, t, split, probes.ProbeConfig())
    assert f1[3] > 0.95          # the masked column is exactly "x_1 > 0" on its defined rows
    assert f1[1] < 0.65          # random labels: at best an always-on-like unit (2p/(1+p) ~ 0.57)


def test_best_threshold_matches_brute_force():
    rng = np.random.default_rng(2)
    z = torch.as_tensor(rng.normal(size=(200, 5)).astype(np.float32))
    y = torch.as_tensor(rng.random((200, 5)) < np.array([0.1, 0.3, 0.5, 0.7, 0.9]))
    m = torch.as_tensor(rng.random((200, 5)) < 0.8)
    thr, best = probes.best_threshold(z, y, m)
    for k in range(5):
        cands = [float(c) - 1e-6 for c in z[m[:, k], k]]
        brute = max(float(probes.f1_table((z[:, k:k + 1] > c), y[:, k:k + 1], m[:, k:k + 1])[0]) for c in cands)
        assert abs(float(best[k]) - brute) < 1e-6
        got = float(probes.f1_table(z[:, k:k + 1] > thr[k], y[:, k:k + 1], m[:, k:k + 1])[0])
        assert abs(got - brute) < 1e-6  # the returned threshold realises that F1


def test_evaluate_probes_end_to_end_on_a_tiny_store(tmp_path):
    make_random_store(tmp_path / "acts", n_games=40, net_cfg=NetConfig(d_model=16, n_blocks=2, d_hidden=32),
                      sites=["resid.1"], act_dtype="float32")
    store = ActivationStore(tmp_path / "acts")
    cfg = probes.ProbeConfig(train_rows=600, val_rows=300, test_rows=300, solve_empties=6, min_positives=3)
    r = probes.evaluate_probes(store, cfg)
    methods = set(r["f1"])
    assert {"input", "always-on", "trained:embed", "trained:resid.1", "untrained:resid.1",
            "neurons:trained:mlp.1", "neurons:untrained:mlp.1"} <= methods
    k = len(r["columns"])
    assert all(len(v) == k for v in r["f1"].values()) and len(r["counted"]) == k
    means = probes.group_means(r)
    # the input planes hold mine/theirs/empty exactly: a linear probe reads them perfectly
    assert means["input"]["board"] > 0.99 and means["always-on"]["board"] < 0.8
    assert "legality" in means["trained:resid.1"] and "[computed]" in means["input"]
