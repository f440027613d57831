"""Uniformly random play: the one random-game generator of the toolkit.

Tests, benchmarks, fixtures and diversity sampling all draw positions from here.
"""
import numpy as np

from othello import game

MAX_PLIES = 80  # a 6x6 game has at most 32 moves plus passes


def random_games(n_games, seed=0, unique=False):
    """Every position before a move of `n_games` uniformly random games (finished positions excluded).

    Returns {"me", "opp": uint64 [N], "ply", "game_id": int64 [N], "mover": int8 [N] (+1 Black
    to move, -1 White)}, ordered by ply then game. `unique=True` keeps each position's first occurrence.
    """
    rng = np.random.default_rng(seed)
    me, opp = game.initial(n_games)
    black = np.ones(n_games, np.int8)
    cols = {"me": [], "opp": [], "ply": [], "game_id": [], "mover": []}
    for ply in range(MAX_PLIES):
        live = np.flatnonzero(~game.terminal(me, opp))
        if not len(live):
            break
        for k, v in (("me", me), ("opp", opp), ("mover", black)):
            cols[k].append(v[live].copy())
        cols["game_id"].append(live.astype(np.int64))
        cols["ply"].append(np.full(len(live), ply, np.int64))
        legal = game.legal_mask(me[live], opp[live])
        a = np.where(legal, rng.random(legal.shape), -1.0).argmax(1)  # uniform over legal actions
        me[live], opp[live] = game.step(me[live], opp[live], a)
        black[live] = -black[live]
    pos = {k: np.concatenate(v) for k, v in cols.items()}
    if unique:
        _, first = np.unique(np.stack([pos["me"], pos["opp"]], 1), axis=0, return_index=True)
        pos = {k: v[np.sort(first)] for k, v in pos.items()}
    return pos


def random_positions(n, seed=0, max_plies=40):
    """`(me, opp)` uint64 `[n]`: one position per random game, at a ply drawn uniformly
    among that game's unfinished positions before `max_plies` (never a finished game)."""
    rng = np.random.default_rng(seed)
    pos = random_games(n, seed=rng.integers(2**63))
    pos = {k: v[pos["ply"] < max_plies] for k, v in pos.items()}
    order = np.lexsort((pos["ply"], pos["game_id"]))          # rows grouped by game, in ply order
    gid = pos["game_id"][order]
    first = np.searchsorted(gid, np.arange(n))
    length = np.bincount(gid, minlength=n)
    pick = order[first + (rng.random(n) * length).astype(np.int64)]
    return pos["me"][pick], pos["opp"][pick]
