"""Exact endgame solver for 6x6 Othello (numba, uint64 bitboards).

    python -m othello.solver --moves "c2 b2 ..."       # solve the position after these moves
    python -m othello.solver --board=".XXX../..XO../..." --to-move O  # 36 cells a1..f6

Score convention (the repo's, as `game.outcome` and `players._final`): the value of a
position is the final disc difference, mover's discs minus opponent's discs, when the
game ends under perfect play by both sides. Empty squares left at the end count for
nobody (a 20-14 finish with 2 empties is +6, not +8). A pass is a move like any other
(action 36, legal only when no square is); the game ends when neither side can move.
The start position is worth -4 to the side to move (the second player wins 20-16).

API (positions are canonical, `me` = discs of the side to move, as everywhere in the repo):

    solve(me, opp)        exact value, an int in [-36, 36]
    solve_wdl(me, opp)    +1 / 0 / -1 only (null-window search around 0: much cheaper)
    solve_moves(me, opp)  int64 [37]: exact value of each action for the mover, ILLEGAL (-127)
                          for illegal actions. As in `game.legal_mask`, pass (36) is legal only
                          when no square is; for a finished game that "pass" holds the final
                          value, so `solve_moves(...).max() == solve(...)` always.
    solve_batch(me_B, opp_B, mode="exact"|"wdl")  the same over arrays `[B]` (loop in numba)
    best_moves(me, opp)   (value, [optimal actions])
    solve_window(me, opp, alpha, beta)  fail-soft search in the open window (alpha, beta)

Search: fail-soft negamax alpha-beta with principal-variation (null-window) search and a
two-way transposition table (full keys, so no collision can corrupt a result; a lower and an
upper bound per entry; from SYM_MIN empties keyed on the least of the 8 symmetric images).
The exact value comes from narrow-window searches: (-1, 1) first, then bisection with windows
(m - 1, m + 1). Above `SHALLOW` empties moves are ordered: table move first, then fewest
opponent replies (fastest first, corner replies counting double), fewest empty squares next to
our discs, corners first and X squares last, plus, from SORT_MIN empties, a shallow heuristic
search (players.WEIGHTS and mobility); enhanced transposition cutoffs from ETC_MIN empties and
stability cutoffs (stable discs bound the final score). At `SHALLOW` empties or fewer there is
no table and no move generator: the empty squares are tried in parity order (3x3 quadrants
with an odd number of empties first) and the last empty is counted directly. The table
persists between calls (its entries are exact bounds, valid for any later search);
`reset_table(bits)` resizes or clears it, `clear_table()` clears it.
"""
import argparse
import sys
import time

import numpy as np
from llvmlite import ir
from numba import njit
from numba.core import types
from numba.extending import intrinsic

from othello import game

# The recursive functions (_shallow, _deep, _eval_search) have explicit signatures: one compiled
# version each. Lazily typed recursive functions get several versions, and numba's on-disk cache
# of a caller of such a function then segfaults when it is loaded in a new process (seen with
# numba 0.68).

ILLEGAL = -127  # solve_moves entry of an illegal action
INF = 127  # beyond any score (scores are in [-36, 36])
MAX_PLY = 80  # search depth bound: 32 moves + passes
DEFAULT_TT_BITS = 20  # 2^20 entries x 20 bytes = 20 MiB

# search settings (tuned on random 20-26 empty positions and the start position)
SHALLOW = 6  # at this many empties or fewer: no table, parity ordering, no move generator
ETC_MIN = 12  # enhanced transposition cutoffs from this many empties
SYM_MIN = 20  # from this many empties the table is keyed on the symmetry-canonical position
SORT_MIN = 12  # from this many empties, moves are also ordered by a shallow heuristic search,
SORT_STEP = 6  # one ply deeper per SORT_STEP more empties,
SORT_W = 4  # weighted against 64 per opponent reply
KEY_POT = 24  # ordering weight of each empty square next to our discs (opponent's potential mobility)
STABILITY = True  # stability cutoffs
EVAL_INF = 1 << 20

_U0 = np.uint64(0)
_U1 = np.uint64(1)
_FULL = np.uint64((1 << 36) - 1)
_INNER = np.uint64(sum(1 << (r * 6 + c) for r in range(6) for c in range(1, 5)))  # columns b..e
_NOT_A = np.uint64(sum(1 << (r * 6 + c) for r in range(6) for c in range(1, 6)))
_NOT_F = np.uint64(sum(1 << (r * 6 + c) for r in range(6) for c in range(0, 5)))
_S1, _S5, _S6, _S7 = np.uint64(1), np.uint64(5), np.uint64(6), np.uint64(7)
_S6MASK = np.uint64(63)
_BIT = np.array([1 << s for s in range(36)], dtype=np.uint64)
_QUADS = np.array([sum(1 << ((r0 + r) * 6 + c0 + c) for r in range(3) for c in range(3))
                   for r0 in (0, 3) for c0 in (0, 3)], dtype=np.uint64)
