"""Benchmark: lockstep SAE sweep vs a plain one-SAE-at-a-time loop, and each architecture's FVU-L0 frontier.

    python -m bench.bench_sae [--real-store --collect.out runs/acts] [--site resid.2] [--record]

Table 1: training samples/s per SAE (a sweep of --n-saes relu SAEs) at 1024 and
4096 features, and achieved GFLOP/s (10 B d F matmul FLOPs per SAE step) as a
fraction of this machine's fp32 matmul peak, measured in the same run (2048^3
matmul). Rows: the reference loop (the prior project's recipe: each SAE loads and
converts its own copy of the data, samples random rows every step, fp32 autograd,
trained one after another), our lockstep trainer in fp32, and in bf16 (the default where the hardware has native bf16: `--sae.precision auto`).
Table 2: FVU and L0 on held-out games for every architecture at three sparsities
(a short `archs` sweep). Without --real-store a random-network store is generated (the
table says so). Batch size of table 1: --sae.batch-size. `--record` appends the tables to
bench/RESULTS.md.
"""
import dataclasses
import datetime
import os
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
from alphazero.network import AlphaZeroNet, parse_sites
from bench.common import machine, record
from sae.activations import ActivationStore
from sae.archs import SAEConfig
from sae.config import EVAL_SPLIT
from sae.export import fold
from sae.metrics import evaluate
from sae.sweeps import sweep_configs
from sae.train import Sweep
from tests.synthetic import make_random_store

FRONTIER_BATCH, FRONTIER_DEAD_TOKENS, FRONTIER_EVAL_ROWS = 2048, 400_000, 20_000  # table 2's short-run protocol


@dataclass(frozen=True)
class BenchSAEArgs:
    real_store: bool = False     # use the activation store at --collect.out (default: generate a random-network store)
    n_saes: int = 4              # SAEs per sweep in table 1
    steps: int = 20              # timed steps per SAE in table 1
    frontier_features: int = 512  # dictionary size for table 2
    frontier_steps: int = 400    # training steps for table 2
    record: bool = False         # append the results to bench/RESULTS.md
    cfg: Annotated[config.Config, tyro.conf.arg(name="")] = config.Config()


def matmul_peak(dtype=torch.float32, n=2048, reps=5, trials=3):
    """GFLOP/s of an n^3 matmul, best of `trials` (the machine is shared: the best trial is the peak)."""
    a, b = torch.randn(n, n, dtype=dtype), torch.randn(n, n, dtype=dtype)
    a @ b
    best = 0.0
    for _ in range(trials):
        t = time.perf_counter()
        for _ in range(reps):
            a @ b
        best = max(best, 2 * n ** 3 * reps / (time.perf_counter() - t) / 1e9)
    return best


def reference_loop(store, site, cfgs, steps, batch_size, lr=1e-4):  # lr: the prior project's
    """The plain recipe: per SAE, its own float32 copy of the data, random rows each step, fp32 autograd."""
    for cfg in cfgs:
        x_all = torch.from_numpy(np.asarray(store.acts(site, "train"), dtype=np.float32))  # per-SAE load + convert
        scale = cfg.d_in ** 0.5 / x_all.norm(dim=1).mean()
        g = torch.Generator().manual_seed(cfg.seed)
        W_dec = torch.nn.Parameter(torch.nn.functional.normalize(torch.randn(cfg.d_sae, cfg.d_in, generator=g), dim=1) * 0.1)
        W_enc = torch.nn.Parameter(W_dec.detach().t().clone())
        b_enc = torch.nn.Parameter(torch.zeros(cfg.d_sae))
        b_dec = torch.nn.Parameter(torch.zeros(cfg.d_in))
        params = [W_enc, b_enc, W_dec, b_dec]
        opt = torch.optim.Adam(params, lr=lr)
        for step in range(steps):
            x = x_all[torch.randint(0, len(x_all), (batch_size,))] * scale
            f = torch.relu((x - b_dec) @ W_enc + b_enc)
            x_hat = f @ W_dec + b_dec
            loss = (x_hat - x).pow(2).sum(-1).mean() + cfg.l1 * min(1, step / (0.05 * steps)) * (f * W_dec.norm(dim=1)).sum(-1).mean()
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            opt.step()


def lockstep(store, site, cfgs, steps, precision, out, section):
    section = dataclasses.replace(section, out=str(out), steps=steps, precision=precision, ckpt_every=0, stats_rows=20_000)
    Sweep(store, cfgs, section, site, 0, "cpu").run(progress=False)


