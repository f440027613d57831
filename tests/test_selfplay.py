"""Self-play: value targets from each position's mover, and slot refill when games outnumber slots."""
import numpy as np

from alphazero.config import SearchConfig, SelfPlayConfig
from alphazero.inference import uniform_evaluate
from alphazero.selfplay import sample_actions, self_play
from othello import game


def play(games, parallel, seed=0):
    calls = []

    def counting(m, o):
        calls.append(len(m))
        return uniform_evaluate(m, o)

    data = self_play(counting, SelfPlayConfig(games=games, parallel=parallel, sims=4),
                     SearchConfig(algorithm="puct"),
                     np.random.default_rng(seed), progress=False)
    return data, calls


def test_value_targets_are_from_each_movers_side():
    data, _ = play(games=6, parallel=3)
    black, white = data["final_discs"].T
    # the first mover's result is the sign of Black's final margin ...
    assert np.array_equal(data["first_player_results"], np.sign(black - white))
    assert set(np.unique(data["first_player_results"])) <= {-1, 0, 1}
    # ... and each position's z is that result seen by whoever moves there (Black on even plies, passes included)
    g, ply = data["game"], data["ply"]
    expect = np.where(ply % 2 == 0, data["first_player_results"][g], -data["first_player_results"][g])
    assert np.array_equal(data["z"], expect) and data["z"].dtype == np.int8
    # boards are from the mover's side: the start position looks the same to Black at ply 0
    start = game.to_planes(*game.initial(1))[0]
    assert np.array_equal(data["boards"][ply == 0], np.tile(start, (6, 1)))
    # a game ends with Black ahead exactly when its z at ply 0 (Black to move) is +1
    assert np.array_equal(data["z"][ply == 0], np.sign(black - white))
    assert np.allclose(data["policy"].sum(1), 1) and (data["policy"][:, game.PASS] == 0).all()


def test_slots_refill_and_every_game_completes_once():
    """10 games through 4 slots: every game starts once at ply 0, ends once, and its plies never repeat."""
    data, calls = play(games=10, parallel=4, seed=1)
    assert len(data["first_player_results"]) == len(data["lengths"]) == 10
    assert (data["lengths"] >= 9).all()                 # a game needs at least 9 plies to end on 6x6
    assert (data["final_discs"].sum(1) >= 9).all()
    assert np.array_equal(np.unique(data["game"]), np.arange(10))
    assert (np.bincount(data["game"][data["ply"] == 0], minlength=10) == 1).all()  # started exactly once
    for g in range(10):                                 # positions of one game, in order, each ply once
        plies = data["ply"][data["game"] == g]
        assert (np.diff(plies) > 0).all() and plies.max() < data["lengths"][g]
    assert max(calls) <= 4                              # never more games in flight than slots


def test_sample_actions():
    rng = np.random.default_rng(0)
    visits = np.array([[0, 5, 5, 0] + [0] * 33, [10, 0, 0, 1] + [0] * 33])
    greedy = {tuple(sample_actions(visits, 0.0, rng)) for _ in range(50)}
    assert {a for a, _ in greedy} == {1, 2} and {b for _, b in greedy} == {0}  # ties broken at random
    sampled = np.array([sample_actions(visits, 1.0, rng) for _ in range(400)])
    assert set(sampled[:, 0]) == {1, 2} and set(sampled[:, 1]) <= {0, 3}     # never an unvisited action
    assert 0.02 < (sampled[:, 1] == 3).mean() < 0.25                         # in proportion to visits (1/11)


def test_playout_cap_randomisation_records_only_full_searches():
    """full_fraction 0.5: every multi-move position is searched, fully (recorded) or cheaply (played only)."""
    cfg = SelfPlayConfig(games=8, parallel=8, sims=6, full_fraction=0.5, cheap_sims=2)
    data = self_play(uniform_evaluate, cfg, SearchConfig(), np.random.default_rng(0), progress=False)
    full, cheap = data["searches"]
    assert len(data["z"]) == full and full > 0 and cheap > 0
    assert 0.25 < full / (full + cheap) < 0.75
    assert len(data["lengths"]) == 8 and (data["lengths"] >= 9).all()
    assert np.allclose(data["policy"].sum(1), 1)
    none = self_play(uniform_evaluate, SelfPlayConfig(games=4, parallel=4, sims=6, full_fraction=0.0, cheap_sims=2),
                     SearchConfig(), np.random.default_rng(0), progress=False)
    assert len(none["z"]) == 0 and none["searches"][0] == 0 and (none["lengths"] >= 9).all()


def test_gumbel_self_play_targets_are_legal():
    data = self_play(uniform_evaluate, SelfPlayConfig(games=4, parallel=4, sims=8), SearchConfig(algorithm="gumbel"),
                     np.random.default_rng(0), progress=False)
    me, opp = game.from_planes(data["boards"])
    legal = game.legal_mask(me, opp)
    assert (data["policy"][~legal] == 0).all() and np.allclose(data["policy"].sum(1), 1, atol=1e-5)
    assert (legal.sum(1) > 1).all()  # single-move positions are never recorded