_CORNERS = np.uint64((1 << 0) | (1 << 5) | (1 << 30) | (1 << 35))
_XSQ = np.uint64((1 << 7) | (1 << 10) | (1 << 25) | (1 << 28))
_HASH1 = np.uint64(0x9E3779B97F4A7C15)
_HASH2 = np.uint64(0xC2B2AE3D27D4EB4F)
_WEIGHTS = [20, -6, 3, 3, -6, 20, -6, -12, -1, -1, -12, -6, 3, -1, 1, 1, -1, 3,  # = players.WEIGHTS
            3, -1, 1, 1, -1, 3, -6, -12, -1, -1, -12, -6, 20, -6, 3, 3, -6, 20]
_WVAL = np.array(sorted(set(_WEIGHTS), reverse=True), dtype=np.int64)
_WMASK = np.array([sum(1 << i for i, w in enumerate(_WEIGHTS) if w == v) for v in _WVAL], dtype=np.uint64)


def _lines(dr, dc):
    """Every maximal line of squares in direction (dr, dc), as bitboards."""
    out = []
    for r0 in range(6):
        for c0 in range(6):
            if 0 <= r0 - dr < 6 and 0 <= c0 - dc < 6:
                continue  # not the start of a line
            m, r, c = 0, r0, c0
            while 0 <= r < 6 and 0 <= c < 6:
                m |= 1 << (r * 6 + c)
                r, c = r + dr, c + dc
            out.append(m)
    return np.array(out, dtype=np.uint64)


_LINES_H, _LINES_V, _LINES_D7, _LINES_D5 = _lines(0, 1), _lines(1, 0), _lines(1, 1), _lines(1, -1)
_EDGE_H = np.uint64(sum(1 << (r * 6 + c) for r in range(6) for c in (0, 5)))
_EDGE_V = np.uint64(sum(1 << (r * 6 + c) for r in (0, 5) for c in range(6)))
_EDGE_D = _EDGE_H | _EDGE_V


def _symmetry_tables():
    """Per dihedral symmetry k: row lookup tables (row r's 6-bit pattern -> transformed bitboard),
    and square maps forward (square -> its image) and back (image -> square)."""
    from othello.symmetry import BOARD_PERMS  # BOARD_PERMS[k][image] = source square
    back = BOARD_PERMS.astype(np.int64)
    fwd = np.argsort(back, axis=1)
    rows = np.zeros((8, 6, 64), dtype=np.uint64)
    for k in range(8):
        for r in range(6):
            for v in range(64):
                rows[k, r, v] = sum(1 << int(fwd[k, r * 6 + c]) for c in range(6) if v >> c & 1)
    return rows, fwd, back


_SYM_ROWS, _SYM_FWD, _SYM_BACK = _symmetry_tables()


@intrinsic
def _popcnt(typingctx, x):
    if x != types.uint64:
        return None

    def codegen(context, builder, sig, args):
        return builder.ctpop(args[0])
    return types.int64(types.uint64), codegen


@intrinsic
def _ctz(typingctx, x):
    if x != types.uint64:
        return None

    def codegen(context, builder, sig, args):
        return builder.cttz(args[0], ir.Constant(ir.IntType(1), 1))
    return types.int64(types.uint64), codegen


@njit(cache=True)
def _legal(me, opp):
    """Bitboard of the mover's legal squares."""
    oh = opp & _INNER
    moves = _U0
    x = (me << _S1) & oh
    x |= (x << _S1) & oh
    x |= (x << _S1) & oh
    x |= (x << _S1) & oh
    moves |= x << _S1
    x = (me >> _S1) & oh
    x |= (x >> _S1) & oh
    x |= (x >> _S1) & oh
    x |= (x >> _S1) & oh
    moves |= x >> _S1
    x = (me << _S6) & opp
    x |= (x << _S6) & opp
    x |= (x << _S6) & opp
    x |= (x << _S6) & opp
    moves |= x << _S6
    x = (me >> _S6) & opp
    x |= (x >> _S6) & opp
    x |= (x >> _S6) & opp
    x |= (x >> _S6) & opp
    moves |= x >> _S6
    x = (me << _S7) & oh
    x |= (x << _S7) & oh
    x |= (x << _S7) & oh
    x |= (x << _S7) & oh
    moves |= x << _S7
    x = (me >> _S7) & oh
    x |= (x >> _S7) & oh
    x |= (x >> _S7) & oh
    x |= (x >> _S7) & oh
    moves |= x >> _S7
    x = (me << _S5) & oh
    x |= (x << _S5) & oh
    x |= (x << _S5) & oh
    x |= (x << _S5) & oh
    moves |= x << _S5
    x = (me >> _S5) & oh
    x |= (x >> _S5) & oh
    x |= (x >> _S5) & oh
    x |= (x >> _S5) & oh
    moves |= x >> _S5
    return moves & ~(me | opp) & _FULL


