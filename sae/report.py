"""After a sweep: evaluate every SAE once on held-out games, export it, write the sweep report and plots.

Output layout (the sweep folder, SAETrainConfig.out):
    <out>/<sae_name>/{cfg.json, sae_weights.safetensors, metrics.json}   sae/export.py
    <out>/sweep.json, sweep.md (a table per site, with 95% intervals)      sae/sweep_report.py
    <out>/*.svg                                                             sae/plots.py, drawn from the report
Every metric is computed here, on the EVAL_SPLIT rows of the store, by sae.evaluate.evaluate_sae (the
function `python -m sae.evaluate` runs on any SAELens folder), and only read afterwards. Each SAE is
evaluated at its own site (member.site): a sweep over several sites is one report.
"""
from pathlib import Path

from alphazero.checkpoint import file_sha256, load_network
from sae.archs import TOPK_FAMILY
from sae.evaluate import evaluate_sae
from sae.export import export_sae, fold
from sae.plots import sweep_plots
from sae.sweep_report import write_sweep_report


def network_for_store(store, checkpoint, device):
    """The network at `checkpoint`, which must be the one the store's activations came from (sha256)."""
    sha = file_sha256(checkpoint) if Path(checkpoint).is_file() else None
    if sha != store.manifest["checkpoint_sha256"]:
        raise ValueError(f"checkpoint {checkpoint} is not the network the store {store.path} was collected from "
                         f"(sha256 differs from its manifest, which names {store.manifest['checkpoint']}); "
                         f"pass that one with --checkpoint, or skip splicing with --sae.downstream-rows 0")
    return load_network(checkpoint, device)


def summary_metrics(metrics):
    """The metrics of a sweep-report row: the SAE's metrics without per-feature lists."""
    out = dict(metrics)
    if "concepts" in out:
        out["concepts"] = {k: v for k, v in out["concepts"].items() if k != "features"}
    return out


def report_sweep(members, store, section, seed, device, net, config_dict, log=print):
    """Evaluate, export and summarise the trained `members` (each at its `site`); returns the sweep report dict.

    `section`: SAETrainConfig (eval_rows, downstream_rows, match_games, bootstrap, concepts, out);
    `net`: the store's network for splice metrics, or None when neither is asked for.
    """
    out_dir = Path(section.out)
    sha = store.manifest["checkpoint_sha256"]
    runs = []
    for m in members:
        m.sae.eval()
        raw = fold(m.sae)  # the exported SAE itself: on raw activations
        metrics, freq = evaluate_sae(raw, store, m.site, device, seed, net, section.eval_rows, section.downstream_rows,
                                     section.match_games, section.bootstrap, section.concepts)
        tail_n = max(m.tail["n"], 1)
        metrics.update(train_loss=m.tail["loss"] / tail_n, train_mse_scaled=m.tail["mse"] / tail_n,
                       resampled=m.resampled, input_scale=float(m.sae.scale))
        export_sae(m.sae, out_dir / m.name, m.site, sha, metrics, config_dict, freq)
        topk = m.cfg.arch in TOPK_FAMILY
        runs.append({"name": m.name, "folder": m.name, "site": m.site, "arch": m.cfg.arch, "d_sae": m.cfg.d_sae,
                     "k": m.cfg.k if topk else None, "l1": None if topk else m.cfg.l1,
                     "metrics": summary_metrics(metrics)})
        ds, ci = metrics.get("downstream", {}), metrics.get("ci95", {})
        log(f"{m.name:28s} FVU {metrics['fvu']:.4f}" + (" [{:.4f}, {:.4f}]".format(*ci["fvu"]) if ci else "")
            + f"  L0 {metrics['l0']:7.2f}  dead {metrics['dead_frac']:6.1%}"
            + (f"  KL {ds['kl']:.4f}  FLR {ds['flr']:.3f}  top1 {ds['top1_agree']:.3f}" if ds else "")
            + (f"  coverage {metrics['concepts']['coverage']['all']:.3f}" if section.concepts else ""))
    report = write_sweep_report(out_dir, runs, config_dict, store.info())
    sweep_plots(report, out_dir)
    return report
