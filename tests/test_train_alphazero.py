"""train_alphazero.py in a subprocess with a tiny config: checkpoints, resume, bad input."""
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from alphazero.checkpoint import CheckpointError, load_checkpoint, load_network, save_checkpoint
from alphazero.network import AlphaZeroNet, NetConfig

ROOT = Path(__file__).resolve().parents[1]
TINY = ["--games-per-iter", "4", "--parallel", "4", "--sims", "4", "--steps-per-iter", "2", "--batch-size", "16",
        "--d-model", "16", "--n-blocks", "1", "--d-hidden", "32", "--eval-games", "2"]


def train(*args):
    env = {**os.environ, "WANDB_MODE": "disabled", "TQDM_DISABLE": "1"}
    return subprocess.run([sys.executable, "train_alphazero.py", *TINY, *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)


def test_checkpoint_round_trip_is_plain_data(tmp_path):
    net = AlphaZeroNet(NetConfig(d_model=16, n_blocks=2, d_hidden=32)).eval()
    save_checkpoint(tmp_path / "a.pt", net, iteration=3, history=[{"x": 1.0}])
    assert not list(tmp_path.glob("*.tmp"))  # written to a temp file, then renamed
    ck = torch.load(tmp_path / "a.pt", weights_only=True)  # no pickle of arbitrary objects
    assert ck["net_config"] == {"d_model": 16, "n_blocks": 2, "d_hidden": 32} and ck["iteration"] == 3
    back = load_network(tmp_path / "a.pt")
    x = torch.randint(-1, 2, (5, 36)).float()
    for a, b in zip(net(x), back(x)):
        torch.testing.assert_close(a, b)


def test_corrupt_or_foreign_checkpoint_is_named(tmp_path):
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="bad.pt is not a readable checkpoint"):
        load_checkpoint(bad)
    torch.save({"weights": torch.zeros(2)}, tmp_path / "other.pt")
    with pytest.raises(CheckpointError, match="not an Othello AlphaZero checkpoint"):
        load_checkpoint(tmp_path / "other.pt")
    with pytest.raises(CheckpointError, match="not found"):
        load_checkpoint(tmp_path / "missing.pt")


def test_train_then_resume(tmp_path):
    out = tmp_path / "run"
    r = train("--iterations", "2", "--out", str(out))
    assert r.returncode == 0, r.stderr
    ck = load_checkpoint(out / "latest.pt")
    assert ck["iteration"] == 1 and len(ck["history"]) == 2 and "optimizer" in ck
    assert (out / "iter_000.pt").is_file() and (out / "buffer.npz").is_file()
    h = ck["history"][-1]
    assert {"score_vs_random", "score_vs_greedy", "score_vs_alphabeta2", "score_vs_previous"} <= set(h)
    assert 0 <= h["score_vs_greedy"] <= 1 and h["policy_loss"] > 0

    # an interrupted run continues where it stopped: iterations 2 and 3 only, history kept
    r = train("--iterations", "4", "--out", str(out), "--resume")
    assert r.returncode == 0, r.stderr
    assert "resuming at iteration 2" in r.stdout
    ck2 = load_checkpoint(out / "latest.pt")
    assert [h["iteration"] for h in ck2["history"]] == [0, 1, 2, 3]
    assert ck2["history"][:2] == ck["history"] and ck2["elapsed_s"] > ck["elapsed_s"]
    # buffer restored: it holds the positions of all four iterations
    assert ck2["history"][-1]["buffer"] == sum(h["positions"] for h in ck2["history"])


def test_help_documents_defaults():
    r = subprocess.run([sys.executable, "train_alphazero.py", "--help"], cwd=ROOT, capture_output=True, text=True)
    assert r.returncode == 0
    assert "--games-per-iter" in r.stdout and "default: 256" in r.stdout and "--resume" in r.stdout
