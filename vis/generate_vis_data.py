"""Build the feature viewer's data from trained SAEs and an activation store.

    python vis/generate_vis_data.py                       # runs/sae + runs/acts -> vis/data (test split)
    python vis/generate_vis_data.py --sae-dir runs/sae_big --split val --top 24
    python vis/generate_vis_data.py --check               # is vis/data stale? (exit 1 if so)
    cd vis && python -m http.server 8000                  # then open http://localhost:8000

Every SAE folder under --sae-dir (SAELens layout) is evaluated on one split of the
store (default: test, i.e. held-out games): each feature's density, activation
histogram, top-activating boards, samples from activation-quantile bands, the
effect of its decoder direction on the policy and value (see vis/features.py for
the exact definition) and its most similar features. The output folder is
replaced as a whole; its layout is described in vis/writer.py.
"""
import argparse
import datetime
import hashlib
import json
import shutil
import sys
import time
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from alphazero.checkpoint import CheckpointError, file_sha256, load_network
from sae.activations import ActivationStoreError
from sae.export import SAELoadError
from vis import features as F
from vis import writer as W
from vis.sources import SAE, Store, find_saes, read_scaling, scaling_row

FORMAT = "othello-vis/1"  # bump with vis/js/data.js FORMAT when the layout changes


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sae-dir", default="runs/sae", help="folder of SAE folders + scaling.json (default: %(default)s)")
    ap.add_argument("--acts", default="runs/acts", help="activation store (default: %(default)s)")
    ap.add_argument("--out", default="vis/data", help="output folder, replaced as a whole (default: %(default)s)")
    ap.add_argument("--split", default="test", help="store split to evaluate on (default: %(default)s: held-out games)")
    ap.add_argument("--checkpoint", default=None, help="network checkpoint (default: the one named in the store's manifest)")
    ap.add_argument("--top", type=int, default=16, help="top-activating boards per feature (default: %(default)s)")
    ap.add_argument("--bands", type=int, default=4, help="activation quantile bands per feature (default: %(default)s)")
    ap.add_argument("--per-band", type=int, default=4, help="sampled boards per band (default: %(default)s)")
    ap.add_argument("--effect-samples", type=int, default=32,
                    help="firing positions per feature for the policy effect (default: %(default)s)")
    ap.add_argument("--similar", type=int, default=8, help="similar features listed (default: %(default)s)")
    ap.add_argument("--shard-size", type=int, default=64, help="features per detail shard (default: %(default)s)")
    ap.add_argument("--max-positions", type=int, default=0, help="use only the first N rows of the split (0 = all)")
    ap.add_argument("--only", default=None, help="comma-separated SAE folder names to include (default: all)")
    ap.add_argument("--seed", type=int, default=0, help="seed for the sampled examples (default: %(default)s)")
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu", help="torch device (default: %(default)s)")
    ap.add_argument("--check", action="store_true", help="only report whether --out is stale against --sae-dir/--acts")
    args = ap.parse_args(argv)
    if args.check:
        return check(args)

    try:
        return generate(args, argv)
    except (ActivationStoreError, SAELoadError, CheckpointError) as e:
        sys.exit(f"error: {e}")


