"""Self-play: many games in lockstep, one batched MCTS per ply across all of them.

Games run in `parallel` slots; when a game ends its slot starts the next one, so
the network batch stays full until the last games. Positions where the mover has
a single legal action (including a forced pass) are played without search and
not recorded: their policy target carries no information.
"""
from dataclasses import dataclass

import numpy as np
from tqdm import tqdm

from alphazero.mcts import SearchConfig, search
from othello import game


@dataclass
class SelfPlayConfig:
    games: int = 256            # games to play
    parallel: int = 256         # games in lockstep (network batch size during search)
    temperature_plies: int = 8  # sample moves in proportion to visits for the first plies, then play the most visited


def sample_actions(visits, temperature, rng):
    """visits `[B, 37]` -> actions `[B]`: sampled (temperature 1) or argmax with random tie-break."""
    if temperature > 0:
        p = visits.astype(np.float64) ** (1.0 / temperature)
        p /= p.sum(1, keepdims=True)
        u = rng.random((len(p), 1))
        return np.minimum((p.cumsum(1) < u).sum(1), game.ACTIONS - 1)
    noisy = visits + rng.random(visits.shape) * 0.1  # break ties randomly, never override a count
    return noisy.argmax(1)


def self_play(evaluate, cfg, search_cfg, rng, progress=True):
    """Play `cfg.games` games; return training data and statistics.

    Returns dict with `boards` int8 `[N, 36]`, `policy` float32 `[N, 37]` (visit
    distribution), `z` int8 `[N]` (final result from that position's mover: +1/0/-1),
    and `first_player_results` int8 `[games]`, `lengths` int `[games]`.
    """
    P = min(cfg.parallel, cfg.games)
    me, opp = game.initial(P)
    ply = np.zeros(P, np.int64)
    slot_game = np.arange(P)              # which game each slot plays
    started = P
    records = [[] for _ in range(cfg.games)]  # per game: (board, pi, ply)
    results = np.zeros(cfg.games, np.int8)
    lengths = np.zeros(cfg.games, np.int64)
    live = np.ones(P, bool)
    bar = tqdm(total=cfg.games, desc="self-play", unit="game", leave=False, disable=None if progress else True)
    while live.any():
        # --- finish games that are over, refill their slots ---
        over = live & game.terminal(me, opp)
        for s in np.flatnonzero(over):
            g = slot_game[s]
            # result from the mover's side at the end; flip to the first player's side
            r = int(game.outcome(me[s:s + 1], opp[s:s + 1])[0]) * (1 if ply[s] % 2 == 0 else -1)
            results[g], lengths[g] = r, ply[s]
            bar.update(1)
            if started < cfg.games:
                slot_game[s], started = started, started + 1
                m0, o0 = game.initial(1)
                me[s], opp[s], ply[s] = m0[0], o0[0], 0
            else:
                live[s] = False
        if not live.any():
            break
        idx = np.flatnonzero(live)
        legal = game.legal_mask(me[idx], opp[idx])
        actions = legal.argmax(1)  # the only move where there is one
        multi = legal.sum(1) > 1
        if multi.any():
            sidx = idx[multi]
            visits, _, _ = search(me[sidx], opp[sidx], evaluate, search_cfg, rng, add_noise=True)
            early = ply[sidx] < cfg.temperature_plies
            chosen = np.where(early, sample_actions(visits, 1.0, rng), sample_actions(visits, 0.0, rng))
            actions[multi] = chosen
            pi = visits / visits.sum(1, keepdims=True)
            boards = game.to_planes(me[sidx], opp[sidx]).astype(np.int8)
            for j, s in enumerate(sidx):
                records[slot_game[s]].append((boards[j], pi[j].astype(np.float32), ply[s]))
        me[idx], opp[idx] = game.step(me[idx], opp[idx], actions)
        ply[idx] += 1
    bar.close()
    boards, policy, z = [], [], []
    for g, recs in enumerate(records):
        for b, p, t in recs:
            boards.append(b)
            policy.append(p)
            z.append(results[g] if t % 2 == 0 else -results[g])
    return {"boards": np.array(boards, np.int8).reshape(-1, 36),
            "policy": np.array(policy, np.float32).reshape(-1, 37),
            "z": np.array(z, np.int8), "first_player_results": results, "lengths": lengths}
