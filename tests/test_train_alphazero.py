"""train_alphazero.py in a subprocess with a tiny config: checkpoints, resume, bad input."""
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from alphazero.checkpoint import CheckpointError, load_checkpoint, load_network, save_checkpoint
from alphazero.config import NetConfig
from alphazero.network import AlphaZeroNet

ROOT = Path(__file__).resolve().parents[1]
TINY = ["--selfplay.games", "4", "--selfplay.parallel", "4", "--selfplay.sims", "4", "--search.sims", "4",
        "--train.steps-per-iter", "2", "--train.batch-size", "16", "--net.d-model", "16", "--net.n-blocks", "1", "--net.d-hidden", "32",
        "--train.eval-games", "2"]


def train(*args):
    env = {**os.environ, "WANDB_MODE": "disabled", "TQDM_DISABLE": "1"}
    return subprocess.run([sys.executable, "train_alphazero.py", *TINY, *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)


def test_checkpoint_round_trip_is_plain_data(tmp_path):
    net = AlphaZeroNet(NetConfig(d_model=16, n_blocks=2, d_hidden=32)).eval()
    save_checkpoint(tmp_path / "a.pt", net, iteration=3, history=[{"x": 1.0}])
    assert not list(tmp_path.glob("*.tmp"))  # written to a temp file, then renamed
    ck = torch.load(tmp_path / "a.pt", weights_only=True)  # no pickle of arbitrary objects
    assert ck["net_config"] == {"d_model": 16, "n_blocks": 2, "d_hidden": 32, "aux_heads": False} and ck["iteration"] == 3
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
    r = train("--train.iterations", "2", "--train.out", str(out))
    assert r.returncode == 0, r.stderr
    ck = load_checkpoint(out / "latest.pt")
    assert ck["iteration"] == 1 and len(ck["history"]) == 2 and "optimizer" in ck
    assert (out / "iter_000.pt").is_file() and (out / "buffer.npz").is_file()
    curve = (out / "learning_curve.svg").read_text()  # score vs the fixed opponents over minutes
    assert curve.startswith("<svg") and "alphabeta:2" in curve and "previous" not in curve
    h = ck["history"][-1]
    assert {"score_vs_random", "score_vs_greedy", "score_vs_alphabeta2", "score_vs_previous"} <= set(h)
    assert 0 <= h["score_vs_greedy"] <= 1 and h["policy_loss"] > 0

    # an interrupted run continues where it stopped: iterations 2 and 3 only, history kept
    r = train("--train.iterations", "4", "--train.out", str(out), "--train.resume")
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
    assert "--selfplay.games" in r.stdout and "default: 256" in r.stdout and "--train.resume" in r.stdout


def test_dotted_flags_and_config_round_trip(tmp_path, monkeypatch):
    """Dotted flags reach the run and are recorded (checkpoint 'config', OUT/config.json);
    `--config OUT/config.json` repeats exactly those settings."""
    import json

    import train_alphazero

    monkeypatch.setenv("TQDM_DISABLE", "1")
    first = tmp_path / "first"
    train_alphazero.main([*TINY, "--train.iterations", "1", "--train.eval-games", "0", "--search.c-puct", "2.5",
                          "--seed", "3", "--train.out", str(first)])
    ck = load_checkpoint(first / "latest.pt")
    assert ck["format"] == "othello-alphazero/2" and ck["iteration"] == 0
    cfg = ck["config"]
    assert cfg["search"] == {**cfg["search"], "sims": 4, "c_puct": 2.5} and cfg["seed"] == 3
    assert cfg["net"] == ck["net_config"] == {"d_model": 16, "n_blocks": 1, "d_hidden": 32, "aux_heads": False}
    assert cfg["selfplay"]["games"] == 4 and cfg["train"]["out"] == str(first)
    assert json.loads((first / "config.json").read_text()) == json.loads(json.dumps(cfg))  # tuples -> lists

    again = tmp_path / "again"
    train_alphazero.main(["--config", str(first / "config.json"), "--train.out", str(again)])
    cfg2 = load_checkpoint(again / "latest.pt")["config"]
    assert cfg2["config"] == str(first / "config.json")
    same = lambda c: {**c, "config": "", "train": {**c["train"], "out": ""}}
    assert same(cfg2) == same(cfg)


def test_checkpoint_versions(tmp_path):
    """Version 1 (the shipped model's format) still loads; another version is a one-line error naming the file."""
    net = AlphaZeroNet(NetConfig(d_model=16, n_blocks=1, d_hidden=32)).eval()
    save_checkpoint(tmp_path / "v2.pt", net)
    data = torch.load(tmp_path / "v2.pt", weights_only=True)
    torch.save({**data, "format": "othello-alphazero/1", "train_config": {"sims": 48}}, tmp_path / "v1.pt")
    assert load_checkpoint(tmp_path / "v1.pt")["train_config"] == {"sims": 48}
    load_network(tmp_path / "v1.pt")
    torch.save({**data, "format": "othello-alphazero/9"}, tmp_path / "v9.pt")
    with pytest.raises(CheckpointError, match=r"v9.pt has checkpoint format 'othello-alphazero/9'") as e:
        load_checkpoint(tmp_path / "v9.pt")
    assert len(str(e.value).splitlines()) == 1
    torch.save({"format": "othello-alphazero/2", "model": data["model"]}, tmp_path / "partial.pt")
    with pytest.raises(CheckpointError, match="partial.pt .* lacks the field"):
        load_checkpoint(tmp_path / "partial.pt")


def test_resume_needs_a_training_checkpoint(tmp_path):
    """--train.resume on a folder whose latest.pt has no optimizer (e.g. a copied model) is a one-line error."""
    out = tmp_path / "run"
    save_checkpoint(out / "latest.pt", AlphaZeroNet(NetConfig(d_model=16, n_blocks=1, d_hidden=32)))
    r = train("--train.iterations", "1", "--train.out", str(out), "--train.resume")
    assert r.returncode != 0 and "cannot be resumed from" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


def test_preset_runs_and_resumes_with_its_options(tmp_path, monkeypatch):
    """The long-run preset is a valid partial config; its search/target options run together (shrunk
    by flags to a tiny run) and resume: the second call continues at iteration 1 with the buffer's aux targets."""
    import config
    import train_alphazero
    from alphazero.replay import ReplayBuffer
    from alphazero import mcts, selfplay

    preset = ROOT / "alphazero" / "presets" / "strength.json"
    cfg = config.load_config(preset)
    mcts.check_config(cfg.search)
    selfplay.check_config(cfg.selfplay)
    assert cfg.train.out == "runs/strength" and not cfg.train.resume
    monkeypatch.setenv("TQDM_DISABLE", "1")
    out = tmp_path / "run"
    tiny = ["--config", str(preset), *TINY, "--train.out", str(out), "--train.eval-games", "0",
            "--train.buffer-size", "2000"]
    train_alphazero.main([*tiny, "--train.iterations", "1"])
    train_alphazero.main([*tiny, "--train.iterations", "2", "--train.resume"])
    ck = load_checkpoint(out / "latest.pt")
    assert [h["iteration"] for h in ck["history"]] == [0, 1]
    assert ck["config"]["search"]["algorithm"] == cfg.search.algorithm
    assert ck["net_config"]["aux_heads"] == cfg.net.aux_heads
    buf = ReplayBuffer.load(out / "buffer.npz", 2000)
    assert buf.size == sum(h["positions"] for h in ck["history"])
    assert (np.abs(buf.ownership[:buf.size]).sum(1) >= 9).all()  # a finished game has >= 9 discs on the board


def test_time_budget_stops_the_run(tmp_path, monkeypatch):
    """--train.minutes: the run stops after the iteration that spends the budget, evaluated as the last one."""
    import train_alphazero

    monkeypatch.setenv("TQDM_DISABLE", "1")
    out = tmp_path / "run"
    train_alphazero.main([*TINY, "--train.out", str(out), "--train.iterations", "5", "--train.minutes", "0.0001",
                          "--train.eval-every", "3", "--train.eval-opponents", "random"])
    ck = load_checkpoint(out / "latest.pt")
    assert [h["iteration"] for h in ck["history"]] == [0] and "score_vs_random" in ck["history"][0]