def generate(args, argv):
    """Evaluate every SAE and write the viewer data (see the module docstring)."""
    t0 = time.perf_counter()
    store = Store(args.acts, args.split)
    n = store.count if args.max_positions <= 0 else min(store.count, args.max_positions)
    if n == 0:
        sys.exit(f"split '{args.split}' of {args.acts} is empty; choose another with --split")
    checkpoint = args.checkpoint or store.manifest.get("checkpoint")
    store_sha = store.manifest.get("checkpoint_sha256")
    ckpt_sha = file_sha256(checkpoint) if checkpoint and Path(checkpoint).is_file() else None
    warnings = []
    if store_sha and ckpt_sha and store_sha != ckpt_sha:
        warnings.append(f"checkpoint {checkpoint} is not the one the store was collected with")
    net = load_network(checkpoint, args.device)

    folders = find_saes(args.sae_dir)
    if args.only:
        keep = set(args.only.split(","))
        folders = [f for f in folders if f.name in keep]
    if not folders:
        sys.exit(f"no SAE folders (cfg.json + sae_weights.safetensors) under {args.sae_dir}; train some first")
    legal = np.asarray(store.array("legal")[:n])

    results = []
    for folder in tqdm(folders, desc="SAEs", unit="sae", disable=None):
        sae = SAE(folder, args.device)
        site = sae.site or (store.manifest["sites"][0] if len(store.manifest.get("sites", [])) == 1 else None)
        if site not in store.manifest.get("sites", []):
            warnings.append(f"{sae.name}: site {site!r} is not in the store; skipped")
            continue
        results.append(evaluate(sae, site, store, n, legal, net, args, store_sha, warnings))

    # one board table shared by every SAE: the split rows any example refers to
    used = np.unique(np.concatenate([rows for r in results for rows in r["example_rows"]] + [np.zeros(0, np.int64)]))
    board_id = np.full(n, -1, np.int64)
    board_id[used] = np.arange(len(used))
    records = W.pack_boards(*(np.asarray(store.array(k)[:n])[used] for k in ("boards", "legal", "mover", "ply", "policy", "value")))

    out = Path(args.out)
    tmp = out.with_name(out.name + ".tmp")
    if tmp.exists():
        shutil.rmtree(tmp)
    n_chunks = W.write_boards(tmp, records)
    saes = []
    for r in results:
        saes.append(write_sae(tmp, r, board_id, args.shard_size))
    scaling = merge_scaling(read_scaling(args.sae_dir), [s["scaling"] for s in saes])
    index = {
        "format": FORMAT,
        "generated": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "command": " ".join(["python vis/generate_vis_data.py"] + (argv if argv is not None else sys.argv[1:])),
        "checkpoint": checkpoint, "checkpoint_sha256": store_sha or ckpt_sha,
        "store": {"path": str(store.path), "fingerprint": store.fingerprint, "split": args.split, "positions": n,
                  "count": store.manifest.get("count"), "sites": store.manifest.get("sites")},
        "boards": {"count": int(len(used)), "chunks": n_chunks, "per_chunk": W.BOARDS_PER_CHUNK,
                   "record_bytes": W.RECORD_BYTES},
        "effect_method": ("mean over up to %d random positions where the feature fires: add (mean firing activation) x "
                          "decoder vector at the site; logit change centred over each position's legal moves"
                          % args.effect_samples),
        "saes": [{k: v for k, v in s.items() if k != "scaling"} for s in saes],
        "scaling": scaling,
        "warnings": warnings,
    }
    W.write_json(tmp / "index.json", index)
    W.swap_in(tmp, out)
    for w in warnings:
        print("warning:", w, file=sys.stderr)
    print(f"wrote {out}: {len(saes)} SAEs, {len(used)} boards, {time.perf_counter() - t0:.1f} s")
    return 0


def evaluate(sae, site, store, n, legal, net, args, store_sha, warnings):
    """All statistics of one SAE (numpy arrays, not yet written)."""
    acts = store.acts(site)[:n]
    rows, feats, vals, ev = F.encode_sparse(sae, acts, desc=f"encode {sae.name}")
    seg = F.Segments(rows, feats, vals, sae.d_sae)
    stats = F.feature_stats(seg, n, top=args.top, bands=args.bands, per_band=args.per_band, seed=args.seed)
    d_logit, d_value, n_eff = F.policy_effects(net, site, acts, legal, seg, stats["mean"], sae.W_dec,
                                               samples=args.effect_samples, seed=args.seed, device=args.device)
    sim_ids, sim_cos = F.similar_features(sae.W_dec, k=args.similar)
    sae_sha = sae.metrics.get("checkpoint_sha256") or (sae.cfg.get("metadata") or {}).get("checkpoint_sha256")
    if sae_sha and store_sha and sae_sha != store_sha:
        warnings.append(f"{sae.name}: trained on a different checkpoint than the activation store")
    example_rows = list(stats["top_rows"]) + [b["rows"] for bands in stats["bands"] for b in bands]
    return {"sae": sae, "site": site, "stats": stats, "eval": ev, "d_logit": d_logit, "d_value": d_value,
            "n_eff": n_eff, "sim": (sim_ids, sim_cos), "example_rows": example_rows, "sae_sha": sae_sha}


