"""The exact endgame solver (othello/solver.py) against brute-force minimax, its CLI,
and the alpha-beta + exact-endgame player built on it."""
import time

import numpy as np
import pytest

from othello import game, solver
from othello.players import AlphaBetaPlayer, ExactEndgamePlayer, GreedyPlayer, RandomPlayer
from tests.alphabeta_reference import ReferenceAlphaBeta


def brute_force(me, opp, memo):
    """Exact final disc difference by full minimax (no pruning) on game.py's scalar rules.

    A pass is a move; the game ends when neither side can move; empties count for nobody.
    `memo` caches positions already valued (the value of a position does not depend on the path).
    """
    key = (me, opp)
    if key in memo:
        return memo[key]
    moves = game.legal_int(me, opp)
    if not moves:
        if not game.legal_int(opp, me):
            v = me.bit_count() - opp.bit_count()
        else:
            v = -brute_force(opp, me, memo)
    else:
        v = max(-brute_force(*child(me, opp, sq), memo) for sq in range(36) if moves >> sq & 1)
    memo[key] = v
    return v


def child(me, opp, a):
    """Canonical position after action `a` (36 = pass)."""
    if a == game.PASS:
        return opp, me
    f = game.flips_int(me, opp, a)
    return opp ^ f, me | f | (1 << a)


def playout(rng, empties):
    """Uniformly random play from the start until `empties` squares are empty (a forced pass is
    played only while more squares are empty, so some positions have the mover without a move).
    Returns (me, opp), or None if the game ended earlier."""
    me, opp = (int(v[0]) for v in game.initial(1))
    while 36 - (me | opp).bit_count() > empties:
        moves = game.legal_int(me, opp)
        if not moves:
            if not game.legal_int(opp, me):
                return None
            me, opp = opp, me
            continue
        sq = int(rng.choice([s for s in range(36) if moves >> s & 1]))
        me, opp = child(me, opp, sq)
    return me, opp


def positions(count, lo, hi, seed):
    """`count` positions with lo..hi empties (uniform), from seeded random playouts."""
    rng = np.random.default_rng(seed)
    out = []
    while len(out) < count:
        p = playout(rng, int(rng.integers(lo, hi + 1)))
        if p is not None:
            out.append(p)
    return out


SMALL = positions(240, 1, 9, seed=2024)
MEMO = {}  # brute-force values, shared by the tests


def test_positions_cover_passes_and_empties():
    empties = [36 - (m | o).bit_count() for m, o in SMALL]
    assert set(empties) == set(range(1, 10))
    no_move = [p for p in SMALL if not game.legal_int(*p)]
    assert no_move, "some positions should have the mover without a legal square"


def test_brute_force_rules_match_batched_step():
    """The brute force's scalar move (game.legal_int / flips_int) is game.legal_mask + game.step."""
    for me, opp in SMALL[:60]:
        b = np.array([me], np.uint64), np.array([opp], np.uint64)
        for a in np.flatnonzero(game.legal_mask(*b)[0]):
            nme, nopp = game.step(*b, [a])
            assert child(me, opp, int(a)) == (int(nme[0]), int(nopp[0]))


def test_solve_matches_brute_force():
    memo = MEMO
    for me, opp in SMALL:
        exact = brute_force(me, opp, memo)
        assert solver.solve(me, opp) == exact, (hex(me), hex(opp))
        assert solver.solve_wdl(me, opp) == np.sign(exact), (hex(me), hex(opp))


def test_solve_moves_values_and_legality():
    memo = MEMO
    for me, opp in SMALL:
        vals = solver.solve_moves(me, opp)
        assert vals.shape == (37,)
        legal = game.legal_mask(np.array([me], np.uint64), np.array([opp], np.uint64))[0]
        np.testing.assert_array_equal(vals != solver.ILLEGAL, legal)
        for a in np.flatnonzero(legal):
            if game.legal_int(me, opp) or game.legal_int(opp, me):
                assert vals[a] == -brute_force(*child(me, opp, int(a)), memo)
        assert vals.max() == solver.solve(me, opp)
        best, moves = solver.best_moves(me, opp)
        assert best == vals.max() and moves == [int(a) for a in np.flatnonzero(vals == best)]


def test_finished_game_has_final_value_on_pass():
    me, opp = (1 << 0), (1 << 35)  # nobody can ever move: 1-1 with 34 empties
    assert solver.solve(me, opp) == 0
    vals = solver.solve_moves(me, opp)
    assert vals[36] == 0 and (vals[:36] == solver.ILLEGAL).all()
    assert solver.solve(0b111, 1 << 35) == 2  # empties count for nobody: 3 - 1