@njit(cache=True)
def _flips(me, opp, sq):
    """Discs flipped when the mover plays square `sq` (0 if the move is illegal)."""
    m = _BIT[sq]
    oh = opp & _INNER
    f = _U0
    x = (m << _S1) & oh
    x |= (x << _S1) & oh
    x |= (x << _S1) & oh
    x |= (x << _S1) & oh
    if (x << _S1) & me:
        f |= x
    x = (m >> _S1) & oh
    x |= (x >> _S1) & oh
    x |= (x >> _S1) & oh
    x |= (x >> _S1) & oh
    if (x >> _S1) & me:
        f |= x
    x = (m << _S6) & opp
    x |= (x << _S6) & opp
    x |= (x << _S6) & opp
    x |= (x << _S6) & opp
    if (x << _S6) & me:
        f |= x
    x = (m >> _S6) & opp
    x |= (x >> _S6) & opp
    x |= (x >> _S6) & opp
    x |= (x >> _S6) & opp
    if (x >> _S6) & me:
        f |= x
    x = (m << _S7) & oh
    x |= (x << _S7) & oh
    x |= (x << _S7) & oh
    x |= (x << _S7) & oh
    if (x << _S7) & me:
        f |= x
    x = (m >> _S7) & oh
    x |= (x >> _S7) & oh
    x |= (x >> _S7) & oh
    x |= (x >> _S7) & oh
    if (x >> _S7) & me:
        f |= x
    x = (m << _S5) & oh
    x |= (x << _S5) & oh
    x |= (x << _S5) & oh
    x |= (x << _S5) & oh
    if (x << _S5) & me:
        f |= x
    x = (m >> _S5) & oh
    x |= (x >> _S5) & oh
    x |= (x >> _S5) & oh
    x |= (x >> _S5) & oh
    if (x >> _S5) & me:
        f |= x
    return f


@njit(cache=True)
def _order_key(cme, copp, b):
    """Move ordering key of the child (cme, copp) reached by playing bit `b`: lower is tried first.
    Fewest opponent replies (corner replies count double), then fewest empty squares next to
    our discs (the opponent's potential mobility), corners first and X squares last on ties."""
    om = _legal(cme, copp)
    key = 64 * (_popcnt(om) + _popcnt(om & _CORNERS))
    if KEY_POT:
        empty = ~(cme | copp) & _FULL
        key += KEY_POT * _popcnt(_neighbours(copp) & empty)
    if b & _CORNERS:
        key -= 32
    elif b & _XSQ:
        key += 32
    return key


@njit(cache=True)
def _neighbours(x):
    """Squares next to any disc of x (8-neighbourhood)."""
    h = ((x << _S1) & _NOT_A) | ((x >> _S1) & _NOT_F)
    x = x | h
    return (h | (x << _S6) | (x >> _S6)) & _FULL


@njit(cache=True)
def _full(filled, lines):
    out = _U0
    for i in range(len(lines)):
        if filled & lines[i] == lines[i]:
            out |= lines[i]
    return out


@njit(cache=True)
def _stable(p, filled):
    """Discs of `p` that can never be flipped (a lower bound): in each of the 4 line directions
    the disc is on the board's edge, or its line is full, or it touches a stable disc of its own."""
    fh = _full(filled, _LINES_H) | _EDGE_H
    fv = _full(filled, _LINES_V) | _EDGE_V
    f7 = _full(filled, _LINES_D7) | _EDGE_D
    f5 = _full(filled, _LINES_D5) | _EDGE_D
    stable = p & fh & fv & f7 & f5
    old = ~stable
    while stable != old:
        old = stable
        h = fh | ((stable << _S1) & _NOT_A) | ((stable >> _S1) & _NOT_F)
        v = fv | (stable << _S6) | (stable >> _S6)
        d7 = f7 | ((stable << _S7) & _NOT_A) | ((stable >> _S7) & _NOT_F)
        d5 = f5 | ((stable << _S5) & _NOT_F) | ((stable >> _S5) & _NOT_A)
        stable |= p & h & v & d7 & d5
    return stable


@njit(cache=True)
def _final(me, opp):
    return _popcnt(me) - _popcnt(opp)


@njit(cache=True)
def _evaluate(me, opp):
    """Heuristic score from the mover's side: positional weights (players.WEIGHTS) and mobility."""
    s = 0
    for i in range(len(_WVAL)):
        s += _WVAL[i] * (_popcnt(me & _WMASK[i]) - _popcnt(opp & _WMASK[i]))
    return s + 3 * (_popcnt(_legal(me, opp)) - _popcnt(_legal(opp, me)))


