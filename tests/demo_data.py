"""Small stand-in inputs for the viewer: a network checkpoint, an activation store, an SAE sweep.

    python -m tests.demo_data --out /tmp/demo       # then:
    python vis/generate_vis_data.py --collect.out /tmp/demo/acts --sae.out /tmp/demo/sae --checkpoint /tmp/demo/model.pt

Used by the viewer's tests and benchmark, and to try the viewer before any SAE is trained.
Everything is written by the toolkit's own writers (checkpoint, activation store, SAE folder,
sweep report), so the files are exactly what the real pipeline writes, but the weights are
random: the network is untrained, the positions come from uniformly random games
(othello.sampling), and each SAE's encoder is its decoder transposed with biases set so each
feature fires on about `density` of the positions (or keeps the k largest, for TopK). Its
metrics are measured on the store's held-out split, as training would.
"""
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import tyro

import config
from alphazero.checkpoint import file_sha256, save_checkpoint
from alphazero.network import AlphaZeroNet, NetConfig, config_dict, value_from_logits
from othello import game
from othello.sampling import random_games
from sae.activations import ActivationStore, write_store
from sae.config import EVAL_SPLIT
from sae.export import export_sae, from_saelens, load_metrics
from sae.report import summary_metrics
from sae.sweep_report import write_sweep_report
from tests.synthetic import moves_played

CONFIG = config.to_dict(config.Config())  # recorded by every demo artifact, as a real run records its own

# training architecture -> the SAELens architecture its folder is written in
ARCHS = {"relu": "standard", "topk": "topk", "jumprelu": "jumprelu", "gated": "gated"}


def make_checkpoint(path, cfg=None, seed=0):
    torch.manual_seed(seed)
    net = AlphaZeroNet(cfg or NetConfig()).eval()
    save_checkpoint(path, net, iteration=0)
    return net


