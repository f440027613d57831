"""Benchmark: strength after 5, 10 and 15 minutes of the default training run.

    python train_alphazero.py --train.out runs/default_run     # the default run, on a quiet machine
    python -m bench.bench_training --run runs/default_run [--games 200] [--record]

For each time budget, the last checkpoint of the run (`iter_NNN.pt`, whose
`elapsed_s` is the run's wall time at that point: self-play, training and the
per-iteration evaluation) saved within the budget plays `--games` games against
`--opponent`, as the raw policy (argmax over legal moves) and with MCTS (--search.sims).
"""
import datetime
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import tyro

import config
from alphazero.agents import make_player
from alphazero.checkpoint import CheckpointError, load_checkpoint
from bench.common import machine, record
from othello.arena import play_match


@dataclass(frozen=True)
class TrainingBenchArgs:
    run: str = "runs/default_run"  # run folder of train_alphazero.py (its iter_NNN.pt checkpoints)
    minutes: tuple[float, ...] = (5.0, 10.0, 15.0)  # time budgets
    games: int = 200               # games per match
    opponent: str = "greedy"       # opponent player spec
    record: bool = False           # append the table to bench/RESULTS.md
    cfg: Annotated[config.Config, tyro.conf.arg(name="")] = config.Config()


def run_summary(ck, path):
    """The run's settings as recorded in its checkpoint's config tree (format 2 checkpoints only)."""
    c = ck.get("config")
    if not isinstance(c, dict):
        sys.exit(f"error: {path} records no run config (format {ck['format']}): rerun train_alphazero.py")
    s, sp = c["search"], c["selfplay"]
    options = [f"{s.get('algorithm', 'puct')} {sp.get('sims', s['sims'])} sims"]  # older runs: search.sims
    if sp.get("full_fraction", 1.0) < 1:
        options.append(f"playout cap {sp['full_fraction']:g} full / {sp['cheap_sims']} cheap sims")
    if c["net"].get("aux_heads"):
        options.append("ownership + score heads")
    if sp.get("solver_empties", 0):
        options.append(f"exact targets <= {sp['solver_empties']} empties")
    return (f"{c['train']['iterations']} iterations x {sp['games']} games, {', '.join(options)}, "
            f"{c['train']['steps_per_iter']} steps x {c['train']['batch_size']}")


def main(argv=None):
    args = config.parse(TrainingBenchArgs, argv, __doc__)
    cfg = args.cfg
    plies, sims = cfg.rules.opening_plies, cfg.search.sims
    ckpts = sorted(Path(args.run).glob("iter_*.pt"))
    if not ckpts:
        sys.exit(f"error: no iter_*.pt checkpoints in {args.run}; run python train_alphazero.py --train.out {args.run}")
    try:
        cks = {p: load_checkpoint(p) for p in ckpts}
    except CheckpointError as e:
        sys.exit(f"error: {e}")
    elapsed = {p: ck["elapsed_s"] for p, ck in cks.items()}

    rows = []
    for minutes in args.minutes:
        within = [p for p in ckpts if elapsed[p] <= minutes * 60]
        if not within:
            rows.append(f"| {minutes:g} | none yet | | |")
            continue
        p = within[-1]
        cells = []
        for spec in (f"policy:{p}", f"mcts:{p}"):
            r = play_match(make_player(spec, search=cfg.search), make_player(args.opponent, seed=1), args.games,
                           opening_plies=plies, seed=1)
            cells.append(f"{r.score:.3f} [{r.score_low:.3f}, {r.score_high:.3f}] (+{r.wins} ={r.draws} -{r.losses})")
        rows.append(f"| {minutes:g} | {p.name} (iteration {cks[p]['iteration']}, {elapsed[p] / 60:.1f} min) | "
                    f"{cells[0]} | {cells[1]} |")
        print(rows[-1], flush=True)

    cmd = "python -m bench.bench_training " + " ".join(sys.argv[1:] if argv is None else argv)
    text = "\n".join([
        f"### Training from scratch: score vs {args.opponent} after "
        f"{' / '.join(f'{m:g}' for m in args.minutes)} minutes ({datetime.date.today()})",
        f"Machine: {machine()}. Run: `python train_alphazero.py --train.out {args.run}` "
        f"({run_summary(cks[ckpts[-1]], ckpts[-1])}), {len(ckpts)} iterations in {elapsed[ckpts[-1]] / 60:.1f} min. "
        f"Command: `{cmd.strip()}`. {args.games} games per cell, colours alternating, varied {plies}-ply openings; "
        "score with 95% interval.", "",
        f"| minutes | checkpoint | raw policy vs {args.opponent} | MCTS {sims} sims vs {args.opponent} |",
        "|---|---|---|---|", *rows])
    print(text)
    if args.record:
        record(text)


if __name__ == "__main__":
    main()
