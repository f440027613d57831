"""The search concepts (sae/search_concepts.py): the move the network's MCTS chooses, on a capped sample of rows."""
import numpy as np
import pytest
import torch

from alphazero.config import NetConfig, SearchConfig
from alphazero.network import AlphaZeroNet
from othello import concepts, game, solver
from othello.sampling import random_games
from sae import probes
from sae.activations import ActivationStore
from sae.search_concepts import row_concepts, search_moves, searched_rows
from tests.synthetic import make_random_store


@pytest.fixture(scope="module")
def net():
    torch.manual_seed(0)  # untrained: the search, not the network, must find what these tests ask for
    return AlphaZeroNet(NetConfig(d_model=16, n_blocks=1, d_hidden=32)).eval()


@pytest.fixture(scope="module")
def games():
    pos = random_games(2000, seed=5)
    pos["empties"] = game.popcount(~(pos["me"] | pos["opp"]) & game.FULL)
    pos["legal"] = game.legal_mask(pos["me"], pos["opp"])
    return pos


def test_searched_rows_are_capped_and_shared_in_proportion():
    pick = searched_rows([600, 200, 200], 500, seed=0)
    assert pick.sum() == 500 and pick[:600].sum() == 300 and pick[600:800].sum() == 100
    assert np.array_equal(pick, searched_rows([600, 200, 200], 500, seed=0))        # seeded
    assert not np.array_equal(pick, searched_rows([600, 200, 200], 500, seed=1))
    assert searched_rows([30, 10], 100, seed=0).all() and not searched_rows([30, 10], 0, seed=0).any()


def test_a_single_legal_move_is_the_search_move_and_a_pass_is_no_square(net, games):
    n_legal = games["legal"].sum(1)
    one = np.flatnonzero((n_legal == 1) & ~games["legal"][:, 36])[:60]
    passes = np.flatnonzero(games["legal"][:, 36])[:20]
    assert len(one) >= 30 and len(passes) >= 5
    rows = np.concatenate([one, passes])
    mcts, raw = search_moves(net, games["me"][rows], games["opp"][rows], SearchConfig(sims=16))
    np.testing.assert_array_equal(mcts[:len(one)], games["legal"][one].argmax(1))
    assert (mcts[len(one):] == game.PASS).all() and (raw[len(one):] == game.PASS).all()
    v = concepts.compute(games["me"][rows], games["opp"][rows], ["mcts_move", "mcts_differs"], search_move=mcts,
                         policy_move=raw)
    assert (v["mcts_move"][:len(one)].sum(1) == 1).all() and not v["mcts_move"][len(one):].any()
    assert not v["mcts_differs"].any()  # one legal action: the raw policy's argmax is it too


def test_the_search_finds_the_forced_win_the_raw_policy_misses(net, games):
    """Planted by the exact solver: 2-3 empties, exactly one winning square, and the raw policy's argmax is
    another (so a search that fell back on the raw policy scores 0). At the players' 64 simulations the search
    reaches nearly every ending and must play the win; its values are visit averages, not minimax, so a rare
    row where a losing move's refutation got few visits is allowed (2 of 309 with this untrained network)."""
    cand = np.flatnonzero((games["empties"] <= 3) & (games["legal"][:, :36].sum(1) >= 2))
    me, opp = games["me"][cand], games["opp"][cand]
    win = np.array([solver.solve_moves(int(m), int(o)) for m, o in zip(me, opp)])[:, :36] > 0
    raw = np.where(games["legal"][cand], net(torch.as_tensor(game.to_planes(me, opp), dtype=torch.float32))[0]
                   .detach().numpy(), -np.inf).argmax(1)
    planted = (win.sum(1) == 1) & ~win[np.arange(len(cand)), np.minimum(raw, 35)]
    assert planted.sum() >= 200
    mcts, raw_s = search_moves(net, me[planted], opp[planted], SearchConfig())
    np.testing.assert_array_equal(raw_s, raw[planted])       # the raw argmax misses the win on every planted row
    assert (mcts == win[planted].argmax(1)).mean() >= 0.98


def test_row_concepts_on_a_store_use_the_move_played_and_cap_the_search(tmp_path):
    make_random_store(tmp_path / "acts", n_games=40, net_cfg=NetConfig(d_model=16, n_blocks=1, d_hidden=32),
                      act_dtype="float32")
    store = ActivationStore(tmp_path / "acts")
    rows = probes.select_rows(store, probes.ProbeConfig(train_rows=300, val_rows=100, test_rows=100))
    n = sum(len(r) for r in rows.values())
    values, info = row_concepts(store, rows, 0, 150, SearchConfig(sims=8))
    assert info["rows"] == values["searched"].sum() == 150 and info["sims"] == 8 and n > 150
    assert (values["mcts_move"].sum(1) <= 1).all() and not values["mcts_move"][~values["searched"]].any()
    allrows = np.concatenate(list(rows.values()))
    me, opp = game.from_planes(store.array("boards")[allrows])
    move = store.array("move")[allrows].astype(np.int64)
    np.testing.assert_array_equal(values["flipped_played"], game.bits_to_array(game.step(me, opp, move)[1] & opp))
    t = probes.targets(values)
    assert "searched" not in t.concept and t.columns.count("mcts_differs") == 1
    assert (t.m[:, t.columns.index("mcts_move a1")] == values["searched"]).all()
    assert "mcts_move" not in row_concepts(store, rows, 0, 0)[0]
