"""Build the feature viewer's data from a trained SAE sweep and its activation store.

    python vis/generate_vis_data.py                       # runs/sae + runs/acts -> vis/data
    python vis/generate_vis_data.py --sae.out runs/sae_big --vis.top 24
    python vis/generate_vis_data.py --vis.check           # is vis/data stale? (exit 1 if so)
    cd vis && python -m http.server 8000                  # then open http://localhost:8000

Every run of the sweep report in --sae.out is shown with the metrics computed once when it was
trained (FVU, L0, dead fraction, downstream), and evaluated on the held-out split of the
store in --collect.out for the viewer's own per-feature data: density, activation histogram,
top-activating boards, samples from activation-quantile bands, the effect of the feature's
decoder direction on the network's policy and value (see vis/features.py) and its most
similar features, with the magnitude flags of vis/magnitudes.py, a 2-D map of its decoder
directions, and the weights of the network and of each SAE for the page's board lab
(vis/weights.py; the page runs them itself), each feature's auto-interp label and importance and the
headline table from the sweep's concept evaluation (concepts.json, sae/concept_eval.py; none: no
labels, said on the page), and a copy of the sweep's science report (sae/science_report.py) when
there is one. --checkpoint must be the
network the store was collected with. The output folder --vis.out is replaced as a whole; its
layout is vis/viewer_data.py's. A bad input is a one-line error naming the file, except one bad
SAE of the sweep (unreadable metrics, NaN/inf weights): that one is skipped and reported (stderr,
index.json `skipped`, --vis.check) and the others are written.
"""
import datetime
import sys
import time
from pathlib import Path

import numpy as np
from tqdm import tqdm

from alphazero.checkpoint import CheckpointError, file_sha256, load_network, resolve_checkpoint
from vis import features as F
from vis import magnitudes as M
from vis import viewer_data as V
from vis import weights as WT
from sae.science_report import headline, report_files
from vis.sources import SAE, SourceError, Store, Sweep, weights_fingerprint

EFFECT_METHOD = ("mean over up to {n} random positions where the feature fires: add (mean firing activation) x "
                 "decoder vector at the site; logit change centred over each position's legal moves")


