"""Small stand-in inputs for the viewer: a network checkpoint, an activation store, SAEs.

    python -m vis.demo_data --out /tmp/demo       # then:
    python vis/generate_vis_data.py --acts /tmp/demo/acts --sae-dir /tmp/demo/sae --out vis/data

Used by the viewer's tests and benchmark, and to try the viewer before any SAE is
trained. Everything follows the formats the real pipeline writes (store manifest +
.npy arrays; SAELens folders) but the weights are random: the network is
untrained, the positions come from uniformly random games, and each SAE's encoder
is its decoder transposed with biases set so each feature fires on about
`density` of the positions (or keeps the k largest, for TopK).
"""
import argparse
import json
from pathlib import Path

import numpy as np
import torch
from safetensors.numpy import save_file

from alphazero.checkpoint import file_sha256, save_checkpoint
from alphazero.network import AlphaZeroNet, NetConfig, value_from_logits
from othello import game


def random_games(n_games, seed=0):
    """All positions of `n_games` uniformly random games: dict of per-position arrays."""
    rng = np.random.default_rng(seed)
    me, opp = game.initial(n_games)
    out = {"me": [], "opp": [], "ply": [], "game_id": [], "mover": []}
    black = np.ones(n_games, np.int8)  # +1 while Black (the first player) is to move
    for ply in range(80):
        live = ~game.terminal(me, opp)
        if not live.any():
            break
        idx = np.flatnonzero(live)
        for k, v in (("me", me), ("opp", opp), ("game_id", np.arange(n_games)), ("mover", black)):
            out[k].append(v[idx].copy())
        out["ply"].append(np.full(len(idx), ply))
        legal = game.legal_mask(me, opp)
        a = np.where(legal, rng.random(legal.shape), -1.0).argmax(1)
        nme, nopp = game.step(me, opp, a)
        me, opp = np.where(live, nme, me), np.where(live, nopp, opp)
        black = np.where(live, -black, black).astype(np.int8)
    pos = {k: np.concatenate(v) for k, v in out.items()}
    # like the real collector: each position once (its first occurrence), so top lists are not one board 16 times
    _, first = np.unique(np.stack([pos["me"], pos["opp"]], 1), axis=0, return_index=True)
    keep = np.sort(first)
    return {k: v[keep] for k, v in pos.items()}


def make_checkpoint(path, cfg=None, seed=0):
    torch.manual_seed(seed)
    net = AlphaZeroNet(cfg or NetConfig()).eval()
    save_checkpoint(path, net, iteration=0)
    return net


