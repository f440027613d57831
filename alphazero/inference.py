"""Turn a network into the `evaluate(me, opp) -> (priors, values)` callable that MCTS takes."""
import numpy as np
import torch

from alphazero.network import value_from_logits
from othello import game


def boards_tensor(me, opp, device="cpu"):
    """uint64 `[B]` bitboards -> float32 tensor `[B, 36]` from the mover's side."""
    return torch.from_numpy(game.to_planes(me, opp)).to(device)


class NetEvaluator:
    """Batched network evaluation: one forward pass for the whole batch of positions.

    Returns priors `[B, 37]` (softmax over all actions; MCTS masks illegal ones)
    and values `[B]` = P(win) - P(loss) from the mover's side, as numpy float32.
    `calls` and `positions` count the work done (for benchmarks).
    """

    def __init__(self, net, device="cpu"):
        self.net = net.to(device).eval()
        self.device = device
        self.calls = 0
        self.positions = 0

    @torch.inference_mode()
    def __call__(self, me, opp):
        self.calls += 1
        self.positions += len(me)
        logits, v_logits = self.net(boards_tensor(me, opp, self.device))
        priors = torch.softmax(logits.float(), dim=-1)
        values = value_from_logits(v_logits.float())
        return priors.cpu().numpy(), values.cpu().numpy()


def uniform_evaluate(me, opp):
    """Network-free evaluator: uniform priors, value 0 (pure tree search baseline)."""
    return np.full((len(me), game.ACTIONS), 1.0 / game.ACTIONS, np.float32), np.zeros(len(me), np.float32)