def build_viewer_data(sweep_dir, store_path, vis_cfg, seed, device, config_dict, checkpoint=None):
    """Stage: sweep + store -> viewer data at `vis_cfg.out` (returned as a Path).

    `checkpoint`: the network the store was collected with (None: the one its manifest names);
    its sha256 must match the manifest. `config_dict` (config.to_dict of the run) is recorded.
    Raises SourceError / CheckpointError naming the bad input.
    """
    t0 = time.perf_counter()
    store = Store(store_path)
    n = store.count if vis_cfg.max_positions <= 0 else min(store.count, vis_cfg.max_positions)
    if n == 0:
        raise SourceError(f"split '{store.split}' of the store {store.path} is empty: collect more games")
    ckpt, ckpt_sha = store_checkpoint(store, checkpoint)
    sweep = Sweep(sweep_dir)
    if sweep.report["store"]["checkpoint_sha256"] != ckpt_sha:
        raise SourceError(f"{sweep.where}: its SAEs were trained on activations of another network than the one "
                          f"the store {store.path} holds (checkpoint sha256 differs): collect the store with "
                          f"that network ({sweep.report['store']['path']} was)")
    runs = sweep.select(vis_cfg.only)
    concepts = sweep.concepts()  # before any SAE is evaluated: a corrupt concepts.json is a one-line error
    for run in runs:
        if run["site"] not in store.sites:
            raise SourceError(f"{sweep.where}: run '{run['name']}' is at site '{run['site']}', which the store "
                              f"{store.path} does not hold (it has {', '.join(store.sites)})")
    net = load_network(ckpt, device)
    try:  # the board lab's copy of the network (vis/weights.py), checked before any SAE is evaluated
        net_bytes, net_entry = WT.net_entry(net, "net/weights.bin", ckpt)
    except WT.WeightsError as e:
        raise SourceError(str(e)) from None
    warnings = []  # usable but worth knowing: the page shows them in a banner
    if Path(sweep.report["store"]["path"]).resolve() != store.path.resolve():
        warnings.append(f"the SAE metrics were measured on the store {sweep.report['store']['path']}, the feature "
                        f"data on {store.path} (same network, other positions)")
    legal = np.asarray(store.array("legal")[:n])
    rms = {site: F.stream_rms(store.acts(site)[:n]) for site in sorted({r["site"] for r in runs})}

    # one bad SAE (unreadable metrics, NaN weights, ...) is skipped and reported; the others are written
    results, skipped = [], []
    for run in tqdm(runs, desc="SAEs", unit="sae", disable=None):
        try:
            sae = SAE(sweep, run, device)
            results.append(evaluate(sae, store, n, legal, net, vis_cfg, seed, device, rms[sae.site]))
        except SourceError as e:
            skipped.append({"name": run["name"], "reason": str(e)})
            warnings.append(f"SAE {run['name']} was skipped: {e}")
    if not results:
        raise SourceError(f"every SAE of {sweep.where} was refused: " + "; ".join(s["reason"] for s in skipped))
    warnings += [w for r in results for w in dead_count_disagreement(r, n, store, sweep)]

    # one board table shared by every SAE: the split rows any example refers to
    used = np.unique(np.concatenate([rows for r in results for rows in r["example_rows"]] + [np.zeros(0, np.int64)]))
    board_id = np.full(n, -1, np.int64)
    board_id[used] = np.arange(len(used))
    records = V.pack_boards(*(np.asarray(store.array(k)[:n])[used]
                              for k in ("boards", "legal", "mover", "ply", "policy", "value")))
    with V.Writer(vis_cfg.out) as w:
        boards = w.boards(records)
        w.binary(net_entry["file"], net_bytes)
        saes = []
        for r in results:
            labels, why_not = r["sae"].labels(concepts)
            if why_not:
                warnings.append(why_not)
            saes.append(write_sae(w, r, board_id, vis_cfg.shard_size, n, store.split, labels))
        for rel in report_files(sweep.dir):  # the science report, served beside the data
            w.binary(f"report/{rel}", (sweep.dir / rel).read_bytes())
        out = w.commit({
            "config": config_dict,
            "generated": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "checkpoint": str(ckpt), "checkpoint_sha256": ckpt_sha,
            "store": {"path": str(store.path), "fingerprint": store.fingerprint, "split": store.split,
                      "positions": n, "count": store.total, "sites": store.sites},
            "sweep": {"path": str(sweep.dir), "format": sweep.report["format"], "eval_split": sweep.report["eval_split"]},
            "boards": boards,
            "net": net_entry,
            "effect_method": EFFECT_METHOD.format(n=vis_cfg.effect_samples),
            "saes": saes,
            "scaling": [scaling_row(r) for r in sweep.runs],
            "skipped": skipped,
            "concepts": concepts_entry(concepts, sweep),
            "report": "report/report.html" if report_files(sweep.dir) else None,
            "warnings": warnings,
        })
    for msg in warnings:
        print("warning:", msg, file=sys.stderr)
    print(f"wrote {out}: {len(saes)} SAEs{f' ({len(skipped)} skipped)' if skipped else ''}, {len(used)} boards, {time.perf_counter() - t0:.1f} s")
    return out


def store_checkpoint(store, checkpoint):
    """(path, sha256) of the network whose activations the store holds; another network is an error."""
    manifest = store.path / "manifest.json"
    want, named = store.manifest["checkpoint_sha256"], store.manifest["checkpoint"]
    path = Path(checkpoint) if checkpoint is not None else Path(named)
    if not path.is_file():
        raise SourceError(f"checkpoint {path} not found (the store was collected with {named}, per {manifest})")
    if file_sha256(path) != want:
        raise SourceError(f"checkpoint {path} is not the network the store {store.path} was collected with "
                          f"(sha256 differs from {manifest}, which names {named}): pass --checkpoint {named}")
    return path, want