@torch.inference_mode()
def make_store(path, net, checkpoint, n_games=64, seed=0, test_frac=0.5, dtype="float16"):
    """Write an activation store of every position of `n_games` random games (split by game)."""
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    pos = random_games(n_games, seed)
    n_test = max(1, int(n_games * test_frac))
    n_val = max(1, n_games // 10)
    split = np.where(pos["game_id"] < n_games - n_test - n_val, 0, np.where(pos["game_id"] < n_games - n_test, 1, 2))
    order = np.lexsort((pos["ply"], pos["game_id"], split))
    pos = {k: v[order] for k, v in pos.items()}
    bounds = np.concatenate([[0], np.cumsum(np.bincount(split, minlength=3))]).tolist()
    boards = game.to_planes(pos["me"], pos["opp"])
    logits, v_logits, cache = net.run_with_cache(torch.from_numpy(boards), net.sites)
    for s in net.sites:
        np.save(path / f"acts_{s}.npy", cache[s].numpy().astype(dtype))
    arrays = {"boards": boards.astype(np.int8), "mover": pos["mover"], "ply": pos["ply"].astype(np.int16),
              "legal": game.legal_mask(pos["me"], pos["opp"]), "game_id": pos["game_id"].astype(np.int32),
              "policy": torch.softmax(logits, -1).numpy().astype(np.float16),
              "value": value_from_logits(v_logits).numpy().astype(np.float32)}
    for k, v in arrays.items():
        np.save(path / f"{k}.npy", v)
    manifest = {"format": "othello-activations/1", "checkpoint": str(checkpoint),
                "checkpoint_sha256": file_sha256(checkpoint), "net_config": vars(net.cfg), "sites": net.sites,
                "count": len(boards), "act_dtype": dtype, "d_model": net.cfg.d_model, "n_games": n_games, "seed": seed,
                "splits": {"train": bounds[0:2], "val": bounds[1:3], "test": bounds[2:4]}}
    (path / "manifest.json").write_text(json.dumps(manifest, indent=1))
    return manifest


def make_sae(folder, acts, d_sae, architecture="standard", k=8, density=0.05, site="resid.2", seed=0,
             checkpoint_sha256=None, metrics=None):
    """Write a random SAE folder (cfg.json, sae_weights.safetensors, metrics.json) for raw `acts`."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    x = np.asarray(acts, dtype=np.float32)
    d_in = x.shape[1]
    W_dec = rng.normal(size=(d_sae, d_in)).astype(np.float32)
    W_dec /= np.linalg.norm(W_dec, axis=1, keepdims=True)
    W_dec *= rng.uniform(0.5, 2.0, size=(d_sae, 1)).astype(np.float32)  # folded scales: norms differ
    b_dec = x.mean(0)
    W_enc = np.ascontiguousarray(W_dec.T / np.linalg.norm(W_dec, axis=1))
    pre = (x - b_dec) @ W_enc
    # per-feature threshold so the feature fires on about `density` of positions (some fire rarely, some never)
    q = np.clip(1 - density * rng.lognormal(0, 1, size=d_sae), 0, 1)
    b_enc = -np.array([np.quantile(pre[:, i], q[i]) for i in range(d_sae)], np.float32)
    b_enc[rng.random(d_sae) < 0.05] = -1e6  # a few dead features
    weights = {"W_enc": W_enc, "b_enc": b_enc, "W_dec": W_dec, "b_dec": b_dec}
    cfg = {"architecture": architecture, "d_in": d_in, "d_sae": d_sae, "dtype": "float32", "device": "cpu",
           "apply_b_dec_to_input": True, "normalize_activations": "none", "reshape_activations": "none",
           "metadata": {"sae_lens_version": "6.0.0", "hook_name": site}}
    if architecture == "topk":
        cfg["k"] = k
        weights["b_enc"] = np.zeros(d_sae, np.float32)
    elif architecture == "jumprelu":
        weights["threshold"] = np.maximum(-b_enc, 0).astype(np.float32)
        weights["b_enc"] = np.zeros(d_sae, np.float32)
    elif architecture == "gated":
        del weights["b_enc"]
        weights.update(b_gate=b_enc, b_mag=np.zeros(d_sae, np.float32), r_mag=np.zeros(d_sae, np.float32))
    save_file(weights, folder / "sae_weights.safetensors")
    (folder / "cfg.json").write_text(json.dumps(cfg, indent=1))
    knob = {"k": k} if architecture == "topk" else {"l1_coefficient": round(density * 100, 2)}
    m = {"site": site, "architecture": architecture, "d_sae": d_sae, **knob, "fvu": float(rng.uniform(0.05, 0.3)),
         "l0": float(k if architecture == "topk" else density * d_sae), "dead_frac": 0.05,
         "checkpoint_sha256": checkpoint_sha256, **(metrics or {})}
    (folder / "metrics.json").write_text(json.dumps(m, indent=1))
    return weights


def make_demo(out, n_games=64, saes=(("standard", 256), ("topk", 512)), net_cfg=None, site="resid.2", seed=0):
    """Checkpoint + store + SAE sweep under `out`; returns the paths."""
    out = Path(out)
    ckpt = out / "model.pt"
    net = make_checkpoint(ckpt, net_cfg, seed)
    manifest = make_store(out / "acts", net, ckpt, n_games=n_games, seed=seed)
    acts = np.load(out / "acts" / f"acts_{site}.npy")[slice(*manifest["splits"]["train"])]
    runs = []
    for i, (arch, d_sae) in enumerate(saes):
        name = f"{arch}_{d_sae}"
        make_sae(out / "sae" / name, acts, d_sae, arch, site=site, seed=seed + i,
                 checkpoint_sha256=manifest["checkpoint_sha256"])
        runs.append({"name": name, **json.loads((out / "sae" / name / "metrics.json").read_text())})
    (out / "sae" / "scaling.json").write_text(json.dumps(runs, indent=1))
    return {"checkpoint": ckpt, "acts": out / "acts", "sae_dir": out / "sae"}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True, help="folder to write model.pt, acts/ and sae/ into")
    ap.add_argument("--games", type=int, default=64, help="random games in the store (default: %(default)s)")
    ap.add_argument("--features", type=int, nargs="+", default=[256, 1024], help="SAE sizes (default: %(default)s)")
    args = ap.parse_args(argv)
    saes = [(arch, d) for d in args.features for arch in ("standard", "topk")]
    print(make_demo(args.out, args.games, saes))


if __name__ == "__main__":
    main()
