"""The SAELens side of bench/bench_saelens.py: runs INSIDE a separate SAELens environment.

    /work/venv-saelens/bin/python bench/saelens_side.py train --store runs/acts_1m --arch topk --d-sae 1024 --k 16 --out DIR
    /work/venv-saelens/bin/python bench/saelens_side.py serve --store runs/acts_1m --d-sae 4096 --k 32   (speed: stdin protocol)

Imports sae_lens, numpy and torch only (never this repo's package), so the comparison runs SAELens's
own code: its TopKTrainingSAE / BatchTopKTrainingSAE, its SAETrainer (fit / step) and its
save_inference_model. Recipe: SAELens's defaults for those classes and for SAETrainerConfig (Adam
lr 3e-4, betas 0.9/0.999, constant schedule, no warm-up or decay, grad clip 1, dead window 1000 steps,
decoder_init_norm 0.1 with W_enc = W_dec^T, b_dec = 0, rescale_acts_by_decoder_norm, AuxK coefficient
1.0 scaled by min(n_dead / k_aux, 1), BatchTopK threshold EMA lr 0.01), plus
normalize_activations="expected_average_only_in" (SAELens's April-2024 input scaling: mean ||x|| =
sqrt(d_in), folded into the weights before saving), which our trainer also does; without it Adam at
3e-4 on raw activations (mean norm ~270 here) could not move b_dec to the data mean in 1500 steps.

Rows: the store's .npy memmaps read directly, in EXACTLY our trainer's order (sae/activations.py
ActivationStore.batches: the concatenation of per-epoch permutations default_rng([seed, epoch])
of the train split, batch t = stream rows [t*B, (t+1)*B)). SAELens estimates its scaling factor
itself, from the rows our trainer uses for its input statistics (sae/train.py input_stats: a sorted
default_rng(seed).choice of `stats_rows` train rows), fed first through the same data provider.
"""
import argparse
import json
import math
import sys
import time
from pathlib import Path

import numpy as np
import torch

import sae_lens
from sae_lens import SAETrainer
from sae_lens.config import SAETrainerConfig
from sae_lens.saes.batchtopk_sae import BatchTopKTrainingSAE, BatchTopKTrainingSAEConfig
from sae_lens.saes.topk_sae import TopKTrainingSAE, TopKTrainingSAEConfig

CLASSES = {"topk": (TopKTrainingSAE, TopKTrainingSAEConfig), "batchtopk": (BatchTopKTrainingSAE, BatchTopKTrainingSAEConfig)}


class Store:
    """The train split of an activation store (manifest.json + acts_<site>.npy), read-only."""

    def __init__(self, path, site):
        path = Path(path)
        m = json.loads((path / "manifest.json").read_text())
        self.a, self.b = m["splits"]["train"]
        self.acts = np.load(path / f"acts_{site}.npy", mmap_mode="r")
        self.n = self.b - self.a

    def rows(self, idx):
        """float32 rows (train-split indices), read in sorted order then put back in the given order."""
        order = np.argsort(idx, kind="stable")
        out = np.empty((len(idx), self.acts.shape[1]), np.float32)
        out[order] = self.acts[self.a + idx[order]]
        return torch.from_numpy(out)

    def stream_indices(self, batch, seed, start_step, n_steps):
        """Train-split indices of batches start_step .. start_step + n_steps of our trainer's row stream."""
        p, stop, parts = start_step * batch, (start_step + n_steps) * batch, []
        while p < stop:
            epoch, off = divmod(p, self.n)
            parts.append(np.random.default_rng([seed, epoch]).permutation(self.n)[off:off + stop - p])
            p += len(parts[-1])
        return np.concatenate(parts).reshape(n_steps, batch)

    def batches(self, batch, seed, start_step=0, chunk=32):
        """Endless batches of our trainer's stream (read `chunk` batches at a time)."""
        step = start_step
        while True:
            idx = self.stream_indices(batch, seed, step, chunk)
            rows = self.rows(idx.ravel())
            for i in range(chunk):
                yield rows[i * batch:(i + 1) * batch]
            step += chunk

    def stats_batches(self, batch, seed, stats_rows):
        """Our input_stats sample (sorted, without replacement), in batches: SAELens's norm estimate reads these."""
        idx = np.sort(np.random.default_rng(seed).choice(self.n, size=min(stats_rows, self.n), replace=False))
        rows = self.rows(idx)
        return [rows[i:i + batch] for i in range(0, len(rows), batch)]


def build(args, total_steps):
    """SAELens training SAE + SAETrainer (defaults except what the module doc names)."""
    sae_cls, cfg_cls = CLASSES[args.arch]
    torch.manual_seed(args.seed)
    cfg = cfg_cls(d_in=args.d_in, d_sae=args.d_sae, k=args.k, dtype="float32", device="cpu",
                  normalize_activations="expected_average_only_in")
    sae = sae_cls(cfg)
    return sae, cfg


