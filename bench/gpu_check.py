"""GPU check: every stage on CUDA, with its throughput. For a machine WITH a CUDA GPU.

    python -m bench.gpu_check                    # about 10 minutes on one GPU; prints a table
    python -m bench.gpu_check --record           # ... and appends it to bench/RESULTS.md
    python -m bench.gpu_check --quick            # smaller sizes: a smoke test of the GPU path (2-3 min)

NOT RUN on this project's machines: the development machine and CI have no GPU, so this script
has never been run by them. What a CPU can check of the same code runs in the test suite
(tests/test_device.py: `--device auto` resolves to cpu, `--device cuda` without CUDA is a
one-line error in every entry point, pinned-memory batches only for CUDA, bf16 autocast only
on CUDA). Whoever runs this on a GPU: record the table (`--record`) and commit bench/RESULTS.md.

Checks, each stage as its user runs it with `--device cuda` (in a temporary folder; the shipped model):
  1. `--device auto` resolves to cuda; self-play throughput in this process: positions/s of batched
     Gumbel search (`--selfplay.games` games in lockstep at `--selfplay.sims`), bf16 autocast (the
     NetEvaluator default on CUDA) against fp32
  2. `python train_alphazero.py --device cuda` (one small iteration)
  3. `python -m sae.collect --device cuda`: positions/s as it prints them
  4. SAE training throughput in this process (samples/s = steps x batch / time; pinned-memory batches):
     one relu SAE and a lockstep sweep of 8, fp32 and bf16, on the store of check 3
  5. `python train_sae.py --device cuda` (a short `small` sweep, splice metrics on)
  6. `python vis/generate_vis_data.py --device cuda`
  7. `python othello/play.py --device cuda --games N --opponent greedy`
  8. `python pipeline.py --device cuda` (small sizes)
It stops at the first failing stage with its command and the last lines of its error output.
"""
import dataclasses
import datetime
import os
import re
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import numpy as np
import torch
import tyro

import config
from bench.common import machine, record

REPO = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class GPUCheckArgs:
    quick: bool = False          # smaller sizes: checks that every stage runs, throughput only roughly
    record: bool = False         # append the table to bench/RESULTS.md
    sae_steps: int = 500         # steps of each SAE throughput run (check 4)
    positions: int = 200_000     # positions collected in check 3 (the store checks 4-6 use)
    cfg: Annotated[config.Config, tyro.conf.arg(name="")] = config.Config()


def run(title, args, rows):
    """Run one stage's command line with --device cuda; returns (stdout, seconds); exits on failure."""
    cmd = [sys.executable, *args, "--device", "cuda"]
    print(f"--- {title}: {' '.join(cmd[1:])}", flush=True)
    t = time.perf_counter()
    r = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, env={"TQDM_DISABLE": "1", **os.environ})
    seconds = time.perf_counter() - t
    if r.returncode:
        tail = "\n".join((r.stderr or r.stdout).strip().splitlines()[-15:])
        sys.exit(f"error: GPU check '{title}' failed (exit {r.returncode}): {' '.join(cmd[1:])}\n{tail}")
    rows.append((title, f"ok in {seconds:.0f} s", ""))
    return r.stdout, seconds


def selfplay_rate(cfg, precision):
    """Positions/s of self-play on CUDA with the shipped network (one warm-up game batch first)."""
    from alphazero.checkpoint import load_network, resolve_checkpoint
    from alphazero.inference import NetEvaluator
    from alphazero.selfplay import self_play
    net = load_network(resolve_checkpoint(cfg.checkpoint), "cuda")
    evaluate = NetEvaluator(net, "cuda", precision=precision)
    self_play(evaluate, dataclasses.replace(cfg.selfplay, games=8, parallel=8), cfg.search,
              np.random.default_rng(0), progress=False)  # CUDA context, kernels, allocator: not timed
    torch.cuda.synchronize()
    t = time.perf_counter()
    data = self_play(evaluate, cfg.selfplay, cfg.search, np.random.default_rng(cfg.seed), progress=False)
    seconds = time.perf_counter() - t
    return len(data["z"]) / seconds, len(data["lengths"]) / seconds


def sae_rate(store_path, site, n_saes, precision, steps, cfg, out):
    """Samples/s (steps x batch / s) of a lockstep sweep of `n_saes` relu SAEs of 2048 features on CUDA."""
    from sae.activations import ActivationStore
    from sae.archs import SAEConfig
    from sae.train import Sweep
    store = ActivationStore(store_path)
    cfgs = [SAEConfig("relu", store.d_model, 2048, l1=1.0 + i, seed=i) for i in range(n_saes)]
    section = dataclasses.replace(cfg.sae, out=str(out), steps=steps, precision=precision, ckpt_every=0)
    Sweep(store, cfgs, dataclasses.replace(section, steps=20), site, cfg.seed, "cuda").run(progress=False)  # warm-up
    torch.cuda.synchronize()
    t = time.perf_counter()
    Sweep(store, cfgs, section, site, cfg.seed, "cuda").run(progress=False)
    torch.cuda.synchronize()
    return steps * section.batch_size / (time.perf_counter() - t)


