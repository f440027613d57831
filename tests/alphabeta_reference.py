"""The slow reference for othello/engine.py: AlphaBetaPlayer's search as it was in pure Python
(Python-int bitboards via game.legal_int / game.flips_int), kept only to test the numba engine
against. The library has one implementation (engine.py); nothing outside tests/ imports this.
"""
import numpy as np

from othello import game
from othello.engine import WEIGHTS, WIN

# one bitboard per distinct weight, best first: this is also the move ordering
_WEIGHT_MASKS = [(int(w), sum(1 << int(s) for s in np.flatnonzero(WEIGHTS == w)))
                 for w in sorted(set(WEIGHTS.tolist()), reverse=True)]


def _ordered(moves):
    """Squares of the `moves` bitboard, best positional weight first (corners first)."""
    out = []
    for _, mask in _WEIGHT_MASKS:
        x = moves & mask
        while x:
            b = x & -x
            out.append(b.bit_length() - 1)
            x ^= b
    return out


def _final(me, opp):
    """Final disc difference from the mover's side (empties count for nobody, as in game.outcome)."""
    return me.bit_count() - opp.bit_count()


class ReferenceAlphaBeta:
    """Negamax alpha-beta to `depth` plies on a positional + mobility evaluation;
    an exact solve of the final disc difference once `endgame_empties` or fewer
    squares are empty. A pass is a ply; the game ends when neither side can move.
    Root moves with equal (exact) scores are chosen between at random.
    """

    def __init__(self, depth=4, endgame_empties=8, seed=None, mobility_weight=3):
        self.depth = depth
        self.endgame_empties = endgame_empties
        self.mobility_weight = mobility_weight
        self.rng = np.random.default_rng(seed)
        self.nodes = 0

    def root_scores(self, me, opp):
        """{square: exact score} of every legal square (full window), at the player's depth."""
        moves = game.legal_int(me, opp)
        out = {}
        for sq in _ordered(moves):
            f = game.flips_int(me, opp, sq)
            out[sq] = -self._search(opp ^ f, me | f | (1 << sq), self.depth - 1, -2 * WIN, 2 * WIN)
        return out

    def best_moves(self, me, opp):
        """(best score, [the squares scoring it, in search order]) of the player's root search."""
        moves = game.legal_int(me, opp)
        exact = game.SQUARES - (me | opp).bit_count() <= self.endgame_empties
        best, best_moves = -2 * WIN, []
        for sq in _ordered(moves):
            f = game.flips_int(me, opp, sq)
            child_me, child_opp = opp ^ f, me | f | (1 << sq)
            # window (best - 1, inf): a move scoring exactly `best` comes back exact, so ties are seen
            if exact:
                v = -self._solve(child_me, child_opp, -2 * WIN, 1 - best)
            else:
                v = -self._search(child_me, child_opp, self.depth - 1, -2 * WIN, 1 - best)
            if v > best:
                best, best_moves = v, [sq]
            elif v == best:
                best_moves.append(sq)
        return best, best_moves

    def best_move(self, me, opp):
        """One position as Python ints -> action (36 = pass)."""
        if not game.legal_int(me, opp):
            return game.PASS
        _, best_moves = self.best_moves(me, opp)
        return int(best_moves[self.rng.integers(len(best_moves))])

    def evaluate(self, me, opp, moves=None):
        """Static score from the mover's side (integer; exact +-WIN + discs if the game is over)."""
        moves = game.legal_int(me, opp) if moves is None else moves
        opp_moves = game.legal_int(opp, me)
        if not moves and not opp_moves:
            d = _final(me, opp)
            return d + (WIN if d > 0 else -WIN if d < 0 else 0)
        score = self.mobility_weight * (moves.bit_count() - opp_moves.bit_count())
        for w, mask in _WEIGHT_MASKS:
            score += w * ((me & mask).bit_count() - (opp & mask).bit_count())
        return score

    def _search(self, me, opp, depth, alpha, beta):
        """Fail-soft negamax: the heuristic value of (me, opp) within (alpha, beta)."""
        self.nodes += 1
        moves = game.legal_int(me, opp)
        if depth <= 0:
            return self.evaluate(me, opp, moves)
        if not moves:
            if not game.legal_int(opp, me):
                return self.evaluate(me, opp, 0)
            return -self._search(opp, me, depth - 1, -beta, -alpha)  # forced pass
        best = -2 * WIN
        for sq in _ordered(moves):
            f = game.flips_int(me, opp, sq)
            v = -self._search(opp ^ f, me | f | (1 << sq), depth - 1, -beta, -alpha)
            if v > best:
                best = v
                if v > alpha:
                    alpha = v
                    if alpha >= beta:
                        break
        return best

    def solve(self, me, opp):
        """Exact final disc difference under perfect play, from the mover's side (Python ints)."""
        return self._solve(me, opp, -2 * WIN, 2 * WIN)

    def _solve(self, me, opp, alpha, beta):
        self.nodes += 1
        moves = game.legal_int(me, opp)
        if not moves:
            if not game.legal_int(opp, me):
                return _final(me, opp)
            return -self._solve(opp, me, -beta, -alpha)  # forced pass
        best = -2 * WIN
        for sq in _ordered(moves):
            f = game.flips_int(me, opp, sq)
            v = -self._solve(opp ^ f, me | f | (1 << sq), -beta, -alpha)
            if v > best:
                best = v
                if v > alpha:
                    alpha = v
                    if alpha >= beta:
                        break
        return best
