"""Benchmark: the strength ladder of a checkpoint (default: the shipped model).

    python -m bench.bench_ladder [--checkpoint PATH] [--games 200] [--sims 200] [--record]

Table 1: the checkpoint (MCTS with --sims, no root noise) against random, greedy and
alpha-beta at depth 2 and 4 (positional + mobility evaluation, exact endgame in the
last 8 empties), `--games` games each, colours alternating, every pair of games from
a different random 4-ply opening. Score = (wins + draws/2) / games with a 95% interval.
Table 2 (unless --no-round-robin): round robin of all players plus the raw policy,
maximum-likelihood Elo anchored at random = 0.
"""
import argparse
import datetime
import time
from pathlib import Path

from alphazero.agents import make_player
from alphazero.arena import format_ladder, ladder, play_match
from alphazero.checkpoint import SHIPPED, file_sha256, load_checkpoint
from bench.common import machine, record

BASELINES = ("random", "greedy", "alphabeta:2", "alphabeta:4")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--checkpoint", default=str(SHIPPED), help="checkpoint to rate (default: %(default)s)")
    ap.add_argument("--games", type=int, default=200, help="games per match (default: %(default)s)")
    ap.add_argument("--sims", type=int, default=200, help="MCTS simulations per move (default: %(default)s)")
    ap.add_argument("--seed", type=int, default=0, help="openings and tie-breaks (default: %(default)s)")
    ap.add_argument("--no-round-robin", action="store_true", help="only the checkpoint's matches (table 1)")
    ap.add_argument("--device", default="cpu", help="torch device (default: %(default)s)")
    ap.add_argument("--record", action="store_true", help="append the tables to bench/RESULTS.md")
    args = ap.parse_args(argv)
    ck = load_checkpoint(args.checkpoint)
    model = make_player(args.checkpoint, args.device, sims=args.sims, seed=args.seed)

    rows, played = [], {}
    for i, spec in enumerate(BASELINES):
        t0 = time.perf_counter()
        r = play_match(model, make_player(spec, seed=args.seed + i), args.games, seed=args.seed + i)
        played[(model.name, spec)] = r
        rows.append(f"| {r.b_name} | {r.n_games} | +{r.wins} ={r.draws} -{r.losses} | {r.score:.3f} "
                    f"[{r.score_low:.3f}, {r.score_high:.3f}] | {r.elo:+.0f} | {time.perf_counter() - t0:.0f} |")
        print(rows[-1], flush=True)

    name = Path(args.checkpoint).name
    cmd = "python -m bench.bench_ladder " + " ".join(argv if argv is not None else __import__("sys").argv[1:])
    text = [f"### Strength ladder of {name} ({datetime.date.today()})",
            f"Machine: {machine()}. Command: `{cmd.strip()}`. Checkpoint: iteration {ck.get('iteration')}, "
            f"{ck.get('elapsed_s', 0) / 60:.1f} min of training, sha256 {file_sha256(args.checkpoint)[:12]}.", "",
            f"{model.name} (no root noise, most-visited move) against each opponent:", "",
            "| opponent | games | W/D/L | score [95% CI] | Elo diff | wall s |", "|---|---|---|---|---|---|", *rows, ""]
    if not args.no_round_robin:
        players = {"random": make_player("random", seed=args.seed), "greedy": make_player("greedy", seed=args.seed),
                   "alphabeta:2": make_player("alphabeta:2", seed=args.seed),
                   "alphabeta:4": make_player("alphabeta:4", seed=args.seed),
                   "policy": make_player(f"policy:{args.checkpoint}", args.device, seed=args.seed),
                   model.name: model}
        lad = ladder(players, args.games, seed=args.seed + 100, played=played)  # table 1's matches reused
        text += [f"Round robin, {args.games} games per pair, maximum-likelihood Elo (random = 0):", "",
                 format_ladder(lad), ""]
    text = "\n".join(text)
    print(text)
    if args.record:
        record(text)


if __name__ == "__main__":
    main()
