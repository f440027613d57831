"""Benchmark: batched MCTS vs raw network throughput, and batched self-play vs a classic design.

    python -m bench.bench_mcts [--checkpoint PATH] [--record]

Table 1: MCTS simulations/s at B = 1, 64, 256 games in lockstep, beside raw network
forward positions/s at the same batch (the ceiling: search can only add work).
Table 2: self-play games/min at 32 and 100 simulations, batched (256 games in
lockstep) vs the classic unbatched design (bench/classic_mcts.py: dict tree, one
network call per leaf), same process, same network, same rules.
`--record` appends the tables to bench/RESULTS.md with machine, date and command.
"""
import argparse
import datetime
import time
from pathlib import Path

import numpy as np
import torch

from alphazero.checkpoint import SHIPPED, load_network
from alphazero.inference import NetEvaluator, boards_tensor
from alphazero.mcts import SearchConfig, search
from alphazero.network import AlphaZeroNet
from alphazero.selfplay import SelfPlayConfig, self_play
from bench.classic_mcts import classic_self_play_game
from bench.common import machine, record
from othello import game
from othello.sampling import random_positions


def timed(fn, min_s=2.0):
    fn()  # warm-up
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < min_s:
        fn()
        n += 1
    return (time.perf_counter() - t0) / n


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--checkpoint", default=str(SHIPPED), help="network to use (random init if the file is missing)")
    ap.add_argument("--sims", type=int, default=64, help="simulations per search in table 1")
    ap.add_argument("--classic-games", type=int, default=3, help="classic-design games timed per row of table 2")
    ap.add_argument("--record", action="store_true", help="append the results to bench/RESULTS.md")
    args = ap.parse_args()
    torch.manual_seed(0)
    net = load_network(args.checkpoint) if Path(args.checkpoint).exists() else AlphaZeroNet().eval()
    ev = NetEvaluator(net)
    rows1 = []
    for B in (1, 64, 256):
        me, opp = random_positions(B, seed=B, max_plies=12)
        live = ~game.terminal(me, opp)
        me, opp = me[live], opp[live]
        x = boards_tensor(me, opp)
        with torch.inference_mode():
            t_fwd = timed(lambda: net(x))
        rng = np.random.default_rng(0)
        t_search = timed(lambda: search(me, opp, ev, SearchConfig(num_simulations=args.sims), rng, add_noise=True))
        sims_s, fwd_s = len(me) * args.sims / t_search, len(me) / t_fwd
        rows1.append(f"| {len(me)} | {sims_s:,.0f} | {fwd_s:,.0f} | {sims_s / fwd_s:.0%} |")
        print(rows1[-1], flush=True)
    rows2 = []
    for sims in (32, 100):
        rng = np.random.default_rng(1)
        t0 = time.perf_counter()
        self_play(ev, SelfPlayConfig(games=256, parallel=256), SearchConfig(num_simulations=sims), rng, progress=False)
        batched = 256 / (time.perf_counter() - t0) * 60
        t0 = time.perf_counter()
        for _ in range(args.classic_games):
            classic_self_play_game(ev, sims, rng)
        classic = args.classic_games / (time.perf_counter() - t0) * 60
        rows2.append(f"| {sims} | {batched:,.1f} | {classic:,.2f} | {batched / classic:.0f}x |")
        print(rows2[-1], flush=True)
    text = "\n".join([
        f"### MCTS and self-play throughput ({datetime.date.today()})",
        f"Machine: {machine()}. Command: `python -m bench.bench_mcts{' --record' if args.record else ''}`. "
        f"Network: {args.checkpoint if Path(args.checkpoint).exists() else 'random init'} ({net.cfg}).", "",
        f"| games B | MCTS sims/s ({args.sims} sims) | raw forward positions/s | search / raw |", "|---|---|---|---|",
        *rows1, "",
        "| sims/move | batched self-play games/min (256 in lockstep) | classic unbatched games/min | speed-up |",
        "|---|---|---|---|", *rows2, ""])
    print(text)
    if args.record:
        record(text)


if __name__ == "__main__":
    main()
