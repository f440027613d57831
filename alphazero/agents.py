"""Network players with the batched player interface of othello/players.py, and `make_player`.

A player is a callable `player(me, opp) -> actions`: uint64 `[B]` positions
(canonical, mover to play, never finished games) -> int `[B]` legal actions.
Both network players handle the whole batch in one forward pass / one search,
so an arena of many games in lockstep costs one network call per ply (per simulation).

`make_player(spec)` builds any player from a short string, for the CLIs:

    random | greedy | alphabeta | alphabeta:DEPTH
    policy:PATH      raw network policy of a checkpoint (argmax over legal moves)
    mcts:PATH | PATH MCTS with `sims` simulations on a checkpoint's network
    shipped          MCTS on the shipped model (models/othello6x6.pt); also policy:shipped
"""
from pathlib import Path

import numpy as np
import torch

from alphazero.checkpoint import SHIPPED, load_network
from alphazero.inference import NetEvaluator, boards_tensor
from alphazero.mcts import SearchConfig, search
from othello import game
from othello.players import AlphaBetaPlayer, GreedyPlayer, RandomPlayer


class PolicyPlayer:
    """The raw network policy: argmax over legal actions, or a sample at `temperature` > 0."""

    def __init__(self, net, device="cpu", temperature=0.0, seed=None):
        self.net = net.to(device).eval()
        self.device = device
        self.temperature = temperature
        self.rng = np.random.default_rng(seed)
        self.name = "policy" if temperature == 0 else f"policy(T={temperature})"

    @torch.inference_mode()
    def __call__(self, me, opp):
        logits, _ = self.net(boards_tensor(me, opp, self.device))
        logits = logits.float().cpu().numpy().astype(np.float64)  # [B, 37]
        if self.temperature > 0:  # Gumbel-max: a sample from softmax(logits / T)
            logits = logits / self.temperature + self.rng.gumbel(size=logits.shape)
        return np.where(game.legal_mask(me, opp), logits, -np.inf).argmax(1)


class MCTSPlayer:
    """PUCT search (no root noise) on the whole batch at once; plays the most visited action."""

    def __init__(self, net, sims=64, device="cpu", seed=None, c_puct=1.5):
        self.evaluate = NetEvaluator(net, device)
        self.cfg = SearchConfig(num_simulations=sims, c_puct=c_puct, noise_fraction=0.0)
        self.rng = np.random.default_rng(seed)
        self.name = f"mcts{sims}"

    def __call__(self, me, opp):
        visits, _, _ = search(me, opp, self.evaluate, self.cfg, self.rng, add_noise=False)  # [B, 37]
        # a random fraction < 1 only reorders equal visit counts
        score = visits + self.rng.random(visits.shape)
        return np.where(game.legal_mask(me, opp), score, -1.0).argmax(1)


SPEC_HELP = ("random, greedy, alphabeta, alphabeta:DEPTH, policy:PATH, mcts:PATH, "
             "shipped, or a checkpoint PATH")


def _checkpoint_path(text):
    return SHIPPED if text == "shipped" else Path(text)


def make_player(spec, device="cpu", sims=64, seed=0, depth=4):
    """Build a player from a spec string (see the module docstring); `depth` is bare alphabeta's.

    Raises ValueError for a malformed spec, CheckpointError for a bad checkpoint file.
    """
    spec = spec.strip()
    kind, _, arg = spec.partition(":")
    if kind == "random" and not arg:
        return RandomPlayer(seed)
    if kind == "greedy" and not arg:
        return GreedyPlayer(seed)
    if kind == "alphabeta":
        if arg and not (arg.isdigit() and int(arg) >= 1):
            raise ValueError(f"bad player spec '{spec}': alphabeta depth must be a positive integer, e.g. alphabeta:4")
        return AlphaBetaPlayer(depth=int(arg) if arg else depth, seed=seed)
    if kind in ("policy", "mcts"):
        if not arg:
            raise ValueError(f"bad player spec '{spec}': {kind} needs a checkpoint, e.g. {kind}:shipped or {kind}:PATH")
        path = _checkpoint_path(arg)
    elif spec == "shipped" or spec.endswith(".pt") or "/" in spec or Path(spec).is_file():
        kind, path = "mcts", _checkpoint_path(spec)
    else:
        raise ValueError(f"unknown player spec '{spec}': expected {SPEC_HELP}")
    if sims < 1:
        raise ValueError(f"MCTS needs at least 1 simulation, got sims={sims}")
    net = load_network(path, device)
    label = "shipped" if path == SHIPPED else path.name
    if kind == "policy":
        player = PolicyPlayer(net, device=device, seed=seed)
        player.name = f"policy:{label}"
    else:
        player = MCTSPlayer(net, sims=sims, device=device, seed=seed)
        player.name = f"mcts{sims}:{label}"
    return player
