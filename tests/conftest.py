import os

os.environ.setdefault("WANDB_MODE", "disabled")
# One torch thread (also for CLI subprocesses, which inherit it): the tests' networks are tiny,
# and on a 2-core machine shared with other work two spinning OpenMP threads made them ~7x slower.
os.environ.setdefault("OMP_NUM_THREADS", "1")


def tiny_checkpoint(path, d_model=16, n_blocks=1, d_hidden=32, seed=0):
    """Save a randomly initialised network at `path` (for CLI tests); returns the path."""
    import torch

    from alphazero.checkpoint import save_checkpoint
    from alphazero.config import NetConfig
    from alphazero.network import AlphaZeroNet

    torch.manual_seed(seed)
    save_checkpoint(path, AlphaZeroNet(NetConfig(d_model=d_model, n_blocks=n_blocks, d_hidden=d_hidden)))
    return path