@torch.inference_mode()
def make_store(path, net, checkpoint, n_games=64, seed=0, test_frac=0.5, dtype="float16"):
    """An activation store of every distinct position of `n_games` random games, split by game."""
    pos = random_games(n_games, seed, unique=True)
    n_test = max(1, int(n_games * test_frac))
    n_val = max(1, n_games // 10)
    split = np.where(pos["game_id"] < n_games - n_test - n_val, 0, np.where(pos["game_id"] < n_games - n_test, 1, 2))
    order = np.lexsort((pos["ply"], pos["game_id"], split))
    pos = {k: v[order] for k, v in pos.items()}
    bounds = np.concatenate([[0], np.cumsum(np.bincount(split, minlength=3))]).tolist()
    boards = game.to_planes(pos["me"], pos["opp"])
    logits, v_logits, cache = net.run_with_cache(torch.from_numpy(boards), net.sites)
    arrays = {**{f"acts_{s}": cache[s].numpy() for s in net.sites},
              "boards": boards.astype(np.int8), "mover": pos["mover"], "ply": pos["ply"].astype(np.int16),
              "legal": game.legal_mask(pos["me"], pos["opp"]), "game_id": pos["game_id"].astype(np.int32),
              "source": np.zeros(len(boards), np.int8), "policy": torch.softmax(logits, -1).numpy().astype(np.float16),
              "value": value_from_logits(v_logits).numpy().astype(np.float32), "move": moves_played(pos)}
    fields = {"config": CONFIG, "checkpoint": str(checkpoint), "checkpoint_sha256": file_sha256(checkpoint),
              "net_config": config_dict(net.cfg), "sources": ["random"], "n_games": n_games, "seed": seed,
              "splits": {"train": bounds[0:2], "val": bounds[1:3], "test": bounds[2:4]}}
    write_store(path, fields, arrays, act_dtype=dtype)
    return ActivationStore(path)


def random_sae(acts, d_sae, arch="relu", k=8, density=0.05, seed=0):
    """An SAE on raw activations [N, d_in] whose features fire on about `density` of them."""
    rng = np.random.default_rng(seed)
    x = np.asarray(acts, dtype=np.float32)
    W_dec = rng.normal(size=(d_sae, x.shape[1])).astype(np.float32)
    W_dec /= np.linalg.norm(W_dec, axis=1, keepdims=True)
    W_dec *= rng.uniform(0.5, 2.0, size=(d_sae, 1)).astype(np.float32)  # decoder norms differ
    b_dec = x.mean(0)
    W_enc = np.ascontiguousarray(W_dec.T / np.linalg.norm(W_dec, axis=1))
    pre = (x - b_dec) @ W_enc
    # per-feature threshold so the feature fires on about `density` of positions (some fire rarely, some never)
    q = np.clip(1 - density * rng.lognormal(0, 1, size=d_sae), 0, 1)
    b_enc = -np.array([np.quantile(pre[:, i], q[i]) for i in range(d_sae)], np.float32)
    b_enc[rng.random(d_sae) < 0.05] = -1e6  # a few dead features
    t = {"W_enc": W_enc, "b_enc": b_enc, "W_dec": W_dec, "b_dec": b_dec}
    if arch == "topk":
        t["b_enc"] = np.zeros(d_sae, np.float32)
    elif arch == "jumprelu":
        t.update(threshold=np.maximum(-b_enc, 0).astype(np.float32), b_enc=np.zeros(d_sae, np.float32))
    elif arch == "gated":
        del t["b_enc"]
        t.update(b_gate=b_enc, b_mag=np.zeros(d_sae, np.float32), r_mag=np.zeros(d_sae, np.float32))
    return from_saelens(ARCHS[arch], {n: torch.from_numpy(v) for n, v in t.items()}, k if arch == "topk" else None)


@torch.inference_mode()
def measure(sae, acts):
    """The metrics training records, measured on held-out activations [N, d_in]."""
    x = torch.from_numpy(np.asarray(acts, dtype=np.float32))
    x_hat, f = sae(x)
    sse = float(((x - x_hat) ** 2).sum())
    return {"fvu": sse / float(((x - x.mean(0)) ** 2).sum()), "mse": sse / x.numel(),
            "l0": float((f > 0).sum(1).float().mean()), "dead_frac": float(((f > 0).sum(0) == 0).float().mean())}


def make_sae(sweep_dir, name, store, d_sae, arch="relu", k=8, site="resid.2", seed=0, extra_metrics=None):
    """Write a random SAE folder (through sae.export) 'trained' on `store`; returns its sweep-report run."""
    sae = random_sae(store.acts(site, "train"), d_sae, arch, k=k, seed=seed)
    metrics = {**measure(sae, store.acts(site, EVAL_SPLIT)), **(extra_metrics or {})}
    folder = Path(sweep_dir) / name
    export_sae(sae, folder, site, store.manifest["checkpoint_sha256"], metrics, CONFIG)
    rec = load_metrics(folder)  # the run row holds what the folder records, as sae/report.py writes it
    return {"name": name, "folder": name, "site": site, "arch": rec["arch"], "d_sae": d_sae, "k": rec["k"],
            "l1": rec["l1"], "metrics": summary_metrics(rec["metrics"])}


def write_report(sweep_dir, store, runs):
    """The sweep report over `runs` (make_sae's return values), through sae.sweep_report."""
    return write_sweep_report(sweep_dir, runs, CONFIG, store.info())


def make_demo(out, n_games=64, saes=(("relu", 256), ("topk", 512)), net_cfg=None, site="resid.2", seed=0,
              extra_metrics=None):
    """Checkpoint + store + SAE sweep under `out`; returns the paths and the sweep's runs.

    `extra_metrics`: {sae name: {key: value}} added to that SAE's metrics (e.g. concepts).
    """
    out = Path(out)
    ckpt = out / "model.pt"
    net = make_checkpoint(ckpt, net_cfg, seed)
    store = make_store(out / "acts", net, ckpt, n_games=n_games, seed=seed)
    runs = []
    for i, (arch, d_sae) in enumerate(saes):
        name = f"{arch}_{d_sae}"
        runs.append(make_sae(out / "sae", name, store, d_sae, arch, site=site, seed=seed + i,
                             extra_metrics=(extra_metrics or {}).get(name)))
    write_report(out / "sae", store, runs)
    return {"checkpoint": ckpt, "acts": out / "acts", "sae_dir": out / "sae", "store": store, "runs": runs}


@dataclass(frozen=True)
class DemoArgs:
    out: str                                # folder to write model.pt, acts/ and sae/ into
    games: int = 64                         # random games in the store
    features: tuple[int, ...] = (256, 1024)  # SAE sizes (one relu and one topk SAE each)


def main(argv=None):
    args = tyro.cli(DemoArgs, args=argv, description=__doc__)
    print(make_demo(args.out, args.games, [(arch, d) for d in args.features for arch in ("relu", "topk")]))


if __name__ == "__main__":
    sys.exit(main())
