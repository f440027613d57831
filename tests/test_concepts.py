"""The concept library (othello/concepts.py) against slow direct implementations.

The references here are deliberately independent of othello.game: plain Python over a list of
36 cells (+1 mine, -1 theirs, 0 empty), walking the 8 directions square by square.
"""
import functools

import numpy as np
import pytest

from othello import concepts
from othello.sampling import random_games, random_positions

DIRS = [(dr, dc) for dr in (-1, 0, 1) for dc in (-1, 0, 1) if (dr, dc) != (0, 0)]
AXES = [(0, 1), (1, 0), (1, 1), (1, -1)]


def cells(me, opp):
    return tuple(1 if int(me) >> s & 1 else -1 if int(opp) >> s & 1 else 0 for s in range(36))


def on_board(r, c):
    return 0 <= r < 6 and 0 <= c < 6


def ref_flips(b, s, who=1):
    """Squares `who` flips by playing on empty square s (empty list: illegal)."""
    if b[s] != 0:
        return []
    out = []
    for dr, dc in DIRS:
        r, c, run = s // 6 + dr, s % 6 + dc, []
        while on_board(r, c) and b[r * 6 + c] == -who:
            run.append(r * 6 + c)
            r, c = r + dr, c + dc
        if run and on_board(r, c) and b[r * 6 + c] == who:
            out += run
    return out


def ref_legal(b, who=1):
    return [s for s in range(36) if ref_flips(b, s, who)]


def ref_play(b, s):
    """Mover plays s; returns the board from the next mover's side."""
    nb = list(b)
    for f in ref_flips(b, s) + [s]:
        nb[f] = 1
    return tuple(-x for x in nb)


def ref_stable(b):
    """The conservative rule, square by square: per axis the line is full, or a neighbour on it
    is off the board or a stable disc of the same colour; repeated until nothing changes."""
    stable = set()
    changed = True
    while changed:
        changed = False
        for s in range(36):
            if b[s] == 0 or s in stable:
                continue
            r, c = divmod(s, 6)
            ok = True
            for dr, dc in AXES:
                ends = [(r + k * dr, c + k * dc) for k in (-1, 1)]
                if any(not on_board(*e) or (e[0] * 6 + e[1] in stable and b[e[0] * 6 + e[1]] == b[s]) for e in ends):
                    continue
                full = all(b[(r + k * sgn * dr) * 6 + c + k * sgn * dc] != 0
                           for sgn in (-1, 1) for k in range(1, 6) if on_board(r + k * sgn * dr, c + k * sgn * dc))
                ok = ok and full
            if ok:
                stable.add(s)
                changed = True
    return stable


