"""Benchmark: lockstep SAE sweep vs a plain one-SAE-at-a-time loop, and each architecture's FVU-L0 frontier.

    python -m bench.bench_sae [--acts runs/acts] [--record]

Table 1: training samples/s per SAE (a sweep of --n-saes relu SAEs) at 1024 and
4096 features, and achieved GFLOP/s (10 B d F matmul FLOPs per SAE step) as a
fraction of this machine's fp32 matmul peak, measured in the same run (2048^3
matmul). Rows: the reference loop (the prior project's recipe: each SAE loads and
converts its own copy of the data, samples random rows every step, fp32 autograd,
trained one after another), our lockstep trainer in fp32, and in bf16 (the default where the hardware has native bf16: `--precision auto`).
Table 2: FVU and L0 on held-out games for every architecture at three sparsities
(a short `archs` sweep). Without --acts a random-network store is generated (the
table says so). `--record` appends the tables to bench/RESULTS.md.
"""
import argparse
import datetime
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from bench.common import machine, record
from sae.activations import ActivationStore
from sae.archs import SAEConfig
from sae.export import fold
from sae.metrics import evaluate
from sae.sweeps import sweep_configs
from sae.synthetic import make_random_store
from sae.train import Sweep, TrainConfig


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


def reference_loop(store, site, cfgs, steps, batch_size, lr=1e-4):
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


def lockstep(store, site, cfgs, steps, batch_size, precision, out):
    Sweep(store, cfgs, TrainConfig(site=site, steps=steps, batch_size=batch_size, precision=precision, ckpt_every=0,
                                   stats_rows=20_000), out).run(progress=False)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--acts", default=None, help="activation store (default: generate a random-network store)")
    ap.add_argument("--site", default="resid.2", help="activation site")
    ap.add_argument("--n-saes", type=int, default=4, help="SAEs per sweep in table 1")
    ap.add_argument("--steps", type=int, default=20, help="timed steps per SAE in table 1")
    ap.add_argument("--batch-size", type=int, default=4096, help="batch size in table 1")
    ap.add_argument("--frontier-features", type=int, default=512, help="dictionary size for table 2")
    ap.add_argument("--frontier-steps", type=int, default=400, help="training steps for table 2")
    ap.add_argument("--record", action="store_true", help="append the results to bench/RESULTS.md")
    args = ap.parse_args()
    torch.manual_seed(0)
    tmp = Path(tempfile.mkdtemp(prefix="bench_sae_"))
    if args.acts:
        store, source = ActivationStore(args.acts), f"store {args.acts}"
    else:
        make_random_store(tmp / "acts", n_games=1500, seed=0, sites=[args.site])
        store, source = ActivationStore(tmp / "acts"), "random-init network on uniformly random games (synthetic)"
    peak32, peak16 = matmul_peak(), matmul_peak(torch.bfloat16)
    print(f"fp32 matmul peak {peak32:.0f} GFLOP/s, bf16 {peak16:.0f} GFLOP/s; data: {source}", flush=True)

    # --- table 1: throughput ---
    rows1, B = [], args.batch_size
    for F in (1024, 4096):
        cfgs = [SAEConfig("relu", store.d_model, F, l1=1.0 + i, seed=i) for i in range(args.n_saes)]
        flops = 10 * B * store.d_model * F * args.steps * len(cfgs)
        times = {}
        for name, fn in (("reference loop (fp32, per-SAE data)", lambda: reference_loop(store, args.site, cfgs, args.steps, B)),
                         ("lockstep fp32", lambda: lockstep(store, args.site, cfgs, args.steps, B, "fp32", tmp / "l32")),
                         ("lockstep bf16", lambda: lockstep(store, args.site, cfgs, args.steps, B, "bf16", tmp / "l16"))):
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
    members = Sweep(store, cfgs, TrainConfig(site=args.site, steps=args.frontier_steps, batch_size=2048, ckpt_every=0,
                                             dead_tokens=400_000), tmp / "frontier").run(progress=False)
    held_out = store.acts(args.site, "val")[:20_000]
    for m in members:
        m.sae.eval()
        r = evaluate(fold(m.sae), held_out)
        knob = f"k={m.cfg.k}" if m.cfg.arch in ("topk", "batchtopk") else f"λ={m.cfg.l1:g}"
        rows2.append(f"| {m.cfg.arch} | {knob} | {r['l0']:.1f} | {r['fvu']:.4f} | {r['dead_frac']:.1%} |")
        print(rows2[-1], flush=True)

    cmd = "python -m bench.bench_sae" + (f" --acts {args.acts}" if args.acts else "") + (" --record" if args.record else "")
    text = "\n".join([
        f"### SAE training throughput and frontier ({datetime.date.today()})",
        f"Machine: {machine()}, {os.cpu_count()} cores. Command: `{cmd}`. Data: {source}, d_in {store.d_model}. "
        f"fp32 matmul peak {peak32:.0f} GFLOP/s (bf16 {peak16:.0f}).", "",
        f"Throughput: {args.n_saes} relu SAEs, batch {B}, {args.steps} steps each; samples/s per SAE = "
        "SAEs x steps x batch / wall time (what one SAE would train at); "
        "GFLOP/s counts 10·B·d·F matmul FLOPs per SAE step (bf16 rows can exceed the fp32 peak).", "",
        "| features | trainer | samples/s per SAE | GFLOP/s | of fp32 peak | speed-up vs reference |",
        "|---|---|---|---|---|---|", *rows1, "",
        f"Frontier: `archs` grid at {args.frontier_features} features, {args.frontier_steps} steps x 2048, "
        "FVU / L0 on held-out games (val split, up to 20k rows).", "",
        "| architecture | sparsity | L0 | FVU | dead |", "|---|---|---|---|---|", *rows2, ""])
    print(text)
    if args.record:
        record(text)


if __name__ == "__main__":
    main()
