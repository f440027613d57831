"""Batched Monte-Carlo tree search over B games in lockstep (mctx-style): PUCT or Gumbel AlphaZero.

The trees of all games live in preallocated flat arrays: node `b * M + i` is node i of
game b (M = sims + 1; node 0 is the root, simulation s creates node s + 1), and per-edge
statistics are rows `[B * M, 37]` of those nodes. Each simulation

  1. selects one path per game (a loop over depth, vectorised over the games still
     descending), recording the nodes and actions in a path array `[B, depth]`;
  2. expands only the NEW leaves: a leaf that is a finished game gets its exact value
     (+1 / 0 / -1, a draw is 0) and no network call; the others go to **one** call of
     `evaluate(me, opp) -> (priors [k, 37], values [k])` (skipped when k = 0). A path that
     ends on an already expanded finished game re-uses its stored exact value;
  3. backs up with vectorised scatter-adds over the path array (the sign flips each ply).

`cfg.algorithm` changes only the selection rule and the result, never the tree:
"puct" selects by the PUCT score (Dirichlet noise at the root in self-play) and its policy
target is the visit distribution; "gumbel" selects by alphazero/gumbel.py (sequential halving
over a Gumbel-top-m sample at the root, Gumbel noise in self-play) and its policy target is
softmax(logits + sigma(completed Q)).

Values are from the side to move in the evaluated position, in [-1, 1]. Illegal actions
are masked at every node (their Q is -inf), and pass (36) is an ordinary ply.
"""
from typing import NamedTuple

import numpy as np

from alphazero import gumbel
from othello import game

A = game.ACTIONS
ALGORITHMS = ("puct", "gumbel")


class SearchResult(NamedTuple):
    visits: np.ndarray  # int32 [B, 37] root visit counts (sum = sims)
    value: np.ndarray   # float32 [B] root value from the mover's side (mean of the backed-up values)
    prior: np.ndarray   # float32 [B, 37] network priors at the root, renormalised over the legal actions
    policy: np.ndarray  # float32 [B, 37] policy target: visit distribution (puct) or improved policy (gumbel)
    action: np.ndarray  # int64 [B] the move: most visited, ties at random (puct); the Gumbel choice (gumbel)


def _masked_softmax_prior(priors, legal):
    """Network priors `[k, 37]` renormalised over the legal actions (uniform if they get no mass)."""
    p = np.where(legal, priors, 0.0).astype(np.float32)
    s = p.sum(-1, keepdims=True)
    uniform = legal / np.maximum(legal.sum(-1, keepdims=True), 1)
    return np.where(s > 0, p / np.maximum(s, 1e-12), uniform).astype(np.float32)


def _expand(me, opp):
    """Legal actions `[k, 37]` and finished-game flags `[k]`, each board converted once."""
    bits = game.legal_bits(me, opp)
    no_square = bits == 0
    legal = np.concatenate([game.bits_to_array(bits), no_square[:, None]], axis=1)
    done = no_square.copy()
    if no_square.any():  # the game is over only if the opponent cannot move either
        done[no_square] = game.legal_bits(opp[no_square], me[no_square]) == 0
    return legal, done


def check_config(cfg):
    """Raise ValueError naming the first setting of a SearchConfig that no search can honour."""
    if cfg.algorithm not in ALGORITHMS:
        raise ValueError(f"unknown search.algorithm '{cfg.algorithm}': use one of {', '.join(ALGORITHMS)}")
    if cfg.sims < 1:
        raise ValueError(f"MCTS needs at least 1 simulation, got sims={cfg.sims}")
    if cfg.gumbel_m < 1:
        raise ValueError(f"search.gumbel_m must be >= 1, got {cfg.gumbel_m}")


def search(me, opp, evaluate, cfg, rng=None, add_noise=False):
    """(visits `[B, 37]`, root value `[B]`, root priors `[B, 37]`) of `run` (the first three fields)."""
    return tuple(run(me, opp, evaluate, cfg, rng, add_noise)[:3])


