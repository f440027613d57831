"""Concept values of an activation store's evaluation rows, including the network's own search.

    values, info = row_concepts(store, rows, solve_empties=14, search_rows=6000, search=SearchConfig())

One place computes what sae.probes and sae.concept_eval score, so both see the same columns:
othello.concepts on the rows' boards, "flipped_played" from the store's `move` (the move played
in the game), and the search concepts (othello.concepts: "mcts_move", "mcts_differs") from
running the network's batched search exactly as the players do (alphazero.agents.MCTSPlayer:
`search.algorithm` at `search.sims`, no root noise) beside its raw policy's argmax
(alphazero.agents.PolicyPlayer).

The search is the one costly concept (one MCTS per position: about 250 positions/s at 64 Gumbel
simulations on one core of the shared 2-core CPU), so it runs on at most `search_rows` of the rows:
a seeded sample, each split's share in proportion to its rows, so the probe still has train rows to
fit, val rows to choose on and test rows to score. The other rows are outside the search concepts'
mask ("searched"): every score counts only searched rows, as solver concepts count only solvable ones.
"""
import dataclasses
import time

import numpy as np
from tqdm import tqdm

from alphazero.agents import MCTSPlayer, PolicyPlayer
from alphazero.checkpoint import load_network, resolve_checkpoint
from alphazero.config import SearchConfig
from othello import concepts as cl
from othello import game

SEARCH_BATCH = 1024  # positions searched in lockstep (one network call per simulation for the whole batch)


def searched_rows(sizes, cap, seed):
    """bool `[sum(sizes)]` over rows laid out split after split: at most `cap` rows, each split's share
    in proportion to its size (rounded), a seeded sample within each split."""
    total = int(sum(sizes))
    out = np.zeros(total, bool)
    rng = np.random.default_rng([seed, 12])  # its own stream: the row selection of sae.probes is untouched
    at = 0
    for n in sizes:
        k = n if cap >= total else int(round(cap * n / max(total, 1)))
        out[at + rng.choice(n, size=min(k, n), replace=False)] = True
        at += n
    return out


def search_moves(net, me, opp, search, device="cpu", seed=0, batch=SEARCH_BATCH):
    """(the search's action `[N]`, the raw policy's argmax action `[N]`) of positions `me, opp` (never finished)."""
    player = MCTSPlayer(net, device=device, seed=seed, search=search)
    policy = PolicyPlayer(net, device=device)
    mcts, raw = np.empty(len(me), np.int64), np.empty(len(me), np.int64)
    for a in tqdm(range(0, len(me), batch), desc=f"search ({search.algorithm} {search.sims} sims)", disable=None,
                  leave=False):
        mcts[a:a + batch] = player(me[a:a + batch], opp[a:a + batch])
        raw[a:a + batch] = policy(me[a:a + batch], opp[a:a + batch])
    return mcts, raw


def row_concepts(store, rows, solve_empties, search_rows, search=None, seed=0, device="cpu", net=None):
    """({concept: values} of the rows, info) for `rows` {split: store row indices}, laid out split after split.

    `search_rows`: the cap on searched positions (0: no search concepts); `search`: the SearchConfig
    (default: the players' defaults); `net`: the store's network (default: loaded from its manifest).
    info: {"rows": searched rows, "seconds": search time, "sims", "algorithm", "config": the whole SearchConfig}
    (empty without search).
    """
    allrows = np.concatenate(list(rows.values()))
    me, opp = game.from_planes(np.asarray(store.arrays["boards"][allrows]))
    move = np.asarray(store.arrays["move"][allrows])
    kw, info = {}, {}
    if search_rows > 0:
        search = search or SearchConfig()
        net = net or load_network(resolve_checkpoint(store.manifest["checkpoint"]), device)
        pick = searched_rows([len(r) for r in rows.values()], search_rows, seed)
        t0 = time.perf_counter()
        found, raw = search_moves(net, me[pick], opp[pick], search, device, seed)
        kw = {"search_move": np.full(len(me), -1), "policy_move": np.full(len(me), -1)}
        kw["search_move"][pick], kw["policy_move"][pick] = found, raw
        info = {"rows": int(pick.sum()), "seconds": round(time.perf_counter() - t0, 1), "sims": search.sims,
                "algorithm": search.algorithm, "config": dataclasses.asdict(search)}
    return cl.compute(me, opp, move=move, max_empties=solve_empties, **kw), info