@njit("int64(uint64, uint64, int64, int64, int64)", cache=True)
def _eval_search(me, opp, depth, alpha, beta):
    """Fail-soft negamax to `depth` plies on `_evaluate` (for move ordering only)."""
    if depth <= 0:
        return _evaluate(me, opp)
    moves = _legal(me, opp)
    if moves == 0:
        if _legal(opp, me) == 0:
            return 1000 * _final(me, opp)
        return -_eval_search(opp, me, depth - 1, -beta, -alpha)
    best = -EVAL_INF
    while moves:
        sq = _ctz(moves)
        moves &= moves - _U1
        f = _flips(me, opp, sq)
        v = -_eval_search(opp ^ f, me | f | _BIT[sq], depth - 1, -beta, -alpha)
        if v > best:
            best = v
            if v > alpha:
                alpha = v
                if alpha >= beta:
                    break
    return best


@njit(cache=True)
def _last1(me, opp, sq):
    """Exact value with one empty square `sq` left (35 discs on the board)."""
    n = 2 * _popcnt(me) - 35  # disc difference if nobody can play sq
    f = _flips(me, opp, sq)
    if f:
        return n + 1 + 2 * _popcnt(f)
    g = _flips(opp, me, sq)
    if g:
        return n - 1 - 2 * _popcnt(g)
    return n


@njit(cache=True)
def _last2(me, opp, alpha, beta, x1, x2):
    """Fail-soft value with two empty squares x1, x2 left."""
    best = -INF
    f = _flips(me, opp, x1)
    if f:
        best = -_last1(opp ^ f, me | f | _BIT[x1], x2)
        if best >= beta:
            return best
    f = _flips(me, opp, x2)
    if f:
        v = -_last1(opp ^ f, me | f | _BIT[x2], x1)
        if v > best:
            best = v
    if best > -INF:
        return best
    # the mover passes: the opponent plays (we minimise), or the game is over
    worst = INF
    g = _flips(opp, me, x1)
    if g:
        worst = _last1(me ^ g, opp | g | _BIT[x1], x2)
        if worst <= alpha:
            return worst
    g = _flips(opp, me, x2)
    if g:
        v = _last1(me ^ g, opp | g | _BIT[x2], x1)
        if v < worst:
            worst = v
    if worst < INF:
        return worst
    return _final(me, opp)


@njit("int64(uint64, uint64, int64, int64, int64[::1])", cache=True)
def _shallow(me, opp, alpha, beta, stats):
    """Fail-soft negamax for few empties: no table, parity-ordered empties, no move generator."""
    stats[0] += 1
    empty = ~(me | opp) & _FULL
    n_empty = _popcnt(empty)
    if n_empty <= 2:
        if n_empty == 2:
            x1 = _ctz(empty)
            return _last2(me, opp, alpha, beta, x1, _ctz(empty & (empty - _U1)))
        if n_empty == 1:
            return _last1(me, opp, _ctz(empty))
        return _final(me, opp)
    odd = _U0
    for q in range(4):
        if _popcnt(empty & _QUADS[q]) & 1:
            odd |= _QUADS[q]
    best = -INF
    for half in range(2):
        bits = (empty & odd) if half == 0 else (empty & ~odd)
        while bits:
            sq = _ctz(bits)
            bits &= bits - _U1
            f = _flips(me, opp, sq)
            if f:
                v = -_shallow(opp ^ f, me | f | _BIT[sq], -beta, -alpha, stats)
                if v > best:
                    best = v
                    if v > alpha:
                        alpha = v
                        if alpha >= beta:
                            return best
    if best > -INF:
        return best
    # no move for the mover: pass if the opponent has one, else the game is over
    bits = empty
    while bits:
        sq = _ctz(bits)
        bits &= bits - _U1
        if _flips(opp, me, sq):
            return -_shallow(opp, me, -beta, -alpha, stats)
    return _final(me, opp)


@njit(cache=True)
def _transform(x, k):
    out = _U0
    for r in range(6):
        out |= _SYM_ROWS[k, r, np.int64((x >> np.uint64(6 * r)) & _S6MASK)]
    return out


@njit(cache=True)
def _canonical(me, opp):
    """The least of the 8 symmetric images of (me, opp), and which symmetry gives it."""
    bme, bopp, bk = me, opp, 0
    for k in range(1, 8):
        tme = _transform(me, k)
        if tme > bme:
            continue
        topp = _transform(opp, k)
        if tme < bme or topp < bopp:
            bme, bopp, bk = tme, topp, k
    return bme, bopp, bk


@njit(cache=True)
def _tt_index(me, opp, mask):
    h = (me * _HASH1) ^ (opp * _HASH2)
    h ^= h >> np.uint64(29)
    return np.int64(h & mask) & ~np.int64(1)  # first slot of a two-entry bucket


