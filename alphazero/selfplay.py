"""Self-play: many games in lockstep, one batched MCTS per ply across all of them.

Games run in `parallel` slots; when a game ends its slot starts the next one, so
the network batch stays full until the last games. Positions where the mover has
a single legal action (including a forced pass) are played without search and
not recorded: their policy target carries no information.
"""
import numpy as np
from tqdm import tqdm

from alphazero.mcts import search
from othello import game


def sample_actions(visits, temperature, rng):
    """visits `[B, 37]` -> actions `[B]`: sampled with probability visits^(1/T) (T > 0), or the
    most visited action with random tie-break (T = 0)."""
    if temperature > 0:
        p = visits.astype(np.float64) ** (1.0 / temperature)
        p /= p.sum(1, keepdims=True)
        u = rng.random((len(p), 1))
        return np.minimum((p.cumsum(1) < u).sum(1), game.ACTIONS - 1)
    noisy = visits + rng.random(visits.shape) * 0.1  # break ties randomly, never override a count
    return noisy.argmax(1)


def self_play(evaluate, cfg, search_cfg, rng, progress=True):
    """Play `cfg.games` games (SelfPlayConfig) with `search_cfg` (SearchConfig, root noise on).

    Returns a dict of numpy arrays, positions ordered by game then ply:
      boards  int8 `[N, 36]`  the searched positions from the mover's side
      policy  float32 `[N, 37]` visit distribution of the search
      z       int8 `[N]`      final result from that position's mover: +1 / 0 / -1
      game, ply  int64 `[N]`  which game and ply each position comes from (ply 0 = start; passes count)
      first_player_results int8 `[games]`  result from the first mover's (Black's) side
      lengths int64 `[games]` plies per game; final_discs int64 `[games, 2]` (Black, White) at the end
    """
    P = min(cfg.parallel, cfg.games)
    me, opp = game.initial(P)
    ply = np.zeros(P, np.int64)
    slot_game = np.arange(P)                        # which game each slot plays
    started = P
    results = np.zeros(cfg.games, np.int8)
    lengths = np.zeros(cfg.games, np.int64)
    final_discs = np.zeros((cfg.games, 2), np.int64)
    live = np.ones(P, bool)
    rec = {"boards": [], "policy": [], "game": [], "ply": []}
    bar = tqdm(total=cfg.games, desc="self-play", unit="game", leave=False, disable=None if progress else True)
    while True:
        # --- finish games that are over, refill their slots with new games ---
        over = np.flatnonzero(live & game.terminal(me, opp))
        if len(over):
            g = slot_game[over]
            black_moves = ply[over] % 2 == 0       # passes are plies, so parity tells the mover's colour
            mine, theirs = game.popcount(me[over]), game.popcount(opp[over])
            final_discs[g] = np.where(black_moves[:, None], np.stack([mine, theirs], 1), np.stack([theirs, mine], 1))
            results[g] = np.sign(final_discs[g, 0] - final_discs[g, 1])
            lengths[g] = ply[over]
            bar.update(len(over))
            k = min(len(over), cfg.games - started)
            refill, stop = over[:k], over[k:]
            slot_game[refill] = started + np.arange(k)
            started += k
            me[refill], opp[refill] = game.initial(k)
            ply[refill] = 0
            live[stop] = False
        idx = np.flatnonzero(live)
        if not len(idx):
            break
        legal = game.legal_mask(me[idx], opp[idx])
        actions = legal.argmax(1)                   # the only move where there is one
        multi = legal.sum(1) > 1
        if multi.any():
            sidx = idx[multi]
            visits, _, _ = search(me[sidx], opp[sidx], evaluate, search_cfg, rng, add_noise=True)
            early = ply[sidx] < cfg.temperature_plies
            actions[multi] = np.where(early, sample_actions(visits, cfg.temperature, rng),
                                      sample_actions(visits, 0.0, rng))
            rec["boards"].append(game.to_planes(me[sidx], opp[sidx]).astype(np.int8))
            rec["policy"].append((visits / visits.sum(1, keepdims=True)).astype(np.float32))
            rec["game"].append(slot_game[sidx].copy())
            rec["ply"].append(ply[sidx].copy())
        me[idx], opp[idx] = game.step(me[idx], opp[idx], actions)
        ply[idx] += 1
    bar.close()
    empty = {"boards": np.zeros((0, 36), np.int8), "policy": np.zeros((0, 37), np.float32),
             "game": np.zeros(0, np.int64), "ply": np.zeros(0, np.int64)}
    out = {k: np.concatenate(v) if v else empty[k] for k, v in rec.items()}
    order = np.argsort(out["game"], kind="stable")  # recorded in time order: stable keeps plies in order
    out = {k: v[order] for k, v in out.items()}
    out["z"] = np.where(out["ply"] % 2 == 0, results[out["game"]], -results[out["game"]]).astype(np.int8)
    return {**out, "first_player_results": results, "lengths": lengths, "final_discs": final_discs}
