"""Numba bitboard primitives shared by the exact solver (solver_nb.py) and the heuristic engine
(engine.py): one uint64 per side, bit r * 6 + c for square (row r, column c), a1 = bit 0.

Move generation (`_legal`, `_flips`), popcount / count-trailing-zeros intrinsics, neighbourhood,
stable discs and the 8 board symmetries. Everything here is `@njit(cache=True)`.

numba caches a jitted function together with the code of every function it calls, but checks
only its own source file for changes (numba docs, "Cache invalidation"). So an edit here (or in
engine.py, whose search the solver calls) would leave the solver's cache running the old code:
`_drop_stale_caches` below deletes the package's numba caches whenever one of those files changed.
"""
import hashlib
from pathlib import Path

import numpy as np
from llvmlite import ir
from numba import njit
from numba.core import types
from numba.extending import intrinsic

from othello.atomic import atomic_write_text

_NUMBA_SOURCES = ("bitboards_nb.py", "engine.py", "solver_nb.py")  # the package's jitted modules


def _drop_stale_caches():
    """Delete every numba cache file in othello/__pycache__ when a jitted module's text changed
    since the last import (numba rebuilds them). A read-only tree is left alone: numba then caches
    elsewhere (NUMBA_CACHE_DIR), outside this check."""
    here = Path(__file__).parent
    digest = hashlib.sha256(b"".join((here / f).read_bytes() for f in _NUMBA_SOURCES if (here / f).is_file()))
    stamp = here / "__pycache__" / "numba_sources.sha256"
    try:
        if stamp.is_file() and stamp.read_text() == digest.hexdigest():
            return
        for f in stamp.parent.glob("*.nb[ic]"):
            f.unlink(missing_ok=True)
        atomic_write_text(stamp, digest.hexdigest())
    except OSError:
        pass


_drop_stale_caches()

_U0 = np.uint64(0)
_U1 = np.uint64(1)
_FULL = np.uint64((1 << 36) - 1)
_INNER = np.uint64(sum(1 << (r * 6 + c) for r in range(6) for c in range(1, 5)))  # columns b..e
_NOT_A = np.uint64(sum(1 << (r * 6 + c) for r in range(6) for c in range(1, 6)))
_NOT_F = np.uint64(sum(1 << (r * 6 + c) for r in range(6) for c in range(0, 5)))
_S1, _S5, _S6, _S7 = np.uint64(1), np.uint64(5), np.uint64(6), np.uint64(7)
_S6MASK = np.uint64(63)
_BIT = np.array([1 << s for s in range(36)], dtype=np.uint64)
_CORNERS = np.uint64((1 << 0) | (1 << 5) | (1 << 30) | (1 << 35))
_XSQ = np.uint64((1 << 7) | (1 << 10) | (1 << 25) | (1 << 28))


def check_position(me, opp):
    """Python ints (or numpy scalars) -> (np.uint64, np.uint64); ValueError if not a 6x6 position."""
    me, opp = int(me), int(opp)
    if not (0 <= me <= (1 << 36) - 1 and 0 <= opp <= (1 << 36) - 1) or me & opp:
        raise ValueError(f"not a 6x6 position: me={me:#x}, opp={opp:#x} (36-bit boards, no shared square)")
    return np.uint64(me), np.uint64(opp)


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
def _final(me, opp):
    """Final disc difference from the mover's side (empty squares count for nobody)."""
    return _popcnt(me) - _popcnt(opp)


@njit(cache=True)
def _neighbours(x):
    """Squares next to any disc of x (8-neighbourhood)."""
    h = ((x << _S1) & _NOT_A) | ((x >> _S1) & _NOT_F)
    x = x | h
    return (h | (x << _S6) | (x >> _S6)) & _FULL


# --------------------------------------------------------------------------- stable discs

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


# --------------------------------------------------------------------------- symmetries

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