def write_sae(out, r, board_id, shard_size):
    """Write features.json and the shards of one SAE; return its index entry."""
    sae, stats = r["sae"], r["stats"]
    folder = out / "saes" / safe_name(sae.name)
    summary, per_feature = concepts_of(sae.metrics, sae.d_sae)
    W.write_json(folder / "features.json", W.feature_summary(stats, r["d_logit"]))
    details = [W.feature_detail(i, stats, r["d_logit"], r["d_value"], r["n_eff"], *r["sim"], board_id,
                                per_feature[i] if per_feature else None) for i in range(sae.d_sae)]
    n_shards = W.write_shards(folder, details, shard_size)
    key, value = sae.sparsity()
    metrics = {k: W.num(v) for k, v in sae.metrics.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
    row = scaling_row({"name": sae.name, "architecture": sae.architecture, "site": r["site"], "d_sae": sae.d_sae,
                       **sae.metrics, "metrics": sae.metrics, **({key: value} if key else {})})
    alive = int((stats["count"] > 0).sum())
    evaluation = {"l0": W.num(r["eval"]["l0"]), "fvu": W.num(r["eval"]["fvu"]), "mse": W.num(r["eval"]["mse"]),
                  "dead_frac": W.num(1 - alive / sae.d_sae), "positions": r["eval"]["positions"]}
    for k in ("l0", "fvu", "mse", "dead_frac"):  # plots fall back to our own split numbers
        if row.get(k) is None:
            row[k] = evaluation[k]
    return {"name": sae.name, "dir": "saes/" + safe_name(sae.name), "architecture": sae.architecture,
            "site": r["site"], "d_in": sae.d_in, "d_sae": sae.d_sae, "k": sae.cfg.get("k"),
            "sparsity_key": key, "sparsity": value, "metrics": metrics, "eval": evaluation, "alive": alive,
            "concepts": summary, "checkpoint_sha256": r["sae_sha"], "weights_sha256": weights_sha(sae.folder),
            "shards": n_shards, "shard_size": shard_size, "scaling": row}


def merge_scaling(sweep_rows, sae_rows):
    """scaling.json rows, gaps filled from the exported SAE of the same name; SAEs it lacks appended."""
    by_name = {r["name"]: r for r in sae_rows}
    out = [{**by_name.get(r["name"], {}), **{k: v for k, v in r.items() if v is not None}} for r in sweep_rows]
    named = {r["name"] for r in sweep_rows}
    return out + [r for r in sae_rows if r["name"] not in named]


def concepts_of(metrics, d_sae):
    """metrics["concepts"] (sae/concepts.py) -> (scalar summary dict or None, per-feature list or None)."""
    c = metrics.get("concepts")
    if not isinstance(c, dict):
        return None, None
    summary = {}
    for group in ("coverage", "reconstruction"):
        for k, v in (c.get(group) or {}).items():
            if isinstance(v, (int, float)) and not isinstance(v, bool):
                summary[f"{group} {k}"] = W.num(v)
    per = c.get("features")
    if isinstance(per, list) and len(per) == d_sae:
        per = [[e] if isinstance(e, dict) else e for e in per]  # the page shows a list of entries
    elif isinstance(per, list):  # sparse form: [{"feature": id, ...}, ...]
        entries = per
        per = [None] * d_sae
        for e in entries:
            if isinstance(e, dict) and 0 <= int(e.get("feature", -1)) < d_sae:
                per[int(e["feature"])] = (per[int(e["feature"])] or []) + [e]
    else:
        per = None
    return summary or None, per


def safe_name(name):
    return "".join(ch if ch.isalnum() or ch in "._-" else "_" for ch in name)


def weights_sha(folder):
    return file_sha256(Path(folder) / "sae_weights.safetensors")


def check(args):
    """Compare --out/index.json with the current store and SAE folders; exit 1 when stale."""
    index_file = Path(args.out) / "index.json"
    if not index_file.is_file():
        print(f"no viewer data at {args.out}: run python vis/generate_vis_data.py")
        return 1
    index = json.loads(index_file.read_text())
    problems = []
    if index.get("format") != FORMAT:
        problems.append(f"format {index.get('format')} != {FORMAT}")
    manifest = Path(args.acts) / "manifest.json"
    if manifest.is_file() and hashlib.sha256(manifest.read_bytes()).hexdigest() != index["store"]["fingerprint"]:
        problems.append(f"activation store {args.acts} changed")
    current = {f.name: weights_sha(f) for f in find_saes(args.sae_dir)}
    known = {s["name"]: s["weights_sha256"] for s in index.get("saes", [])}
    problems += [f"SAE {k} changed" for k in known if k in current and current[k] != known[k]]
    problems += [f"SAE {k} is new" for k in current if k not in known]
    for p in problems:
        print("stale:", p)
    print("vis data is", "STALE: rerun python vis/generate_vis_data.py" if problems else "up to date")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