@njit(cache=True)
def _tt_store(keys, data, mask, me, opp, lo, hi, move, empties):
    i = _tt_index(me, opp, mask)
    for j in range(i, i + 2):
        if keys[j, 0] == me and keys[j, 1] == opp:  # same position: intersect the bounds
            if data[j, 0] > lo:
                lo = data[j, 0]
            if data[j, 1] < hi:
                hi = data[j, 1]
            data[j, 0] = lo
            data[j, 1] = hi
            data[j, 2] = move
            return
    if empties >= data[i, 3]:  # slot i keeps the bigger subtree, slot i+1 the most recent
        keys[i + 1, 0] = keys[i, 0]
        keys[i + 1, 1] = keys[i, 1]
        for k in range(4):
            data[i + 1, k] = data[i, k]
    else:
        i += 1
    keys[i, 0] = me
    keys[i, 1] = opp
    data[i, 0] = lo
    data[i, 1] = hi
    data[i, 2] = move
    data[i, 3] = empties


@njit("int64(uint64, uint64, int64, int64, int64, uint64[:, ::1], int8[:, ::1], uint64, "
      "uint64[:, ::1], uint64[:, ::1], int64[:, ::1], int64[::1])", cache=True)
def _deep(me, opp, alpha, beta, ply, keys, data, mask, bme, bopp, bkey, stats):
    """Fail-soft PVS with the transposition table and fastest-first ordering (> SHALLOW empties)."""
    stats[0] += 1
    empties = 36 - _popcnt(me | opp)
    # transposition table probe (on the canonical image of the position far from the end)
    kme, kopp, sym = me, opp, 0
    if empties >= SYM_MIN:
        kme, kopp, sym = _canonical(me, opp)
    i = _tt_index(kme, kopp, mask)
    tt_move = -1
    for j in range(i, i + 2):
        if keys[j, 0] == kme and keys[j, 1] == kopp and data[j, 3] > 0:
            lo = np.int64(data[j, 0])
            hi = np.int64(data[j, 1])
            if lo >= beta:
                return lo
            if hi <= alpha:
                return hi
            if lo == hi:
                return lo
            tt_move = np.int64(data[j, 2])
            if tt_move >= 0:
                tt_move = _SYM_BACK[sym, tt_move]
            break
    # stability cutoff: the opponent's stable discs cap our score, ours floor it (empties count for nobody)
    if STABILITY:
        if alpha >= 36 - 2 * _popcnt(opp):
            hi = 36 - 2 * _popcnt(_stable(opp, me | opp))
            if hi <= alpha:
                return hi
        if beta <= 2 * _popcnt(me) - 36:
            lo = 2 * _popcnt(_stable(me, me | opp)) - 36
            if lo >= beta:
                return lo
    moves = _legal(me, opp)
    if moves == 0:
        if _legal(opp, me) == 0:
            return _final(me, opp)
        return -_deep(opp, me, -beta, -alpha, ply + 1, keys, data, mask, bme, bopp, bkey, stats)
    # children, ordered: table move first, then fewest opponent replies, corners first, X squares last
    n = 0
    while moves:
        sq = _ctz(moves)
        moves &= moves - _U1
        b = _BIT[sq]
        f = _flips(me, opp, sq)
        cme = opp ^ f
        copp = me | f | b
        if sq == tt_move:
            key = -(1 << 20)
        else:
            if empties >= ETC_MIN:  # enhanced transposition cutoff: a child already refuted
                ekme, ekopp = cme, copp
                if empties - 1 >= SYM_MIN:
                    ekme, ekopp, _ = _canonical(cme, copp)
                c = _tt_index(ekme, ekopp, mask)
                for j in range(c, c + 2):
                    if keys[j, 0] == ekme and keys[j, 1] == ekopp and data[j, 3] > 0:
                        if -np.int64(data[j, 1]) >= beta:
                            return -np.int64(data[j, 1])
                        break
            key = _order_key(cme, copp, b)
            if empties >= SORT_MIN:  # far from the end: add a shallow heuristic search
                key += SORT_W * _eval_search(cme, copp, (empties - SORT_MIN) // SORT_STEP, -EVAL_INF, EVAL_INF)
        k = n
        while k > 0 and bkey[ply, k - 1] > key:  # insertion sort
            bkey[ply, k] = bkey[ply, k - 1]
            bme[ply, k] = bme[ply, k - 1]
            bopp[ply, k] = bopp[ply, k - 1]
            k -= 1
        bkey[ply, k] = key
        bme[ply, k] = cme
        bopp[ply, k] = copp
        n += 1
    alpha0 = alpha
    best = -INF
    best_sq = -1
    child_shallow = empties - 1 <= SHALLOW
    for k in range(n):
        cme = bme[ply, k]
        copp = bopp[ply, k]
        if k == 0:
            if child_shallow:
                v = -_shallow(cme, copp, -beta, -alpha, stats)
            else:
                v = -_deep(cme, copp, -beta, -alpha, ply + 1, keys, data, mask, bme, bopp, bkey, stats)
        else:
            if child_shallow:
                v = -_shallow(cme, copp, -alpha - 1, -alpha, stats)
            else:
                v = -_deep(cme, copp, -alpha - 1, -alpha, ply + 1, keys, data, mask, bme, bopp, bkey, stats)
            if alpha < v < beta:  # null window failed high inside the real window: re-search
                if child_shallow:
                    v = -_shallow(cme, copp, -beta, -v, stats)
                else:
                    v = -_deep(cme, copp, -beta, -v, ply + 1, keys, data, mask, bme, bopp, bkey, stats)
        if v > best:
            best = v
            best_sq = _ctz(copp & ~(me | opp))  # the square just played
            if v > alpha:
                alpha = v
                if alpha >= beta:
                    break
    best_sq = _SYM_FWD[sym, best_sq]
    if best >= beta:
        _tt_store(keys, data, mask, kme, kopp, best, INF, best_sq, empties)
    elif best <= alpha0:
        _tt_store(keys, data, mask, kme, kopp, -INF, best, best_sq, empties)
    else:
        _tt_store(keys, data, mask, kme, kopp, best, best, best_sq, empties)
    return best


@njit(cache=True)
def _search(me, opp, alpha, beta, keys, data, mask, bme, bopp, bkey, stats):
    """Value of (me, opp) within (alpha, beta), fail-soft: v <= alpha is an upper bound,
    v >= beta a lower bound, anything between is exact."""
    if 36 - _popcnt(me | opp) <= SHALLOW:
        return _shallow(me, opp, alpha, beta, stats)
    return _deep(me, opp, alpha, beta, 0, keys, data, mask, bme, bopp, bkey, stats)


@njit(cache=True)
def _exact(me, opp, keys, data, mask, bme, bopp, bkey, stats):
    """Exact value by bisection with narrow windows: first the win/draw/loss window (-1, 1), then
    windows (m - 1, m + 1) around the middle m (even if possible: a full board has an even
    disc difference) of the interval still possible. Each fail-soft result moves a bound, the
    table keeps every bound found, and a result strictly inside a window is exact."""
    lo, hi = -36, 36  # the value is in [lo, hi]
    m = 0
    while True:
        g = _search(me, opp, m - 1, m + 1, keys, data, mask, bme, bopp, bkey, stats)
        if g <= m - 1:
            hi = g
        elif g >= m + 1:
            lo = g
        else:
            return g
        if lo >= hi:
            return lo
        m = (lo + hi) // 2
        if m & 1 and m + 1 < hi:
            m += 1
        if m <= lo:  # keep the window (m - 1, m + 1) inside [lo - 1, hi + 1]
            m = lo + 1 if lo + 1 < hi else lo
        elif m >= hi:
            m = hi - 1 if hi - 1 > lo else hi


@njit(cache=True)
def _solve_batch(me, opp, exact, keys, data, mask, bme, bopp, bkey, stats):
    out = np.empty(len(me), dtype=np.int64)
    for b in range(len(me)):
        if exact:
            out[b] = _exact(me[b], opp[b], keys, data, mask, bme, bopp, bkey, stats)
        else:
            v = _search(me[b], opp[b], -1, 1, keys, data, mask, bme, bopp, bkey, stats)
            out[b] = (v > 0) - (v < 0)
    return out


@njit(cache=True)
def _solve_moves(me, opp, keys, data, mask, bme, bopp, bkey, stats):
    out = np.full(37, ILLEGAL, dtype=np.int64)
    moves = _legal(me, opp)
    if moves == 0:
        if _legal(opp, me) == 0:
            out[36] = _final(me, opp)
        else:
            out[36] = -_exact(opp, me, keys, data, mask, bme, bopp, bkey, stats)
        return out
    while moves:
        sq = _ctz(moves)
        moves &= moves - _U1
        f = _flips(me, opp, sq)
        out[sq] = -_exact(opp ^ f, me | f | _BIT[sq], keys, data, mask, bme, bopp, bkey, stats)
    return out


@njit(cache=True)
def _best_moves(me, opp, keys, data, mask, bme, bopp, bkey, stats):
    """bool [37]: the optimal actions (exact root value, then one null window per move)."""
    out = np.zeros(37, dtype=np.bool_)
    moves = _legal(me, opp)
    if moves == 0:
        out[36] = True
        return out
    v = _exact(me, opp, keys, data, mask, bme, bopp, bkey, stats)
    while moves:
        sq = _ctz(moves)
        moves &= moves - _U1
        f = _flips(me, opp, sq)
        # optimal iff the child is worth <= -v to the opponent (it is never worth less)
        r = _search(opp ^ f, me | f | _BIT[sq], -v, -v + 1, keys, data, mask, bme, bopp, bkey, stats)
        out[sq] = r <= -v
    return out


# --------------------------------------------------------------------------- Python API

class _Table:
    """The transposition table and the search's scratch buffers (module singleton)."""

    def __init__(self, bits):
        if not 4 <= bits <= 30:
            raise ValueError(f"table size must be 2^4..2^30 entries, got 2^{bits}")
        self.bits = bits
        size = 1 << bits
        self.keys = np.zeros((size, 2), dtype=np.uint64)
        self.keys.fill(0)  # touch the pages now, not during the first timed search
        self.data = np.zeros((size, 4), dtype=np.int8)  # lower, upper, best square, empties (0 = unused)
        self.mask = np.uint64(size - 1)
        self.bme = np.zeros((MAX_PLY, 40), dtype=np.uint64)
        self.bopp = np.zeros((MAX_PLY, 40), dtype=np.uint64)
        self.bkey = np.zeros((MAX_PLY, 40), dtype=np.int64)
        self.stats = np.zeros(1, dtype=np.int64)  # nodes searched since the table was made

    def args(self):
        return self.keys, self.data, self.mask, self.bme, self.bopp, self.bkey, self.stats


_TABLE = None


def _table():
    global _TABLE
    if _TABLE is None:
        _TABLE = _Table(DEFAULT_TT_BITS)
    return _TABLE


def reset_table(bits=DEFAULT_TT_BITS):
    """Replace the transposition table by an empty one of 2^bits entries (20 bytes each)."""
    global _TABLE
    _TABLE = _Table(bits)


def warm_up():
    """Load (or compile) every jitted entry point, so that later timings measure only search."""
    solve(0, 0), solve_wdl(0, 0), solve_moves(0, 0), best_moves(0, 0)
    solve_batch(np.zeros(1, np.uint64), np.zeros(1, np.uint64), "exact")
    solve_batch(np.zeros(1, np.uint64), np.zeros(1, np.uint64), "wdl")


def clear_table():
    """Forget every stored bound (keeps the table's size); for benchmarks of independent solves."""
    _table().data[:] = 0


def numba_version():
    import numba
    return numba.__version__


def nodes():
    """Positions searched since the table was last reset (for benchmarks)."""
    return int(_table().stats[0])


def _check(me, opp):
    me, opp = int(me), int(opp)
    if not (0 <= me <= (1 << 36) - 1 and 0 <= opp <= (1 << 36) - 1) or me & opp:
        raise ValueError(f"not a 6x6 position: me={me:#x}, opp={opp:#x} (36-bit boards, no shared square)")
    return np.uint64(me), np.uint64(opp)


def solve_window(me, opp, alpha, beta):
    """Fail-soft search in the open window (alpha, beta): a result <= alpha is an upper bound
    on the exact value, >= beta a lower bound, strictly between them the exact value."""
    me, opp = _check(me, opp)
    return int(_search(me, opp, int(alpha), int(beta), *_table().args()))


def solve(me, opp):
    """Exact final disc difference (mover minus opponent, empties count for nobody)."""
    me, opp = _check(me, opp)
    return int(_exact(me, opp, *_table().args()))


def solve_wdl(me, opp):
    """+1 if the mover wins with perfect play, 0 for a draw, -1 for a loss (window (-1, 1))."""
    v = solve_window(me, opp, -1, 1)
    return (v > 0) - (v < 0)


def solve_moves(me, opp):
    """int64 [37]: exact value (for the mover) of every action, ILLEGAL for illegal ones."""
    me, opp = _check(me, opp)
    return _solve_moves(me, opp, *_table().args())


def best_moves(me, opp):
    """(exact value, list of every optimal action)."""
    me, opp = _check(me, opp)
    best = _best_moves(me, opp, *_table().args())
    return solve(me, opp), [int(a) for a in np.flatnonzero(best)]


def solve_batch(me, opp, mode="exact"):
    """Exact values ("exact") or +1/0/-1 ("wdl") of positions `me, opp` uint64 `[B]` -> int64 `[B]`."""
    me = np.ascontiguousarray(me, dtype=np.uint64)
    opp = np.ascontiguousarray(opp, dtype=np.uint64)
    if me.shape != opp.shape or me.ndim != 1:
        raise ValueError(f"me and opp must be 1-D arrays of one shape, got {me.shape} and {opp.shape}")
    if np.any(me & opp) or np.any((me | opp) > _FULL):
        raise ValueError("not 6x6 positions: a square is on both boards or a bit above 35 is set")
    if mode in ("exact", "wdl"):
        return _solve_batch(me, opp, mode == "exact", *_table().args())
    raise ValueError(f"mode must be 'exact' or 'wdl', got {mode!r}")


# --------------------------------------------------------------------------- CLI

def parse_board(text, to_move="X"):
    """36 cells a1..f6 row-major ('X' Black, 'O' White, '-' or '.' empty; spaces, '/' and
    newlines ignored) and the side to move -> canonical (me, opp) Python ints."""
    cells = [c for c in text if not c.isspace() and c != "/"]
    if len(cells) != 36 or any(c not in "XO-.xo" for c in cells):
        raise ValueError(f"--board '{text}': need exactly 36 cells of X, O, - or . (got {len(cells)})")
    x = sum(1 << i for i, c in enumerate(cells) if c in "Xx")
    o = sum(1 << i for i, c in enumerate(cells) if c in "Oo")
    if to_move.upper() not in ("X", "O"):
        raise ValueError(f"--to-move '{to_move}': must be X or O")
    return (x, o) if to_move.upper() == "X" else (o, x)


def play_moves(text):
    """Play moves ('c2 b2 ...', 'pass' allowed; a forced pass may be left out) from the start.

    Returns (me, opp, x_to_move). Raises ValueError naming the first bad move.
    """
    me, opp = (int(v[0]) for v in game.initial(1))
    x_to_move = True
    for tok in text.replace(",", " ").split():
        a = game.parse_action(tok)
        legal = game.legal_int(me, opp)
        if a != game.PASS and not legal and game.legal_int(opp, me):  # implicit forced pass
            me, opp, x_to_move = opp, me, not x_to_move
            legal = game.legal_int(me, opp)
        if not legal and not game.legal_int(opp, me):
            raise ValueError(f"move '{tok}': the game is already over")
        if a == game.PASS:
            if legal:
                raise ValueError(f"move '{tok}': pass is illegal, the mover has a move")
            me, opp = opp, me
        else:
            if not legal >> a & 1:
                raise ValueError(f"move '{tok}' is illegal here")
            f = game.flips_int(me, opp, a)
            me, opp = opp ^ f, me | f | (1 << a)
        x_to_move = not x_to_move
    return me, opp, x_to_move


def main(argv=None):
    ap = argparse.ArgumentParser(
        prog="python -m othello.solver", description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="Board string: 36 cells, a1 b1 .. f1 then a2 .. f6 (row-major, as game.render prints them), "
               "X = Black (the first player), O = White, '-' or '.' empty; spaces and '/' are ignored. "
               "Write --board=STRING when the string starts with '-'. "
               "Values are final disc differences for the side to move, empties counting for nobody. "
               "Exit code 2 on bad input.")
    src = ap.add_mutually_exclusive_group()
    src.add_argument("--moves", default="",
                     help="moves from the start position, e.g. 'c2 b2 a2' (a forced pass may be omitted) "
                          "(default: %(default)r, the start position)")
    src.add_argument("--board", default=None, help="a 36-cell board string, see below (default: %(default)s)")
    ap.add_argument("--to-move", default="X", help="side to move with --board, X or O (default: %(default)s)")
    ap.add_argument("--wdl-only", action="store_true",
                    help="only the win/draw/loss result (null-window search), no exact value or move values "
                         "(default: %(default)s)")
    ap.add_argument("--tt-bits", type=int, default=DEFAULT_TT_BITS,
                    help="transposition table of 2^BITS entries, 20 bytes each (default: %(default)s)")
    args = ap.parse_args(argv)
    try:
        if args.board is not None:
            me, opp = parse_board(args.board, args.to_move)
            x_to_move = args.to_move.upper() == "X"
        else:
            if args.to_move.upper() not in ("X", "O"):
                raise ValueError(f"--to-move '{args.to_move}': must be X or O")
            me, opp, x_to_move = play_moves(args.moves)
        if not 4 <= args.tt_bits <= 30:
            raise ValueError(f"--tt-bits {args.tt_bits}: must be 4..30")
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    reset_table(args.tt_bits)
    t0 = time.perf_counter()
    warm_up()
    t_jit = time.perf_counter() - t0
    mover = "X" if x_to_move else "O"
    print(game.render(me, opp, mover_is_black=x_to_move, legal=game.legal_int(me, opp)))
    empties = 36 - (me | opp).bit_count()
    print(f"{mover} to move, {empties} empties")
    t0 = time.perf_counter()
    wdl = solve_wdl(me, opp)
    t_wdl = time.perf_counter() - t0
    word = {1: "win", 0: "draw", -1: "loss"}[wdl]
    print(f"W/D/L for {mover}: {word}  ({t_wdl:.3f} s)")
    if not args.wdl_only:
        reset_table(args.tt_bits)  # time the exact solve on its own
        t0 = time.perf_counter()
        value = solve(me, opp)
        t_exact = time.perf_counter() - t0
        print(f"exact value for {mover}: {value:+d} (final disc difference, {mover} minus opponent)  "
              f"({t_exact:.3f} s, {nodes():,} nodes)")
        t0 = time.perf_counter()
        vals = solve_moves(me, opp)
        t_moves = time.perf_counter() - t0
        order = sorted(np.flatnonzero(vals != ILLEGAL), key=lambda a: (-vals[a], a))
        print(f"move values ({t_moves:.3f} s): " +
              ", ".join(f"{game.action_name(int(a))} {int(vals[a]):+d}" for a in order))
    print(f"(JIT load/compile {t_jit:.2f} s, not included above)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
