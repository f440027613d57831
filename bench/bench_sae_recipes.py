"""Benchmark: the TopK family's sparse decoder against the dense decode, in one process, alternated.

    OMP_NUM_THREADS=1 python -m bench.bench_sae_recipes [--features 4096] [--k 32] [--batch 4096] [--rounds 5] [--record]

One full training step per measurement (loss with AuxK off, backward, decoder-gradient projection,
grad clip, Adam, renormalisation), fp32, the same SAE weights and batch for both variants. The
dense variant decodes as before (fill the [B, F] codes, then a [B, F] x [F, D] matmul); the sparse
one is what TopKSAE / BatchTopKSAE train with (sae/archs_topk.py). Rounds alternate dense and
sparse so that load from other processes on a shared machine hits both alike; the table gives
the median samples/s of each and their ratio. `--record` appends it to bench/RESULTS.md.
"""
import statistics
import time
from dataclasses import dataclass

import torch
import tyro

from bench.common import machine, record
from sae.archs import ADAM_BETAS, SAEConfig, make_sae


@dataclass(frozen=True)
class BenchRecipesArgs:
    features: int = 4096   # dictionary size
    k: int = 32            # active features per input
    batch: int = 4096      # rows per step
    d_in: int = 256        # activation width (resid.2 of the shipped network)
    arch: str = "topk"     # topk or batchtopk
    rounds: int = 5        # alternated (dense, sparse) rounds; each times `steps` steps of both
    steps: int = 3         # timed steps per variant and round
    record: bool = False   # append the table to bench/RESULTS.md


def train_step(sae, opt, x_BD, dense):
    if dense:  # the dense decode: drop the sparse code, decode the [B, F] codes
        p = sae.parts(x_BD)
        p.pop("code")
        x_hat = sae.decode_parts(p)
        total = sae.sq_err(x_BD, x_hat).mean()
    else:
        total = sae.loss(x_BD, 0.5)[0]
    opt.zero_grad(set_to_none=True)
    total.backward()
    sae.before_step()
    torch.nn.utils.clip_grad_norm_(sae.parameters(), 1.0)
    opt.step()
    sae.after_step()


def main(argv=None):
    args = tyro.cli(BenchRecipesArgs, args=argv)
    torch.manual_seed(0)
    x_BD = torch.randn(args.batch, args.d_in) + 0.3
    sae = make_sae(SAEConfig(args.arch, args.d_in, args.features, k=args.k), b_dec=x_BD.mean(0)).train()
    opt = torch.optim.Adam(sae.param_groups(sae.cfg.lr), betas=ADAM_BETAS)
    for dense in (True, False):  # warm-up: allocator, Adam state
        train_step(sae, opt, x_BD, dense)
    rates = {True: [], False: []}
    for _ in range(args.rounds):
        for dense in (True, False):
            t = time.perf_counter()
            for _ in range(args.steps):
                train_step(sae, opt, x_BD, dense)
            rates[dense].append(args.steps * args.batch / (time.perf_counter() - t))
    d, s = statistics.median(rates[True]), statistics.median(rates[False])
    text = (f"### Sparse decoder, {args.arch} F={args.features} k={args.k} batch {args.batch} fp32 ({machine()})\n"
            f"`OMP_NUM_THREADS={torch.get_num_threads()} python -m bench.bench_sae_recipes --features {args.features} "
            f"--k {args.k} --batch {args.batch} --arch {args.arch} --rounds {args.rounds} --steps {args.steps}` (median of {args.rounds} "
            f"alternated rounds of {args.steps} full training steps each)\n\n"
            f"| decode | samples/s |\n|---|---|\n| dense (before) | {d:,.0f} |\n| sparse | {s:,.0f} |\n"
            f"| ratio | {s / d:.2f}x |\n")
    print(text)
    if args.record:
        record(text)


if __name__ == "__main__":
    main()
