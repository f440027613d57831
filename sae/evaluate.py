"""The one held-out evaluation of an SAE, for every architecture and for any SAELens folder.

    python -m sae.evaluate runs/sae/topk_f512_k16 other/sae_folder --store runs/acts --site resid.2
    python -m sae.evaluate runs/sae/* --store runs/acts --out runs/eval.json --match-games 0

`evaluate_sae` is what the sweep report (sae/report.py) computes for each SAE it trains, and what this
command computes for SAEs loaded with sae.export.load_sae (ours or foreign): on the store's held-out
EVAL_SPLIT (split by game), reconstruction metrics on up to `eval_rows` rows, splice metrics on up to
`downstream_rows` positions (and a spliced-vs-clean match), each with its 95% interval: a bootstrap
over the held-out GAMES for FVU, L0, policy KL and loss recovered (sae/metrics.py, sae/downstream.py),
a Wilson interval for the match score. The command prints the sweep report's markdown table
(sae.sweep_report.markdown_table) and writes the rows as JSON with --out.
"""
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import tyro

from sae.config import EVAL_SPLIT, SAETrainConfig

DEFAULTS = SAETrainConfig()


def evaluate_sae(sae, store, site, device, seed, net=None, eval_rows=DEFAULTS.eval_rows,
                 downstream_rows=DEFAULTS.downstream_rows, match_games=DEFAULTS.match_games,
                 n_boot=DEFAULTS.bootstrap, concepts=False):
    """(metrics dict, per-feature firing frequency) of `sae` (on RAW activations) at `site` of `store`.

    metrics: sae.metrics.evaluate's (without per-feature lists) plus n_eval_games and "ci95" {fvu, l0};
    "downstream" (when `net`, the store's network, is given): sae.downstream.evaluate_downstream's with
    its "ci95" {kl, flr} and the match; "concepts" when `concepts`. Intervals need `n_boot` > 0.
    """
    from sae.concepts import evaluate_concepts
    from sae.downstream import evaluate_downstream
    from sae.metrics import evaluate, reconstruction_ci
    rows = slice(0, eval_rows)
    metrics = evaluate(sae, store.acts(site, EVAL_SPLIT)[rows], device=device,
                       game_id=store.array("game_id", EVAL_SPLIT)[rows])
    freq, games = metrics.pop("feature_freq"), metrics.pop("games")
    metrics["n_eval_games"] = int(len(games["n"]))
    if n_boot > 0:
        metrics["ci95"] = reconstruction_ci(games, n_boot, seed)
    if net is not None and downstream_rows > 0:
        metrics["downstream"] = evaluate_downstream(net, sae, store, site, EVAL_SPLIT, downstream_rows, match_games,
                                                    device, seed, n_boot)
    if concepts:
        metrics["concepts"] = evaluate_concepts(sae, store, site, EVAL_SPLIT, device=device)
    return metrics, freq


@dataclass(frozen=True)
class EvaluateArgs:
    folders: Annotated[tuple[str, ...], tyro.conf.Positional]  # SAELens folders (cfg.json + sae_weights.safetensors)
    store: str = "runs/acts"     # activation store whose held-out test games are evaluated
    site: str = ""               # site of the SAEs; '' = each folder's own (metrics.json site, else cfg.json hook_name)
    checkpoint: str = ""         # network for splice metrics; '' = the one the store names (sha256-checked)
    eval_rows: int = DEFAULTS.eval_rows  # max held-out rows for reconstruction metrics
    downstream_rows: int = DEFAULTS.downstream_rows  # max held-out positions for splice metrics (0: no splicing)
    match_games: int = DEFAULTS.match_games  # games of each spliced network vs the clean one (0: none)
    bootstrap: int = DEFAULTS.bootstrap  # resamples of the held-out games for the 95% intervals (0: none)
    device: str = "cpu"          # torch device: cpu, cuda, auto
    seed: int = 0                # seed of the bootstrap and the match
    out: str = ""                # JSON file for the rows (name, folder, site, arch, d_sae, k, l1, metrics); '' = none


def folder_site(folder):
    """The site an SAE folder records: metrics.json's site (ours), else cfg.json metadata.hook_name (SAELens)."""
    import json
    for name, get in (("metrics.json", lambda m: m.get("site")),
                      ("cfg.json", lambda m: (m.get("metadata") or {}).get("hook_name") or m.get("hook_name"))):
        f = Path(folder) / name
        if f.is_file():
            try:
                site = get(json.loads(f.read_text()))
            except (ValueError, AttributeError):
                site = None
            if isinstance(site, str) and site:
                return site
    raise ValueError(f"{folder} records no site (metrics.json site / cfg.json metadata.hook_name): pass --site")


def main(argv=None):
    args = tyro.cli(EvaluateArgs, args=argv, description=__doc__)
    if not args.folders:
        sys.exit("error: name at least one SAE folder (python -m sae.evaluate FOLDER [FOLDER ...] --store STORE)")
    import torch

    import config
    from alphazero.checkpoint import resolve_checkpoint
    from othello.atomic import atomic_write_json
    from sae.activations import ActivationStore
    from sae.export import load_sae
    from sae.report import network_for_store
    from sae.sweep_report import markdown_table
    device = config.resolve_device(args.device)
    torch.manual_seed(args.seed)
    try:
        store = ActivationStore(args.store)
        net = None
        if args.downstream_rows > 0:
            ckpt = resolve_checkpoint(args.checkpoint) if args.checkpoint else store.manifest["checkpoint"]
            net = network_for_store(store, ckpt, device)
        rows = []
        for folder in args.folders:
            site = args.site or folder_site(folder)
            sae = load_sae(folder, device)
            store.check(site, sae.d_in)
            metrics, _ = evaluate_sae(sae, store, site, device, args.seed, net, args.eval_rows, args.downstream_rows,
                                      args.match_games, args.bootstrap)
            rows.append({"name": Path(folder).name, "folder": str(folder), "site": site, "arch": sae.arch,
                         "d_sae": int(sae.d_sae), "k": sae.k, "l1": None, "metrics": metrics})
            print(f"evaluated {folder} at {site}: FVU {metrics['fvu']:.4f}, L0 {metrics['l0']:.2f}", flush=True)
    except ValueError as e:  # ActivationStoreError, SAELoadError, CheckpointError, a folder without a site
        sys.exit(f"error: {e}")
    print(markdown_table(rows, f"{store.path}, {EVAL_SPLIT} split"))
    if args.out:
        atomic_write_json(args.out, {"store": store.info(), "eval_split": EVAL_SPLIT, "runs": rows})
        print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
