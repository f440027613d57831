"""Checkpoints as plain data: a dict of tensors, numbers, strings and lists.

    {"format": "othello-alphazero/1", "net_config": {...}, "model": state_dict,
     "train_config": {...}, "iteration": int, "history": [...], "optimizer": ..., ...}

Written to a temp file then `os.replace`d, so an interrupted run never leaves a
broken file; read with `torch.load(weights_only=True)`, so loading runs no pickle code.
"""
import hashlib
import os
from pathlib import Path

import torch

from alphazero.config import NetConfig
from alphazero.network import AlphaZeroNet, config_dict

FORMAT = "othello-alphazero/1"
REPO_ROOT = Path(__file__).resolve().parent.parent
SHIPPED = REPO_ROOT / "models" / "othello6x6.pt"  # the trained model committed with the repo


class CheckpointError(ValueError):
    """A checkpoint file that is missing, corrupt or not one of ours."""


def save_checkpoint(path, net, **extra):
    """Atomically write `net` (config + weights) and any plain-data `extra` fields."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    data = {"format": FORMAT, "net_config": config_dict(net.cfg),
            "model": {k: v.detach().cpu() for k, v in net.state_dict().items()}, **extra}
    tmp = path.with_name(path.name + ".tmp")
    torch.save(data, tmp)
    os.replace(tmp, path)


def load_checkpoint(path):
    """Read a checkpoint dict; raise CheckpointError naming the problem."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint not found: {path}")
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # torch raises many types for truncated/garbage files
        raise CheckpointError(f"{path} is not a readable checkpoint ({type(e).__name__}: {str(e).splitlines()[0][:120]})") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise CheckpointError(f"{path} is not an Othello AlphaZero checkpoint (expected format '{FORMAT}')")
    return data


def network_from_checkpoint(data, device="cpu"):
    """Build the network stored in a checkpoint dict."""
    net = AlphaZeroNet(NetConfig(**data["net_config"]))
    try:
        net.load_state_dict(data["model"])
    except RuntimeError as e:
        raise CheckpointError(f"checkpoint weights do not match its config: {str(e).splitlines()[0][:160]}") from None
    return net.to(device).eval()


def resolve_checkpoint(spec):
    """A checkpoint setting -> its path: 'shipped' is the committed model, anything else a file path."""
    return SHIPPED if str(spec) == "shipped" else Path(spec)


def load_network(path=SHIPPED, device="cpu"):
    """Load the network of a checkpoint file (default: the shipped model)."""
    return network_from_checkpoint(load_checkpoint(path), device)


def file_sha256(path):
    """Hex digest of a file, to tie activations and SAEs to the exact checkpoint."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()
