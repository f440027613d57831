"""Activation collection (sae/collect.py) on a tiny network and a few hundred positions."""
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from alphazero.checkpoint import file_sha256, load_network
from othello import game
from othello.sampling import random_games
from sae import collect as collect_mod
from sae.activations import ActivationStore
from sae.config import CollectConfig
from tests.conftest import tiny_checkpoint

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def tiny_ckpt(tmp_path_factory):
    return tiny_checkpoint(tmp_path_factory.mktemp("ck") / "tiny.pt", d_model=32, n_blocks=4, d_hidden=64)


@pytest.fixture(scope="module")
def store(tiny_ckpt, tmp_path_factory):
    out = tmp_path_factory.mktemp("acts") / "acts"
    collect_mod.main(["--checkpoint", str(tiny_ckpt), "--collect.positions", "600", "--site", "1,2",
                      "--collect.out", str(out), "--collect.batch-games", "40", "--collect.val-frac", "0.2",
                      "--collect.test-frac", "0.2", "--seed", "3"])
    return ActivationStore(out)


def test_store_contents_match_the_network(store, tiny_ckpt):
    m = store.manifest
    assert store.count == 600 and store.sites == ["resid.1", "resid.2"] and store.d_model == 32
    assert m["checkpoint_sha256"] == file_sha256(tiny_ckpt)
    assert m["config"]["collect"]["positions"] == 600 and m["config"]["seed"] == 3  # the full config, verbatim
    assert m["sources"] == ["self", "random", "greedy", "alphabeta:2"]
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


def test_move_is_the_move_played(store):
    """`move` is legal at its row, and where the game's next ply is stored it is the square that ply filled."""
    move = np.asarray(store.array("move")).astype(np.int64)
    legal = np.asarray(store.array("legal"))
    assert store.array("move").dtype == np.int8 and legal[np.arange(store.count), move].all()
    me, opp = game.from_planes(store.array("boards"))
    gid, ply = np.asarray(store.array("game_id")), np.asarray(store.array("ply"))
    nxt = np.flatnonzero((gid[1:] == gid[:-1]) & (ply[1:] == ply[:-1] + 1))  # rows ordered by game, then ply
    filled = (me[nxt + 1] | opp[nxt + 1]) & ~(me[nxt] | opp[nxt])
    expect = np.where(filled == 0, game.PASS, game.bits_to_array(filled).argmax(1))
    assert len(nxt) > 300 and (game.popcount(filled) <= 1).all()
    np.testing.assert_array_equal(move[nxt], expect)
    assert len(np.unique(move)) > 20  # not a constant stand-in


def test_collect_cli_errors_and_help(tiny_ckpt, tmp_path):
    def cli(*args):
        return subprocess.run([sys.executable, "-m", "sae.collect", *map(str, args)], capture_output=True, text=True, cwd=ROOT)

    r = cli("--help")
    assert r.returncode == 0 and "default: 200000" in r.stdout and "--site" in r.stdout
    r = cli("--checkpoint", tiny_ckpt, "--site", "7", "--collect.out", tmp_path / "x", "--collect.positions", 10)
    assert r.returncode != 0 and "unknown site '7'" in r.stderr and len(r.stderr.strip().splitlines()) == 1
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"garbage")
    r = cli("--checkpoint", bad, "--collect.out", tmp_path / "y", "--collect.positions", 10)
    assert r.returncode != 0 and "bad.pt is not a readable checkpoint" in r.stderr and len(r.stderr.strip().splitlines()) == 1
    r = cli("--checkpoint", tiny_ckpt, "--collect.out", tmp_path / "z", "--collect.mix", "self=1,chess=0.5")
    assert r.returncode != 0 and "chess" in r.stderr and len(r.stderr.strip().splitlines()) == 1


def test_position_keys_are_unique_per_position_and_dedup_keeps_first():
    pos = random_games(300, seed=1)
    keys = collect_mod.position_keys(pos["me"], pos["opp"])
    pairs = np.stack([pos["me"], pos["opp"]], 1)
    assert len(np.unique(keys)) == len(np.unique(pairs, axis=0))  # one key per distinct (me, opp)
    # swapping sides is another position, and the full board is the largest code < 3^36
    assert collect_mod.position_keys(pos["opp"][:50], pos["me"][:50]).tolist() != keys[:50].tolist()
    full = np.array([game.FULL], np.uint64)
    assert int(collect_mod.position_keys(np.zeros(1, np.uint64), full)[0]) == 3 ** 36 - 1
    # first_unseen over two chunks == a Python set, first occurrence wins
    seen, kept = np.zeros(0, np.uint64), []
    for chunk in np.array_split(keys, 2):
        keep, seen = collect_mod.first_unseen(chunk, seen)
        kept.append(keep)
    ref, s = [], set()
    for k in keys.tolist():
        ref.append(k not in s)
        s.add(k)
    assert np.array_equal(np.concatenate(kept), ref) and np.all(np.diff(seen.astype(object)) > 0)


class Counting:
    """A model player that records how many positions it was asked to move in."""

    def __init__(self):
        self.positions, self.temperature = 0, 1.0

    def __call__(self, me, opp):
        self.positions += len(me)
        return np.where(game.legal_mask(me, opp), np.random.default_rng(0).random((len(me), 37)), -1).argmax(1)


def test_model_runs_only_on_its_own_turns():
    model, opponent = Counting(), Counting()
    pos = collect_mod.play_games(model, 6, opponent, CollectConfig(), 0)
    assert model.positions + opponent.positions == len(pos["me"])  # each position: exactly one player moved
    assert model.positions < len(pos["me"]) and opponent.positions > 0
    self_play = Counting()
    pos = collect_mod.play_games(self_play, 4, None, CollectConfig(), 0)
    assert self_play.positions == len(pos["me"])


def test_parse_mix():
    assert collect_mod.parse_mix("self=3,random=1,greedy=0") == {"self": 0.75, "random": 0.25}
    for bad in ("self", "self=-1", "self=1,self=2", "self=0"):
        with pytest.raises(ValueError):
            collect_mod.parse_mix(bad)