def main(argv=None):
    args = config.parse(BenchSAEArgs, argv, __doc__)
    cfg = args.cfg
    torch.manual_seed(cfg.seed)
    tmp = Path(tempfile.mkdtemp(prefix="bench_sae_"))
    if args.real_store:
        store, source = ActivationStore(cfg.collect.out), f"store {cfg.collect.out}"
    else:
        make_random_store(tmp / "acts", n_games=1500, net_cfg=cfg.net, seed=cfg.seed,
                          sites=parse_sites(cfg.site, AlphaZeroNet(cfg.net).sites))
        store, source = ActivationStore(tmp / "acts"), "random-init network on uniformly random games (synthetic)"
    sites = parse_sites(cfg.site, store.sites)
    if len(sites) != 1:
        sys.exit(f"error: the benchmark trains on one site; --site '{cfg.site}' names {len(sites)}")
    site = sites[0]
    peak32, peak16 = matmul_peak(), matmul_peak(torch.bfloat16)
    print(f"fp32 matmul peak {peak32:.0f} GFLOP/s, bf16 {peak16:.0f} GFLOP/s; data: {source}", flush=True)

    # --- table 1: throughput ---
    rows1, B = [], cfg.sae.batch_size
    for F in (1024, 4096):
        cfgs = [SAEConfig("relu", store.d_model, F, l1=1.0 + i, seed=i) for i in range(args.n_saes)]
        flops = 10 * B * store.d_model * F * args.steps * len(cfgs)
        times = {}
        for name, fn in (("reference loop (fp32, per-SAE data)", lambda: reference_loop(store, site, cfgs, args.steps, B)),
                         ("lockstep fp32", lambda: lockstep(store, site, cfgs, args.steps, "fp32", tmp / "l32", cfg.sae)),
                         ("lockstep bf16", lambda: lockstep(store, site, cfgs, args.steps, "bf16", tmp / "l16", cfg.sae))):
            t = time.perf_counter()
            fn()
            times[name] = time.perf_counter() - t
            gflops = flops / times[name] / 1e9
            rows1.append(f"| {F} | {name} | {args.steps * B * len(cfgs) / times[name]:,.0f} | "
                         f"{gflops:.0f} | {gflops / peak32:.0%} | {times[next(iter(times))] / times[name]:.2f}x |")
            print(rows1[-1], flush=True)

    # --- table 2: FVU-L0 frontier of every architecture on the same activations ---
    rows2 = []
    cfgs = sweep_configs("archs", store.d_model, [args.frontier_features])
    section = dataclasses.replace(cfg.sae, out=str(tmp / "frontier"), steps=args.frontier_steps, batch_size=FRONTIER_BATCH,
                                  ckpt_every=0, dead_tokens=FRONTIER_DEAD_TOKENS)
    members = Sweep(store, cfgs, section, site, cfg.seed, config.resolve_device(cfg.device)).run(progress=False)
    held_out = store.acts(site, EVAL_SPLIT)[:FRONTIER_EVAL_ROWS]
    for m in members:
        m.sae.eval()
        r = evaluate(fold(m.sae), held_out)
        knob = f"k={m.cfg.k}" if m.cfg.arch in ("topk", "batchtopk") else f"λ={m.cfg.l1:g}"
        rows2.append(f"| {m.cfg.arch} | {knob} | {r['l0']:.1f} | {r['fvu']:.4f} | {r['dead_frac']:.1%} |")
        print(rows2[-1], flush=True)

    cmd = "python -m bench.bench_sae " + " ".join(argv if argv is not None else sys.argv[1:])
    text = "\n".join([
        f"### SAE training throughput and frontier ({datetime.date.today()})",
        f"Machine: {machine()}, {os.cpu_count()} cores. Command: `{cmd}`. Data: {source}, d_in {store.d_model}. "
        f"fp32 matmul peak {peak32:.0f} GFLOP/s (bf16 {peak16:.0f}).", "",
        f"Throughput: {args.n_saes} relu SAEs, batch {B}, {args.steps} steps each; samples/s per SAE = "
        "SAEs x steps x batch / wall time (what one SAE would train at); "
        "GFLOP/s counts 10·B·d·F matmul FLOPs per SAE step (bf16 rows can exceed the fp32 peak).", "",
        "| features | trainer | samples/s per SAE | GFLOP/s | of fp32 peak | speed-up vs reference |",
        "|---|---|---|---|---|---|", *rows1, "",
        f"Frontier: `archs` grid at {args.frontier_features} features, {args.frontier_steps} steps x {FRONTIER_BATCH}, "
        f"FVU / L0 on held-out games ({EVAL_SPLIT} split, up to {FRONTIER_EVAL_ROWS:,} rows).", "",
        "| architecture | sparsity | L0 | FVU | dead |", "|---|---|---|---|---|", *rows2, ""])
    print(text)
    if args.record:
        record(text)


if __name__ == "__main__":
    main()
