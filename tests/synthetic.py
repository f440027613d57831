"""Synthetic inputs for tests and benchmarks: a random-network activation store, planted sparse data.

`make_random_store` writes a real store (through sae.activations.write_store) from an
untrained network on every position of uniformly random games (othello.sampling), split
by game, so the SAE stages can run before a trained model or collected activations exist.
`planted_data` draws x = codes @ D with known unit directions D, to check that an SAE
recovers a dictionary it should be able to find.
"""
from pathlib import Path

import numpy as np
import torch

from alphazero.checkpoint import file_sha256, save_checkpoint
from alphazero.network import AlphaZeroNet, NetConfig, config_dict, value_from_logits
from othello import game
from othello.sampling import random_games
from sae.activations import write_store


@torch.inference_mode()
def make_random_store(out_dir, n_games=200, net_cfg=None, seed=0, val_frac=0.15, test_frac=0.15,
                      act_dtype="float16", sites=None):
    """Write a store from a random-init network (checkpoint saved beside it as `<name>_model.pt`). Returns the manifest."""
    out_dir = Path(out_dir)
    torch.manual_seed(seed)
    net = AlphaZeroNet(net_cfg or NetConfig()).eval()
    ckpt = out_dir.parent / f"{out_dir.name}_model.pt"
    save_checkpoint(ckpt, net, iteration=0)
    pos = random_games(n_games, seed)
    n_val, n_test = max(1, int(n_games * val_frac)), max(1, int(n_games * test_frac))
    gid = pos["game_id"]
    split = np.where(gid < n_games - n_val - n_test, 0, np.where(gid < n_games - n_test, 1, 2))
    order = np.lexsort((pos["ply"], gid, split))
    pos = {k: v[order] for k, v in pos.items()}
    bounds = np.concatenate([[0], np.cumsum(np.bincount(split, minlength=3))]).tolist()
    boards = game.to_planes(pos["me"], pos["opp"])
    sites = sites or net.sites
    logits, v_logits, cache = net.run_with_cache(torch.from_numpy(boards), sites)
    arrays = {**{f"acts_{s}": cache[s].numpy() for s in sites},
              "boards": boards, "mover": pos["mover"], "ply": pos["ply"], "game_id": pos["game_id"],
              "legal": game.legal_mask(pos["me"], pos["opp"]), "source": np.zeros(len(boards), np.int8),
              "policy": torch.softmax(logits, -1).numpy(), "value": value_from_logits(v_logits).numpy(),
              "move": moves_played(pos)}
    fields = {"config": {"synthetic": "tests.synthetic.make_random_store", "n_games": n_games, "seed": seed},
              "checkpoint": str(ckpt), "checkpoint_sha256": file_sha256(ckpt), "net_config": config_dict(net.cfg),
              "splits": {"train": bounds[0:2], "val": bounds[1:3], "test": bounds[2:4]},
              "sources": ["random"], "n_games": n_games, "seed": seed}
    return write_store(out_dir, fields, arrays, act_dtype)


def moves_played(pos):
    """The action played from each row of random_games' arrays (rows grouped by game, in ply order): the square
    filled by the game's next row, 36 (pass) where none is; a game's last row (or one whose next position was
    de-duplicated away) gets its lowest legal action, a legal stand-in for the unrecorded move."""
    me, opp, gid, ply = pos["me"], pos["opp"], pos["game_id"], pos["ply"]
    nxt = np.r_[gid[1:] == gid[:-1], False] & np.r_[ply[1:] == ply[:-1] + 1, False]
    filled = np.r_[me[1:] | opp[1:], np.uint64(0)] & ~(me | opp) & game.FULL
    move = np.where(filled != 0, game.bits_to_array(filled).argmax(1), game.PASS)
    return np.where(nxt, move, game.legal_mask(me, opp).argmax(1)).astype(np.int8)


def planted_data(n, d=32, n_dirs=64, active=3, seed=0):
    """`(x [n, d], D [n_dirs, d])`: each row is a sparse positive combination of `active` of the unit rows of D."""
    g = torch.Generator().manual_seed(seed)
    D = torch.randn(n_dirs, d, generator=g)
    D = D / D.norm(dim=1, keepdim=True)
    idx = torch.rand(n, n_dirs, generator=g).argsort(1)[:, :active]
    codes = torch.zeros(n, n_dirs).scatter_(1, idx, torch.rand(n, active, generator=g) + 0.5)
    return codes @ D, D


def store_fields(n, n_games, splits, checkpoint="none"):
    """Manifest fields of a hand-made store in tests (no real checkpoint behind it)."""
    return {"config": {"synthetic": "tests"}, "checkpoint": checkpoint, "checkpoint_sha256": "", "net_config": {},
            "splits": splits, "sources": ["random"], "n_games": n_games, "seed": 0}