def evaluate(sae, store, n, legal, net, vis_cfg, seed, device, rms):
    """All per-feature statistics of one SAE on the first `n` held-out rows (numpy, not yet written).

    `rms`: the stream's typical size at the SAE's site (vis.features.stream_rms), the yardstick of
    the negligible-magnitude flag.
    """
    acts = store.acts(sae.site)[:n]
    seg = F.Segments(*F.encode_sparse(sae, acts, desc=f"encode {sae.name}"), sae.d_sae)
    stats = F.feature_stats(seg, n, top=vis_cfg.top, bands=vis_cfg.bands, per_band=vis_cfg.per_band, seed=seed)
    effects = dict(zip(("logit", "value", "n", "logit_se", "value_se"),
                       F.policy_effects(net, sae.site, acts, legal, seg, stats["mean"], sae.W_dec,
                                        samples=vis_cfg.effect_samples, seed=seed, device=device)))
    example_rows = list(stats["top_rows"]) + [b["rows"] for bands in stats["bands"] for b in bands]
    try:  # the board lab's copy of the encoder and decoder (vis/weights.py)
        weights = WT.sae_entry(sae.module, f"saes/{V.safe_name(sae.name)}/weights.bin", sae.folder / "sae_weights.safetensors")
    except WT.WeightsError as e:
        raise SourceError(str(e)) from None
    return {"sae": sae, "stats": stats, "effects": effects, "rms": rms, "weights": weights,
            "flags": M.feature_flags(stats["count"], stats["max"], sae.W_dec, rms),
            "sim": F.similar_features(sae.W_dec, k=vis_cfg.similar), "map": F.feature_map(sae.W_dec),
            "example_rows": example_rows}


def dead_count_disagreement(r, n, store, sweep):
    """Warnings when the viewer's dead count contradicts the SAE's metrics on the very same positions.

    Both count features that never fire on the first rows of the test split; when the viewer used
    as many rows as the metrics (n_eval) of the same store, the counts must agree.
    """
    sae, m = r["sae"], r["sae"].metrics
    same_rows = m.get("n_eval") == n and Path(sweep.report["store"]["path"]).resolve() == store.path.resolve()
    dead, want = int((r["stats"]["count"] == 0).sum()), round(m["dead_frac"] * sae.d_sae)
    if same_rows and dead != want:
        return [f"SAE {sae.name}: {dead} features never fire on the viewer's {n} positions, but its metrics "
                f"({sae.folder / 'metrics.json'}) count {want} dead on the same positions"]
    return []


def write_sae(w, r, board_id, shard_size, positions, split, labels=None):
    """Write features.json and the shards of one SAE; return its index entry. `labels`: its auto-interp
    entry of concepts.json ({summary, features}, vis.sources.SAE.labels) or None."""
    sae, stats, effects = r["sae"], r["stats"], r["effects"]
    folder = V.safe_name(sae.name)
    details = [V.feature_detail(i, stats, effects, *r["sim"], board_id) for i in range(sae.d_sae)]
    n_shards = w.sae(folder, V.feature_summary(stats, effects, r["flags"], M.effect_range(effects["logit"]), r["map"][0],
                                                 labels and labels["features"]),
                     details, shard_size)
    weights_bytes, weights = r["weights"]
    w.binary(weights["file"], weights_bytes)
    magnitudes = M.sae_summary(stats["count"], r["flags"], positions, split, sae.site, r["rms"],
                               M.effect_scale(effects["logit"]))
    return {"name": sae.name, "dir": "saes/" + folder, "architecture": sae.arch, "site": sae.site,
            "d_in": sae.d_in, "d_sae": sae.d_sae, **sparsity(sae.k, sae.l1), "metrics": sae.shown_metrics(),
            "alive": int((stats["count"] > 0).sum()), "labels": labels and labels["summary"], **magnitudes,
            "weights_sha256": weights_fingerprint(sae.folder), "metrics_sha256": sae.fingerprint,
            "shards": n_shards, "shard_size": shard_size, "weights": weights,
            "map": {"method": F.MAP_METHOD, "explained": V.nums(r["map"][1], 3)}}


