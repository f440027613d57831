"""Gumbel AlphaZero search (search.algorithm = "gumbel"): budget, masking, strength, and a tiny run that learns."""
import dataclasses

import numpy as np

from alphazero.config import NetConfig, SearchConfig, SelfPlayConfig, TrainConfig
from alphazero.gumbel import considered_visits_sequence, considered_visits_table
from alphazero.inference import uniform_evaluate
from alphazero.mcts import run
from othello import game
from othello.config import RulesConfig
from othello.sampling import random_games
from tests.test_mcts import forced_win_cases

GUMBEL = SearchConfig(algorithm="gumbel")


def roots(n=160, seed=0):
    """Unfinished positions of random games: every legal-move count, forced passes included."""
    d = random_games(40, seed=seed)
    me, opp = d["me"], d["opp"]
    live = ~game.terminal(me, opp)
    me, opp = me[live], opp[live]
    legal = game.legal_mask(me, opp)
    forced = np.flatnonzero(legal[:, game.PASS])[:8]
    pick = np.random.default_rng(seed).choice(len(me), n, replace=False)
    idx = np.concatenate([forced, pick])
    return me[idx], opp[idx]


def adversarial(m, o):
    """Priors with almost all their mass on illegal actions (pass included), value 0."""
    p = np.where(game.legal_mask(m, o), 1e-3, 1.0).astype(np.float32)
    return p / p.sum(1, keepdims=True), np.zeros(len(m), np.float32)


def test_halving_sequence_matches_mctx():
    assert considered_visits_sequence(4, 8) == [0, 0, 0, 0, 1, 1, 2, 2]
    assert considered_visits_sequence(2, 7) == [0, 0, 1, 1, 2, 2, 3]
    assert considered_visits_sequence(16, 4) == [0, 0, 0, 0]     # fewer sims than m: m actions not all tried
    assert considered_visits_sequence(1, 5) == [0, 1, 2, 3, 4]   # one candidate takes every simulation
    seq = considered_visits_sequence(16, 64)
    assert seq[:16] == [0] * 16 and seq[16:24] == [1] * 8        # all 16 once, then the best 8
    assert considered_visits_table(16, 64).shape == (17, 64)


def test_budget_masking_and_forced_pass():
    """Exactly `sims` simulations per root whatever the legal-move count (fewer than m, a forced
    pass, sims < m); visits, targets and moves only on legal actions; pass only when forced."""
    me, opp = roots()
    legal = game.legal_mask(me, opp)
    assert legal[:, game.PASS].sum() >= 1 and (legal.sum(1) > 16).sum() == 0 and (legal.sum(1) < 4).any()
    for sims, m, noise in [(1, 16, True), (3, 16, True), (16, 4, False), (40, 16, True), (40, 2, False)]:
        cfg = dataclasses.replace(GUMBEL, sims=sims, gumbel_m=m)
        r = run(me, opp, adversarial, cfg, np.random.default_rng(sims), add_noise=noise)
        assert (r.visits.sum(1) == sims).all()
        assert (r.visits[~legal] == 0).all() and (r.policy[~legal] == 0).all()
        assert np.allclose(r.policy.sum(1), 1, atol=1e-5)
        assert legal[np.arange(len(me)), r.action].all()
        assert np.array_equal(r.action == game.PASS, legal[:, game.PASS])
        tried = (r.visits > 0).sum(1)  # sequential halving visits at most m root actions
        assert (tried <= np.minimum(np.minimum(m, legal.sum(1)), sims)).all()


def test_one_network_call_per_simulation():
    calls = []

    def counting(m, o):
        calls.append(len(m))
        return uniform_evaluate(m, o)

    run(*game.initial(16), counting, dataclasses.replace(GUMBEL, sims=10), np.random.default_rng(0), add_noise=True)
    assert calls == [16] * 11


def test_forced_win_is_found():
    """Without noise, where some moves win and others do not, Gumbel search plays a winning move."""
    cases = forced_win_cases(400)
    assert len(cases) >= 5
    me = np.array([c[0] for c in cases], np.uint64)
    opp = np.array([c[1] for c in cases], np.uint64)
    r = run(me, opp, uniform_evaluate, dataclasses.replace(GUMBEL, sims=200), np.random.default_rng(0))
    for (_, _, vals), a, pi in zip(cases, r.action, r.policy):
        assert vals[int(a)] == 1
        assert sum(pi[b] for b, v in vals.items() if v == 1) > 0.5  # the target puts its mass on winning moves


def test_tiny_gumbel_run_learns(tmp_path):
    """A few iterations of Gumbel self-play + training on a tiny net: the policy loss falls."""
    import json

    import torch

    from alphazero.training import train_agent
    path = train_agent(NetConfig(d_model=32, n_blocks=1, d_hidden=64), dataclasses.replace(GUMBEL, gumbel_m=4),
                       SelfPlayConfig(games=16, parallel=16, sims=8),
                       TrainConfig(out=str(tmp_path), iterations=4, steps_per_iter=40, batch_size=64, eval_games=0),
                       RulesConfig(), seed=0, device="cpu", config={})
    history = torch.load(path, weights_only=True)["history"]
    losses = [h["policy_loss"] for h in history]
    assert losses[-1] < losses[0], json.dumps(losses)
    assert all(h["full_searches"] == h["positions"] for h in history)
