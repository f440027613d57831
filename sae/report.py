"""After a sweep: evaluate every SAE on held-out games, export it, write scaling.json and plots.

Output layout:
    <out>/<sae_name>/{cfg.json, sae_weights.safetensors, metrics.json}
    <out>/scaling.json     {"format", "site", "store", "checkpoint_sha256", "train_config", "runs": [...]}
    <out>/*.svg            L0 / MSE / loss vs features, MSE vs L0, FVU vs L0 per architecture
"""
import json
import os
from dataclasses import asdict
from pathlib import Path

import numpy as np

from alphazero.checkpoint import CheckpointError, file_sha256, load_network
from sae.concepts import evaluate_concepts
from sae.downstream import evaluate_downstream
from sae.export import export_sae, fold
from sae.metrics import evaluate
from sae.plots import sweep_plots

SCALING_FORMAT = "othello-sae-scaling/1"


def network_for_store(store, checkpoint=None, device="cpu"):
    """The network whose activations the store holds, or (None, reason). The sha256 must match the manifest."""
    path = Path(checkpoint or store.manifest.get("checkpoint", ""))
    if not path.is_file():
        return None, f"checkpoint {path} not found"
    want = store.manifest.get("checkpoint_sha256")
    if want and file_sha256(path) != want:
        return None, f"checkpoint {path} is not the one the activations came from (sha256 differs from the manifest)"
    try:
        return load_network(path, device), None
    except CheckpointError as e:
        return None, str(e)


def report_sweep(members, store, tcfg, out_dir, eval_split="val", eval_rows=50_000, net=None,
                 downstream_rows=20_000, match_games=0, concepts=True, log=print):
    """Evaluate, export and summarise the trained `members` of a sweep; returns the scaling dict."""
    out_dir = Path(out_dir)
    acts = store.acts(tcfg.site, eval_split)[:eval_rows]
    sha = store.manifest.get("checkpoint_sha256")
    runs = []
    for m in members:
        m.sae.eval()
        folded = fold(m.sae)
        metrics = evaluate(folded, acts, device=tcfg.device)
        freq = metrics.pop("feature_freq")
        tail_n = max(m.tail["n"], 1)
        metrics.update(train_loss=m.tail["loss"] / tail_n, train_mse_scaled=m.tail["mse"] / tail_n,
                       resampled=m.resampled, input_scale=float(m.sae.scale), eval_split=eval_split)
        if net is not None:
            metrics["downstream"] = evaluate_downstream(net, folded, store, tcfg.site, eval_split, downstream_rows,
                                                        match_games, device=tcfg.device, seed=tcfg.seed)
        if concepts:
            metrics["concepts"] = evaluate_concepts(folded, store, tcfg.site, eval_split, device=tcfg.device)
        knob = {"k": m.cfg.k} if m.cfg.arch in ("topk", "batchtopk") else {"l1_coefficient": m.cfg.l1}
        config = {**asdict(m.cfg), "lr": m.lr, **asdict(tcfg)}
        export_sae(folded, out_dir / m.name, tcfg.site, sha, {"sae_arch": m.cfg.arch, **knob, **metrics}, config,
                   extra_metadata={"sae_arch": m.cfg.arch})
        np.save(out_dir / m.name / "feature_freq.npy", freq)
        run = {"name": m.name, "path": m.name, "arch": m.cfg.arch, "architecture": folded.architecture,
               "d_sae": m.cfg.d_sae, **knob, **{k: v for k, v in metrics.items() if k not in ("density_hist", "concepts")}}
        if concepts:
            run["concept_coverage"] = metrics["concepts"]["coverage"]["all"]
            run["board_square_acc"] = metrics["concepts"]["reconstruction"]["square_acc"]
        runs.append(run)
        ds = metrics.get("downstream", {})
        log(f"{m.name:28s} FVU {metrics['fvu']:.4f}  L0 {metrics['l0']:7.2f}  dead {metrics['dead_frac']:6.1%}"
            + (f"  KL {ds['kl']:.4f}  FLR {ds['flr']:.3f}  top1 {ds['top1_agree']:.3f}" if ds else "")
            + (f"  coverage {metrics['concepts']['coverage']['all']:.3f}" if concepts else ""))
    scaling = {"format": SCALING_FORMAT, "site": tcfg.site, "store": str(store.path), "checkpoint_sha256": sha,
               "eval_split": eval_split, "train_config": asdict(tcfg), "runs": runs}
    tmp = out_dir / "scaling.json.tmp"
    tmp.write_text(json.dumps(scaling, indent=1))
    os.replace(tmp, out_dir / "scaling.json")
    sweep_plots(runs, out_dir)
    return scaling
