"""Activation collection CLI and the end-to-end pipeline, on a tiny network and a few hundred positions."""
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import pipeline
from alphazero.checkpoint import file_sha256, load_network
from othello import collect_activations, game
from sae.activations import ActivationStore
from tests.conftest import tiny_checkpoint

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def tiny_ckpt(tmp_path_factory):
    return tiny_checkpoint(tmp_path_factory.mktemp("ck") / "tiny.pt", d_model=32, n_blocks=4, d_hidden=64)


@pytest.fixture(scope="module")
def store(tiny_ckpt, tmp_path_factory):
    out = tmp_path_factory.mktemp("acts") / "acts"
    collect_activations.main(["--checkpoint", str(tiny_ckpt), "--positions", "600", "--layer", "1,2", "--out", str(out),
                              "--batch-games", "40", "--val-frac", "0.2", "--test-frac", "0.2", "--seed", "3"])
    return ActivationStore(out)


def test_store_contents_match_the_network(store, tiny_ckpt):
    m = store.manifest
    assert store.count == 600 and store.sites == ["resid.1", "resid.2"] and store.d_model == 32
    assert m["checkpoint_sha256"] == file_sha256(tiny_ckpt)
    boards = np.asarray(store.array("boards")).astype(np.float32)
    # recompute a slice with the network: activations, policy and value are from this checkpoint
    net = load_network(tiny_ckpt)
    rows = np.arange(0, 600, 37)
    with torch.inference_mode():
        logits, v, cache = net.run_with_cache(torch.from_numpy(boards[rows]), ["resid.2"])
    np.testing.assert_allclose(store.acts("resid.2")[rows].astype(np.float32), cache["resid.2"].numpy(), rtol=1e-2, atol=1e-2)
    np.testing.assert_allclose(store.array("policy")[rows].astype(np.float32), torch.softmax(logits, -1).numpy(), atol=2e-3)
    # the legal mask and mover agree with the rules on the stored board
    me, opp = game.from_planes(store.array("boards")[rows])
    np.testing.assert_array_equal(store.array("legal")[rows], game.legal_mask(me, opp))
    assert set(np.unique(store.array("mover"))) <= {-1, 1}
    assert set(np.unique(store.array("source"))) >= {0}  # self-play rows at least


def test_positions_unique_and_split_by_game(store):
    boards = np.asarray(store.array("boards"))
    assert len({b.tobytes() for b in boards}) == store.count  # de-duplicated (boards are from the mover's side)
    games = {s: set(np.asarray(store.array("game_id", s)).tolist()) for s in ("train", "val", "test")}
    assert all(games[s] for s in games)
    assert not (games["train"] & games["val"]) and not (games["train"] & games["test"]) and not (games["val"] & games["test"])


def test_collect_cli_errors_and_help(tiny_ckpt, tmp_path):
    script = ROOT / "othello" / "collect_activations.py"
    r = subprocess.run([sys.executable, str(script), "--help"], capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 0 and "default: 200000" in r.stdout and "--layer" in r.stdout
    r = subprocess.run([sys.executable, str(script), "--checkpoint", str(tiny_ckpt), "--layer", "7", "--out", str(tmp_path / "x"),
                        "--positions", "10"], capture_output=True, text=True, cwd=ROOT)
    assert r.returncode != 0 and "unknown layer '7'" in r.stderr and len(r.stderr.strip().splitlines()) == 1
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"garbage")
    r = subprocess.run([sys.executable, str(script), "--checkpoint", str(bad), "--out", str(tmp_path / "y"),
                        "--positions", "10"], capture_output=True, text=True, cwd=ROOT)
    assert r.returncode != 0 and "bad.pt is not a readable checkpoint" in r.stderr and len(r.stderr.strip().splitlines()) == 1


def test_pipeline_end_to_end(tiny_ckpt, tmp_path, capsys):
    out, vis = tmp_path / "run", tmp_path / "vis_data"
    pipeline.main(["--checkpoint", str(tiny_ckpt), "--out", str(out), "--vis-out", str(vis), "--games", "4", "--sims", "4",
                   "--positions", "3000", "--sweep", "small", "--features", "64", "--steps", "30", "--batch-size", "512", "--match-games", "4"])
    text = capsys.readouterr().out
    ladder = json.loads((out / "ladder.json").read_text())
    assert [r["opponent"] for r in ladder] == ["random", "greedy", "alphabeta:4"] and all(r["games"] == 4 for r in ladder)
    scaling = json.loads((out / "sae" / "scaling.json").read_text())
    assert sorted(r["arch"] for r in scaling["runs"]) == ["batchtopk", "gated", "jumprelu", "relu", "topk"]
    index = json.loads((vis / "index.json").read_text())
    assert len(index["saes"]) == 5 and index["store"]["split"] == "test"
    assert "stage times" in text and "copy" in text  # --vis-out elsewhere: says where the page reads
