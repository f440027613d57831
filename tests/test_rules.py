import subprocess
import sys

import numpy as np
import pytest

from othello import game, symmetry
from othello.perft import perft
from othello.sampling import random_positions


def test_perft_known_counts():
    assert perft(6) == [4, 12, 56, 244, 1364, 7604]


def test_perft_cli():
    out = subprocess.run([sys.executable, "-m", "othello.perft", "3"], capture_output=True, text=True, check=True)
    assert out.stdout.split("\n")[:3] == ["1 4", "2 12", "3 56"]


def test_start_position():
    me, opp = game.initial(1)
    board = game.to_planes(me, opp)[0].reshape(6, 6)
    assert board[2, 3] == 1 and board[3, 2] == 1 and board[2, 2] == -1 and board[3, 3] == -1
    legal = np.flatnonzero(game.legal_mask(me, opp)[0])
    assert sorted(game.action_name(a) for a in legal) == ["b3", "c2", "d5", "e4"]


def test_step_flips_and_swaps():
    me, opp = game.initial(1)
    a = game.parse_action("c2")  # row 2 col c: flips c3 (2,2)
    nme, nopp = game.step(me, opp, [a])
    b = game.to_planes(nopp, nme)[0].reshape(6, 6)  # back to the first player's view
    assert b[1, 2] == 1 and b[2, 2] == 1 and (b == 1).sum() == 4 and (b == -1).sum() == 1


def test_pass_only_when_forced_and_game_end():
    # mover has discs but no legal square; opponent can move -> pass is the only action
    board = np.zeros((1, 36), np.int8)
    board[0, 0], board[0, 1] = -1, 1  # theirs at a1, mine at b1: I cannot capture, they can
    me, opp = game.from_planes(board)
    legal = game.legal_mask(me, opp)[0]
    assert legal[game.PASS] and legal.sum() == 1
    assert not game.terminal(me, opp)[0]
    nme, nopp = game.step(me, opp, [game.PASS])
    assert (nme, nopp) == (opp, me)
    # neither side can move: the game is over
    board2 = np.zeros((1, 36), np.int8)
    board2[0, 0], board2[0, 35] = 1, -1
    assert game.terminal(*game.from_planes(board2))[0]


def test_draw_is_zero_not_loss():
    board = np.zeros((1, 36), np.int8)
    board[0, :18], board[0, 18:] = 1, -1
    me, opp = game.from_planes(board)
    assert game.terminal(me, opp)[0]
    assert game.outcome(me, opp)[0] == 0.0
    board[0, 17] = -1
    assert game.outcome(*game.from_planes(board))[0] == -1.0


def test_planes_round_trip():
    me, opp = random_positions(64, seed=1)
    m2, o2 = game.from_planes(game.to_planes(me, opp))
    assert (m2 == me).all() and (o2 == opp).all()


def test_parse_action():
    assert game.parse_action("a1") == 0 and game.parse_action("F6") == 35 and game.parse_action("pass") == 36
    assert game.action_name(game.parse_action("c4")) == "c4"
    with pytest.raises(ValueError):
        game.parse_action("z9")


def test_symmetries_commute_with_rules():
    me, opp = random_positions(128, seed=2)
    board = game.to_planes(me, opp)
    legal = game.legal_mask(me, opp)
    assert len({tuple(p) for p in symmetry.BOARD_PERMS}) == 8
    for k in range(8):
        m2, o2 = game.from_planes(symmetry.transform_board(board, k))
        assert (game.legal_mask(m2, o2) == symmetry.transform_policy(legal, k)).all()
        # stepping then transforming equals transforming then stepping
        a = legal[:, :36].argmax(1)
        a = np.where(legal[:, 36], 36, a)
        ak = symmetry.INVERSE[k][a]  # where action a lands under symmetry k
        s1 = symmetry.transform_board(game.to_planes(*game.step(me, opp, a)), k)
        s2 = game.to_planes(*game.step(m2, o2, ak))
        assert (s1 == s2).all()
        assert (symmetry.transform_policy(legal, k)[:, symmetry.INVERSE[k]] == legal).all()


def test_legal_moves_match_scalar_reference():
    """Vectorised legal moves agree with a direct 8-direction scan."""
    me, opp = random_positions(200, seed=3)
    board = game.to_planes(me, opp).reshape(-1, 6, 6)
    legal = game.legal_mask(me, opp)
    for b, l in zip(board, legal):
        ref = np.zeros(36, bool)
        for r in range(6):
            for c in range(6):
                if b[r, c] != 0:
                    continue
                for dr in (-1, 0, 1):
                    for dc in (-1, 0, 1):
                        if dr == dc == 0:
                            continue
                        rr, cc, seen = r + dr, c + dc, 0
                        while 0 <= rr < 6 and 0 <= cc < 6 and b[rr, cc] == -1:
                            rr, cc, seen = rr + dr, cc + dc, seen + 1
                        if seen and 0 <= rr < 6 and 0 <= cc < 6 and b[rr, cc] == 1:
                            ref[r * 6 + c] = True
        assert (l[:36] == ref).all() and l[36] == (not ref.any())
