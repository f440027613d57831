import os

os.environ.setdefault("WANDB_MODE", "disabled")


def tiny_checkpoint(path, d_model=16, n_blocks=1, d_hidden=32, seed=0):
    """Save a randomly initialised network at `path` (for CLI tests); returns the path."""
    import torch

    from alphazero.checkpoint import save_checkpoint
    from alphazero.network import AlphaZeroNet, NetConfig

    torch.manual_seed(seed)
    save_checkpoint(path, AlphaZeroNet(NetConfig(d_model=d_model, n_blocks=n_blocks, d_hidden=d_hidden)))
    return path