def main(argv=None):
    args = config.parse(GPUCheckArgs, argv, __doc__)
    cfg = args.cfg
    if not torch.cuda.is_available():
        sys.exit("error: bench/gpu_check.py needs a CUDA GPU (torch.cuda.is_available() is False here); "
                 "on a CPU machine run the tests instead: python -m pytest -q tests/test_device.py")
    if config.resolve_device("auto") != "cuda":
        sys.exit("error: --device auto did not resolve to cuda on a machine with CUDA")
    positions = 20_000 if args.quick else args.positions
    steps = 100 if args.quick else args.sae_steps
    gpu = torch.cuda.get_device_name(0)
    rows = [("device auto", "resolves to cuda", gpu)]
    tmp = Path(tempfile.mkdtemp(prefix="gpu_check_"))
    acts, sae_out = tmp / "acts", tmp / "sae"

    # 1. self-play throughput, bf16 autocast vs fp32
    sp = cfg.selfplay if not args.quick else dataclasses.replace(cfg.selfplay, games=64, parallel=64)
    cfg_sp = dataclasses.replace(cfg, selfplay=sp)
    for precision in ("auto", "fp32"):
        pos_s, games_s = selfplay_rate(cfg_sp, precision)
        name = "bf16 autocast" if precision == "auto" else "fp32"
        rows.append((f"self-play, {sp.games} games x {sp.sims} sims ({cfg.search.algorithm}), {name}",
                     f"{pos_s:,.0f} positions/s", f"{games_s:.2f} games/s"))
        print(rows[-1], flush=True)

    # 2. AlphaZero training, one iteration
    run("train_alphazero.py, 1 iteration", ["train_alphazero.py", "--train.iterations", "1", "--train.out",
                                            str(tmp / "az"), "--selfplay.games", "64", "--train.eval-games", "4"], rows)

    # 3. activation collection
    out, _ = run(f"sae.collect, {positions:,} positions", ["-m", "sae.collect", "--collect.positions", str(positions),
                                                           "--collect.out", str(acts), "--site", cfg.site], rows)
    m = re.search(r"\(([\d,]+) positions/s\)", out)
    rows[-1] = (rows[-1][0], rows[-1][1], f"{m.group(1)} positions/s" if m else "rate not printed")

    # 4. SAE training throughput (pinned-memory batches, lockstep)
    from sae.activations import ActivationStore
    site = ActivationStore(acts).sites[0]
    for n_saes in (1, 8):
        for precision in ("fp32", "bf16"):
            rate = sae_rate(acts, site, n_saes, precision, steps, cfg, tmp / f"sae_{n_saes}_{precision}")
            rows.append((f"SAE training, {n_saes} x relu 2048, batch {cfg.sae.batch_size}, {precision}",
                         f"{rate:,.0f} samples/s", f"{rate * n_saes:,.0f} SAE-samples/s"))
            print(rows[-1], flush=True)

    # 5-8. the remaining entry points
    run("train_sae.py, small sweep", ["train_sae.py", "--sae.sweep", "small", "--sae.steps", str(steps),
                                      "--collect.out", str(acts), "--sae.out", str(sae_out), "--site", site,
                                      "--sae.match-games", "4"], rows)
    run("vis/generate_vis_data.py", ["vis/generate_vis_data.py", "--sae.out", str(sae_out), "--collect.out", str(acts),
                                     "--vis.out", str(tmp / "vis")], rows)
    run("othello/play.py, 20 games vs greedy", ["othello/play.py", "--games", "20", "--opponent", "greedy"], rows)
    run("pipeline.py, small", ["pipeline.py", "--games", "4", "--collect.positions", "20000", "--sae.steps", "100",
                               "--sae.match-games", "4", "--collect.out", str(tmp / "p_acts"), "--sae.out",
                               str(tmp / "p_sae"), "--vis.out", str(tmp / "p_vis")], rows)

    table = ["| check | result | throughput |", "|---|---|---|"] + [f"| {a} | {b} | {c} |" for a, b, c in rows]
    text = (f"### GPU check ({datetime.date.today()})\nMachine: {gpu}; {machine()}. Command: "
            f"`python -m bench.gpu_check {' '.join(argv if argv is not None else sys.argv[1:])}`. Shipped model, "
            f"site {site}; every stage run with --device cuda.\n\n" + "\n".join(table))
    print(text)
    print(f"(work files in {tmp})")
    if args.record:
        record(text)


if __name__ == "__main__":
    main()
