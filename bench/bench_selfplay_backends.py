"""Benchmark: self-play games/s of the local and the Ray backend on this machine, in one run.

    python -m bench.bench_selfplay_backends [--games 64] [--rounds 3] [--actors 2] [--cores 2] [--record]

Same network (`--checkpoint`, default the shipped model), same self-play settings (`--selfplay.*`,
`--search.*`), same total cores: the local backend runs one process with `--cores` torch threads;
the Ray backend runs `--actors` actors with `--cores / --actors` CPUs (and torch threads) each on
a local instance of `--cores` CPUs, the driver only sending weights and concatenating games
(as `--train.backend ray` does each iteration, weights put into the object store included).
The backends alternate round by round (local, ray, local, ray, ...) so that a busy machine slows
both alike; each round plays `--games` games with the round's seed. Startup (Ray instance and
actors) is timed apart: a training run pays it once. The learner row times gradient steps of
`--train.batch-size` on random positions, the rate a single learner consumes positions at.
`--record` appends the table to bench/RESULTS.md with machine, date and command.
"""
import dataclasses
import datetime
import os
import statistics
import sys
import time
from dataclasses import dataclass
from typing import Annotated

import numpy as np
import torch
import tyro

import config
from alphazero.checkpoint import load_network, resolve_checkpoint
from alphazero.inference import NetEvaluator
from alphazero.network import AlphaZeroNet
from alphazero.replay import ReplayBuffer
from alphazero.selfplay import self_play
from alphazero.training import losses
from bench.common import machine, record


@dataclass(frozen=True)
class BackendBenchArgs:
    games: int = 64                # self-play games per round and backend
    rounds: int = 3                # rounds; each plays local then ray
    actors: int = 2                # Ray self-play actors
    cores: int = 2                 # total cores of each backend (local: torch threads; ray: CPUs of the instance)
    local_threads: int = 0         # torch threads of local and the learner instead of --cores (1: no OpenMP spin when busy)
    learner_steps: int = 10        # timed gradient steps of the learner row (0 = no learner row)
    record: bool = False           # append the table to bench/RESULTS.md
    cfg: Annotated[config.Config, tyro.conf.arg(name="")] = config.Config()


def summary(name, times, games, positions):
    """One table row: median and best games/s, positions/s over the rounds."""
    med, best = statistics.median(times), min(times)
    return {"name": name, "games_s": games / med, "best_games_s": games / best, "positions_s": positions / med,
            "times": times}


def learner_rate(net, cfg, steps):
    """Gradient steps/s of the learner (train.batch_size, AdamW) on random legal-looking positions."""
    rng = np.random.default_rng(0)
    n = 4 * cfg.train.batch_size
    buf = ReplayBuffer(n)
    boards = rng.integers(-1, 2, (n, 36)).astype(np.int8)
    buf.add(boards, np.full((n, 37), 1 / 37, np.float32), rng.integers(-1, 2, n).astype(np.int8),
            np.zeros((n, 36), np.int8), np.zeros(n, np.int8))
    net = AlphaZeroNet(net.cfg).train()
    opt = torch.optim.AdamW(net.parameters(), lr=1e-4)
    def step():
        parts = losses(net, buf.sample(cfg.train.batch_size, rng), cfg.train, "cpu")
        opt.zero_grad(set_to_none=True)
        parts["total"].backward()
        opt.step()
    step()  # warm-up
    t = time.perf_counter()
    for _ in range(steps):
        step()
    return steps / (time.perf_counter() - t)


def main(argv=None):
    args = config.parse(BackendBenchArgs, argv, __doc__)
    cfg = args.cfg
    from alphazero.ray_backend import RaySelfPlay, require_ray
    require_ray()
    ck = resolve_checkpoint(cfg.checkpoint)
    torch.manual_seed(cfg.seed)
    net = load_network(ck) if ck.exists() else AlphaZeroNet(cfg.net).eval()
    sp = dataclasses.replace(cfg.selfplay, games=args.games)
    train_cfg = dataclasses.replace(cfg.train, backend="ray", ray_actors=args.actors,
                                    ray_actor_cpus=args.cores / args.actors)
    local_threads = args.local_threads or args.cores
    torch.set_num_threads(local_threads)
    t = time.perf_counter()
    pool = RaySelfPlay(net.cfg, sp, cfg.search, train_cfg, cfg.seed)
    startup = time.perf_counter() - t
    times = {"local": [], "ray": []}
    positions = {"local": 0, "ray": 0}
    try:
        for r in range(args.rounds):
            for name in ("local", "ray"):
                rng = np.random.default_rng([cfg.seed, r])
                t = time.perf_counter()
                if name == "local":
                    data = self_play(NetEvaluator(net), sp, cfg.search, rng, progress=False)
                else:
                    data = pool.self_play(net, r, rng)
                times[name].append(time.perf_counter() - t)
                positions[name] += len(data["z"])
                print(f"round {r} {name}: {args.games / times[name][-1]:.2f} games/s "
                      f"({len(data['z'])} positions, {times[name][-1]:.1f} s)", flush=True)
    finally:
        pool.close()
    load = os.getloadavg()[0]
    rows = [summary(f"local (1 process, {local_threads} torch threads)", times["local"], args.games,
                    positions["local"] / args.rounds),
            summary(f"ray ({args.actors} actors x {args.cores / args.actors:g} CPU)", times["ray"], args.games,
                    positions["ray"] / args.rounds)]
    base = rows[0]["games_s"]
    lines = ["| backend | games/s (median) | games/s (best) | recorded positions/s | vs local |",
             "|---|---|---|---|---|"]
    lines += [f"| {r['name']} | {r['games_s']:.2f} | {r['best_games_s']:.2f} | {r['positions_s']:,.0f} | "
              f"{r['games_s'] / base:.0%} |" for r in rows]
    if args.learner_steps:
        rate = learner_rate(net, cfg, args.learner_steps)  # with the local backend's threads
        lines.append(f"| learner ({local_threads} torch threads): {rate:.2f} steps/s x {cfg.train.batch_size} | | | "
                     f"{rate * cfg.train.batch_size:,.0f} positions/s consumed | |")
    table = "\n".join(lines)
    cmd = "python -m bench.bench_selfplay_backends " + " ".join(sys.argv[1:] if argv is None else argv)
    text = "\n".join([
        f"### Self-play backends: local vs Ray ({datetime.date.today()})",
        f"Machine: {machine()}; load average {load:.1f} at the end. Command: `{cmd.strip()}`. "
        f"Network: {ck if ck.exists() else 'random'} ({net.cfg}); {args.games} games per round "
        f"({cfg.search.algorithm}, {sp.sims} sims, {min(sp.parallel, args.games)} in lockstep locally), "
        f"{args.rounds} rounds alternated. Ray startup (local instance + {args.actors} actors): {startup:.1f} s, "
        "paid once per run.",
        "", table])
    print("\n" + text)
    if args.record:
        record(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
