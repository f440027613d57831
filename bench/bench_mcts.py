"""Benchmark: batched MCTS vs raw network throughput, and batched self-play vs a classic design.

    python -m bench.bench_mcts [--checkpoint PATH] [--search.sims 64] [--record]
    python -m bench.bench_mcts --compare-with /tmp/old_repo   # also time another checkout's search

Table 1: MCTS simulations/s at B = 1, 64, 256 games in lockstep (`--search.sims` each),
beside raw network forward positions/s at the same batch (the ceiling: search can only
add work). With `--compare-with REPO`, the `search` of REPO/alphazero/mcts.py (e.g. a
`git worktree` of an older commit) is timed on the same positions and network, forward,
search and compared search interleaved in rounds (fastest round of each), so that a busy
machine slows all alike.
Table 2: self-play games/min at 32 and 100 simulations, batched (`--selfplay.parallel`
games in lockstep) vs the classic unbatched design (bench/classic_mcts.py: dict tree, one
network call per leaf), same process, same network, same rules.
`--record` appends the tables to bench/RESULTS.md with machine, date and command.
"""
import dataclasses
import datetime
import importlib.util
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import numpy as np
import torch
import tyro

import config
from alphazero.checkpoint import load_network, resolve_checkpoint
from alphazero.inference import NetEvaluator, boards_tensor
from alphazero.mcts import search
from alphazero.network import AlphaZeroNet
from alphazero.selfplay import self_play
from bench.classic_mcts import classic_self_play_game
from bench.common import machine, record
from othello import game
from othello.sampling import random_positions

BATCHES = (1, 64, 256)      # games in lockstep in table 1
SELFPLAY_SIMS = (32, 100)   # simulations per move in table 2


@dataclass(frozen=True)
class BenchArgs:
    classic_games: int = 3       # classic-design games timed per row of table 2
    compare_with: str = ""       # a checkout of the repo (e.g. a git worktree of an older commit) whose search table 1 also times
    selfplay_table: bool = True  # also time table 2 (self-play; most of the run time)
    record: bool = False         # append the results to bench/RESULTS.md
    cfg: Annotated[config.Config, tyro.conf.arg(name="")] = config.Config()


def timed(fn, min_s=2.0):
    """Seconds per call of `fn` (after one warm-up call), averaged over at least `min_s`."""
    fn()
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < min_s:
        fn()
        n += 1
    return (time.perf_counter() - t0) / n


def timed_rounds(fns, rounds=5, min_s=0.4):
    """Seconds per call of each of `fns`, timed in interleaved rounds; the fastest round of each."""
    times = [[timed(f, min_s) for f in fns] for _ in range(rounds)]
    return [min(t) for t in zip(*times)]


def old_search(repo, search_cfg):
    """`search` of REPO/alphazero/mcts.py bound to `search_cfg` (older versions call sims `num_simulations`)."""
    path = Path(repo) / "alphazero" / "mcts.py"
    if not path.is_file():
        sys.exit(f"error: --compare-with {repo}: no {path}")
    spec = importlib.util.spec_from_file_location("compared_mcts", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)  # it imports the rules (othello.game) of this checkout
    names = {f.name for f in dataclasses.fields(mod.SearchConfig)} if hasattr(mod, "SearchConfig") else set()
    if "num_simulations" in names:
        values = {("num_simulations" if k == "sims" else k): v for k, v in dataclasses.asdict(search_cfg).items()}
        cfg = mod.SearchConfig(**{k: v for k, v in values.items() if k in names})
    else:
        cfg = search_cfg
    return lambda me, opp, ev, rng: mod.search(me, opp, ev, cfg, rng, add_noise=True)


def main(argv=None):
    args = config.parse(BenchArgs, argv, __doc__)
    cfg = args.cfg
    sims = cfg.search.sims
    torch.manual_seed(cfg.seed)
    ck = resolve_checkpoint(cfg.checkpoint)
    net = load_network(ck) if ck.exists() else AlphaZeroNet(cfg.net).eval()
    ev = NetEvaluator(net)
    other = old_search(args.compare_with, cfg.search) if args.compare_with else None
    rows1 = []
    for B in BATCHES:
        me, opp = random_positions(B, seed=B, max_plies=12)
        live = ~game.terminal(me, opp)
        me, opp = me[live], opp[live]
        x = boards_tensor(me, opp)
        forward = torch.inference_mode()(lambda: net(x))
        run = lambda: search(me, opp, ev, cfg.search, np.random.default_rng(0), add_noise=True)
        if other is None:
            t_fwd, t_search = timed(forward), timed(run)
            sims_s, fwd_s = len(me) * sims / t_search, len(me) / t_fwd
            rows1.append(f"| {len(me)} | {sims_s:,.0f} | {fwd_s:,.0f} | {sims_s / fwd_s:.0%} |")
        else:
            t_fwd, t_search, t_other = timed_rounds([forward, run, lambda: other(me, opp, ev, np.random.default_rng(0))])
            fwd_s, sims_s, other_s = len(me) / t_fwd, len(me) * sims / t_search, len(me) * sims / t_other
            rows1.append(f"| {len(me)} | {sims_s:,.0f} | {other_s:,.0f} | {fwd_s:,.0f} | {sims_s / fwd_s:.0%} | "
                         f"{other_s / fwd_s:.0%} |")
        print(rows1[-1], flush=True)
    rows2 = []
    for s in SELFPLAY_SIMS if args.selfplay_table else ():
        search_cfg = dataclasses.replace(cfg.search, sims=s)
        rng = np.random.default_rng(1)
        t0 = time.perf_counter()
        self_play(ev, cfg.selfplay, search_cfg, rng, progress=False)
        batched = cfg.selfplay.games / (time.perf_counter() - t0) * 60
        t0 = time.perf_counter()
        for _ in range(args.classic_games):
            classic_self_play_game(ev, search_cfg, cfg.selfplay, rng)
        classic = args.classic_games / (time.perf_counter() - t0) * 60
        rows2.append(f"| {s} | {batched:,.1f} | {classic:,.2f} | {batched / classic:.0f}x |")
        print(rows2[-1], flush=True)
    if other is None:
        head1 = [f"| games B | MCTS sims/s ({sims} sims) | raw forward positions/s | search / raw |", "|---|---|---|---|"]
    else:
        head1 = [f"| games B | MCTS sims/s ({sims} sims) | sims/s of {args.compare_with} | raw forward positions/s "
                 "| search / raw | compared search / raw |", "|---|---|---|---|---|---|"]
    cmd = "python -m bench.bench_mcts " + " ".join(sys.argv[1:] if argv is None else argv)
    text = "\n".join([
        f"### MCTS and self-play throughput ({datetime.date.today()})",
        f"Machine: {machine()}. Command: `{cmd.strip()}`. "
        f"Network: {ck if ck.exists() else 'random init'} ({net.cfg}).", "",
        *head1, *rows1, ""])
    if rows2:
        text += "\n" + "\n".join([
            f"| sims/move | batched self-play games/min ({cfg.selfplay.parallel} in lockstep) | classic unbatched "
            "games/min | speed-up |", "|---|---|---|---|", *rows2, ""])
    print(text)
    if args.record:
        record(text)


if __name__ == "__main__":
    main()
