"""Train sparse autoencoders on the AlphaZero network's residual stream.

    python train_sae.py                                  # one relu SAE, 2048 features, 3000 steps x 4096 on runs/acts (11 min, 2-core CPU)
    python train_sae.py --arch topk --k 32               # one TopK SAE
    python train_sae.py --sweep prior --out runs/sae_prior   # the prior project's 25-SAE grid, in lockstep
    python train_sae.py --sweep archs --device cuda      # every architecture, for the FVU-L0 frontier

All SAEs of a sweep train in lockstep on the same batches (each batch read once).
Each SAE is exported as a SAELens folder <out>/<name>/ (cfg.json,
sae_weights.safetensors, metrics.json) working on RAW activations, and
<out>/scaling.json + SVG plots summarise the sweep. Metrics use held-out games
(the store's val split by default); downstream metrics splice each SAE into the
network recorded in the store's manifest (sha256-checked). Sweeps: prior (relu,
L1 1..5 x 256..4096 features), topk (k 4..64 x 256..4096), archs (every
architecture x 3 sparsities x 1024/2048), small (one SAE per architecture, 512).
"""
import argparse
import sys
import time

import torch

from sae.activations import ActivationStore, ActivationStoreError
from sae.archs import ARCHS, SAEConfig
from sae.report import network_for_store, report_sweep
from sae.sweeps import SWEEPS, sweep_configs
from sae.train import SAETrainingError, Sweep, TrainConfig

DEFAULT_L1 = {"relu": 3.0, "gated": 6.0, "jumprelu": 0.4}


class ArgumentDefaultsRawFormatter(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """Show defaults and keep the description's line breaks."""


def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=ArgumentDefaultsRawFormatter)
    d = TrainConfig()
    ap.add_argument("--acts", default="runs/acts", help="activation store directory (othello/collect_activations.py)")
    ap.add_argument("--out", default="runs/sae", help="output directory for SAE folders, scaling.json, plots")
    ap.add_argument("--site", default=d.site, help="activation site: embed or resid.0..resid.3 ('layer 2' = resid.2)")
    ap.add_argument("--arch", choices=ARCHS, default="relu", help="SAE architecture of a single run")
    ap.add_argument("--features", type=int, nargs="+", default=None,
                    help="dictionary size(s); default 2048 for a single run, the grid's sizes for a sweep")
    ap.add_argument("--l1", type=float, default=None,
                    help="sparsity coefficient: L1 (relu: default 3; gated: 6) or L0 (jumprelu: 0.4)")
    ap.add_argument("--k", type=int, default=32, help="active features per input (topk, batchtopk)")
    ap.add_argument("--sweep", choices=SWEEPS, default=None, help="train a named grid instead of one SAE")
    ap.add_argument("--steps", type=int, default=d.steps, help="optimizer steps (same batches for every SAE)")
    ap.add_argument("--batch-size", type=int, default=d.batch_size, help="activations per step")
    ap.add_argument("--lr", type=float, default=0.0, help="Adam learning rate; 0 = per architecture "
                                                           "(4e-4; topk/batchtopk 2e-4/sqrt(features/2^14))")
    ap.add_argument("--seed", type=int, default=0, help="seed for data order and SAE initialisation")
    ap.add_argument("--device", default="cpu", help="torch device (cpu, cuda, ...)")
    ap.add_argument("--precision", choices=["auto", "bf16", "fp32"], default=d.precision,
                    help="matmul precision (autocast; weights and optimizer state stay fp32); auto = bf16 "
                         "on CUDA and on CPUs with native bf16, else fp32")
    ap.add_argument("--dead-tokens", type=int, default=d.dead_tokens, help="a feature silent this many activations is dead")
    ap.add_argument("--ckpt-every", type=int, default=d.ckpt_every, help="steps between resumable checkpoints")
    ap.add_argument("--resume", action="store_true", help="continue the sweep checkpointed in --out")
    ap.add_argument("--eval-split", choices=["val", "test"], default="val", help="held-out split for metrics")
    ap.add_argument("--eval-rows", type=int, default=50_000, help="max held-out rows for reconstruction metrics")
    ap.add_argument("--downstream-rows", type=int, default=20_000, help="max held-out positions for splice metrics")
    ap.add_argument("--match-games", type=int, default=100, help="games of each spliced network vs the clean one (0: none)")
    ap.add_argument("--no-downstream", action="store_true", help="skip splicing SAEs into the network")
    ap.add_argument("--no-concepts", action="store_true", help="skip the board-concept evaluation (coverage, reconstruction)")
    ap.add_argument("--checkpoint", default=None, help="network checkpoint (default: the one named in the store manifest)")
    ap.add_argument("--wandb", action="store_true", help="log training curves to Weights & Biases")
    ap.add_argument("--quiet", action="store_true", help="no progress bar")
    return ap.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    t0 = time.perf_counter()
    torch.manual_seed(args.seed)
    try:
        # --- data and the SAEs to train ---
        store = ActivationStore(args.acts)
        store.check(args.site)
        if args.sweep:
            cfgs = sweep_configs(args.sweep, store.d_model, args.features, args.seed, args.lr)
        else:
            l1 = args.l1 if args.l1 is not None else DEFAULT_L1.get(args.arch, 3.0)
            cfgs = [SAEConfig(arch=args.arch, d_in=store.d_model, d_sae=f, l1=l1, k=args.k, lr=args.lr, seed=args.seed)
                    for f in args.features or [2048]]
        tcfg = TrainConfig(site=args.site, steps=args.steps, batch_size=args.batch_size, seed=args.seed,
                           device=args.device, precision=args.precision, dead_tokens=args.dead_tokens,
                           ckpt_every=args.ckpt_every, wandb=args.wandb)
        print(f"training {len(cfgs)} SAE(s) on {args.site} of {args.acts} ({store.split_rows('train')[1]:,} train rows, "
              f"d_in {store.d_model}) for {args.steps} steps x {args.batch_size}: {', '.join(c.name for c in cfgs)}")
        # --- lockstep training ---
        sweep = Sweep(store, cfgs, tcfg, args.out)
        members = sweep.run(resume=args.resume, progress=not args.quiet)
        t_train = time.perf_counter() - t0
        # --- evaluation, export, summary ---
        net = None
        if not args.no_downstream:
            net, why = network_for_store(store, args.checkpoint, args.device)
            if net is None:
                print(f"downstream metrics skipped: {why}")
        report_sweep(members, store, tcfg, args.out, args.eval_split, args.eval_rows, net,
                     args.downstream_rows, args.match_games if net is not None else 0, not args.no_concepts)
    except (ActivationStoreError, SAETrainingError, ValueError) as e:
        sys.exit(f"error: {e}")
    print(f"done in {time.perf_counter() - t0:.0f} s (training {t_train:.0f} s); wrote {args.out}/scaling.json")


if __name__ == "__main__":
    main()
