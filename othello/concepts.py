"""Ground-truth game concepts of positions, vectorised over batches: the one concept library.

    values = compute(me, opp)                           # every concept that needs no move
    values = compute(me, opp, ["legal", "stable_mine"])  # some of them
    values = compute(me, opp, move=actions)             # also "flipped_played" (the move played, [N] 0..36)
    values = compute(me, opp, search_move=a, policy_move=p)  # also the search concepts (a: -1 = not searched)

Positions are canonical (`me` = the mover's discs, uint64 `[N]`, as everywhere in the repo);
every value is from the mover's side. `REGISTRY` lists each concept once with its group, kind
and shape:

    shape     "square" bool [N, 36] | "quadrant" bool [N, 4] (3x3 quadrants a1-c3, d1-f3, a4-c6,
              d4-f6) | "position" [N] (bool, or int with `bins` for detection)
    kind      "input": read off the squares directly (a square's state, or a count of square states:
              linear in the input planes); "computed": anything the network must work out
              (legality, flips, stability, frontier, parity, solver values ...)
    mask      the concept is defined only where the named bool concept holds (solver concepts:
              "solvable", at most `max_empties` empty squares); elsewhere its value is 0 / False

Stability is the standard conservative rule (othello.bitboards_nb._stable, the solver's own):
a disc is stable if in each of the 4 line directions its line is full, or it is on the board's
edge, or it touches a stable disc of its colour, iterated to a fixpoint. Every disc it marks can
never be flipped again (tests check this against all continuations of near-full boards); a few
discs that can never be flipped are missed (it is a lower bound, as in every Othello program).

Solver concepts (positions with <= max_empties empties, exact solver othello.solver): the
game-theoretic result for the mover, the set of optimal squares, and final ownership of each
square at the end of ONE principal variation: from the position, each side in turn plays its
lowest-numbered optimal square (a1 = 0 first; a forced pass when it has none) until the game ends.
Other optimal lines can end with other squares owned; the final disc difference is the same.

Search concepts (from the network's own search, which this package cannot run: the caller passes its
moves, sae/search_concepts.py runs it): the square the search chooses and whether that differs from the
raw policy's argmax, defined only where the search was run ("searched", a mask, not a concept itself).
"""
from dataclasses import dataclass

import numpy as np
from numba import njit
from tqdm import tqdm

from othello import game, solver
from othello.bitboards_nb import _FULL, _neighbours, _stable

SOLVE_EMPTIES = 14  # solver concepts only for positions with at most this many empty squares
CORNERS = (0, 5, 30, 35)
X_SQUARES = (7, 10, 25, 28)                    # diagonal neighbours of the corners
C_SQUARES = (1, 6, 4, 11, 24, 31, 29, 34)      # edge neighbours of the corners
QUADRANTS = tuple(tuple((r0 + r) * 6 + c0 + c for r in range(3) for c in range(3))
                  for r0 in (0, 3) for c0 in (0, 3))  # the solver's parity regions
QUADRANT_NAMES = ("a1-c3", "d1-f3", "a4-c6", "d4-f6")
SQUARE_NAMES = tuple(game.action_name(s) for s in range(36))
_COUNT_BINS = (0, 1, 2)  # 0, 1, 2+ discs


@dataclass(frozen=True)
class Concept:
    name: str
    group: str          # board, corners, position, parity, legality, mobility, flips, stability, frontier, solved, search
    kind: str           # "input" or "computed" (see the module doc)
    shape: str          # "square" [N, 36], "quadrant" [N, 4] or "position" [N]
    doc: str
    bins: tuple = ()    # int position concepts: lower bin edges; detection column i is bins[i] <= v < bins[i+1]
    mask: str = ""      # defined only where this bool concept is True ('' = everywhere)
    needs: str = ""     # an input beside the board: "move" (compute's `move`) or "search" (`search_move`, `policy_move`)
    detect: bool = True  # False: a mask only (which rows were searched), no detection columns of its own


