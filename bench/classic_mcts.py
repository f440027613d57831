"""Reference: the classic unbatched AlphaZero search (alpha-zero-general's design).

One network call per leaf at batch size 1, a tree kept in dicts keyed by the
position, recursion for selection. Used only by the benchmarks, as the baseline
our batched search is compared against on the same network and rules. It takes the
same SearchConfig (sims, c_puct; no first-play urgency or root noise, as in its original).
"""
import math

import numpy as np

from alphazero.selfplay import sample_actions
from othello import game


class ClassicMCTS:
    def __init__(self, evaluate, cfg):
        self.evaluate, self.sims, self.c_puct = evaluate, cfg.sims, cfg.c_puct
        self.Qsa, self.Nsa, self.Ns, self.Ps, self.Vs, self.Es = {}, {}, {}, {}, {}, {}

    def visits(self, me, opp):
        """Run `sims` simulations from one position (its tree is kept between calls); return
        visit counts `[37]`. An unexpanded root is expanded first, like the batched search's
        root call, so a fresh tree's counts sum to `sims`."""
        if (me, opp) not in self.Ps:
            self._search(me, opp)
        for _ in range(self.sims):
            self._search(me, opp)
        s = (me, opp)
        return np.array([self.Nsa.get((s, a), 0) for a in range(game.ACTIONS)])

    def _search(self, me, opp):
        s = (me, opp)
        m, o = np.array([me], np.uint64), np.array([opp], np.uint64)
        if s not in self.Es:
            self.Es[s] = game.outcome(m, o)[0] if game.terminal(m, o)[0] else None
        if self.Es[s] is not None:
            return -self.Es[s]
        if s not in self.Ps:  # leaf: one network call for one position
            p, v = self.evaluate(m, o)
            legal = game.legal_mask(m, o)[0]
            p = p[0] * legal
            self.Ps[s] = p / p.sum() if p.sum() > 0 else legal / legal.sum()
            self.Vs[s], self.Ns[s] = legal, 0
            return -v[0]
        best, best_a = -math.inf, -1
        for a in np.flatnonzero(self.Vs[s]):
            if (s, a) in self.Qsa:
                u = self.Qsa[(s, a)] + self.c_puct * self.Ps[s][a] * math.sqrt(self.Ns[s]) / (1 + self.Nsa[(s, a)])
            else:
                u = self.c_puct * self.Ps[s][a] * math.sqrt(self.Ns[s] + 1e-8)
            if u > best:
                best, best_a = u, a
        a = best_a
        nme, nopp = game.step(m, o, [a])
        v = self._search(nme[0], nopp[0])
        if (s, a) in self.Qsa:
            self.Qsa[(s, a)] = (self.Nsa[(s, a)] * self.Qsa[(s, a)] + v) / (self.Nsa[(s, a)] + 1)
            self.Nsa[(s, a)] += 1
        else:
            self.Qsa[(s, a)], self.Nsa[(s, a)] = v, 1
        self.Ns[s] += 1
        return -v


def classic_self_play_game(evaluate, search_cfg, selfplay_cfg, rng):
    """One self-play game with a fresh classic tree per game, moves chosen as in the batched
    self-play (sampled at `selfplay_cfg.temperature` for the first `temperature_plies` plies,
    then the most visited); returns the number of plies."""
    me, opp = game.initial(1)
    mcts = ClassicMCTS(evaluate, search_cfg)
    ply = 0
    while not game.terminal(me, opp)[0]:
        legal = game.legal_mask(me, opp)[0]
        if legal.sum() == 1:
            a = int(legal.argmax())
        else:
            n = mcts.visits(me[0], opp[0])[None]
            early = ply < selfplay_cfg.temperature_plies
            a = int(sample_actions(n, selfplay_cfg.temperature if early else 0.0, rng)[0])
        me, opp = game.step(me, opp, [a])
        ply += 1
    return ply
