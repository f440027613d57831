"""The Gumbel AlphaZero rules (Danihelka et al. 2022, as in mctx `gumbel_muzero_policy`) on rows of nodes.

The batched tree of alphazero/mcts.py calls these for its selection and its result when
`search.algorithm == "gumbel"`; tree arrays, expansion and backup are the same as for PUCT.

- Root: m = min(gumbel_m, legal actions) actions are sampled without replacement by
  Gumbel-top-m over logits + g (g ~ Gumbel(0, 1), only with noise on), then sequential
  halving splits the simulation budget among them: `considered_visits_table` gives, for
  each simulation, the visit count an action must have to be considered, and the root
  picks argmax(g + logits + sigma(completed Q)) among those actions.
- Interior nodes: deterministic argmax of pi' - N / (1 + sum N), pi' = softmax(logits + sigma(completed Q)).
- Result: policy target pi' at the root; action argmax(g + logits + sigma(completed Q)) among
  the most visited actions.

sigma(q) = (c_visit + max_b N(b)) * c_scale * q, with the completed Q min-max scaled to
[0, 1] over the legal actions; an unvisited action's Q is completed with the mixed value
(the network value mixed with the prior-weighted Q of the visited actions).
Logits are log priors (the legal-masked softmax), -inf on illegal actions.
"""
import math

import numpy as np


def considered_visits_sequence(m, sims):
    """For one root with m considered actions: the visit count an action needs at each simulation `[sims]`."""
    if m <= 1:
        return list(range(sims))
    log2m = math.ceil(math.log2(m))
    seq, visits, considered = [], [0] * m, m
    while len(seq) < sims:
        extra = max(1, int(sims / (log2m * considered)))  # this phase's share of the budget, per action
        for _ in range(extra):
            seq.extend(visits[:considered])
            visits[:considered] = [v + 1 for v in visits[:considered]]
        considered = max(2, considered // 2)  # halve the candidates
    return seq[:sims]


def considered_visits_table(m, sims):
    """int64 `[m + 1, sims]`: row k is the sequence for k considered actions (row 0 unused)."""
    return np.array([considered_visits_sequence(max(k, 1), sims) for k in range(m + 1)], np.int64).reshape(m + 1, sims)


def sigma_completed_q(q, n, value, logp, c_visit, c_scale):
    """sigma(completed Q) `[k, 37]` of k nodes.

    q `[k, 37]` Q of each edge from the node's mover (read only where n > 0), n `[k, 37]` visits,
    value `[k]` the node's own network value (mover's side), logp `[k, 37]` log priors (-inf illegal).
    """
    legal = np.isfinite(logp)
    visited = n > 0
    sum_n = n.sum(1)
    p = np.where(legal, np.exp(logp), 0.0)
    p_vis = np.where(visited, np.maximum(p, 1e-30), 0.0)  # a visited action with zero prior still counts
    q_vis = np.where(visited, q, 0.0)
    weighted_q = (p_vis * q_vis).sum(1) / np.maximum(p_vis.sum(1), 1e-30)
    mixed = (value + sum_n * weighted_q) / (sum_n + 1)
    completed = np.where(visited, q_vis, mixed[:, None])
    lo = np.where(legal, completed, np.inf).min(1, keepdims=True)
    hi = np.where(legal, completed, -np.inf).max(1, keepdims=True)
    scaled = (completed - lo) / np.maximum(hi - lo, 1e-8)
    return ((c_visit + n.max(1)) * c_scale)[:, None] * scaled


def improved_policy(logp, sigma):
    """softmax(logits + sigma) over the legal actions `[k, 37]` (0 on illegal ones)."""
    z = logp + sigma
    z = z - z.max(1, keepdims=True)
    e = np.exp(z)  # exp(-inf) = 0 on illegal actions
    return (e / e.sum(1, keepdims=True)).astype(np.float32)


def interior_action(q, n, value, logp, c_visit, c_scale):
    """Interior selection `[k]`: argmax of the improved policy minus N / (1 + sum N), legal actions only."""
    pi = improved_policy(logp, sigma_completed_q(q, n, value, logp, c_visit, c_scale))
    score = pi - n / (1 + n.sum(1, keepdims=True))
    return np.where(np.isfinite(logp), score, -np.inf).argmax(1)


def root_action(g, logp, sigma, n, considered):
    """argmax of g + logits + sigma among legal actions with exactly `considered [k]` visits `[k]`."""
    score = np.where(n == considered[:, None], g + logp + sigma, -np.inf)
    return score.argmax(1)
