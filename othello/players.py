"""Non-network players: random, greedy and alpha-beta, all with one batched interface.

A player is a callable `player(me, opp) -> actions`: uint64 `[B]` positions
(canonical, mover to play, never finished games) -> int `[B]` legal actions
(36 = pass, returned exactly when no square is legal). Each player owns a seeded
`np.random.Generator` for tie-breaks, so a match is reproducible from its seeds,
and has a `name`. The network players (raw policy, MCTS) live in alphazero/agents.py.

Alpha-beta searches one position at a time on Python-int bitboards
(`game.legal_int`, `game.flips_int`), which is far faster than numpy on `[1]`.
"""
import numpy as np

from othello import game

# Positional weights of the 6x6 squares: corners are stable, the X squares (diagonal
# to a corner) and C squares (next to a corner on the edge) hand the corner over,
# other edge squares are hard to flip back. Row-major, a1 first.
WEIGHTS = np.array([
    [20, -6, 3, 3, -6, 20],
    [-6, -12, -1, -1, -12, -6],
    [3, -1, 1, 1, -1, 3],
    [3, -1, 1, 1, -1, 3],
    [-6, -12, -1, -1, -12, -6],
    [20, -6, 3, 3, -6, 20],
]).reshape(-1)
# one bitboard per distinct weight, best first: this is also the move-ordering
_WEIGHT_MASKS = [(int(w), sum(1 << int(s) for s in np.flatnonzero(WEIGHTS == w)))
                 for w in sorted(set(WEIGHTS.tolist()), reverse=True)]
WIN = 10_000  # heuristic score of a won game (plus the disc difference), above any evaluation


class RandomPlayer:
    """Uniformly random legal action."""

    def __init__(self, seed=None):
        self.rng = np.random.default_rng(seed)
        self.name = "random"

    def __call__(self, me, opp):
        legal = game.legal_mask(me, opp)  # [B, 37]
        return np.where(legal, self.rng.random(legal.shape), -1.0).argmax(1)


class GreedyPlayer:
    """The move that flips the most discs, ties broken at random."""

    def __init__(self, seed=None):
        self.rng = np.random.default_rng(seed)
        self.name = "greedy"

    def __call__(self, me, opp):
        B = len(me)
        legal = game.legal_mask(me, opp)  # [B, 37]
        squares = np.tile(np.arange(game.SQUARES), B)
        flips = game.flip_count(np.repeat(me, game.SQUARES), np.repeat(opp, game.SQUARES), squares)
        flips = flips.reshape(B, game.SQUARES).astype(np.float64)
        # random fraction < 1 only reorders equal flip counts; pass (36) wins only when alone
        score = np.concatenate([flips, np.zeros((B, 1))], axis=1) + self.rng.random(legal.shape)
        return np.where(legal, score, -1.0).argmax(1)


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


class AlphaBetaPlayer:
    """Negamax alpha-beta to `depth` plies on a positional + mobility evaluation;
    an exact solve of the final disc difference once `endgame_empties` or fewer
    squares are empty. A pass is a ply; the game ends when neither side can move.
    Root moves with equal (exact) scores are chosen between at random.
    """

    def __init__(self, depth=4, endgame_empties=8, seed=None, mobility_weight=3):
        if depth < 1:
            raise ValueError(f"alpha-beta depth must be >= 1, got {depth}")
        self.depth = depth
        self.endgame_empties = endgame_empties
        self.mobility_weight = mobility_weight
        self.rng = np.random.default_rng(seed)
        self.name = f"alphabeta:{depth}"
        self.nodes = 0  # positions visited, for benchmarks

    def __call__(self, me, opp):
        return np.array([self.best_move(int(m), int(o)) for m, o in zip(me, opp)], dtype=np.int64)

    def best_move(self, me, opp):
        """One position as Python ints -> action (36 = pass)."""
        moves = game.legal_int(me, opp)
        if not moves:
            return game.PASS
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


class ExactEndgamePlayer(AlphaBetaPlayer):
    """Alpha-beta to `depth` plies on the positional + mobility evaluation, and from
    `exact_empties` empty squares on, a perfect endgame: the exact solver of othello/solver.py
    (numba) values every legal move and the player picks one of the best at random (its rng).
    Spec `alphabeta:DEPTH+exactE` in alphazero.agents.make_player, e.g. alphabeta:6+exact10.
    """

    def __init__(self, depth=6, exact_empties=10, seed=None, mobility_weight=3):
        if not 0 <= exact_empties <= game.SQUARES:
            raise ValueError(f"exact_empties must be 0..{game.SQUARES}, got {exact_empties}")
        # the parent's pure-Python endgame search never runs: from exact_empties on, the solver plays
        super().__init__(depth=depth, endgame_empties=exact_empties, seed=seed, mobility_weight=mobility_weight)
        self.exact_empties = exact_empties
        self.name = f"alphabeta:{depth}+exact{exact_empties}"

    def best_move(self, me, opp):
        """One position as Python ints -> action (36 = pass)."""
        if not game.legal_int(me, opp):
            return game.PASS
        if game.SQUARES - (me | opp).bit_count() > self.exact_empties:
            return super().best_move(me, opp)
        from othello import solver  # numba: imported only by players that use it
        _, best = solver.best_moves(me, opp)
        return int(best[self.rng.integers(len(best))])

