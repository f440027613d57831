"""Held-out evaluation with 95% intervals: bootstrap over games (planted coverage), Wilson, and
`python -m sae.evaluate` giving the sweep report's own numbers for our folders and foreign SAELens ones."""
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from sae.downstream import splice_ci, splice_metrics, wilson
from sae.metrics import bootstrap_weights, evaluate, percentile_ci, reconstruction_ci
from sae.sweep_report import read_sweep_report
from tests.test_sae_export import random_tensors, write_saelens_folder
from tests.test_sae_train import TINY, run_cli  # noqa: F401 (TINY: the store's network)

ROOT = Path(__file__).resolve().parent.parent


class Identity(torch.nn.Module):
    b_dec = torch.zeros(16)

    def encode(self, x):
        return x

    def decode(self, f):
        return f


def clustered_games(rng, n_games, rows, mean=10.0):
    """Per-game sums of a per-row quantity with a strong game effect: l0 = mean + u_game + noise."""
    u = rng.normal(0, 2.0, n_games)
    vals = [mean + u[g] + rng.normal(0, 0.5, rows) for g in range(n_games)]
    d = 3
    return {"n": np.full(n_games, float(rows)), "l0": np.array([v.sum() for v in vals]),
            "sse": np.ones(n_games), "xx": np.full(n_games, 10.0 * rows), "sx": np.zeros((n_games, d))}


def test_game_bootstrap_covers_a_known_mean():
    rng = np.random.default_rng(0)
    cover, naive_cover = 0, 0
    for rep in range(200):
        games = clustered_games(rng, 60, 20)
        lo, hi = reconstruction_ci(games, 300, seed=rep)["l0"]
        cover += lo <= 10.0 <= hi
        # resampling ROWS as if they were independent: far too narrow when positions of a game are correlated
        se_rows = np.sqrt(2.0 ** 2 + 0.5 ** 2) / np.sqrt(60 * 20)
        m = games["l0"].sum() / games["n"].sum()
        naive_cover += m - 1.96 * se_rows <= 10.0 <= m + 1.96 * se_rows
    assert 0.89 <= cover / 200 <= 0.99, cover
    assert naive_cover / 200 < 0.6, naive_cover


def test_bootstrap_is_seeded_and_weights_count_games():
    W = bootstrap_weights(50, 7, seed=3)
    assert W.shape == (7, 50) and (W.sum(1) == 50).all() and np.array_equal(W, bootstrap_weights(50, 7, seed=3))
    assert percentile_ci(np.arange(101.0)) == pytest.approx([2.5, 97.5])


def test_per_game_sums_reproduce_the_metrics():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(500, 16, generator=g) + 3.0
    gid = np.repeat(np.arange(25) * 7, 20)  # sparse game ids

    class Noisy(Identity):
        def decode(self, f):
            return f + 0.3 * torch.sin(f)

    m = evaluate(Noisy(), x.numpy(), batch_size=64, game_id=gid)
    games = m["games"]
    assert len(games["n"]) == 25 and games["n"].sum() == 500
    total_var = games["xx"].sum() - (games["sx"].sum(0) ** 2).sum() / 500
    assert games["sse"].sum() / total_var == pytest.approx(m["fvu"], rel=1e-6)
    ci = reconstruction_ci(games, 500, seed=0)
    assert ci["fvu"][0] < m["fvu"] < ci["fvu"][1] and ci["l0"][0] < m["l0"] < ci["l0"][1]


def test_wilson_known_values():
    assert wilson(20, 40) == pytest.approx([0.35200, 0.64800], abs=1e-5)
    assert wilson(0, 10) == pytest.approx([0.0, 0.27753], abs=1e-5)
    assert wilson(10, 10)[1] == pytest.approx(1.0) and wilson(81, 100) == pytest.approx([0.72221, 0.87485], abs=1e-5)


