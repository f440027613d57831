"""Train sparse autoencoders on the AlphaZero network's residual stream.

    python train_sae.py                                   # one relu SAE, 2048 features, 3000 steps x 4096 on runs/acts (11 min, 2-core CPU)
    python train_sae.py --sae.arch topk --sae.k 32        # one TopK SAE
    python train_sae.py --sae.sweep prior --sae.out runs/sae_prior   # the prior project's 25-SAE grid, in lockstep
    python train_sae.py --sae.sweep archs --device cuda   # every architecture, for the FVU-L0 frontier
    python train_sae.py --sae.resume                      # continue the sweep checkpointed in --sae.out
    python train_sae.py --site all --sae.sweep small --collect.out runs/acts_all   # every config at every site

Reads the activation store at --collect.out (python -m sae.collect) at --site: one site, a comma list
or all (the store's sites); with several, every SAE of the sweep is trained at every site, named
<site>_<name>. All SAEs train in lockstep on the same batches (the same rows at every site, each batch
read once). Each SAE is evaluated once, on held-out games (the store's test split; 95% intervals by a
bootstrap over games: sae/evaluate.py), and exported as a SAELens
folder <sae.out>/<name>/ (cfg.json, sae_weights.safetensors, metrics.json) working on RAW
activations; <sae.out>/sweep.json (the sweep report, which records this run's config:
`--config sweep.json` repeats it) and SVG plots summarise the sweep. Splice metrics run the
network --checkpoint, which must be the one the store was collected from (sha256-checked).
Sweeps: prior (relu, L1 1..5 x 256..4096 features), topk (k 4..64 x 256..4096), archs
(every architecture x 3 sparsities x 1024/2048), small (one SAE per architecture, 512).
"""
import sys
import time

import torch

import config
from alphazero.checkpoint import resolve_checkpoint
from alphazero.network import parse_sites
from sae.activations import ActivationStore
from sae.sweep_report import FILE
from sae.sweeps import sae_configs
from sae.train import SAETrainingError, train_saes


def main(argv=None):
    cfg = config.parse(config.Config, argv, __doc__)
    device = config.resolve_device(cfg.device)
    if cfg.wandb:
        config.require_wandb()
    t0 = time.perf_counter()
    torch.manual_seed(cfg.seed)
    try:
        store = ActivationStore(cfg.collect.out)
        sites = parse_sites(cfg.site, store.sites)
        for s in sites:
            store.check(s)  # a site of the network that the store lacks
        cfgs = sae_configs(cfg.sae, store.d_model, cfg.seed)
        print(f"training {len(cfgs)} SAE(s) x {len(sites)} site(s) ({', '.join(sites)}) of {store.path} "
              f"({store.split_rows('train')[1]:,} train rows, d_in {store.d_model}) for {cfg.sae.steps} steps x "
              f"{cfg.sae.batch_size}: {', '.join(c.name for c in cfgs)}")
        train_saes(store, cfgs, cfg.sae, sites[0] if len(sites) == 1 else sites, cfg.seed, device, cfg.wandb,
                   config.to_dict(cfg), resolve_checkpoint(cfg.checkpoint))
    except (ValueError, SAETrainingError) as e:  # ActivationStoreError, CheckpointError, bad site / settings
        sys.exit(f"error: {e}")
    print(f"done in {time.perf_counter() - t0:.0f} s; wrote {cfg.sae.out}/{FILE}")


if __name__ == "__main__":
    main()