def test_batch_matches_scalar():
    me = np.array([p[0] for p in SMALL], np.uint64)
    opp = np.array([p[1] for p in SMALL], np.uint64)
    exact = solver.solve_batch(me, opp, "exact")
    np.testing.assert_array_equal(exact, [solver.solve(*p) for p in SMALL])
    np.testing.assert_array_equal(solver.solve_batch(me, opp, "wdl"), np.sign(exact))
    with pytest.raises(ValueError, match="mode"):
        solver.solve_batch(me, opp, "fast")
    with pytest.raises(ValueError, match="both boards"):
        solver.solve_batch(np.array([3], np.uint64), np.array([1], np.uint64))


def test_best_moves_batch_matches_solve_moves():
    live = [p for p in SMALL if not game.terminal(np.array([p[0]], np.uint64), np.array([p[1]], np.uint64))[0]]
    me = np.array([p[0] for p in live], np.uint64)
    opp = np.array([p[1] for p in live], np.uint64)
    values, best = solver.best_moves_batch(me, opp)
    for p, v, b in zip(live, values, best):
        moves = solver.solve_moves(*p)
        assert v == moves.max() and np.array_equal(b, moves == moves.max())
    done = [p for p in SMALL if p not in live]
    if done:
        with pytest.raises(ValueError, match="unfinished"):
            solver.best_moves_batch(np.array([done[0][0]], np.uint64), np.array([done[0][1]], np.uint64))


def test_window_search_bounds_are_fail_soft_and_tables_stay_exact():
    """solve_window obeys fail-soft semantics; a small, reused table never corrupts a result."""
    rng = np.random.default_rng(7)
    deeper = positions(40, 10, 13, seed=11)
    try:
        solver.reset_table(8)  # 256 entries: constant collisions and replacements
        exact = [solver.solve(*p) for p in deeper]
        for p, v in zip(deeper, exact):
            a = int(rng.integers(-12, 12))
            b = a + int(rng.integers(1, 6))
            r = solver.solve_window(*p, a, b)
            assert (r <= a and v <= r) or (r >= b and v >= r) or (a < r < b and r == v)
        solver.reset_table()
        assert [solver.solve(*p) for p in deeper] == exact
    finally:
        solver.reset_table()


def test_agrees_with_python_alphabeta_on_deeper_endgames():
    """11-12 empties (deep search with the table) against the pure-Python exact search (the old
    players.py, kept in tests/alphabeta_reference.py)."""
    ab = ReferenceAlphaBeta(depth=1)
    for me, opp in positions(3, 11, 12, seed=5):
        assert solver.solve(me, opp) == ab.solve(me, opp)


@pytest.mark.slow
def test_start_position_is_a_four_disc_loss_for_the_first_mover():
    """6x6 Othello is solved (Feinstein 1993): White, the second player, wins 20-16.

    A fail-soft search in the window (-5, -3) that returns -4 proves the exact value is -4.
    About 100-110 s of CPU on one core of an AMD EPYC (2^24-entry table, 336 MiB).
    """
    me, opp = (int(v[0]) for v in game.initial(1))
    solver.reset_table(24)
    try:
        t0, c0 = time.perf_counter(), time.process_time()
        assert solver.solve_window(me, opp, -5, -3) == -4
        print(f"start position proved -4 in {time.perf_counter() - t0:.1f} s wall, "
              f"{time.process_time() - c0:.1f} s CPU, {solver.nodes():,} nodes")
    finally:
        solver.reset_table()


# --------------------------------------------------------------------------- CLI

def random_game_record(plies, seed):
    """Move names of `plies` random plies from the start ('pass' where forced)."""
    rng = np.random.default_rng(seed)
    me, opp = (int(v[0]) for v in game.initial(1))
    names = []
    for _ in range(plies):
        moves = game.legal_int(me, opp)
        a = int(rng.choice([s for s in range(36) if moves >> s & 1])) if moves else game.PASS
        names.append(game.action_name(a))
        me, opp = child(me, opp, a)
    return " ".join(names), (me, opp)


def test_cli_moves_prints_value_wdl_and_move_values(capsys):
    record, (me, opp) = random_game_record(24, seed=75)
    assert "pass" in record.split()
    assert solver.play_moves(record)[:2] == (me, opp)
    no_pass = " ".join(t for t in record.split() if t != "pass")  # forced passes may be left out
    assert solver.play_moves(no_pass)[:2] == (me, opp)
    assert solver.main(["--moves", record]) == 0
    out = capsys.readouterr().out
    x_to_move = solver.play_moves(record)[2]
    v = solver.solve(me, opp)
    mover = "X" if x_to_move else "O"
    assert f"exact value for {mover}: {v:+d}" in out
    assert f"W/D/L for {mover}: " + {1: "win", 0: "draw", -1: "loss"}[int(np.sign(v))] in out
    vals = solver.solve_moves(me, opp)
    for a in np.flatnonzero(vals != solver.ILLEGAL):
        assert f"{game.action_name(int(a))} {int(vals[a]):+d}" in out


