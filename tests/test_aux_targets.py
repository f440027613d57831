"""Auxiliary targets: final ownership and disc difference from self-play, through the replay buffer's
symmetries, into the aux heads; exact solver targets; checkpoints with and without aux heads."""
import dataclasses

import numpy as np
import pytest
import torch

from alphazero.checkpoint import load_network, save_checkpoint
from alphazero.config import NetConfig, SearchConfig, SelfPlayConfig, TrainConfig
from alphazero.inference import uniform_evaluate
from alphazero.network import AlphaZeroNet
from alphazero.replay import ReplayBuffer
from alphazero.selfplay import self_play
from alphazero.training import losses
from othello import game
from othello.symmetry import BOARD_PERMS

TINY = NetConfig(d_model=16, n_blocks=1, d_hidden=32)


def play(seed=0, **selfplay):
    cfg = SelfPlayConfig(**{"games": 6, "parallel": 3, "sims": 4, **selfplay})
    return self_play(uniform_evaluate, cfg, SearchConfig(), np.random.default_rng(seed), progress=False)


def test_ownership_and_score_from_each_movers_side():
    data = play()
    n = len(data["z"])
    assert data["ownership"].shape == (n, 36) and data["ownership"].dtype == np.int8
    assert data["score"].shape == (n,) and data["score"].dtype == np.int8
    own, g, ply = data["ownership"].astype(int), data["game"], data["ply"]
    assert set(np.unique(own)) <= {-1, 0, 1}
    assert np.array_equal(own.sum(1), data["score"])             # mine minus theirs at the end
    assert np.array_equal(np.sign(data["score"]), data["z"])     # no solver: the game's own result
    black = ply % 2 == 0                                         # Black sees the final board as is
    assert np.array_equal(own[black], data["final_boards"][g[black]])
    assert np.array_equal(own[~black], -data["final_boards"][g[~black]])
    black_discs = (data["final_boards"] == 1).sum(1)
    assert np.array_equal(black_discs, data["final_discs"][:, 0])
    # a disc on the board now that can never be flipped (a corner) is the mover's at the end too
    corners = [0, 5, 30, 35]
    mine_now = data["boards"][:, corners] == 1
    assert (own[:, corners][mine_now] == 1).all()
    assert not data["solved"].any()


def test_replay_symmetry_moves_ownership_with_the_board():
    rng = np.random.default_rng(0)
    n = 30
    boards = rng.integers(-1, 2, (n, 36)).astype(np.int8)
    ownership = rng.integers(-1, 2, (n, 36)).astype(np.int8)
    policy = rng.random((n, 37)).astype(np.float32)
    z, score = rng.integers(-1, 2, n).astype(np.int8), rng.integers(-36, 37, n).astype(np.int8)
    buf = ReplayBuffer(64)
    buf.add(boards, policy, z, ownership, score)
    s = buf.sample(400, np.random.default_rng(1))
    assert s.ownership.shape == (400, 36) and s.score.shape == (400,)
    used = set()
    for b, o, sc, zz in zip(s.boards, s.ownership, s.score, s.z):
        (row, k), = [(r, k) for r in range(n) for k in range(8) if np.array_equal(boards[r][BOARD_PERMS[k]], b)]
        assert np.array_equal(o, ownership[row][BOARD_PERMS[k]]) and sc == score[row] and zz == z[row]
        used.add(k)
    assert used == set(range(8))


def test_aux_heads_shapes_and_losses():
    torch.manual_seed(0)
    net = AlphaZeroNet(dataclasses.replace(TINY, aux_heads=True)).eval()
    x = torch.randint(-1, 2, (5, 36)).float()
    p, v, own, score = net.forward_aux(x)
    assert p.shape == (5, 37) and v.shape == (5, 3) and own.shape == (5, 36, 3) and score.shape == (5,)
    p0, v0 = net(x)  # forward is unchanged: (policy, value) only, same sites
    assert torch.allclose(p, p0) and torch.allclose(v, v0) and net.sites == ["embed", "resid.0"]
    data = play()
    buf = ReplayBuffer(1000)
    buf.add(*(data[k] for k in ("boards", "policy", "z", "ownership", "score")))
    parts = losses(net, buf.sample(32, np.random.default_rng(0)), TrainConfig(), "cpu")
    assert set(parts) == {"policy", "value", "ownership", "score", "total"}
    assert all(torch.isfinite(t) for t in parts.values())
    plain = losses(AlphaZeroNet(TINY), buf.sample(32, np.random.default_rng(0)), TrainConfig(), "cpu")
    assert set(plain) == {"policy", "value", "total"}
    with pytest.raises(ValueError, match="no auxiliary heads"):
        AlphaZeroNet(TINY).forward_aux(x)


def test_checkpoints_with_and_without_aux_heads(tmp_path):
    net = AlphaZeroNet(dataclasses.replace(TINY, aux_heads=True)).eval()
    save_checkpoint(tmp_path / "aux.pt", net)
    back = load_network(tmp_path / "aux.pt")
    assert back.cfg.aux_heads and back.state_dict().keys() == net.state_dict().keys()
    # a file written before aux heads existed (no "aux_heads" key) is a network without them
    plain = AlphaZeroNet(TINY)
    save_checkpoint(tmp_path / "old.pt", plain)
    data = torch.load(tmp_path / "old.pt", weights_only=True)
    data["net_config"].pop("aux_heads")
    torch.save(data, tmp_path / "old.pt")
    assert not load_network(tmp_path / "old.pt").cfg.aux_heads
    shipped = load_network()  # the shipped model loads, with exactly the heads its file holds
    assert hasattr(shipped, "ownership_head") == shipped.cfg.aux_heads


def test_exact_solver_targets():
    """Positions with <= solver_empties empties get the solver's exact result and disc difference."""
    from othello import solver

    data = play(seed=2, solver_empties=8)
    empties = 36 - np.abs(data["boards"]).sum(1)
    assert np.array_equal(data["solved"], empties <= 8) and data["solved"].any()
    me, opp = game.from_planes(data["boards"][data["solved"]])
    exact = [solver.solve(int(m), int(o)) for m, o in zip(me, opp)]
    assert np.array_equal(data["score"][data["solved"]], exact)
    assert np.array_equal(data["z"][data["solved"]], np.sign(exact))
    # elsewhere, and for ownership everywhere, the game's own end
    rest = ~data["solved"]
    assert np.array_equal(data["score"][rest], data["ownership"][rest].astype(int).sum(1))


def test_exact_policy_targets():
    """solver_policy: a solved position's policy target is uniform over its exactly optimal moves."""
    from othello import solver

    data = play(seed=3, solver_empties=8, solver_policy=True)
    solved = np.flatnonzero(data["solved"])
    assert len(solved) > 0 and (~data["solved"]).any()
    me, opp = game.from_planes(data["boards"][solved])
    for m, o, p in zip(me, opp, data["policy"][solved]):
        values = solver.solve_moves(int(m), int(o))
        best = values == values.max()
        assert np.allclose(p, best / best.sum())
    with pytest.raises(ValueError, match="solver_policy needs"):
        play(solver_policy=True)
