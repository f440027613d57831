"""Benchmark: exact endgame solver (othello/solver.py) time per position by number of empties,
and the alpha-beta players' (othello/engine.py) time per move.

    python -m bench.bench_solver [--empties 10 12 14 16 18 20] [--positions 30] [--seed 0] [--start]
                                 [--engine alphabeta:4 alphabeta:6+exact10] [--engine-positions 200] [--record]

Positions: uniformly random play from the start position (forced passes played), stopped at
exactly E empty squares with the mover to move; games over before that are skipped. The
generator of E's positions is seeded with seed + E, so every run sees the same positions.
Each position is solved twice, exact value and win/draw/loss only, each time with a cleared
transposition table (no help from earlier solves), on one core (the solver is single-threaded),
after the numba code is loaded. Prints a markdown table of median and max wall-clock seconds
(and median CPU seconds, the process time: on a shared machine it is the steadier figure);
`--start` also proves the value of the start position (-4 for the side to move: White wins
20-16) with one search in the window (-5, -3) on a 2^24-entry table (about 2 minutes).

Engine rows: each `--engine` player spec chooses a move in `--engine-positions` positions with
14-30 empty squares and a legal move (othello.sampling.random_positions, seed `--seed`), timed
per move (median and max wall-clock, median CPU), and so does the pure-Python search it replaced
(tests/alphabeta_reference.py, same depth and seed): the two must choose the same moves.
An empty `--empties` or `--engine` list skips that part.
`--record` appends the results to bench/RESULTS.md with machine, date and command.
"""
import dataclasses
import datetime
import os
import sys
import time
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Annotated

import numpy as np
import tyro

import config
from config import Config
from bench.common import RESULTS, cpu_name, record
from othello import game, solver
from othello.sampling import random_positions

ENGINE_SPECS = ["alphabeta:4", "alphabeta:6+exact10"]
ENGINE_EMPTIES = (14, 30)  # engine rows: positions with this many empty squares (inclusive)


def random_endgames(empties, count, seed):
    """`count` positions (me, opp) with exactly `empties` empty squares, by seeded random play."""
    rng = np.random.default_rng(seed)
    out = []
    while len(out) < count:
        me, opp = (int(v[0]) for v in game.initial(1))
        while 36 - (me | opp).bit_count() > empties:
            moves = game.legal_int(me, opp)
            if not moves:
                if not game.legal_int(opp, me):
                    break  # game over early: skip
                me, opp = opp, me
                continue
            sq = int(rng.choice([s for s in range(36) if moves >> s & 1]))
            f = game.flips_int(me, opp, sq)
            me, opp = opp ^ f, me | f | (1 << sq)
        else:
            if game.legal_int(me, opp) or game.legal_int(opp, me):
                out.append((me, opp))
    return out


def timed(fn, me, opp):
    solver.clear_table()
    n0 = solver.nodes()
    w, c = time.perf_counter(), time.process_time()
    value = fn(me, opp)
    return value, time.perf_counter() - w, time.process_time() - c, solver.nodes() - n0


def midgame_positions(count, seed):
    """`count` positions (me, opp) with ENGINE_EMPTIES empty squares and a legal square, Python ints."""
    me, opp = random_positions(8 * count, seed=seed, max_plies=36)
    e = game.SQUARES - game.popcount(me | opp)
    ok = (e >= ENGINE_EMPTIES[0]) & (e <= ENGINE_EMPTIES[1]) & (game.legal_bits(me, opp) != 0)
    keep = np.flatnonzero(ok)[:count]
    if len(keep) < count:
        sys.exit(f"error: only {len(keep)} of {8 * count} random positions have {ENGINE_EMPTIES} empties")
    return [(int(me[i]), int(opp[i])) for i in keep]


def time_moves(best_move, positions):
    """(actions, wall seconds [N], CPU seconds [N]) of best_move(me, opp) on each position."""
    actions, wall, cpu = [], [], []
    for me, opp in positions:
        w, c = time.perf_counter(), time.process_time()
        actions.append(best_move(me, opp))
        wall.append(time.perf_counter() - w)
        cpu.append(time.process_time() - c)
    return actions, np.array(wall), np.array(cpu)


def engine_rows(specs, positions):
    """Markdown rows: per spec, the numba player and the pure-Python reference it replaced."""
    from alphazero.agents import make_player
    from tests.alphabeta_reference import ReferenceAlphaBeta
    rows = []
    for spec in specs:
        player = make_player(spec, seed=0)
        if not hasattr(player, "depth"):
            sys.exit(f"error: --engine {spec}: not an alpha-beta player spec")
        player.best_move(*positions[0])  # load the numba code outside the timings
        player = make_player(spec, seed=0)  # a fresh rng: the same tie-breaks as the reference's
        ref = ReferenceAlphaBeta(player.depth, player.endgame_empties, seed=0, mobility_weight=player.mobility_weight)
        fast, slow = time_moves(player.best_move, positions), time_moves(ref.best_move, positions)
        assert fast[0] == slow[0], f"{spec}: the engine and the Python reference chose different moves"
        for label, (_, wall, cpu) in (("numba (othello/engine.py)", fast),
                                      ("pure Python (tests/alphabeta_reference.py, before)", slow)):
            rows.append(f"| {spec} | {label} | {len(wall)} | {1e3 * np.median(wall):.3f} | {1e3 * wall.max():.3f} "
                        f"| {1e3 * np.median(cpu):.3f} | {np.median(slow[1]) / np.median(wall):.0f}x |")
            print(rows[-1], flush=True)
    return rows