_SOLVED = "solvable"
_SEARCHED = "searched"
REGISTRY = [
    Concept("mine", "board", "input", "square", "the mover's disc"),
    Concept("theirs", "board", "input", "square", "the opponent's disc"),
    Concept("empty", "board", "input", "square", "empty square"),
    Concept("corners_mine", "corners", "input", "position", "corners held by the mover", _COUNT_BINS),
    Concept("corners_theirs", "corners", "input", "position", "corners held by the opponent", _COUNT_BINS),
    Concept("x_mine", "corners", "input", "position", "X squares held by the mover", _COUNT_BINS),
    Concept("x_theirs", "corners", "input", "position", "X squares held by the opponent", _COUNT_BINS),
    Concept("c_mine", "corners", "input", "position", "C squares held by the mover", _COUNT_BINS),
    Concept("c_theirs", "corners", "input", "position", "C squares held by the opponent", _COUNT_BINS),
    Concept("disc_diff", "position", "input", "position", "mover's discs minus opponent's", (-36, -6, -1, 2, 7)),
    Concept("parity", "parity", "computed", "position", "odd number of empty squares"),
    Concept("parity_quadrant", "parity", "computed", "quadrant", "odd number of empty squares in the quadrant"),
    Concept("legal", "legality", "computed", "square", "the mover may play here"),
    Concept("must_pass", "mobility", "computed", "position", "the mover has no legal square"),
    Concept("mobility_mine", "mobility", "computed", "position", "legal squares of the mover", (0, 1, 3, 5, 7)),
    Concept("mobility_theirs", "mobility", "computed", "position",
            "legal squares the opponent would have if it were to move", (0, 1, 3, 5, 7)),
    Concept("flipped_played", "flips", "computed", "square", "flipped by the move played in the game", needs="move"),
    Concept("flippable", "flips", "computed", "square", "opponent's disc some legal move of the mover flips"),
    Concept("threatened", "flips", "computed", "square",
            "mover's disc some move of the opponent would flip if it were to move"),
    Concept("stable_mine", "stability", "computed", "square", "mover's disc that can never be flipped (conservative)"),
    Concept("stable_theirs", "stability", "computed", "square",
            "opponent's disc that can never be flipped (conservative)"),
    Concept("frontier_mine", "frontier", "computed", "square", "mover's disc next to an empty square"),
    Concept("frontier_theirs", "frontier", "computed", "square", "opponent's disc next to an empty square"),
    Concept(_SOLVED, "position", "input", "position", f"at most max_empties ({SOLVE_EMPTIES}) empty squares"),
    Concept("solved_wdl", "solved", "computed", "position", "mover's result under perfect play (-1/0/+1)",
            (-1, 0, 1), mask=_SOLVED),
    Concept("solved_optimal", "solved", "computed", "square", "an optimal move (pass excluded)", mask=_SOLVED),
    Concept("solved_final_mine", "solved", "computed", "square",
            "the mover's at the end of the principal variation", mask=_SOLVED),
    Concept("solved_final_theirs", "solved", "computed", "square",
            "the opponent's at the end of the principal variation", mask=_SOLVED),
    Concept(_SEARCHED, "search", "input", "position", "the network's search was run on the position",
            needs="search", detect=False),
    Concept("mcts_move", "search", "computed", "square", "the square the network's search (MCTS) chooses",
            mask=_SEARCHED, needs="search"),
    Concept("mcts_differs", "search", "computed", "position",
            "the search chooses another action than the raw policy's argmax", mask=_SEARCHED, needs="search"),
]
BY_NAME = {c.name: c for c in REGISTRY}
GROUPS = tuple(dict.fromkeys(c.group for c in REGISTRY))


def _mask(squares):
    return np.uint64(sum(1 << s for s in squares))


@njit(cache=True)
def _stable_frontier(me, opp):
    """Stable discs of each side and frontier discs (both sides), uint64 `[N]` each."""
    n = len(me)
    sm, so, fr = np.empty(n, np.uint64), np.empty(n, np.uint64), np.empty(n, np.uint64)
    for i in range(n):
        filled = me[i] | opp[i]
        sm[i] = _stable(me[i], filled)
        so[i] = _stable(opp[i], filled)
        fr[i] = filled & _neighbours(~filled & _FULL)
    return sm, so, fr


def _flippable(me, opp):
    """Opponent's discs flipped by at least one legal move of the mover, uint64 `[N]`."""
    legal = game.bits_to_array(game.legal_bits(me, opp))
    out = np.zeros_like(me)
    for s in np.flatnonzero(legal.any(0)):  # one vectorised step per square that is legal somewhere
        rows = np.flatnonzero(legal[:, s])
        _, after = game.step(me[rows], opp[rows], np.full(len(rows), s))
        out[rows] |= after & opp[rows]
    return out


def _solved(me, opp, max_empties):
    """(solvable [N], wdl [N] int8, optimal [N, 36], final_mine [N, 36], final_theirs [N, 36])."""
    n = len(me)
    ok = game.popcount(~(me | opp) & game.FULL) <= max_empties
    wdl = np.zeros(n, np.int8)
    optimal, fmine, ftheirs = (np.zeros((n, 36), bool) for _ in range(3))
    for i in tqdm(np.flatnonzero(ok), desc="solving", disable=None, leave=False):
        m, o = int(me[i]), int(opp[i])
        value, best = solver.best_moves(m, o)
        wdl[i] = np.sign(value)
        optimal[i, [a for a in best if a != game.PASS]] = True
        flip = False  # the original mover is `o` after an odd number of plies
        while True:   # the principal variation: lowest-numbered optimal action, to the end
            if not game.legal_int(m, o):
                if not game.legal_int(o, m):
                    break
                m, o, flip, best = o, m, not flip, None
                continue
            a = min(best) if best is not None else min(solver.best_moves(m, o)[1])
            f = game.flips_int(m, o, a)
            m, o, flip, best = o ^ f, m | f | (1 << a), not flip, None
        mine, theirs = (o, m) if flip else (m, o)
        fmine[i] = (mine >> np.arange(36)) & 1
        ftheirs[i] = (theirs >> np.arange(36)) & 1
    return ok, wdl, optimal, fmine, ftheirs


