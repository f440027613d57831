"""The classic one-call-per-leaf MCTS baseline of the benchmarks (bench/classic_mcts.py)."""
import numpy as np

from alphazero.config import SearchConfig, SelfPlayConfig
from alphazero.inference import uniform_evaluate
from alphazero.mcts import search
from bench.classic_mcts import ClassicMCTS, classic_self_play_game
from othello import game
from othello.sampling import random_positions
from tests.test_mcts import forced_win_cases


def test_visits_sum_to_sims_and_stay_legal():
    """A fresh tree's root counts sum to `sims`, all on legal actions, even when the prior favours illegal ones."""
    me, opp = random_positions(12, seed=7, max_plies=20)
    live = ~game.terminal(me, opp)
    calls = []

    def adversarial(m, o):
        calls.append(len(m))
        p = np.where(game.legal_mask(m, o), 1e-3, 1.0).astype(np.float32)
        return p / p.sum(1, keepdims=True), np.zeros(len(m), np.float32)

    for m, o in zip(me[live], opp[live]):
        calls.clear()
        n = ClassicMCTS(adversarial, SearchConfig(sims=24, algorithm="puct")).visits(m, o)
        legal = game.legal_mask(np.array([m]), np.array([o]))[0]
        assert n.sum() == 24 and (n[~legal] == 0).all()
        assert set(calls) == {1} and len(calls) <= 25  # batch size 1: one call per new leaf, root included


def test_agrees_with_batched_search_on_forced_wins():
    """Where some moves win and others do not, both searches (uniform priors) pick the same winning move."""
    cases = forced_win_cases(100)
    assert len(cases) >= 5
    cases = cases[:8]  # the classic search is slow (numpy at batch size 1): a few positions suffice
    cfg = SearchConfig(sims=300, algorithm="puct")  # the classic search is PUCT
    visits, _, _ = search(np.array([c[0] for c in cases], np.uint64), np.array([c[1] for c in cases], np.uint64),
                          uniform_evaluate, cfg, np.random.default_rng(0))
    for (me, opp, vals), v in zip(cases, visits):
        classic = ClassicMCTS(uniform_evaluate, cfg).visits(me, opp)
        assert vals[int(classic.argmax())] == 1 and vals[int(v.argmax())] == 1


def test_classic_self_play_game_ends():
    plies = classic_self_play_game(uniform_evaluate, SearchConfig(sims=4, algorithm="puct"), SelfPlayConfig(), np.random.default_rng(0))
    assert 20 <= plies <= 80  # 32 moves fill the board; passes add plies, an early wipe-out removes some
