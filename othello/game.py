"""Batched 6x6 Othello rules on bitboards.

A position is a pair of uint64 bitboards from the side to move: `me` (the mover's
discs) and `opp`. Square (r, c) is bit r*6 + c. Every function takes arrays of
positions `[B]` so MCTS and self-play can step hundreds of games per numpy call
(the `*_int` helpers at the end are scalar twins on Python ints, for alpha-beta).

Actions: 0..35 are squares in row-major order, 36 is pass (legal only when no
square is). After any action the board is swapped so the next mover is `me`: the
board is always canonical from the side to move. The game ends when neither
side can move; the outcome is +1 / 0 / -1 from the mover's side (18-18 is 0).
"""
import numpy as np

N = 6
SQUARES = N * N
PASS = SQUARES  # action index 36
ACTIONS = SQUARES + 1
FULL = np.uint64((1 << SQUARES) - 1)
COLS = "abcdef"

_BITS = np.uint64(1) << np.arange(SQUARES, dtype=np.uint64)  # [36]
_NOT_COL0 = np.uint64(sum(1 << (r * N) for r in range(N)) ^ ((1 << SQUARES) - 1))
_NOT_COL5 = np.uint64(sum(1 << (r * N + N - 1) for r in range(N)) ^ ((1 << SQUARES) - 1))
# (shift, mask applied after the shift so nothing wraps across a row edge)
_DIRS = [
    (1, _NOT_COL0), (-1, _NOT_COL5),            # east, west
    (N, FULL), (-N, FULL),                      # south, north
    (N + 1, _NOT_COL0), (N - 1, _NOT_COL5),     # south-east, south-west
    (-N + 1, _NOT_COL0), (-N - 1, _NOT_COL5),   # north-east, north-west
]


def _shift(x, s, mask):
    return ((x << np.uint64(s)) if s > 0 else (x >> np.uint64(-s))) & mask


def initial(batch=1):
    """Start position(s), first mover to play: `(me, opp)` each `[B]` uint64.

    The first mover owns (2,3) and (3,2); the opponent (2,2) and (3,3).
    """
    me = np.full(batch, (1 << (2 * N + 3)) | (1 << (3 * N + 2)), dtype=np.uint64)
    opp = np.full(batch, (1 << (2 * N + 2)) | (1 << (3 * N + 3)), dtype=np.uint64)
    return me, opp


def legal_bits(me, opp):
    """Bitboard `[B]` of squares where the mover may play."""
    empty = ~(me | opp) & FULL
    moves = np.zeros_like(me)
    for s, mask in _DIRS:
        x = _shift(me, s, mask) & opp
        for _ in range(3):  # at most 4 opponent discs in a line on 6x6
            x |= _shift(x, s, mask) & opp
        moves |= _shift(x, s, mask) & empty
    return moves


def bits_to_array(bits):
    """uint64 `[B]` -> bool `[B, 36]`."""
    return (bits[:, None] & _BITS) != 0


def legal_mask(me, opp):
    """Legal actions as bool `[B, 37]`; pass is legal only when no square is."""
    sq = bits_to_array(legal_bits(me, opp))
    return np.concatenate([sq, ~sq.any(1, keepdims=True)], axis=1)


def _flips(me, opp, move):
    flips = np.zeros_like(me)
    for s, mask in _DIRS:
        x = _shift(move, s, mask) & opp
        for _ in range(3):
            x |= _shift(x, s, mask) & opp
        closed = (_shift(x, s, mask) & me) != 0
        flips |= np.where(closed, x, np.uint64(0))
    return flips


def step(me, opp, actions):
    """Apply `actions [B]` (assumed legal) and return the next canonical `(me, opp)`."""
    actions = np.asarray(actions)
    is_pass = actions == PASS
    move = np.where(is_pass, np.uint64(0), _BITS[np.minimum(actions, SQUARES - 1)])
    flips = _flips(me, opp, move)
    new_me = me | move | flips
    new_opp = opp & ~flips
    return new_opp, new_me  # swap: the opponent moves next


def flip_count(me, opp, actions):
    """Discs flipped by each action `[B]` (0 for pass)."""
    actions = np.asarray(actions)
    move = np.where(actions == PASS, np.uint64(0), _BITS[np.minimum(actions, SQUARES - 1)])
    return popcount(_flips(me, opp, move))