def trainer_cfg(args, total_steps, n_norm_batches):
    lr = SAETrainerConfig.lr  # 3e-4; lr_end as LanguageModelSAERunnerConfig sets it (lr / 10; unused when constant)
    return SAETrainerConfig(total_training_samples=total_steps * args.batch, train_batch_size_samples=args.batch,
                            lr=lr, lr_end=lr / 10, device="cpu", autocast=False, n_batches_for_norm_estimate=n_norm_batches)


def train(args):
    store = Store(args.store, args.site)
    stats = store.stats_batches(args.batch, args.seed, args.stats_rows)
    stream = store.batches(args.batch, args.seed)

    def provider():  # SAELens's norm estimate reads the stats batches first, then training reads our stream
        yield from stats
        yield from stream

    sae, cfg = build(args, args.steps)
    trainer = SAETrainer(cfg=trainer_cfg(args, args.steps, len(stats)), sae=sae, data_provider=provider())
    t0 = time.perf_counter()
    trainer.fit()
    wall = time.perf_counter() - t0
    out = Path(args.out)
    sae.save_inference_model(out)  # SAELens's own inference save (BatchTopK -> jumprelu with its threshold)
    info = {"sae_lens_version": sae_lens.__version__, "torch": torch.__version__, "arch": args.arch,
            "d_sae": args.d_sae, "k": args.k, "steps": args.steps, "batch": args.batch, "fit_s": wall,
            "samples_per_s": args.steps * args.batch / wall, "dead_at_end": int(trainer.dead_neurons.sum()),
            "train_l0_window": float(trainer.feature_sparsity.sum()) if trainer.n_frac_active_samples else None,
            "scaling_factor_folded": True, "threads": torch.get_num_threads(),
            "trainer_config": {k: v for k, v in vars(trainer.cfg).items() if isinstance(v, (int, float, str, bool, type(None)))},
            "sae_config": {k: v for k, v in cfg.to_dict().items() if k != "metadata"}}
    (out / "side.json").write_text(json.dumps(info, indent=1, default=str))
    print(json.dumps({k: info[k] for k in ("fit_s", "samples_per_s", "dead_at_end", "train_l0_window")}))


def serve(args):
    """Speed: build once, then for each stdin line 'START N' time N trainer.step calls on stream batches
    START..START+N (rows loaded before the clock starts) and answer one JSON line."""
    store = Store(args.store, args.site)
    sae, cfg = build(args, 10 ** 6)
    trainer = SAETrainer(cfg=trainer_cfg(args, 10 ** 6, 1), sae=sae, data_provider=iter(()))
    stats = torch.cat(store.stats_batches(args.batch, args.seed, args.stats_rows))
    trainer.activation_scaler.scaling_factor = math.sqrt(args.d_in) / float(stats.double().norm(dim=1).mean())
    print(json.dumps({"ready": True, "sae_lens_version": sae_lens.__version__, "threads": torch.get_num_threads()}), flush=True)
    for line in sys.stdin:
        if not line.strip():
            continue
        start, n = map(int, line.split())
        idx = store.stream_indices(args.batch, args.seed, start, n)
        xs = [store.rows(i) for i in idx]
        t0 = time.perf_counter()
        for x in xs:
            trainer.step(x)
            trainer.n_training_steps += 1  # fit() advances it after each step
        dt = time.perf_counter() - t0
        print(json.dumps({"steps": n, "seconds": dt, "samples_per_s": n * args.batch / dt}), flush=True)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("mode", choices=("train", "serve"), help="train one SAE and save it, or serve timed steps (speed)")
    p.add_argument("--store", default="runs/acts_1m", help="activation store folder")
    p.add_argument("--site", default="resid.2", help="site whose acts_<site>.npy is read")
    p.add_argument("--arch", default="topk", choices=sorted(CLASSES), help="SAELens training architecture")
    p.add_argument("--d-in", type=int, default=256, help="activation width")
    p.add_argument("--d-sae", type=int, default=1024, help="dictionary size")
    p.add_argument("--k", type=int, default=16, help="k (batchtopk: mean active per row)")
    p.add_argument("--steps", type=int, default=1500, help="training steps (train)")
    p.add_argument("--batch", type=int, default=4096, help="rows per step")
    p.add_argument("--seed", type=int, default=0, help="row-stream seed (ours: the run's seed) and torch init seed")
    p.add_argument("--stats-rows", type=int, default=100_000, help="rows of the norm estimate (ours: sae.stats_rows)")
    p.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    p.add_argument("--out", default="", help="folder SAELens saves the trained SAE into (train)")
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.mode == "train":
        if not args.out:
            p.error("train needs --out")
        train(args)
    else:
        serve(args)


if __name__ == "__main__":
    main()
