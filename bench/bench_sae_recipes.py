"""Benchmark: the TopK family's sparse decoder and sparse encoder backward against the dense step, alternated.

    OMP_NUM_THREADS=1 python -m bench.bench_sae_recipes [--features 4096] [--k 32] [--batch 4096] [--rounds 5] [--record]

One full training step per measurement (loss with AuxK off, backward, decoder-gradient projection,
grad clip, Adam, renormalisation), fp32, the same SAE weights and batch for every variant:
    dense           the textbook step: [B, F] pre-activations with a graph, top-k, [B, F] codes,
                    dense decode (so the backward runs three [B, F] x [F, D]-sized matmuls)
    sparse decode   the same encoder, then the active decoder rows only (sae/archs_topk.py sparse_decode)
    sparse          what TopKSAE / BatchTopKSAE train with: also the encoder backward touches only the
                    selected entries (sae/archs_topk.py with_grad)
Rounds alternate the variants so that load from other processes on a shared machine hits all alike;
the table gives the median samples/s of each and the ratios to dense. `--record` appends it to
bench/RESULTS.md.
"""
import statistics
import time
from dataclasses import dataclass

import torch
import tyro

from bench.common import machine, record
from sae.archs import ADAM_BETAS, SAEConfig, make_sae
from sae.archs_topk import batch_topk, dense_codes, rows_topk, sparse_decode

VARIANTS = ("dense", "sparse decode", "sparse")


@dataclass(frozen=True)
class BenchRecipesArgs:
    features: int = 4096   # dictionary size
    k: int = 32            # active features per input
    batch: int = 4096      # rows per step
    d_in: int = 256        # activation width (resid.2 of the shipped network)
    arch: str = "topk"     # topk or batchtopk
    rounds: int = 5        # alternated rounds of the VARIANTS; each times `steps` steps of every variant
    steps: int = 3         # timed steps per variant and round
    record: bool = False   # append the table to bench/RESULTS.md


def _select(sae, pre_BF):
    """The code of the architecture's selection, differentiable through pre_BF's own graph."""
    if sae.arch == "topk":
        vals_BK, idx_BK = pre_BF.topk(sae.cfg.k, dim=-1)
        return rows_topk(torch.relu(vals_BK), idx_BK)
    return batch_topk(pre_BF, sae.cfg.k * len(pre_BF))[0]


def train_step(sae, opt, x_BD, variant):
    if variant == "sparse":
        total = sae.loss(x_BD, 0.5)[0]
    else:  # the encoder with autograd through the dense [B, F] pre-activations
        code = _select(sae, sae.pre_acts(x_BD))
        if variant == "dense":
            x_hat = sae.decode(dense_codes(code, len(x_BD), sae.cfg.d_sae))
        else:
            x_hat = sparse_decode(code, sae.W_dec, sae.b_dec, len(x_BD))
        total = sae.sq_err(x_BD, x_hat).mean()
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
    for v in VARIANTS:  # warm-up: allocator, Adam state
        train_step(sae, opt, x_BD, v)
    rates = {v: [] for v in VARIANTS}
    for _ in range(args.rounds):
        for v in VARIANTS:
            t = time.perf_counter()
            for _ in range(args.steps):
                train_step(sae, opt, x_BD, v)
            rates[v].append(args.steps * args.batch / (time.perf_counter() - t))
    med = {v: statistics.median(r) for v, r in rates.items()}
    rows = "".join(f"| {v} | {med[v]:,.0f} | {med[v] / med['dense']:.2f}x |\n" for v in VARIANTS)
    text = (f"### Sparse decoder and encoder backward, {args.arch} F={args.features} k={args.k} batch {args.batch} fp32 "
            f"({machine()})\n"
            f"`OMP_NUM_THREADS={torch.get_num_threads()} python -m bench.bench_sae_recipes --features {args.features} "
            f"--k {args.k} --batch {args.batch} --arch {args.arch} --rounds {args.rounds} --steps {args.steps}` (median of "
            f"{args.rounds} alternated rounds of {args.steps} full training steps each)\n\n"
            f"| step | samples/s | vs dense |\n|---|---|---|\n{rows}")
    print(text)
    if args.record:
        record(text)


if __name__ == "__main__":
    main()