def concepts_entry(concepts, sweep):
    """index.json's `concepts`: where the labels come from and the headline table, or why there are none."""
    if concepts is None:
        return {"file": None, "note": f"no concepts.json in {sweep.dir}: no labels (python -m sae.concept_eval "
                                      f"--sae.out {sweep.dir} writes them)"}
    return {"file": concepts["file"], "format": concepts["format"], "sha256": file_sha256(concepts["file"]),
            "explained_f1": concepts["config"]["autointerp"]["explained_f1"],
            "importance_rows": concepts["config"]["autointerp"]["importance_rows"], "headline": headline(concepts)}


def sparsity(k, l1):
    """The knob that sets an SAE's sparsity, from its report entry: k (TopK kinds) or the L1 coefficient."""
    return {"k": k, "l1": l1, "sparsity_key": "k" if k is not None else "l1" if l1 is not None else None,
            "sparsity": k if k is not None else l1}


def scaling_row(run):
    """One run of the sweep report -> a point of the scaling plots."""
    m = run["metrics"]
    return {"name": run["name"], "architecture": run["arch"], "site": run["site"], "d_sae": run["d_sae"],
            **sparsity(run["k"], run["l1"]), "l0": m["l0"], "fvu": m["fvu"], "dead_frac": m["dead_frac"]}


def check(out, sweep_dir, store_path, only):
    """Compare the viewer data at `out` with the current store and sweep; 0 if up to date, 1 if stale.

    Missing or malformed inputs raise SourceError (the data cannot be checked against them).
    """
    try:
        index = V.read_index(out)
    except V.ViewerDataError as e:
        print(f"stale: {e}")
        return 1
    if index is None:
        print(f"no viewer data at {out}: run python vis/generate_vis_data.py")
        return 1
    store, sweep = Store(store_path), Sweep(sweep_dir)
    problems = []
    if store.fingerprint != index["store"].get("fingerprint"):
        problems.append(f"activation store {store.path} changed")
    concepts = sweep.concepts()
    if (concepts and file_sha256(concepts["file"])) != (index.get("concepts") or {}).get("sha256"):
        problems.append(f"the concept labels of {sweep.dir} changed (concepts.json)")
    known = {s["name"]: s for s in index["saes"]}
    skipped = {s["name"]: s["reason"] for s in index.get("skipped", [])}
    current = {r["name"]: r for r in sweep.select(only)}
    for name, run in current.items():
        if name in skipped:
            continue
        if name not in known:
            problems.append(f"SAE {name} is new")
            continue
        sae = SAE(sweep, run)
        if weights_fingerprint(sae.folder) != known[name].get("weights_sha256"):
            problems.append(f"SAE {name} changed")
        elif sae.fingerprint != known[name].get("metrics_sha256"):
            problems.append(f"metrics of SAE {name} changed")
    for name, reason in skipped.items():
        if name in current:  # it was left out of the data: the data does not show the sweep
            problems.append(f"SAE {name} was skipped when the data was generated ({reason})")
    problems += [f"SAE {name} is no longer in the sweep" for name in known if name not in current]
    for p in problems:
        print("stale:", p)
    print("vis data is", "STALE: rerun python vis/generate_vis_data.py" if problems else "up to date")
    return 1 if problems else 0


def main(argv=None):
    import config  # the root config tree (repo root): only the command line uses it
    cfg = config.parse(config.Config, argv, __doc__)
    try:
        if cfg.vis.check:
            return check(cfg.vis.out, cfg.sae.out, cfg.collect.out, cfg.vis.only)
        build_viewer_data(cfg.sae.out, cfg.collect.out, cfg.vis, cfg.seed, config.resolve_device(cfg.device),
                          config.to_dict(cfg), resolve_checkpoint(cfg.checkpoint))
    except (SourceError, CheckpointError) as e:
        sys.exit(f"error: {e}")
    return 0


if __name__ == "__main__":
    # run as `python vis/generate_vis_data.py`: the script's folder (vis/, which has its own config.py)
    # comes first on sys.path and would shadow the root `config` module
    sys.path[0] = str(Path(__file__).resolve().parent.parent)
    sys.exit(main())
