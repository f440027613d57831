import numpy as np

from alphazero.config import SearchConfig
from alphazero.inference import uniform_evaluate
from alphazero.mcts import search
from othello import game
from othello.sampling import random_positions


def solve(me, opp):
    """Exact negamax result (+1/0/-1) from the mover's side, for positions with few empties."""
    me_a, opp_a = np.array([me], np.uint64), np.array([opp], np.uint64)
    if game.terminal(me_a, opp_a)[0]:
        return float(game.outcome(me_a, opp_a)[0])
    best = -2.0
    for a in np.flatnonzero(game.legal_mask(me_a, opp_a)[0]):
        nme, nopp = game.step(me_a, opp_a, [a])
        best = max(best, -solve(nme[0], nopp[0]))
    return best


def endgame_positions(n_empty, count, seed=0):
    """Non-terminal positions with at most n_empty empty squares, from random play."""
    rng = np.random.default_rng(seed)
    found = []
    while len(found) < count:
        me, opp = game.initial(64)
        for _ in range(60):
            live = ~game.terminal(me, opp)
            empties = 36 - game.popcount(me | opp)
            for i in np.flatnonzero(live & (empties <= n_empty)):
                found.append((me[i], opp[i]))
            legal = game.legal_mask(me, opp)
            a = np.array([rng.choice(np.flatnonzero(l)) for l in legal])
            me, opp = game.step(me, opp, np.where(live, a, game.PASS))
            if (empties <= n_empty).all():
                break
    return found[:count]


def forced_win_cases(count, seed=1):
    """Positions with 4 empties where some moves win and others do not: [(me, opp, {action: exact W/D/L})]."""
    cases = []
    for me, opp in endgame_positions(4, count, seed=seed):
        me_a, opp_a = np.array([me], np.uint64), np.array([opp], np.uint64)
        legal = np.flatnonzero(game.legal_mask(me_a, opp_a)[0])
        vals = {a: -solve(*[x[0] for x in game.step(me_a, opp_a, [a])]) for a in legal}
        if max(vals.values()) == 1 and min(vals.values()) < 1:
            cases.append((me, opp, vals))
    return cases


def test_forced_win_is_found():
    """Where some moves win and others do not, a uniform-prior search picks a winning move."""
    cases = forced_win_cases(400)
    assert len(cases) >= 5
    me = np.array([c[0] for c in cases], np.uint64)
    opp = np.array([c[1] for c in cases], np.uint64)
    visits, root_value, _ = search(me, opp, uniform_evaluate, SearchConfig(sims=300, algorithm="puct"),
                                   np.random.default_rng(0))
    for (_, _, vals), v, rv in zip(cases, visits, root_value):
        assert vals[int(v.argmax())] == 1
        assert rv > 0.5


def test_terminal_values_are_exact():
    """One ply before the end, every leaf is a finished game: the root value is the exact result."""
    cases = []
    for me, opp in endgame_positions(1, 200, seed=2):
        me_a, opp_a = np.array([me], np.uint64), np.array([opp], np.uint64)
        legal = np.flatnonzero(game.legal_mask(me_a, opp_a)[0])
        nxt = game.step(np.repeat(me_a, len(legal)), np.repeat(opp_a, len(legal)), legal)
        if game.terminal(*nxt).all() and len(legal) == 1:
            cases.append((me, opp, solve(me, opp)))
    assert cases, "no one-ply-from-the-end positions found"
    me = np.array([c[0] for c in cases], np.uint64)
    opp = np.array([c[1] for c in cases], np.uint64)
    _, root_value, _ = search(me, opp, uniform_evaluate, SearchConfig(sims=8, algorithm="puct"), np.random.default_rng(0))
    assert np.array_equal(root_value, np.array([c[2] for c in cases], np.float32))
    assert {c[2] for c in cases} <= {-1.0, 0.0, 1.0}


def test_illegal_moves_never_visited():
    """An evaluator that puts its prior mass on illegal moves still only gets legal visits."""
    me, opp = random_positions(48, seed=4)
    me, opp = me[~game.terminal(me, opp)], opp[~game.terminal(me, opp)]

    def adversarial(m, o):
        legal = game.legal_mask(m, o)
        p = np.where(legal, 1e-3, 1.0).astype(np.float32)
        return p / p.sum(1, keepdims=True), np.zeros(len(m), np.float32)

    visits, _, _ = search(me, opp, adversarial, SearchConfig(sims=32, algorithm="puct"), np.random.default_rng(0), add_noise=True)
    legal = game.legal_mask(me, opp)
    assert (visits[~legal] == 0).all()
    assert (visits.sum(1) == 32).all()


def test_one_network_call_per_simulation():
    calls = []

    def counting(m, o):
        calls.append(len(m))
        return uniform_evaluate(m, o)

    me, opp = game.initial(16)
    search(me, opp, counting, SearchConfig(sims=10, algorithm="puct"), np.random.default_rng(0))
    assert calls == [16] * 11  # the root, then one batched call per simulation


def unfinished_descendants(me, opp):
    """Number of unfinished positions below (me, opp) in its full game tree (a tree, so repeats count)."""
    me_a, opp_a = np.array([me], np.uint64), np.array([opp], np.uint64)
    total = 0
    for a in np.flatnonzero(game.legal_mask(me_a, opp_a)[0]):
        nme, nopp = game.step(me_a, opp_a, [a])
        if not game.terminal(nme, nopp)[0]:
            total += 1 + unfinished_descendants(nme[0], nopp[0])
    return total


def test_only_new_unfinished_leaves_are_evaluated():
    """Finished games never reach the network, and a leaf is evaluated once: with 3 empties the
    whole game tree is smaller than the simulation budget, so most simulations need no call."""
    cases = endgame_positions(3, 40, seed=3)
    me = np.array([c[0] for c in cases], np.uint64)
    opp = np.array([c[1] for c in cases], np.uint64)
    seen = []

    def recording(m, o):
        assert not game.terminal(m, o).any(), "a finished game was sent to the network"
        seen.append(len(m))
        return uniform_evaluate(m, o)

    visits, _, _ = search(me, opp, recording, SearchConfig(sims=60, algorithm="puct"), np.random.default_rng(0))
    assert (visits.sum(1) == 60).all()
    assert seen[0] == len(cases)  # the roots
    assert sum(seen) <= len(cases) + sum(unfinished_descendants(m, o) for m, o in cases)
    assert len(seen) < 61  # simulations whose leaves are all finished make no call at all
