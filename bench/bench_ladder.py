"""Benchmark: the strength ladder of a checkpoint (default: the shipped model).

    python -m bench.bench_ladder --search.sims 200 [--checkpoint PATH] [--games 200] [--record]

Table 1: the checkpoint (MCTS with --search.sims, no root noise) against random, greedy and
alpha-beta at depth 2 and 4 (positional + mobility evaluation, exact endgame in the
last 8 empties), `--games` games each, colours alternating, every pair of games from
a different random opening of --rules.opening-plies plies. Score = (wins + draws/2) / games
with a 95% interval.
Table 2 (unless --no-round-robin): round robin of all players plus the raw policy,
maximum-likelihood Elo anchored at random = 0.
The recorded results use `--search.sims 200` (the command above).
"""
import datetime
import sys
import time
from dataclasses import dataclass
from typing import Annotated

import tyro

import config
from alphazero.agents import make_player
from alphazero.checkpoint import CheckpointError, file_sha256, load_checkpoint, resolve_checkpoint
from bench.common import machine, record
from othello.arena import format_ladder, ladder, play_match

BASELINES = ("random", "greedy", "alphabeta:2", "alphabeta:4")


@dataclass(frozen=True)
class LadderArgs:
    games: int = 200             # games per match
    no_round_robin: bool = False  # only the checkpoint's matches (table 1)
    record: bool = False         # append the tables to bench/RESULTS.md
    cfg: Annotated[config.Config, tyro.conf.arg(name="")] = config.Config()


def main(argv=None):
    args = config.parse(LadderArgs, argv, __doc__)
    cfg = args.cfg
    device, seed, plies = config.resolve_device(cfg.device), cfg.seed, cfg.rules.opening_plies
    path = resolve_checkpoint(cfg.checkpoint)
    try:
        ck = load_checkpoint(path)
        model = make_player(str(path), device, seed=seed, search=cfg.search)
    except (CheckpointError, ValueError) as e:
        sys.exit(f"error: {e}")

    rows, played = [], {}
    for i, spec in enumerate(BASELINES):
        t0 = time.perf_counter()
        r = play_match(model, make_player(spec, seed=seed + i), args.games, opening_plies=plies, seed=seed + i)
        played[(model.name, spec)] = r
        rows.append(f"| {r.b_name} | {r.n_games} | +{r.wins} ={r.draws} -{r.losses} | {r.score:.3f} "
                    f"[{r.score_low:.3f}, {r.score_high:.3f}] | {r.elo:+.0f} | {time.perf_counter() - t0:.0f} |")
        print(rows[-1], flush=True)

    cmd = "python -m bench.bench_ladder " + " ".join(sys.argv[1:] if argv is None else argv)
    text = [f"### Strength ladder of {path.name} ({datetime.date.today()})",
            f"Machine: {machine()}. Command: `{cmd.strip()}`. Checkpoint: iteration {ck.get('iteration')}, "
            f"{ck.get('elapsed_s', 0) / 60:.1f} min of training, sha256 {file_sha256(path)[:12]}.", "",
            f"{model.name} (no root noise, most-visited move) against each opponent:", "",
            "| opponent | games | W/D/L | score [95% CI] | Elo diff | wall s |", "|---|---|---|---|---|---|", *rows, ""]
    if not args.no_round_robin:
        players = {spec: make_player(spec, seed=seed) for spec in BASELINES}
        players["policy"] = make_player(f"policy:{path}", device, seed=seed)
        players[model.name] = model
        lad = ladder(players, args.games, opening_plies=plies, seed=seed + 100, played=played)  # table 1 reused
        text += [f"Round robin, {args.games} games per pair, maximum-likelihood Elo (random = 0):", "",
                 format_ladder(lad), ""]
    text = "\n".join(text)
    print(text)
    if args.record:
        record(text)


if __name__ == "__main__":
    main()