def test_cli_board_string_matches_moves(capsys):
    me, opp, x_to_move = solver.play_moves("c2 b2 a2")
    black, white = (me, opp) if x_to_move else (opp, me)
    board = "".join("X" if black >> i & 1 else "O" if white >> i & 1 else "-" for i in range(36))
    assert solver.parse_board(board, "X" if x_to_move else "O") == (me, opp)
    assert solver.parse_board(" / ".join(board[r * 6:r * 6 + 6] for r in range(6)), "x" if x_to_move else "o") == (me, opp)
    assert solver.main([f"--board={board}", "--to-move", "X" if x_to_move else "O", "--wdl-only"]) == 0
    assert "W/D/L for O: win" in capsys.readouterr().out


@pytest.mark.parametrize("argv, word", [
    (["--moves", "c2 zz"], "'zz'"),
    (["--moves", "c2 c2"], "'c2'"),
    (["--moves", "pass"], "'pass'"),
    (["--board", "XO-"], "'XO-'"),
    (["--board", "X" * 35 + "Z"], "XXXXZ"),
    (["--to-move", "Q"], "'Q'"),
    (["--tt-bits", "40"], "40"),
])
def test_cli_bad_input_is_one_line_exit_2(capsys, argv, word):
    assert solver.main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and word in err and "Traceback" not in err


def test_cli_help_documents_defaults(capsys):
    with pytest.raises(SystemExit) as e:
        solver.main(["--help"])
    assert e.value.code == 0
    out = capsys.readouterr().out
    for opt in ("--moves", "--board", "--to-move", "--wdl-only", "--tt-bits"):
        assert opt in out
    assert out.count("(default:") >= 5


# --------------------------------------------------------------------------- players

def test_spec_parsing():
    from alphazero.agents import make_player
    p = make_player("alphabeta:6+exact10", seed=3)
    assert isinstance(p, ExactEndgamePlayer) and (p.depth, p.exact_empties) == (6, 10)
    assert p.name == "alphabeta:6+exact10"
    p = make_player("alphabeta:3")
    assert type(p) is AlphaBetaPlayer and p.depth == 3 and p.name == "alphabeta:3"
    assert type(make_player("alphabeta", depth=2)) is AlphaBetaPlayer
    for bad in ("alphabeta:6+exact", "alphabeta:+exact10", "alphabeta:0+exact10", "alphabeta:6+exactx",
                "alphabeta:6+10", "alphabeta:6+exact40", "alphabeta:x", "alphabeta:6+exact10+exact4"):
        with pytest.raises(ValueError, match="alphabeta:6\\+exact10"):
            make_player(bad)


def test_exact_player_plays_optimal_moves_and_never_loses_a_won_endgame():
    """From solved wins (and draws) at <= 10 empties, the exact player ends at least at the solved
    value against random and greedy opponents, and every move it makes keeps the value."""
    starts = [p for p in positions(60, 9, 10, seed=31) if game.legal_int(*p) and solver.solve(*p) >= 0][:12]
    assert len(starts) >= 8
    exact = ExactEndgamePlayer(depth=2, exact_empties=10, seed=1)
    for i, (me, opp) in enumerate(starts):
        target = solver.solve(me, opp)
        opponent = (RandomPlayer if i % 2 else GreedyPlayer)(seed=i)
        m, o, ours = me, opp, True
        while game.legal_int(m, o) or game.legal_int(o, m):
            a = int((exact if ours else opponent)(np.array([m], np.uint64), np.array([o], np.uint64))[0])
            if ours:
                assert a in solver.best_moves(m, o)[1]
                assert -solver.solve(*child(m, o, a)) == solver.solve(m, o) >= target
            m, o = child(m, o, a)
            ours = not ours
        final = (m.bit_count() - o.bit_count()) * (1 if ours else -1)
        assert final >= target >= 0


def test_exact_player_breaks_ties_at_random():
    """Among equally optimal moves the choice follows the player's rng (reproducible by seed)."""
    tied = [p for p in positions(80, 6, 8, seed=41) if len(solver.best_moves(*p)[1]) >= 2][:5]
    assert tied
    for me, opp in tied:
        b = np.array([me], np.uint64), np.array([opp], np.uint64)
        picks = {int(ExactEndgamePlayer(depth=1, exact_empties=10, seed=s)(*b)[0]) for s in range(12)}
        assert picks <= set(solver.best_moves(me, opp)[1]) and len(picks) >= 2
