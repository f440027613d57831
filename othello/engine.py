"""Heuristic alpha-beta search (numba): the midgame engine of players.AlphaBetaPlayer, and the
move-ordering search of the exact solver.

Evaluation, an integer from the mover's side: the positional WEIGHTS of the mover's discs minus
the opponent's, plus `mobility_weight` x (the mover's legal squares - the opponent's). A finished
game (neither side can move) scores its final disc difference d (empties count for nobody) plus
WIN if d > 0, minus WIN if d < 0: above any evaluation, so a sure win beats any heuristic lead.

Search: fail-soft negamax alpha-beta to `depth` plies. A pass is a ply (a mover without a legal
square passes when the opponent has one); at depth 0 the position is evaluated, finished or not.
Moves are tried best positional weight first (corners first), then by square. No transposition
table and no extensions: a score is the plain depth-limited minimax value.

API (canonical positions, `me` = discs of the side to move; Python ints or numpy scalars):

    evaluate(me, opp, mobility_weight=MOBILITY)   the static score
    search(me, opp, depth, alpha=-INF, beta=INF, mobility_weight=MOBILITY)
                          fail-soft value in the window (alpha, beta); exact inside it
    move_scores(me, opp, depth, mobility_weight=MOBILITY)
                          int64 [37]: each legal action's score (its child searched to depth - 1),
                          ILLEGAL for illegal actions; pass (36) is legal only when no square is
    best_moves(me, opp, depth, mobility_weight=MOBILITY)
                          (best score, [every action scoring it, in move order]); the other moves
                          are only bounded (window (best - 1, INF)), so this is cheaper
"""
import numpy as np
from numba import njit

from othello import game
from othello.bitboards_nb import _BIT, _U1, _ctz, _final, _flips, _legal, _popcnt, check_position

# Positional weights of the 6x6 squares: corners are stable, the X squares (diagonal to a corner)
# and C squares (next to a corner on the edge) hand the corner over, other edge squares are hard
# to flip back. Row-major, a1 first.
WEIGHTS = np.array([
    [20, -6, 3, 3, -6, 20],
    [-6, -12, -1, -1, -12, -6],
    [3, -1, 1, 1, -1, 3],
    [3, -1, 1, 1, -1, 3],
    [-6, -12, -1, -1, -12, -6],
    [20, -6, 3, 3, -6, 20],
]).reshape(-1)
MOBILITY = 3  # evaluation weight of each legal square more than the opponent's
WIN = 10_000  # score of a won game (plus the disc difference), above any evaluation
INF = 2 * WIN  # beyond any score
ILLEGAL = -(1 << 40)  # move_scores entry of an illegal action

# one bitboard per distinct weight, best first: the evaluation's terms and the move order
_WVAL = np.array(sorted(set(WEIGHTS.tolist()), reverse=True), dtype=np.int64)
_WMASK = np.array([sum(1 << int(s) for s in np.flatnonzero(WEIGHTS == w)) for w in _WVAL], dtype=np.uint64)
MOVE_ORDER = [int(s) for w in _WVAL for s in np.flatnonzero(WEIGHTS == w)]  # squares, in search order


@njit(cache=True)
def _terminal(me, opp):
    d = _final(me, opp)
    if d > 0:
        return d + WIN
    if d < 0:
        return d - WIN
    return 0


@njit(cache=True)
def _evaluate(me, opp, moves, mw):
    """Static score; `moves` = the mover's legal squares (passed in: the search has them)."""
    opp_moves = _legal(opp, me)
    if moves == 0 and opp_moves == 0:
        return _terminal(me, opp)
    s = mw * (_popcnt(moves) - _popcnt(opp_moves))
    for i in range(len(_WVAL)):
        s += _WVAL[i] * (_popcnt(me & _WMASK[i]) - _popcnt(opp & _WMASK[i]))
    return s


# explicit signature: one compiled version (see solver_nb.py on recursive functions and the cache)
@njit("int64(uint64, uint64, int64, int64, int64, int64)", cache=True)
def _negamax(me, opp, depth, alpha, beta, mw):
    """Fail-soft negamax to `depth` plies: the value of (me, opp) within (alpha, beta)."""
    moves = _legal(me, opp)
    if depth <= 0:
        return _evaluate(me, opp, moves, mw)
    if moves == 0:
        if _legal(opp, me) == 0:
            return _terminal(me, opp)
        return -_negamax(opp, me, depth - 1, -beta, -alpha, mw)  # forced pass
    best = -INF
    for i in range(len(_WVAL)):
        x = moves & _WMASK[i]
        while x:
            sq = _ctz(x)
            x &= x - _U1
            f = _flips(me, opp, sq)
            v = -_negamax(opp ^ f, me | f | _BIT[sq], depth - 1, -beta, -alpha, mw)
            if v > best:
                best = v
                if v > alpha:
                    alpha = v
                    if alpha >= beta:
                        return best
    return best