def compute(me, opp, concepts=None, move=None, search_move=None, policy_move=None, max_empties=SOLVE_EMPTIES):
    """Concept values of positions `me, opp` uint64 `[N]` -> {name: array} (shapes in REGISTRY).

    `concepts`: names (default: every concept whose inputs are given); a concept's mask concept is
    added. `move` int `[N]`: the action played (36 = pass) for "flipped_played". `search_move` int `[N]`:
    the search's action (-1 where it was not run) and `policy_move` int `[N]`: the raw policy's argmax
    action, for the search concepts. Solver concepts cost an exact solve per position with <= max_empties
    empties (about 10 ms at 14).
    """
    me, opp = np.asarray(me, np.uint64), np.asarray(opp, np.uint64)
    given = {"": True, "move": move is not None, "search": search_move is not None and policy_move is not None}
    if concepts is None:
        concepts = [c.name for c in REGISTRY if given[c.needs]]
    unknown = [c for c in concepts if c not in BY_NAME]
    if unknown:
        raise ValueError(f"unknown concept(s) {unknown}; concepts are {list(BY_NAME)}")
    want = set(concepts) | {BY_NAME[c].mask for c in concepts if BY_NAME[c].mask}
    lacking = [c for c in sorted(want) if not given[BY_NAME[c].needs]]
    if lacking:
        raise ValueError(f"concept(s) {lacking} need compute's " + " and ".join(
            {"move": "`move` (the move played)", "search": "`search_move` and `policy_move`"}[BY_NAME[c].needs]
            for c in dict.fromkeys(lacking)))
    sq = game.bits_to_array
    empty = ~(me | opp) & game.FULL
    legal = game.legal_bits(me, opp)
    out = {"mine": lambda: sq(me), "theirs": lambda: sq(opp), "empty": lambda: sq(empty),
           "disc_diff": lambda: game.popcount(me) - game.popcount(opp),
           "parity": lambda: game.popcount(empty) % 2 == 1,
           "parity_quadrant": lambda: np.stack([game.popcount(empty & _mask(q)) % 2 == 1 for q in QUADRANTS], 1),
           "legal": lambda: sq(legal), "must_pass": lambda: legal == 0,
           "mobility_mine": lambda: game.popcount(legal), "mobility_theirs": lambda: game.popcount(game.legal_bits(opp, me)),
           "flippable": lambda: sq(_flippable(me, opp)), "threatened": lambda: sq(_flippable(opp, me))}
    for name, squares in (("corners", CORNERS), ("x", X_SQUARES), ("c", C_SQUARES)):
        out[f"{name}_mine"] = lambda m=_mask(squares): game.popcount(me & m)
        out[f"{name}_theirs"] = lambda m=_mask(squares): game.popcount(opp & m)
    if given["move"]:
        move = np.asarray(move, np.int64)
        out["flipped_played"] = lambda: sq(game.step(me, opp, move)[1] & opp)
    if given["search"]:
        a, p = np.asarray(search_move, np.int64), np.asarray(policy_move, np.int64)
        out[_SEARCHED] = lambda: a >= 0
        out["mcts_move"] = lambda: a[:, None] == np.arange(36)  # pass (36) and not searched (-1): no square
        out["mcts_differs"] = lambda: (a >= 0) & (a != p)
    values = {k: f() for k, f in out.items() if k in want}
    if want & {"stable_mine", "stable_theirs", "frontier_mine", "frontier_theirs"}:
        sm, so, fr = _stable_frontier(me, opp)
        values.update(stable_mine=sq(sm), stable_theirs=sq(so), frontier_mine=sq(fr & me), frontier_theirs=sq(fr & opp))
    solved = [_SOLVED] + [c.name for c in REGISTRY if c.mask == _SOLVED]
    if want & set(solved):
        values.update(zip(solved, _solved(me, opp, max_empties)))
    return {c: values[c] for c in BY_NAME if c in want}


def detection_columns(concept, value):
    """A concept's values as binary detection targets: (bool [N, K], K column names).

    Square / quadrant concepts: one column per square / quadrant; bool position concepts: one
    column; int position concepts: one column per bin (`bins[i] <= v < bins[i + 1]`).
    """
    c = BY_NAME[concept] if isinstance(concept, str) else concept
    value = np.asarray(value)
    if c.shape == "square":
        return value.astype(bool), [f"{c.name} {s}" for s in SQUARE_NAMES]
    if c.shape == "quadrant":
        return value.astype(bool), [f"{c.name} {q}" for q in QUADRANT_NAMES]
    if not c.bins:
        return value.astype(bool)[:, None], [c.name]
    edges = list(c.bins) + [np.inf]
    cols = np.stack([(value >= lo) & (value < hi) for lo, hi in zip(edges[:-1], edges[1:])], 1)
    names = [f"{c.name} {lo}" if hi == lo + 1 else f"{c.name} {lo}+" if hi == np.inf else f"{c.name} {lo}..{hi - 1}"
             for lo, hi in zip(edges[:-1], edges[1:])]
    return cols, names
