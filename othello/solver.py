"""Exact endgame solver for 6x6 Othello (numba, uint64 bitboards).

    python -m othello.solver --moves "c2 b2 ..."       # solve the position after these moves
    python -m othello.solver --board=".XXX../..XO../..." --to-move O  # 36 cells a1..f6

Score convention (the repo's, as `game.outcome`): the value of a position is the final disc
difference, mover's discs minus opponent's discs, when the game ends under perfect play by both sides. Empty squares left at the end count for
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
search (engine.py: positional weights and mobility); enhanced transposition cutoffs from ETC_MIN
empties and stability cutoffs (stable discs bound the final score). At `SHALLOW` empties or
fewer there is no table and no move generator: the empty squares are tried in parity order
(3x3 quadrants with an odd number of empties first) and the last empty is counted directly. The table
persists between calls (its entries are exact bounds, valid for any later search);
`reset_table(bits)` resizes or clears it, `clear_table()` clears it. The jitted search and its
settings (SHALLOW, ETC_MIN, SYM_MIN, SORT_MIN, ...) are in solver_nb.py, on the bitboard primitives
of bitboards_nb.py.
"""
import argparse
import sys
import time

import numpy as np

from othello import game
from othello.bitboards_nb import _FULL, check_position
from othello.solver_nb import (ILLEGAL, INF, _best_moves, _best_moves_batch, _exact, _search, _solve_batch,  # noqa: F401 (API)
                               _solve_moves)

MAX_PLY = 80  # search depth bound: 32 moves + passes
DEFAULT_TT_BITS = 20  # 2^20 entries x 20 bytes = 20 MiB


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


def solve_window(me, opp, alpha, beta):
    """Fail-soft search in the open window (alpha, beta): a result <= alpha is an upper bound
    on the exact value, >= beta a lower bound, strictly between them the exact value."""
    me, opp = check_position(me, opp)
    return int(_search(me, opp, int(alpha), int(beta), *_table().args()))


def solve(me, opp):
    """Exact final disc difference (mover minus opponent, empties count for nobody)."""
    me, opp = check_position(me, opp)
    return int(_exact(me, opp, *_table().args()))


def solve_wdl(me, opp):
    """+1 if the mover wins with perfect play, 0 for a draw, -1 for a loss (window (-1, 1))."""
    v = solve_window(me, opp, -1, 1)
    return (v > 0) - (v < 0)


def solve_moves(me, opp):
    """int64 [37]: exact value (for the mover) of every action, ILLEGAL for illegal ones."""
    me, opp = check_position(me, opp)
    return _solve_moves(me, opp, *_table().args())


def best_moves(me, opp):
    """(exact value, list of every optimal action)."""
    me, opp = check_position(me, opp)
    best = _best_moves(me, opp, *_table().args())
    return solve(me, opp), [int(a) for a in np.flatnonzero(best)]


def _check_batch(me, opp):
    me = np.ascontiguousarray(me, dtype=np.uint64)
    opp = np.ascontiguousarray(opp, dtype=np.uint64)
    if me.shape != opp.shape or me.ndim != 1:
        raise ValueError(f"me and opp must be 1-D arrays of one shape, got {me.shape} and {opp.shape}")
    if np.any(me & opp) or np.any((me | opp) > _FULL):
        raise ValueError("not 6x6 positions: a square is on both boards or a bit above 35 is set")
    return me, opp


def solve_batch(me, opp, mode="exact"):
    """Exact values ("exact") or +1/0/-1 ("wdl") of positions `me, opp` uint64 `[B]` -> int64 `[B]`."""
    me, opp = _check_batch(me, opp)
    if mode in ("exact", "wdl"):
        return _solve_batch(me, opp, mode == "exact", *_table().args())
    raise ValueError(f"mode must be 'exact' or 'wdl', got {mode!r}")


def best_moves_batch(me, opp):
    """Exact values int64 `[B]` and every optimal action bool `[B, 37]` of unfinished positions
    (one exact search, then a null window per move: cheaper than `solve_moves`)."""
    me, opp = _check_batch(me, opp)
    if np.any(game.terminal(me, opp)):
        raise ValueError("best_moves_batch needs unfinished positions (a finished game has no move)")
    return _best_moves_batch(me, opp, *_table().args())


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
