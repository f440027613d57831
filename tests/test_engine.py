"""The numba alpha-beta engine (othello/engine.py) and AlphaBetaPlayer against the pure-Python
reference search (tests/alphabeta_reference.py, the former players.py): same scores, same ties."""
import numpy as np
import pytest

from othello import engine, game, solver
from othello.players import AlphaBetaPlayer, ExactEndgamePlayer
from othello.sampling import random_positions
from tests.alphabeta_reference import ReferenceAlphaBeta


def sample(n, seed):
    """`n` random positions as Python ints, from every stage of the game (passes and ends included)."""
    me, opp = random_positions(n, seed=seed, max_plies=36)
    return [(int(m), int(o)) for m, o in zip(me, opp)]


POSITIONS = sample(120, seed=11)


def test_positions_cover_the_game():
    empties = [36 - (m | o).bit_count() for m, o in POSITIONS]
    assert min(empties) <= 4 and max(empties) >= 30
    assert any(not game.legal_int(*p) for p in POSITIONS), "some positions should be forced passes"


@pytest.mark.parametrize("depth", [1, 2, 3, 4])
def test_root_move_scores_equal_the_python_reference(depth):
    """Every legal root move's score (full window) and the best moves with their order are identical."""
    ref = ReferenceAlphaBeta(depth=depth, endgame_empties=-1)
    compared = 0
    for me, opp in POSITIONS:
        if not game.legal_int(me, opp):
            continue
        scores = engine.move_scores(me, opp, depth)
        want = ref.root_scores(me, opp)
        assert {int(a): int(scores[a]) for a in np.flatnonzero(scores != engine.ILLEGAL)} == want, (hex(me), hex(opp))
        assert engine.best_moves(me, opp, depth) == ref.best_moves(me, opp), (hex(me), hex(opp))
        compared += 1
    assert compared >= 100


def test_evaluation_and_terminal_scores_equal_the_reference():
    ref = ReferenceAlphaBeta()
    for me, opp in POSITIONS:
        assert engine.evaluate(me, opp) == ref.evaluate(me, opp)
    assert engine.evaluate(1 << 0, 1 << 35) == 0  # finished, 1-1: a draw scores 0
    assert engine.evaluate(0b111, 1 << 35) == engine.WIN + 2  # finished: win bonus + discs (empties for nobody)
    assert engine.evaluate(1 << 35, 0b111) == -engine.WIN - 2


def test_forced_pass_is_a_ply():
    """With no legal square, pass is the one action and is worth the position searched as a ply."""
    forced = [p for p in sample(600, seed=3) if not game.legal_int(*p) and game.legal_int(p[1], p[0])]
    assert len(forced) >= 3
    for depth in (1, 2, 3):
        ref = ReferenceAlphaBeta(depth=depth)
        for me, opp in forced:
            scores = engine.move_scores(me, opp, depth)
            want = ref._search(me, opp, depth, -2 * engine.WIN, 2 * engine.WIN)
            assert np.flatnonzero(scores != engine.ILLEGAL).tolist() == [36] and scores[36] == want
            assert want == -ref._search(opp, me, depth - 1, -2 * engine.WIN, 2 * engine.WIN)
            assert engine.best_moves(me, opp, depth) == (want, [36])


def test_other_mobility_weights_equal_the_reference():
    for w in (0, 7):
        ref = ReferenceAlphaBeta(depth=3, endgame_empties=-1, mobility_weight=w)
        for me, opp in POSITIONS[:30]:
            if game.legal_int(me, opp):
                assert engine.best_moves(me, opp, 3, mobility_weight=w) == ref.best_moves(me, opp)


def test_search_is_fail_soft():
    rng = np.random.default_rng(5)
    for me, opp in POSITIONS[:60]:
        v = engine.search(me, opp, 3)
        a = int(rng.integers(-60, 60))
        b = a + int(rng.integers(1, 20))
        r = engine.search(me, opp, 3, a, b)
        assert (r <= a and v <= r) or (r >= b and v >= r) or (a < r < b and r == v)


def test_player_moves_equal_the_reference_player_with_the_same_seed():
    """Ties are broken by the player's rng as before: same seed, same sequence of moves."""
    playable = [p for p in POSITIONS if game.legal_int(*p)]
    for depth, seed in ((1, 0), (2, 1), (3, 2)):
        ours = AlphaBetaPlayer(depth=depth, endgame_empties=0, seed=seed)
        ref = ReferenceAlphaBeta(depth=depth, endgame_empties=0, seed=seed)
        assert [ours.best_move(*p) for p in playable] == [ref.best_move(*p) for p in playable]


def test_endgame_part_agrees_with_the_solver_and_the_reference():
    """From `endgame_empties` on the player's root values are the solver's exact ones."""
    ends = [p for p in sample(400, seed=8) if game.legal_int(*p) and 36 - (p[0] | p[1]).bit_count() <= 8][:40]
    assert len(ends) >= 20
    ours, ref = AlphaBetaPlayer(depth=2, endgame_empties=8, seed=0), ReferenceAlphaBeta(depth=2, endgame_empties=8)
    for me, opp in ends:
        value, moves = ours.best_moves(me, opp)
        assert (value, moves) == solver.best_moves(me, opp)
        ref_value, ref_moves = ref.best_moves(me, opp)
        assert value == ref_value and sorted(ref_moves) == moves
        assert ours.best_move(me, opp) in moves


def test_bad_arguments_are_value_errors():
    me, opp = (int(v[0]) for v in game.initial(1))
    with pytest.raises(ValueError, match="depth"):
        engine.move_scores(me, opp, 0)
    with pytest.raises(ValueError, match="depth"):
        engine.search(me, opp, 1.5)
    with pytest.raises(ValueError, match="mobility_weight"):
        engine.best_moves(me, opp, 2, mobility_weight=2.5)
    with pytest.raises(ValueError, match="6x6"):
        engine.search(3, 1, 2)
    with pytest.raises(ValueError, match="mobility_weight"):
        AlphaBetaPlayer(mobility_weight=0.5)
    with pytest.raises(ValueError, match="endgame_empties"):
        ExactEndgamePlayer(exact_empties=37)
