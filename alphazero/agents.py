"""Network players with the batched player interface of othello/players.py, and `make_player`.

A player is a callable `player(me, opp) -> actions`: uint64 `[B]` positions
(canonical, mover to play, never finished games) -> int `[B]` legal actions.
Both network players handle the whole batch in one forward pass / one search,
so an arena of many games in lockstep costs one network call per ply (per simulation).

`make_player(spec)` builds any player from a short string, for the CLIs:

    random | greedy | alphabeta | alphabeta:DEPTH
    alphabeta:DEPTH+exactE   alpha-beta (numba) DEPTH plies deep, exact endgame solver from E empties
    policy:PATH      raw network policy of a checkpoint (argmax over legal moves)
    mcts:PATH | PATH search (the `search` section: PUCT or Gumbel, no root noise) on a checkpoint's network
    shipped          MCTS on the shipped model (models/othello6x6.pt); also policy:shipped
"""
import dataclasses
from pathlib import Path

import numpy as np
import torch

from alphazero.checkpoint import SHIPPED, load_network
from alphazero.inference import NetEvaluator, boards_tensor
from alphazero.config import SearchConfig
from alphazero import mcts
from othello import game
from othello.players import AlphaBetaPlayer, ExactEndgamePlayer, GreedyPlayer, RandomPlayer


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
    """Batched search (no root noise) on the whole batch at once: PUCT plays the most visited
    action, Gumbel its argmax of logits + sigma(completed Q) among the most visited.

    `search`: SearchConfig (default: the section's defaults, `algorithm` included); `sims` overrides its `sims`.
    """

    def __init__(self, net, sims=None, device="cpu", seed=None, search=None):
        search = search or SearchConfig()
        self.cfg = dataclasses.replace(search, sims=search.sims if sims is None else sims)
        mcts.check_config(self.cfg)
        self.evaluate = NetEvaluator(net, device)
        self.rng = np.random.default_rng(seed)
        self.name = f"mcts{self.cfg.sims}"  # Gumbel or PUCT: both are MCTS; the config records which

    def __call__(self, me, opp):
        return mcts.run(me, opp, self.evaluate, self.cfg, self.rng, add_noise=False).action  # [B]


SPEC_HELP = ("random, greedy, alphabeta, alphabeta:DEPTH, alphabeta:DEPTH+exactE (exact endgame "
             "solver from E empties, e.g. alphabeta:6+exact10), policy:PATH, mcts:PATH, shipped, or a checkpoint PATH")


def _checkpoint_path(text):
    return SHIPPED if text == "shipped" else Path(text)


def make_player(spec, device="cpu", sims=None, seed=0, depth=4, search=None):
    """Build a player from a spec string (see the module docstring); `depth` is bare alphabeta's.

    MCTS players search with `search` (a SearchConfig; default: the section's defaults),
    `sims` overriding its number of simulations.

    Raises ValueError for a malformed spec, CheckpointError for a bad checkpoint file.
    """
    spec = spec.strip()
    kind, _, arg = spec.partition(":")
    if kind == "random" and not arg:
        return RandomPlayer(seed)
    if kind == "greedy" and not arg:
        return GreedyPlayer(seed)
    if kind == "alphabeta":  # alphabeta | alphabeta:DEPTH | alphabeta:DEPTH+exactEMPTIES
        d, plus, exact = arg.partition("+")
        e = exact[len("exact"):] if exact.startswith("exact") else ""
        if (arg and not (d.isdigit() and int(d) >= 1)) or (plus and not (e.isdigit() and int(e) <= game.SQUARES)):
            raise ValueError(f"bad player spec '{spec}': expected alphabeta:DEPTH (a positive integer, e.g. "
                             f"alphabeta:4) or alphabeta:DEPTH+exactE (exact endgame from E <= 36 empties, "
                             f"e.g. alphabeta:6+exact10)")
        if plus:
            return ExactEndgamePlayer(depth=int(d), exact_empties=int(e), seed=seed)
        return AlphaBetaPlayer(depth=int(d) if d else depth, seed=seed)
    if kind in ("policy", "mcts"):
        if not arg:
            raise ValueError(f"bad player spec '{spec}': {kind} needs a checkpoint, e.g. {kind}:shipped or {kind}:PATH")
        path = _checkpoint_path(arg)
    elif spec == "shipped" or spec.endswith(".pt") or "/" in spec or Path(spec).is_file():
        kind, path = "mcts", _checkpoint_path(spec)
    else:
        raise ValueError(f"unknown player spec '{spec}': expected {SPEC_HELP}")
    search = search or SearchConfig()
    sims = search.sims if sims is None else sims
    if sims < 1:
        raise ValueError(f"MCTS needs at least 1 simulation, got sims={sims}")
    net = load_network(path, device)
    label = "shipped" if path == SHIPPED else path.name
    if kind == "policy":
        player = PolicyPlayer(net, device=device, seed=seed)
        player.name = f"policy:{label}"
    else:
        player = MCTSPlayer(net, sims=sims, device=device, seed=seed, search=search)
        player.name = f"{player.name}:{label}"
    return player
