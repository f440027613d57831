"""Benchmark: strength after 5, 10 and 15 minutes of the default training run.

    python train_alphazero.py --out runs/default_run       # the default run, on a quiet machine
    python -m bench.bench_training --run runs/default_run [--games 200] [--record]

For each time budget, the last checkpoint of the run (`iter_NNN.pt`, whose
`elapsed_s` is the run's wall time at that point: self-play, training and the
per-iteration evaluation) saved within the budget plays `--games` games against
greedy, as the raw policy (argmax over legal moves) and with MCTS (--sims).
"""
import argparse
import datetime
from pathlib import Path

from alphazero.agents import make_player
from alphazero.arena import play_match
from alphazero.checkpoint import load_checkpoint
from bench.common import machine, record


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--run", default="runs/default_run", help="run directory of train_alphazero.py (default: %(default)s)")
    ap.add_argument("--minutes", type=float, nargs="+", default=[5, 10, 15], help="time budgets (default: %(default)s)")
    ap.add_argument("--games", type=int, default=200, help="games per match (default: %(default)s)")
    ap.add_argument("--sims", type=int, default=64, help="MCTS simulations per move (default: %(default)s)")
    ap.add_argument("--opponent", default="greedy", help="opponent spec (default: %(default)s)")
    ap.add_argument("--record", action="store_true", help="append the table to bench/RESULTS.md")
    args = ap.parse_args(argv)
    ckpts = sorted(Path(args.run).glob("iter_*.pt"))
    if not ckpts:
        raise SystemExit(f"error: no iter_*.pt checkpoints in {args.run}; run python train_alphazero.py --out {args.run}")
    elapsed = {p: load_checkpoint(p)["elapsed_s"] for p in ckpts}

    rows = []
    for minutes in args.minutes:
        within = [p for p in ckpts if elapsed[p] <= minutes * 60]
        if not within:
            rows.append(f"| {minutes:g} | none yet | | | |")
            continue
        p = within[-1]
        cells = []
        for spec in (f"policy:{p}", f"mcts:{p}"):
            r = play_match(make_player(spec, sims=args.sims), make_player(args.opponent, seed=1), args.games, seed=1)
            cells.append(f"{r.score:.3f} [{r.score_low:.3f}, {r.score_high:.3f}] (+{r.wins} ={r.draws} -{r.losses})")
        it = load_checkpoint(p)["iteration"]
        rows.append(f"| {minutes:g} | {p.name} (iteration {it}, {elapsed[p] / 60:.1f} min) | {cells[0]} | {cells[1]} |")
        print(rows[-1], flush=True)

    cfg = load_checkpoint(ckpts[-1])["train_config"]
    text = "\n".join([
        f"### Training from scratch: score vs {args.opponent} after 5 / 10 / 15 minutes ({datetime.date.today()})",
        f"Machine: {machine()}. Run: `python train_alphazero.py --out {args.run}` (defaults: {cfg['iterations']} iterations x "
        f"{cfg['games_per_iter']} games, {cfg['sims']} sims, {cfg['steps_per_iter']} steps x {cfg['batch_size']}), "
        f"{len(ckpts)} iterations in {elapsed[ckpts[-1]] / 60:.1f} min. "
        f"Command: `python -m bench.bench_training --run {args.run} --games {args.games}`. {args.games} games per cell, "
        "colours alternating, varied 4-ply openings; score with 95% interval.", "",
        f"| minutes | checkpoint | raw policy vs {args.opponent} | MCTS {args.sims} sims vs {args.opponent} |",
        "|---|---|---|---|", *rows])
    print(text)
    if args.record:
        record(text)


if __name__ == "__main__":
    main()