def popcount(x):
    """Number of set bits of each uint64 in `x`."""
    x = np.asarray(x, dtype=np.uint64)
    return np.bitwise_count(x).astype(np.int64) if hasattr(np, "bitwise_count") else \
        np.unpackbits(x.view(np.uint8).reshape(*x.shape, 8), axis=-1).sum(-1).astype(np.int64)


def terminal(me, opp):
    """bool `[B]`: neither side has a legal square."""
    return (legal_bits(me, opp) == 0) & (legal_bits(opp, me) == 0)


def outcome(me, opp):
    """Final result from the mover's side `[B]`: +1 win, 0 draw, -1 loss (disc count)."""
    return np.sign(popcount(me) - popcount(opp)).astype(np.float32)


def to_planes(me, opp):
    """Board `[B, 36]` float32 from the mover's side: +1 mine, -1 theirs, 0 empty."""
    return bits_to_array(me).astype(np.float32) - bits_to_array(opp).astype(np.float32)


def from_planes(board):
    """Inverse of `to_planes`: `[B, 36]` (+1/0/-1) -> `(me, opp)` uint64 `[B]`."""
    board = np.asarray(board)
    me = ((board > 0).astype(np.uint64) * _BITS).sum(1, dtype=np.uint64)
    opp = ((board < 0).astype(np.uint64) * _BITS).sum(1, dtype=np.uint64)
    return me, opp


def action_name(a):
    """36 -> 'pass', 0 -> 'a1' (column letter, row number)."""
    return "pass" if a == PASS else f"{COLS[a % N]}{a // N + 1}"


def parse_action(text):
    """'c4' -> action index, 'pass' -> 36; raises ValueError with the reason."""
    t = text.strip().lower()
    if t == "pass":
        return PASS
    if len(t) != 2 or t[0] not in COLS or t[1] not in "123456":
        raise ValueError(f"'{text.strip()}' is not a square: type a column a-f then a row 1-6, e.g. c4")
    return (int(t[1]) - 1) * N + COLS.index(t[0])


def render(me, opp, mover_is_black=True, legal=None, last=None):
    """Text board for one position; `legal` marks legal squares with '.'."""
    black, white = (me, opp) if mover_is_black else (opp, me)
    rows = ["   " + " ".join(COLS)]
    for r in range(N):
        cells = []
        for c in range(N):
            b = 1 << (r * N + c)
            if int(black) & b:
                ch = "X"
            elif int(white) & b:
                ch = "O"
            elif legal is not None and int(legal) & b:
                ch = "."
            else:
                ch = "-"
            cells.append(ch)
        rows.append(f" {r + 1} " + " ".join(cells))
    return "\n".join(rows)


# --- scalar versions on Python ints, for pure-Python tree search (alpha-beta) ---
# One position at a time, numpy's per-call overhead dominates; plain ints are ~20x faster.

_FULL_INT = (1 << SQUARES) - 1
_C0, _C5 = int(_NOT_COL0), int(_NOT_COL5)
# (shift, mask after a left shift, mask after a right shift): the 8 directions as 4 pairs
_PAIRS = [(1, _C0, _C5), (N, _FULL_INT, _FULL_INT), (N + 1, _C0, _C5), (N - 1, _C5, _C0)]


def legal_int(me, opp):
    """`legal_bits` for one position given as Python ints."""
    empty = _FULL_INT ^ (me | opp)
    moves = 0
    for s, ml, mr in _PAIRS:
        o = opp & ml
        x = (me << s) & o
        x |= (x << s) & o
        x |= (x << s) & o
        x |= (x << s) & o
        moves |= (x << s) & ml
        o = opp & mr
        x = (me >> s) & o
        x |= (x >> s) & o
        x |= (x >> s) & o
        x |= (x >> s) & o
        moves |= (x >> s) & mr
    return moves & empty


def flips_int(me, opp, square):
    """Discs (Python int bitboard) flipped when the mover plays `square` (0..35)."""
    move, flips = 1 << square, 0
    for s, ml, mr in _PAIRS:
        o = opp & ml
        x = (move << s) & o
        x |= (x << s) & o
        x |= (x << s) & o
        x |= (x << s) & o
        if (x << s) & ml & me:
            flips |= x
        o = opp & mr
        x = (move >> s) & o
        x |= (x >> s) & o
        x |= (x >> s) & o
        x |= (x >> s) & o
        if (x >> s) & mr & me:
            flips |= x
    return flips
