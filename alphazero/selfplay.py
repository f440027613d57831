"""Self-play: many games in lockstep, one batched search per ply across all of them.

Games run in `parallel` slots; when a game ends its slot starts the next one, so
the network batch stays full until the last games. Positions where the mover has
a single legal action (including a forced pass) are played without search and
not recorded: their policy target carries no information.

Every searched move is a full search (`sims` simulations, root noise, recorded). With
playout-cap randomisation (KataGo; `full_fraction` < 1) it is full with probability
`full_fraction`, otherwise cheap (`cheap_sims`, played but not recorded; PUCT without
Dirichlet noise, Gumbel keeps its noise since that is how Gumbel samples its move). Each
kind is batched over the games: at most two searches per ply.

Targets of a recorded position, all from its mover's side: the search policy, the final
result z, the final ownership of each square and the final disc difference. With
`solver_empties` > 0, positions with that many empty squares or fewer get the exact
game-theoretic result and disc difference (othello.solver) instead of the game's; with
`solver_policy` also the exact policy target (uniform over the optimal moves) instead of the search's.
"""
import dataclasses

import numpy as np
from tqdm import tqdm

from alphazero.mcts import run
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


def _move(me, opp, ply, evaluate, search_cfg, temperature_plies, temperature, rng, noise):
    """One batched search -> (actions `[k]`, policy targets `[k, 37]`)."""
    r = run(me, opp, evaluate, search_cfg, rng, add_noise=noise)
    if search_cfg.algorithm == "gumbel":  # the Gumbel noise already samples the move
        return r.action, r.policy
    early = ply < temperature_plies
    return np.where(early, sample_actions(r.visits, temperature, rng), r.action), r.policy


def exact_targets(boards, policy=False):
    """Exact final disc difference `[n]` of positions int8 `[n, 36]` (mover's side) by othello.solver,
    and with `policy` the exact policy target `[n, 37]`: uniform over the optimal actions (else None)."""
    from othello import solver  # numba: compiled on first use, only by runs that ask for it
    me, opp = game.from_planes(boards)
    if not policy:
        return solver.solve_batch(me, opp, "exact"), None
    values, best = solver.best_moves_batch(me, opp)
    return values, (best / best.sum(1, keepdims=True)).astype(np.float32)


def check_config(cfg):
    """Raise ValueError naming the first setting of a SelfPlayConfig that self-play cannot honour."""
    if cfg.sims < 1:
        raise ValueError(f"selfplay.sims must be >= 1, got {cfg.sims}")
    if not 0 <= cfg.full_fraction <= 1:
        raise ValueError(f"selfplay.full_fraction must be in [0, 1], got {cfg.full_fraction}")
    if cfg.full_fraction < 1 and cfg.cheap_sims < 1:
        raise ValueError(f"selfplay.cheap_sims must be >= 1 when full_fraction < 1, got {cfg.cheap_sims}")
    if not 0 <= cfg.solver_empties <= game.SQUARES:
        raise ValueError(f"selfplay.solver_empties must be in 0..36, got {cfg.solver_empties}")
    if cfg.solver_policy and cfg.solver_empties == 0:
        raise ValueError("selfplay.solver_policy needs selfplay.solver_empties > 0 (the positions it solves)")


def self_play(evaluate, cfg, search_cfg, rng, progress=True):
    """Play `cfg.games` games (SelfPlayConfig) with `search_cfg` (SearchConfig: its algorithm and
    constants; its `sims` is the players', self-play searches with `cfg.sims` / `cfg.cheap_sims`).

    Returns a dict of numpy arrays, recorded positions ordered by game then ply:
      boards  int8 `[N, 36]`  the searched positions from the mover's side
      policy  float32 `[N, 37]` policy target of the search (visit distribution or Gumbel improved policy)
      z       int8 `[N]`      final result from that position's mover: +1 / 0 / -1
      ownership int8 `[N, 36]` each square at the end from that position's mover: +1 mine / 0 empty / -1 theirs
      score   int8 `[N]`      final disc difference from that position's mover
      solved  bool `[N]`      z and score are the solver's exact values (solver_empties), not the game's;
                              with solver_policy the policy target too (uniform over the optimal moves)
      game, ply  int64 `[N]`  which game and ply each position comes from (ply 0 = start; passes count)
      first_player_results int8 `[games]`  result from the first mover's (Black's) side
      lengths int64 `[games]` plies per game; final_discs int64 `[games, 2]` (Black, White) at the end
      final_boards int8 `[games, 36]` the final board, +1 Black / -1 White
      searches int64 `[2]`    moves searched fully and cheaply
    """
    check_config(cfg)
    full_cfg = dataclasses.replace(search_cfg, sims=cfg.sims)
    cheap_cfg = dataclasses.replace(search_cfg, sims=cfg.cheap_sims)
    P = min(cfg.parallel, cfg.games)
    me, opp = game.initial(P)
    ply = np.zeros(P, np.int64)
    slot_game = np.arange(P)                        # which game each slot plays
    started = P
    results = np.zeros(cfg.games, np.int8)
    lengths = np.zeros(cfg.games, np.int64)
    final_discs = np.zeros((cfg.games, 2), np.int64)
    final_boards = np.zeros((cfg.games, 36), np.int8)
    searches = np.zeros(2, np.int64)
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
            final_boards[g] = game.to_planes(me[over], opp[over]) * np.where(black_moves, 1, -1)[:, None]
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
        multi = np.flatnonzero(legal.sum(1) > 1)
        full = rng.random(len(multi)) < cfg.full_fraction
        for is_full, sel in ((True, multi[full]), (False, multi[~full])):
            if not len(sel):
                continue
            sidx = idx[sel]
            actions[sel], policy = _move(me[sidx], opp[sidx], ply[sidx], evaluate, full_cfg if is_full else cheap_cfg,
                                         cfg.temperature_plies, cfg.temperature, rng,
                                         noise=is_full or search_cfg.algorithm == "gumbel")
            searches[0 if is_full else 1] += len(sel)
            if is_full:
                rec["boards"].append(game.to_planes(me[sidx], opp[sidx]).astype(np.int8))
                rec["policy"].append(policy)
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
    g, sign = out["game"], np.where(out["ply"] % 2 == 0, 1, -1)  # Black moves on even plies
    out["z"] = (sign * results[g]).astype(np.int8)
    out["ownership"] = (sign[:, None] * final_boards[g]).astype(np.int8)
    out["score"] = (sign * (final_discs[g, 0] - final_discs[g, 1])).astype(np.int8)
    out["solved"] = (36 - np.abs(out["boards"]).sum(1)) <= cfg.solver_empties
    if out["solved"].any():
        exact, policy = exact_targets(out["boards"][out["solved"]], cfg.solver_policy)
        out["score"][out["solved"]] = exact
        out["z"][out["solved"]] = np.sign(exact)
        if policy is not None:
            out["policy"][out["solved"]] = policy
    return {**out, "first_player_results": results, "lengths": lengths, "final_discs": final_discs,
            "final_boards": final_boards, "searches": searches}