def ref_concepts(b, move):
    """Every board-only concept, plus 'flipped_played' for `move`, of one board (lists / ints)."""
    sq = lambda pred: [bool(pred(s)) for s in range(36)]  # noqa: E731
    legal, opp_legal = ref_legal(b), ref_legal(tuple(-x for x in b))
    flippable = {f for s in legal for f in ref_flips(b, s)}
    threatened = {f for s in opp_legal for f in ref_flips(b, s, -1)}
    stable = ref_stable(b)
    frontier = {s for s in range(36) if b[s] and any(on_board(s // 6 + dr, s % 6 + dc) and
                                                      b[(s // 6 + dr) * 6 + s % 6 + dc] == 0 for dr, dc in DIRS)}
    empties = [s for s in range(36) if b[s] == 0]
    count = lambda squares, v: sum(b[s] == v for s in squares)  # noqa: E731
    quads = [[(r0 + r) * 6 + c0 + c for r in range(3) for c in range(3)] for r0 in (0, 3) for c0 in (0, 3)]
    out = {"mine": sq(lambda s: b[s] == 1), "theirs": sq(lambda s: b[s] == -1), "empty": sq(lambda s: b[s] == 0),
           "disc_diff": count(range(36), 1) - count(range(36), -1), "parity": len(empties) % 2 == 1,
           "solvable": len(empties) <= concepts.SOLVE_EMPTIES,
           "parity_quadrant": [sum(b[s] == 0 for s in q) % 2 == 1 for q in quads],
           "legal": sq(lambda s: s in legal), "must_pass": not legal,
           "mobility_mine": len(legal), "mobility_theirs": len(opp_legal),
           "flippable": sq(lambda s: s in flippable), "threatened": sq(lambda s: s in threatened),
           "stable_mine": sq(lambda s: s in stable and b[s] == 1), "stable_theirs": sq(lambda s: s in stable and b[s] == -1),
           "frontier_mine": sq(lambda s: s in frontier and b[s] == 1),
           "frontier_theirs": sq(lambda s: s in frontier and b[s] == -1),
           "flipped_played": sq(lambda s: move != 36 and s in ref_flips(b, move))}
    for name, squares in (("corners", [0, 5, 30, 35]), ("x", [7, 10, 25, 28]), ("c", [1, 6, 4, 11, 24, 31, 29, 34])):
        out[f"{name}_mine"], out[f"{name}_theirs"] = count(squares, 1), count(squares, -1)
    return out


@pytest.fixture(scope="module")
def sample():
    me, opp = random_positions(300, seed=7)
    rng = np.random.default_rng(0)
    boards = [cells(m, o) for m, o in zip(me, opp)]
    moves = np.array([rng.choice(ref_legal(b)) if ref_legal(b) else 36 for b in boards])
    return me, opp, boards, moves


def test_every_rules_concept_matches_the_direct_implementation(sample):
    me, opp, boards, moves = sample
    names = [c.name for c in concepts.REGISTRY if not c.mask and c.needs != "search"]
    got = concepts.compute(me, opp, names, move=moves)
    assert list(got) == names
    for i, b in enumerate(boards):
        ref = ref_concepts(b, int(moves[i]))
        for name in names:
            assert np.array_equal(np.asarray(got[name][i]), np.asarray(ref[name])), (name, i, b)
    # the sample exercises every concept (no all-False columns hiding a bug)
    assert got["must_pass"].any() and got["stable_theirs"].any() and got["flipped_played"].any()


def test_search_concepts_match_the_direct_definition(sample):
    """mcts_move: one square per searched row (none for a pass), mcts_differs: search != raw argmax; both
    defined only where searched (the mask), and no detection columns for the mask itself."""
    me, opp, boards, moves = sample
    rng = np.random.default_rng(1)
    search = np.where(rng.random(len(me)) < 0.3, -1, moves)                  # 30% of the rows not searched
    policy = np.where(rng.random(len(me)) < 0.5, moves, (moves + 1) % 37)   # the raw argmax, half the time another
    got = concepts.compute(me, opp, ["mcts_move", "mcts_differs"], search_move=search, policy_move=policy)
    assert list(got) == ["searched", "mcts_move", "mcts_differs"]
    for i in range(len(me)):
        a = int(search[i])
        assert got["searched"][i] == (a >= 0)
        assert got["mcts_move"][i].tolist() == [s == a for s in range(36)]
        assert got["mcts_differs"][i] == (a >= 0 and a != policy[i])
    assert got["mcts_differs"].any() and (got["searched"] & ~got["mcts_differs"]).any() and (moves == 36).any()
    assert not concepts.BY_NAME["searched"].detect and concepts.BY_NAME["mcts_move"].mask == "searched"


@functools.lru_cache(maxsize=None)
def negamax(b):
    """Exact final disc difference for the mover (empties count for nobody), plain minimax."""
    legal = ref_legal(b)
    if not legal:
        if not ref_legal(tuple(-x for x in b)):
            return sum(b)
        return -negamax(tuple(-x for x in b))
    return max(-negamax(ref_play(b, s)) for s in legal)


def test_solver_concepts_match_plain_minimax():
    pos = random_games(120, seed=3)
    empties = np.array([36 - bin(int(m) | int(o)).count("1") for m, o in zip(pos["me"], pos["opp"])])
    pick = np.flatnonzero(empties <= 7)[::3][:120]
    me, opp = pos["me"][pick], pos["opp"][pick]
    got = concepts.compute(me, opp, ["solved_wdl", "solved_optimal", "solved_final_mine", "solved_final_theirs"],
                           max_empties=6)
    assert np.array_equal(got["solvable"], empties[pick] <= 6)
    for i in range(len(pick)):
        b = cells(me[i], opp[i])
        if not got["solvable"][i]:
            assert got["solved_wdl"][i] == 0 and not got["solved_optimal"][i].any() and not got["solved_final_mine"][i].any()
            continue
        v, legal = negamax(b), ref_legal(b)
        best = [s for s in legal if -negamax(ref_play(b, s)) == v]
        assert got["solved_wdl"][i] == np.sign(v)
        assert got["solved_optimal"][i].tolist() == [s in best for s in range(36)]
        sign = 1  # follow the lowest-numbered optimal square to the end; sign: the root mover's colour
        while ref_legal(b) or ref_legal(tuple(-x for x in b)):
            moves = ref_legal(b)
            if moves:
                b = ref_play(b, min(s for s in moves if -negamax(ref_play(b, s)) == negamax(b)))
            else:
                b = tuple(-x for x in b)
            sign = -sign
        assert got["solved_final_mine"][i].tolist() == [x * sign == 1 for x in b]
        assert got["solved_final_theirs"][i].tolist() == [x * sign == -1 for x in b]
        assert sum(got["solved_final_mine"][i]) - sum(got["solved_final_theirs"][i]) == v
    assert got["solvable"].sum() >= 30 and len(set(got["solved_wdl"][got["solvable"]])) == 3


def ever_flipped(b):
    """Union of the squares flipped in any continuation of b (both sides, to the end of the game)."""
    seen, out = set(), set()

    def walk(b):
        if b in seen:
            return
        seen.add(b)
        legal = ref_legal(b)
        if not legal:
            if ref_legal(tuple(-x for x in b)):
                walk(tuple(-x for x in b))
            return
        for s in legal:
            out.update(ref_flips(b, s))
            walk(ref_play(b, s))
    walk(b)
    return out


def test_stable_discs_are_never_flipped_in_any_continuation():
    pos = random_games(150, seed=11)
    empties = np.array([36 - bin(int(m) | int(o)).count("1") for m, o in zip(pos["me"], pos["opp"])])
    pick = np.flatnonzero((empties >= 2) & (empties <= 7))[::4][:150]
    got = concepts.compute(pos["me"][pick], pos["opp"][pick], ["stable_mine", "stable_theirs"])
    n_stable = n_never = 0
    for i, k in enumerate(pick):
        b = cells(pos["me"][k], pos["opp"][k])
        stable = set(np.flatnonzero(got["stable_mine"][i] | got["stable_theirs"][i]).tolist())
        never = {s for s in range(36) if b[s]} - ever_flipped(b)
        assert stable <= never, (b, stable - never)  # sound: a stable disc is never flipped
        n_stable, n_never = n_stable + len(stable), n_never + len(never)
    assert n_stable > 0.5 * n_never  # and not vacuous: it finds most never-flipped discs


def test_detection_columns_one_hot_bins():
    me, opp = random_positions(200, seed=1)
    values = concepts.compute(me, opp, ["mobility_mine", "disc_diff", "legal", "parity_quadrant", "parity"])
    for name in ("mobility_mine", "disc_diff"):
        cols, names = concepts.detection_columns(name, values[name])
        assert cols.shape == (200, len(concepts.BY_NAME[name].bins)) and (cols.sum(1) == 1).all()
        assert len(names) == cols.shape[1]
    cols, names = concepts.detection_columns("mobility_mine", values["mobility_mine"])
    assert names == ["mobility_mine 0", "mobility_mine 1..2", "mobility_mine 3..4", "mobility_mine 5..6",
                     "mobility_mine 7+"]
    assert concepts.detection_columns("legal", values["legal"])[1][0] == "legal a1"
    assert concepts.detection_columns("parity_quadrant", values["parity_quadrant"])[0].shape == (200, 4)
    assert concepts.detection_columns("parity", values["parity"])[0].shape == (200, 1)


def test_registry_is_consistent_and_names_are_checked():
    assert len(concepts.BY_NAME) == len(concepts.REGISTRY)
    for c in concepts.REGISTRY:
        assert c.kind in ("input", "computed") and c.shape in ("square", "quadrant", "position")
        assert c.group in concepts.GROUPS and (not c.mask or c.mask in concepts.BY_NAME)
    me, opp = random_positions(5, seed=0)
    with pytest.raises(ValueError, match="unknown concept"):
        concepts.compute(me, opp, ["nope"])
    with pytest.raises(ValueError, match="move played"):
        concepts.compute(me, opp, ["flipped_played"])
    with pytest.raises(ValueError, match="search_move"):
        concepts.compute(me, opp, ["mcts_move"], move=np.zeros(5))
    every = concepts.compute(me, opp, max_empties=0)
    assert "flipped_played" not in every and "mcts_move" not in every and "searched" not in every
    assert {"flipped_played", "mcts_move", "mcts_differs"} <= set(concepts.compute(
        me, opp, move=np.full(5, 36), search_move=np.full(5, 36), policy_move=np.full(5, 36), max_empties=0))