def run(me, opp, evaluate, cfg, rng=None, add_noise=False):
    """Search B root positions with `cfg.sims` simulations each; returns a SearchResult.

    me, opp: uint64 `[B]` root positions (canonical, mover to play); roots must
        not be finished games.
    evaluate: callable `(me [k], opp [k]) -> (priors [k, 37], values [k])`.
    cfg: SearchConfig (sims, algorithm, c_puct, fpu_reduction, dirichlet_alpha, noise_fraction,
        gumbel_m, c_visit, c_scale).
    add_noise: self-play exploration: Dirichlet noise in the root priors (puct) or Gumbel
        noise in the root sample and the final choice (gumbel).
    """
    check_config(cfg)
    rng = rng or np.random.default_rng()
    use_gumbel = cfg.algorithm == "gumbel"
    B, S = len(me), cfg.sims
    M = S + 1
    rows = np.arange(B)
    base = rows * M                                 # flat index of each game's root
    # --- preallocated trees, flat over (game, node) ---
    node_me = np.zeros(B * M, np.uint64)
    node_opp = np.zeros(B * M, np.uint64)
    node_value = np.zeros(B * M, np.float32)        # net value or exact outcome, mover's side
    node_terminal = np.zeros(B * M, bool)
    node_n = np.zeros(B * M, np.float32)            # visits through the node (sum of its child_n)
    children = np.full((B * M, A), -1, np.int64)    # flat index of the child, -1 if unexpanded
    prior = np.zeros((B * M, A), np.float32)        # puct: legal-masked priors; gumbel: their logs, -inf if illegal
    child_n = np.zeros((B * M, A), np.float32)
    child_w = np.zeros((B * M, A), np.float32)      # value sum from the parent's mover side
    child_q = np.zeros((B * M, A), np.float32)      # w / n; first-play-urgency value while n = 0; -inf if illegal
    path = np.zeros((B, M), np.int64)               # flat node at each depth of this simulation's path
    path_a = np.zeros((B, M), np.int64)             # action taken out of it
    depth = np.zeros(B, np.int64)                   # edges on the path

    def set_prior(nodes, p, legal):
        if use_gumbel:  # log priors: the logits of the Gumbel rules (finite on legal actions)
            p = np.where(legal, np.log(np.maximum(p, 1e-30)), -np.inf)
        prior[nodes] = p

    # --- root expansion ---
    node_me[base], node_opp[base] = me, opp
    root_legal, _ = _expand(me, opp)
    p, v = evaluate(me, opp)
    root_prior = _masked_softmax_prior(p, root_legal)
    prior0 = root_prior
    if add_noise and cfg.noise_fraction > 0 and not use_gumbel:
        noise = rng.dirichlet(np.full(A, cfg.dirichlet_alpha), size=B).astype(np.float32)
        prior0 = _masked_softmax_prior((1 - cfg.noise_fraction) * root_prior + cfg.noise_fraction * noise, root_legal)
    set_prior(base, prior0, root_legal)
    node_value[base] = v
    child_q[base] = np.where(root_legal, (v - cfg.fpu_reduction)[:, None], -np.inf)
    if use_gumbel:
        g = rng.gumbel(size=(B, A)).astype(np.float32) if add_noise else np.zeros((B, A), np.float32)
        table = gumbel.considered_visits_table(cfg.gumbel_m, S)
        n_considered = np.minimum(cfg.gumbel_m, root_legal.sum(1))

    def sigma(nodes):
        return gumbel.sigma_completed_q(child_q[nodes], child_n[nodes], node_value[nodes], prior[nodes],
                                        cfg.c_visit, cfg.c_scale)

    for s in range(S):
        # --- selection: descend until an unexpanded edge or a finished game ---
        act, cur, d = rows, base, 0                 # games still descending, their current node
        while True:
            if not use_gumbel:
                explore = (cfg.c_puct * np.sqrt(node_n[cur] + 1))[:, None]
                a = (child_q[cur] + explore * prior[cur] / (1 + child_n[cur])).argmax(1)
            elif d == 0:                            # every game is at its root: sequential halving
                a = gumbel.root_action(g, prior[cur], sigma(cur), child_n[cur], table[n_considered, s])
            else:
                a = gumbel.interior_action(child_q[cur], child_n[cur], node_value[cur], prior[cur],
                                           cfg.c_visit, cfg.c_scale)
            path[act, d], path_a[act, d] = cur, a
            child = children[cur, a]
            descend = child >= 0
            descend[descend] = ~node_terminal[child[descend]]  # stop on a finished game
            d += 1
            depth[act[~descend]] = d
            if not descend.any():
                break
            act, cur = act[descend], child[descend]
        last = path[rows, depth - 1]                # last expanded node on each path ...
        last_a = path_a[rows, depth - 1]            # ... and the edge taken out of it
        leaf = children[last, last_a]
        # --- expansion: new leaves only; finished games need no network call ---
        value = np.empty(B, np.float32)
        old = leaf >= 0                             # an expanded finished game: its exact value again
        value[old] = node_value[leaf[old]]
        grow = np.flatnonzero(~old)
        if len(grow):
            parent, pa = last[grow], last_a[grow]
            lm, lo = game.step(node_me[parent], node_opp[parent], pa)
            legal, done = _expand(lm, lo)
            new = base[grow] + s + 1
            v = np.empty(len(grow), np.float32)
            if done.any():
                v[done] = game.outcome(lm[done], lo[done])
            live = ~done
            if live.any():
                p, v_net = evaluate(lm[live], lo[live])
                v[live] = v_net
                nl = new[live]
                set_prior(nl, _masked_softmax_prior(p, legal[live]), legal[live])
                child_q[nl] = np.where(legal[live], (v[live] - cfg.fpu_reduction)[:, None], -np.inf)
            node_me[new], node_opp[new] = lm, lo
            node_value[new], node_terminal[new] = v, done
            children[parent, pa] = new
            value[grow] = v
        # --- backup: one scatter-add over [B, depth]; the sign flips every ply (the board is
        # re-canonicalised even on a pass). The edge into the leaf gets -value. Within one
        # simulation every (node, action) appears at most once, so plain fancy-index += is exact.
        D = int(depth.max())
        dd = np.arange(D)
        on_path = dd[None, :] < depth[:, None]                       # [B, D]
        flip = ((depth[:, None] - 1 - dd[None, :]) % 2 == 0)         # plies from the edge to the leaf is even
        gain = np.where(flip, -value[:, None], value[:, None])[on_path]
        pn, pa = path[:, :D][on_path], path_a[:, :D][on_path]
        child_n[pn, pa] += 1
        child_w[pn, pa] += gain
        child_q[pn, pa] = child_w[pn, pa] / child_n[pn, pa]
        node_n[pn] += 1
    visits = child_n[base]
    root_value = (child_w[base].sum(1) / np.maximum(visits.sum(1), 1)).astype(np.float32)
    if use_gumbel:
        sig = sigma(base)
        policy = gumbel.improved_policy(prior[base], sig)
        action = gumbel.root_action(g, prior[base], sig, visits, visits.max(1))  # among the most visited
    else:
        policy = (visits / visits.sum(1, keepdims=True)).astype(np.float32)
        # a random fraction < 1 only reorders equal visit counts
        action = np.where(root_legal, visits + rng.random(visits.shape), -1.0).argmax(1)
    return SearchResult(visits.astype(np.int32), root_value, root_prior, policy, action)
