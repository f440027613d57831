"""Checkpoints: the one module that writes, reads and validates them.

A checkpoint is a dict of plain data (tensors, numbers, strings, lists), read with
`torch.load(weights_only=True)` so loading runs no pickle code:

    format      "othello-alphazero/2"
    net_config  {"d_model", "n_blocks", "d_hidden", "aux_heads"}   the network shape ("aux_heads"
                absent in files written before it existed, the shipped model's included: no aux heads)
    model       state dict of the network
    config      the full config tree of the run that made it (config.to_dict), if any
    iteration, history, elapsed_s, optimizer (latest.pt only)   training progress

Version 1 (`othello-alphazero/1`, the shipped models/othello6x6.pt) is the same with
`train_config` (flat training flags of the old CLI) instead of `config`; it is still read.
Any other format is refused with a one-line error naming the file. Writes are atomic
(othello.atomic), so an interrupted run never leaves a broken file.
"""
import hashlib
from pathlib import Path

import torch

from alphazero.config import NetConfig
from alphazero.network import AlphaZeroNet, config_dict
from othello.atomic import atomic_write

FORMAT = "othello-alphazero/2"
READS = ("othello-alphazero/1", FORMAT)  # versions this code reads: 1 (the shipped model) and 2
REQUIRED = ("net_config", "model")
REPO_ROOT = Path(__file__).resolve().parent.parent
SHIPPED = REPO_ROOT / "models" / "othello6x6.pt"  # the trained model committed with the repo


class CheckpointError(ValueError):
    """A checkpoint file that is missing, corrupt, of another version or not one of ours."""


def save_checkpoint(path, net, config=None, **extra):
    """Atomically write `net` (shape + weights), the run's `config` dict and plain-data `extra` fields."""
    data = {"format": FORMAT, "net_config": config_dict(net.cfg),
            "model": {k: v.detach().cpu() for k, v in net.state_dict().items()}, **extra}
    if config is not None:
        data["config"] = config
    return atomic_write(path, lambda tmp: torch.save(data, tmp))


def load_checkpoint(path):
    """Read and validate a checkpoint dict; raise CheckpointError naming the file and the problem."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint not found: {path}")
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # torch raises many types for truncated/garbage files
        raise CheckpointError(f"{path} is not a readable checkpoint ({type(e).__name__}: {str(e).splitlines()[0][:120]})") from None
    fmt = data.get("format") if isinstance(data, dict) else None
    if not isinstance(fmt, str) or not fmt.startswith("othello-alphazero/"):
        raise CheckpointError(f"{path} is not an Othello AlphaZero checkpoint (expected format '{FORMAT}')")
    if fmt not in READS:
        raise CheckpointError(f"{path} has checkpoint format '{fmt}'; this code reads {', '.join(READS)}")
    missing = [k for k in REQUIRED if k not in data]
    if missing:
        raise CheckpointError(f"{path} ({fmt}) lacks the field(s) {', '.join(missing)}")
    return data


def network_from_checkpoint(data, device="cpu", source="checkpoint"):
    """Build the network stored in a checkpoint dict (as returned by load_checkpoint from file `source`)."""
    where = source
    try:
        net = AlphaZeroNet(NetConfig(**{"aux_heads": False, **data["net_config"]}))
    except TypeError as e:
        raise CheckpointError(f"{where}: net_config {data['net_config']} is not a network shape ({e})") from None
    try:
        net.load_state_dict(data["model"])
    except RuntimeError as e:
        raise CheckpointError(f"{where}: weights do not match its net_config: {str(e).splitlines()[0][:160]}") from None
    return net.to(device).eval()


def resume_state(data, source="checkpoint"):
    """(optimizer state dict, next iteration, history, elapsed_s) of a training checkpoint (latest.pt)."""
    missing = [k for k in ("optimizer", "iteration", "history", "elapsed_s") if k not in data]
    if missing:
        raise CheckpointError(f"{source} cannot be resumed from: no {', '.join(missing)} "
                              "(only a run's latest.pt holds the optimizer)")
    return data["optimizer"], data["iteration"] + 1, data["history"], data["elapsed_s"]


def resolve_checkpoint(spec):
    """A checkpoint setting -> its path: 'shipped' is the committed model, anything else a file path."""
    return SHIPPED if str(spec) == "shipped" else Path(spec)


def load_network(path=SHIPPED, device="cpu"):
    """Load the network of a checkpoint file (default: the shipped model)."""
    return network_from_checkpoint(load_checkpoint(path), device, source=path)


def file_sha256(path):
    """Hex digest of a file, to tie activations and SAEs to the exact checkpoint."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()
