"""Random positions for tests, benchmarks and diversity: reached by uniformly random play."""
import numpy as np

from othello import game


def random_positions(n, seed=0, max_plies=40):
    """`(me, opp)` uint64 `[n]`: each game stops at a random ply < max_plies (or where it ended)."""
    rng = np.random.default_rng(seed)
    me, opp = game.initial(n)
    stop = rng.integers(0, max_plies, size=n)
    out_me, out_opp = me.copy(), opp.copy()
    for ply in range(max_plies):
        live = ~game.terminal(me, opp)
        legal = game.legal_mask(me, opp)
        # uniform choice among legal actions, vectorised: argmax of random keys on legal entries
        a = np.where(legal, rng.random(legal.shape), -1.0).argmax(1)
        a[~live] = game.PASS
        keep = (stop == ply) & live
        out_me[keep], out_opp[keep] = me[keep], opp[keep]
        nme, nopp = game.step(me, opp, a)
        me, opp = np.where(live, nme, me), np.where(live, nopp, opp)
    return out_me, out_opp