@njit(cache=True)
def _move_scores(me, opp, depth, mw):
    out = np.full(37, ILLEGAL, dtype=np.int64)
    moves = _legal(me, opp)
    if moves == 0:  # pass: the position's own value (a pass is a ply; a finished game its final score)
        out[36] = _negamax(me, opp, depth, -INF, INF, mw)
        return out
    while moves:
        sq = _ctz(moves)
        moves &= moves - _U1
        f = _flips(me, opp, sq)
        out[sq] = -_negamax(opp ^ f, me | f | _BIT[sq], depth - 1, -INF, INF, mw)
    return out


@njit(cache=True)
def _best_moves(me, opp, depth, mw, ties):
    """Best score of a position with a legal square; its optimal squares go to ties[:n], in move
    order. Each move is searched in the window (best - 1, INF): one scoring `best` comes back exact."""
    moves = _legal(me, opp)
    best = -INF
    n = 0
    for i in range(len(_WVAL)):
        x = moves & _WMASK[i]
        while x:
            sq = _ctz(x)
            x &= x - _U1
            f = _flips(me, opp, sq)
            v = -_negamax(opp ^ f, me | f | _BIT[sq], depth - 1, -INF, 1 - best, mw)
            if v > best:
                best = v
                n = 0
            if v == best:
                ties[n] = sq
                n += 1
    return best, n


def _depth(depth):
    if int(depth) != depth or depth < 0:
        raise ValueError(f"search depth must be an integer >= 0, got {depth!r}")
    return int(depth)


def check_mobility_weight(mobility_weight):
    """The weight as an int; ValueError unless it is integral (scores are integers)."""
    if int(mobility_weight) != mobility_weight:
        raise ValueError(f"mobility_weight must be an integer (scores are integers), got {mobility_weight!r}")
    return int(mobility_weight)


def evaluate(me, opp, mobility_weight=MOBILITY):
    """Static score of (me, opp) from the mover's side (an int)."""
    me, opp = check_position(me, opp)
    return int(_negamax(me, opp, 0, -INF, INF, check_mobility_weight(mobility_weight)))  # depth 0: evaluate


def search(me, opp, depth, alpha=-INF, beta=INF, mobility_weight=MOBILITY):
    """Fail-soft negamax value of (me, opp) to `depth` plies in the open window (alpha, beta):
    a result <= alpha is an upper bound, >= beta a lower bound, strictly between them exact."""
    me, opp = check_position(me, opp)
    return int(_negamax(me, opp, _depth(depth), int(alpha), int(beta), check_mobility_weight(mobility_weight)))


def move_scores(me, opp, depth, mobility_weight=MOBILITY):
    """int64 [37]: the exact score of every legal action (child searched to depth - 1), ILLEGAL for
    illegal ones; with no legal square, pass (36) holds the position's value to `depth`."""
    me, opp = check_position(me, opp)
    depth = _depth(depth)
    if depth < 1:
        raise ValueError(f"move scores need depth >= 1, got {depth}")
    return _move_scores(me, opp, depth, check_mobility_weight(mobility_weight))


def best_moves(me, opp, depth, mobility_weight=MOBILITY):
    """(best score, [every action scoring it]) to `depth` plies; the actions come in MOVE_ORDER.
    With no legal square: (the position's value, [36])."""
    me, opp = check_position(me, opp)
    depth = _depth(depth)
    if depth < 1:
        raise ValueError(f"best moves need depth >= 1, got {depth}")
    mw = check_mobility_weight(mobility_weight)
    if _legal(me, opp) == 0:
        return int(_negamax(me, opp, depth, -INF, INF, mw)), [36]
    ties = np.empty(36, dtype=np.int64)
    best, n = _best_moves(me, opp, depth, mw, ties)
    return int(best), [int(a) for a in ties[:n]]


def warm_up():
    """Load (or compile) every jitted entry point, so that later timings measure only search."""
    me, opp = (int(v[0]) for v in game.initial(1))
    evaluate(me, opp), search(me, opp, 1), move_scores(me, opp, 1), best_moves(me, opp, 1)
