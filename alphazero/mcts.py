"""Batched PUCT Monte-Carlo tree search over B games in lockstep (mctx-style).

The tree of every game lives in preallocated arrays indexed `[B, node]` and
`[B, node, action]`; node 0 is the root and simulation s creates node s+1. Each
simulation selects one leaf per game, then evaluates all B leaves with **one**
call of `evaluate(me, opp) -> (priors [B, 37], values [B])`, then backs up.
Values are from the side to move in the evaluated position, in [-1, 1].

Illegal actions are masked at every node (their Q is -inf), pass (36) is an ordinary ply, and
finished games get their exact value (+1 / 0 / -1, a draw is 0) instead of the
network's estimate.
"""
from dataclasses import dataclass

import numpy as np

from othello import game

A = game.ACTIONS


@dataclass
class SearchConfig:
    num_simulations: int = 64   # simulations per move (one batched network call each)
    c_puct: float = 1.5         # exploration constant in the PUCT score
    dirichlet_alpha: float = 0.5  # root noise concentration (~10 / legal moves on 6x6)
    noise_fraction: float = 0.25  # root prior mix-in of the Dirichlet noise (0 = off)
    fpu_reduction: float = 0.2  # unvisited child Q = parent value - this (first-play urgency)


def _masked_softmax_prior(priors, legal):
    p = np.where(legal, priors, 0.0).astype(np.float32)
    s = p.sum(-1, keepdims=True)
    uniform = legal / np.maximum(legal.sum(-1, keepdims=True), 1)
    return np.where(s > 0, p / np.maximum(s, 1e-12), uniform).astype(np.float32)


def search(me, opp, evaluate, cfg, rng=None, add_noise=False):
    """Search B root positions.

    me, opp: uint64 `[B]` root positions (canonical, mover to play); roots must
        not be finished games.
    evaluate: callable `(me [B], opp [B]) -> (priors [B, 37], values [B])`.
    Returns (visit counts `[B, 37]` int32, root value `[B]` from the mover's side,
    network priors at the root `[B, 37]`).
    """
    rng = rng or np.random.default_rng()
    B, S = len(me), cfg.num_simulations
    M = S + 1
    rows = np.arange(B)
    base = rows * M                                   # flat node index = b * M + node
    # --- preallocated tree; per-edge arrays are viewed as [B * M, 37] for fast row gathers ---
    node_me = np.zeros((B, M), np.uint64)
    node_opp = np.zeros((B, M), np.uint64)
    node_value = np.zeros((B, M), np.float32)      # net value or exact outcome, mover's side
    node_terminal = np.zeros((B, M), bool)
    node_n = np.zeros((B, M), np.float32)          # visits through the node (sum of its child_n)
    parent = np.full((B, M), -1, np.int32)
    parent_action = np.zeros((B, M), np.int32)
    children = np.full((B, M, A), -1, np.int32)
    prior = np.zeros((B, M, A), np.float32)
    child_n = np.zeros((B, M, A), np.float32)
    child_w = np.zeros((B, M, A), np.float32)      # value sum from the parent's mover side
    child_q = np.zeros((B, M, A), np.float32)      # w / n, first-play-urgency value while n = 0, -inf if illegal
    prior_f, n_f, q_f = (x.reshape(B * M, A) for x in (prior, child_n, child_q))

    # --- root expansion ---
    node_me[:, 0], node_opp[:, 0] = me, opp
    root_legal = game.legal_mask(me, opp)
    p, v = evaluate(me, opp)
    root_prior = _masked_softmax_prior(p, root_legal)
    prior0 = root_prior
    if add_noise and cfg.noise_fraction > 0:
        noise = rng.dirichlet(np.full(A, cfg.dirichlet_alpha), size=B).astype(np.float32)
        prior0 = _masked_softmax_prior((1 - cfg.noise_fraction) * root_prior + cfg.noise_fraction * noise, root_legal)
    prior[:, 0], node_value[:, 0] = prior0, v
    child_q[:, 0] = np.where(root_legal, (v - cfg.fpu_reduction)[:, None], -np.inf)

    for s in range(S):
        new = s + 1
        # --- selection: descend until an unexpanded edge or a finished game ---
        node = np.zeros(B, np.int32)
        action = np.zeros(B, np.int32)
        active = np.ones(B, bool)
        while True:
            flat = base + node
            n = n_f[flat]                                             # [B, 37]
            u = (cfg.c_puct * np.sqrt(node_n.ravel()[flat] + 1))[:, None] * prior_f[flat] / (1 + n)
            a = (q_f[flat] + u).argmax(1).astype(np.int32)
            action = np.where(active, a, action)
            child = children[rows, node, action]
            descend = active & (child >= 0)
            descend &= ~node_terminal[rows, np.maximum(child, 0)]     # stop on a finished game
            node = np.where(descend, child, node)
            if not descend.any():
                break
            active = descend
        # node = last expanded node on the path, action = edge taken out of it
        child = children[rows, node, action]
        is_new = child < 0
        # --- expansion: one network call for every game's new leaf ---
        leaf_me, leaf_opp = game.step(node_me[rows, node], node_opp[rows, node], action)
        leaf_legal = game.legal_mask(leaf_me, leaf_opp)
        done = ~leaf_legal[:, :game.SQUARES].any(1) & (game.legal_bits(leaf_opp, leaf_me) == 0)
        p, v = evaluate(leaf_me, leaf_opp)
        v = np.where(done, game.outcome(leaf_me, leaf_opp), v).astype(np.float32)
        ni = np.where(is_new, new, child)
        idx = rows[is_new]
        node_me[idx, new], node_opp[idx, new] = leaf_me[is_new], leaf_opp[is_new]
        node_value[idx, new] = v[is_new]
        node_terminal[idx, new] = done[is_new]
        parent[idx, new], parent_action[idx, new] = node[is_new], action[is_new]
        children[idx, node[is_new], action[is_new]] = new
        prior[idx, new] = _masked_softmax_prior(p[is_new], leaf_legal[is_new])
        child_q[idx, new] = np.where(leaf_legal[is_new], (v[is_new] - cfg.fpu_reduction)[:, None], -np.inf)
        # --- backup: negate at every ply (the board is re-canonicalised even on pass) ---
        value = v.copy()
        cur = ni
        while True:
            par = parent[rows, cur]
            up = par >= 0
            if not up.any():
                break
            pa = parent_action[rows, cur]
            r, pp, aa = rows[up], par[up], pa[up]
            child_n[r, pp, aa] += 1
            child_w[r, pp, aa] -= value[up]
            child_q[r, pp, aa] = child_w[r, pp, aa] / child_n[r, pp, aa]
            node_n[r, pp] += 1
            value = -value
            cur = np.where(up, par, cur)
            # games already at the root stop moving; their parent is -1
    root_value = child_w[:, 0].sum(1) / np.maximum(child_n[:, 0].sum(1), 1)
    return child_n[:, 0].astype(np.int32), root_value.astype(np.float32), root_prior