@dataclass(frozen=True)
class BenchArgs:
    empties: tuple[int, ...] = (10, 12, 14, 16, 18, 20)  # numbers of empty squares to benchmark (none: skip the solver rows)
    positions: int = 30           # positions per number of empties (seed: the root --seed + empties)
    start: bool = False           # also time the proof that the start position is worth -4
    engine: tuple[str, ...] = tuple(ENGINE_SPECS)  # alpha-beta player specs to time per move (none: skip)
    engine_positions: int = 200   # positions with ENGINE_EMPTIES empties for the engine rows
    record: bool = False          # append the table to bench/RESULTS.md
    cfg: Annotated[Config, tyro.conf.arg(name="")] = Config()


def main(argv=None):
    args = config.parse(BenchArgs, argv, __doc__)
    args = SimpleNamespace(**{f.name: getattr(args, f.name) for f in dataclasses.fields(args)}, seed=args.cfg.seed)
    if args.positions < 1 or args.engine_positions < 1 or any(not 1 <= e <= 32 for e in args.empties):
        sys.exit(f"error: need --positions >= 1, --engine-positions >= 1 and --empties in 1..32, "
                 f"got {args.positions}, {args.engine_positions} and {args.empties}")
    load = os.getloadavg()[0]
    solver.warm_up()  # load / compile the numba code outside the timings
    header = ["| empties | positions | exact median s | exact max s | exact median CPU s | exact median nodes "
              "| WDL median s | WDL max s | WDL median CPU s | W / D / L |",
              "|---|---|---|---|---|---|---|---|---|---|"]
    if args.empties:
        print("\n".join(header), flush=True)
    rows = []
    for e in args.empties:
        res = {}
        for mode, fn in (("exact", solver.solve), ("wdl", solver.solve_wdl)):
            res[mode] = [timed(fn, me, opp) for me, opp in random_endgames(e, args.positions, args.seed + e)]
        ex, wdl = (np.array([r[1:] for r in res[m]]) for m in ("exact", "wdl"))
        signs = np.sign([r[0] for r in res["exact"]])
        assert (signs == [r[0] for r in res["wdl"]]).all(), "exact and WDL disagree"
        rows.append(f"| {e} | {len(ex)} | {np.median(ex[:, 0]):.4f} | {ex[:, 0].max():.4f} | {np.median(ex[:, 1]):.4f} "
                    f"| {np.median(ex[:, 2]):,.0f} | {np.median(wdl[:, 0]):.4f} | {wdl[:, 0].max():.4f} "
                    f"| {np.median(wdl[:, 1]):.4f} | {(signs > 0).sum()} / {(signs == 0).sum()} / {(signs < 0).sum()} |")
        print(rows[-1], flush=True)
    start = ""
    if args.start:
        me, opp = (int(v[0]) for v in game.initial(1))
        solver.reset_table(24)
        w, c = time.perf_counter(), time.process_time()
        v = solver.solve_window(me, opp, -5, -3)
        w, c, n = time.perf_counter() - w, time.process_time() - c, solver.nodes()  # fresh table: all its nodes
        solver.reset_table()
        assert v == -4, f"start position: window (-5, -3) gave {v}, expected -4"
        start = (f"Start position: the search in the window (-5, -3) returned -4, so its exact value is -4 "
                 f"(White wins 20-16): {w:.1f} s wall, {c:.1f} s CPU, {n:,} nodes, "
                 f"2^24-entry table.")
        print(start, flush=True)
    engine_header = ["| player | search | positions | median ms/move | max ms/move | median CPU ms/move "
                     "| speed-up (median) |", "|---|---|---|---|---|---|---|"]
    erows = []
    if args.engine:
        print("\n".join(engine_header), flush=True)
        erows = engine_rows(args.engine, midgame_positions(args.engine_positions, args.seed))
    command = "python -m bench.bench_solver" + "".join(f" {a}" for a in (argv if argv is not None else sys.argv[1:]))
    text = [f"### Exact endgame solver and alpha-beta engine ({datetime.date.today()})",
            f"Machine: {cpu_name()}, one core (numba {solver.numba_version()}, single-threaded); load average "
            f"{load:.1f} at the start, {os.getloadavg()[0]:.1f} at the end ({os.cpu_count()} cores, shared with "
            f"other jobs). Command: `{command}`. Times are wall-clock unless marked CPU."]
    if rows:
        text += ["", f"Solver: positions from uniformly random play from the start, seed {args.seed} + empties, "
                     f"{args.positions} per row; each solve starts from a cleared 2^{solver.DEFAULT_TT_BITS}-entry "
                     f"table; W / D / L is the mover's result.", "", *header, *rows]
    if start:
        text += ["", start]
    if erows:
        text += ["", f"Alpha-beta players: time per move on {args.engine_positions} positions with "
                     f"{ENGINE_EMPTIES[0]}-{ENGINE_EMPTIES[1]} empties and a legal square (random_positions, seed "
                     f"{args.seed}); the numba and the pure-Python search chose the same moves.",
                 "", *engine_header, *erows]
    text = "\n".join(text)
    if args.record:
        record(text)
        print(f"appended to {RESULTS}")


if __name__ == "__main__":
    main()
