"""Turn a network into the `evaluate(me, opp) -> (priors, values)` callable that MCTS takes."""
import contextlib

import numpy as np
import torch

from alphazero.network import value_from_logits
from othello import game


def boards_tensor(me, opp, device="cpu"):
    """uint64 `[B]` bitboards -> float32 tensor `[B, 36]` from the mover's side."""
    return torch.from_numpy(game.to_planes(me, opp)).to(device)


def autocast_dtype(device, precision="auto"):
    """The autocast dtype of search inference on `device`: bf16 on CUDA ('auto' or 'bf16'), None (fp32) elsewhere.

    On a GPU the forward passes of search are small matmuls where bf16 halves memory traffic; priors
    and values need no more than bf16's 3 digits. On CPU it stays fp32: bit-identical runs, and CPUs
    without native bf16 emulate it slower (sae.train.resolve_precision).
    """
    if precision not in ("auto", "bf16", "fp32"):
        raise ValueError(f"inference precision must be auto, bf16 or fp32, got '{precision}'")
    return torch.bfloat16 if torch.device(device).type == "cuda" and precision != "fp32" else None


def autocast(device, precision="auto"):
    """The context that search inference runs in on `device` (see autocast_dtype)."""
    dtype = autocast_dtype(device, precision)
    return torch.autocast("cuda", dtype=dtype) if dtype is not None else contextlib.nullcontext()


class NetEvaluator:
    """Batched network evaluation: one forward pass for the whole batch of positions.

    Returns priors `[B, 37]` (softmax over all actions; MCTS masks illegal ones)
    and values `[B]` = P(win) - P(loss) from the mover's side, as numpy float32.
    `calls` and `positions` count the work done (for benchmarks). `precision`: autocast_dtype's
    (bf16 on CUDA unless 'fp32'; CPU is always fp32).
    """

    def __init__(self, net, device="cpu", precision="auto"):
        self.net = net.to(device).eval()
        self.device = device
        self.precision = precision
        autocast_dtype(device, precision)  # a bad precision fails here, not at the first call
        self.calls = 0
        self.positions = 0

    @torch.inference_mode()
    def __call__(self, me, opp):
        self.calls += 1
        self.positions += len(me)
        with autocast(self.device, self.precision):
            logits, v_logits = self.net(boards_tensor(me, opp, self.device))
        priors = torch.softmax(logits.float(), dim=-1)
        values = value_from_logits(v_logits.float())
        return priors.cpu().numpy(), values.cpu().numpy()


def uniform_evaluate(me, opp):
    """Network-free evaluator: uniform priors, value 0 (pure tree search baseline)."""
    return np.full((len(me), game.ACTIONS), 1.0 / game.ACTIONS, np.float32), np.zeros(len(me), np.float32)