def test_identity_splice_has_zero_width_intervals(tmp_path):
    from alphazero.checkpoint import load_network
    from sae.activations import ActivationStore
    from tests.synthetic import make_random_store
    make_random_store(tmp_path / "acts", n_games=30, net_cfg=TINY, seed=2)
    store = ActivationStore(tmp_path / "acts")
    net = load_network(store.manifest["checkpoint"])
    mean = np.asarray(store.acts("resid.2", "test"), dtype=np.float32).mean(0)
    m = splice_metrics(net, Identity(), "resid.2", store.array("boards", "test"), store.array("legal", "test"), mean,
                       game_id=store.array("game_id", "test"))
    ci = splice_ci(m["games"], 200, seed=0)
    assert ci["kl"] == pytest.approx([0, 0], abs=1e-6) and ci["flr"] == pytest.approx([1, 1])


def evaluate_cli(*args, ok=True):
    r = subprocess.run([sys.executable, "-m", "sae.evaluate", *map(str, args)], capture_output=True, text=True,
                       cwd=ROOT, timeout=300)
    assert (r.returncode == 0) == ok, r.stderr[-2000:]
    return r


def test_cli_gives_the_sweep_reports_numbers(tmp_path):
    from tests.synthetic import make_random_store
    store, ckpt = tmp_path / "acts", tmp_path / "acts_model.pt"
    make_random_store(store, n_games=60, net_cfg=TINY, seed=0)
    out = tmp_path / "sweep"
    run_cli("--collect.out", store, "--sae.out", out, "--sae.sweep", "small", "--sae.features", 48, "--sae.steps", 10,
            "--sae.batch-size", 64, "--sae.match-games", 0, "--sae.no-concepts", "--sae.bootstrap", 200,
            "--checkpoint", ckpt)
    runs = read_sweep_report(out)["runs"]
    foreign = tmp_path / "foreign"
    write_saelens_folder(foreign, "standard", random_tensors("standard", d=32, f=40),
                         metadata={"sae_lens_version": "6.5.0", "hook_name": "resid.1"})
    folders = [out / r["folder"] for r in runs] + [foreign]
    r = evaluate_cli(*folders, "--store", store, "--match-games", 0, "--bootstrap", 200, "--out", tmp_path / "e.json")
    got = json.loads((tmp_path / "e.json").read_text())["runs"]
    assert "| SAE | site | FVU" in r.stdout and "foreign" in r.stdout
    for a, b in zip(runs, got):
        ma, mb = a["metrics"], b["metrics"]
        assert b["site"] == a["site"] == "resid.2"
        for key in ("fvu", "l0", "n_eval", "n_eval_games"):
            assert mb[key] == pytest.approx(ma[key], rel=1e-5), (a["name"], key)
        assert np.allclose(mb["ci95"]["fvu"], ma["ci95"]["fvu"], rtol=1e-4)
        assert mb["downstream"]["kl"] == pytest.approx(ma["downstream"]["kl"], rel=1e-4)
        assert np.allclose(mb["downstream"]["ci95"]["flr"], ma["downstream"]["ci95"]["flr"], rtol=1e-3, atol=1e-5)
    assert got[-1]["site"] == "resid.1" and got[-1]["arch"] == "relu" and np.isfinite(got[-1]["metrics"]["fvu"])
    r = evaluate_cli(foreign, "--store", store, "--site", "resid.9", "--downstream-rows", 0, ok=False)
    assert len(r.stderr.strip().splitlines()) == 1 and "resid.9" in r.stderr
    assert "--eval-rows INT" in evaluate_cli("--help").stdout and "(default: 200000)" in evaluate_cli("--help").stdout


def test_default_and_pipeline_stores_hold_100k_test_positions():
    """Splits are drawn by game, so the held-out share of positions is close to test_frac: keep a margin."""
    import pipeline
    from sae.config import CollectConfig, SAETrainConfig
    preset = {**CollectConfig().__dict__, **pipeline.PRESET["collect"]}
    for c in (CollectConfig().__dict__, preset):
        assert c["positions"] * c["test_frac"] >= 110_000, c
    assert SAETrainConfig().eval_rows >= 100_000 and SAETrainConfig().bootstrap >= 1000
