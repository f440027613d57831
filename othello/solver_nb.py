"""The exact solver's jitted search (numba); the API, the table and the CLI are in solver.py,
whose docstring describes the search. Settings below were tuned on random 20-26 empty positions
and the start position.

The recursive functions (_shallow, _deep) have explicit signatures: one compiled version each.
Lazily typed recursive functions get several versions, and numba's on-disk cache of a caller of
such a function then segfaults when it is loaded in a new process (seen with numba 0.68).
"""
import numpy as np
from numba import njit

from othello.bitboards_nb import (_BIT, _CORNERS, _FULL, _SYM_BACK, _SYM_FWD, _U0, _U1, _XSQ, _canonical, _ctz,
                                  _final, _flips, _legal, _neighbours, _popcnt, _stable)
from othello.engine import INF as EVAL_INF, MOBILITY, _negamax

ILLEGAL = -127  # solve_moves entry of an illegal action
INF = 127  # beyond any score (scores are in [-36, 36])

SHALLOW = 6  # at this many empties or fewer: no table, parity ordering, no move generator
ETC_MIN = 12  # enhanced transposition cutoffs from this many empties
SYM_MIN = 20  # from this many empties the table is keyed on the symmetry-canonical position
SORT_MIN = 12  # from this many empties, moves are also ordered by a shallow heuristic search (engine.py),
SORT_STEP = 6  # one ply deeper per SORT_STEP more empties,
SORT_W = 4  # weighted against 64 per opponent reply
KEY_POT = 24  # ordering weight of each empty square next to our discs (opponent's potential mobility)
STABILITY = True  # stability cutoffs

_QUADS = np.array([sum(1 << ((r0 + r) * 6 + c0 + c) for r in range(3) for c in range(3))
                   for r0 in (0, 3) for c0 in (0, 3)], dtype=np.uint64)
_HASH1 = np.uint64(0x9E3779B97F4A7C15)
_HASH2 = np.uint64(0xC2B2AE3D27D4EB4F)


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
                depth = (empties - SORT_MIN) // SORT_STEP
                key += SORT_W * _negamax(cme, copp, depth, -EVAL_INF, EVAL_INF, MOBILITY)
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


@njit(cache=True)
def _best_moves_batch(me, opp, keys, data, mask, bme, bopp, bkey, stats):
    """(exact values [B], optimal actions bool [B, 37]) of positions with a legal move or a pass."""
    values = np.empty(len(me), dtype=np.int64)
    best = np.zeros((len(me), 37), dtype=np.bool_)
    for b in range(len(me)):
        best[b] = _best_moves(me[b], opp[b], keys, data, mask, bme, bopp, bkey, stats)
        values[b] = _exact(me[b], opp[b], keys, data, mask, bme, bopp, bkey, stats)  # a table hit
    return values, best
