"""Non-network players: random, greedy and alpha-beta, all with one batched interface.

A player is a callable `player(me, opp) -> actions`: uint64 `[B]` positions
(canonical, mover to play, never finished games) -> int `[B]` legal actions
(36 = pass, returned exactly when no square is legal). Each player owns a seeded
`np.random.Generator` for tie-breaks, so a match is reproducible from its seeds,
and has a `name`. The network players (raw policy, MCTS) live in alphazero/agents.py.

Alpha-beta searches one position at a time in numba (othello/engine.py for the midgame,
othello/solver.py for the exact endgame).
"""
import numpy as np

from othello import game


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


class AlphaBetaPlayer:
    """Negamax alpha-beta to `depth` plies on a positional + mobility evaluation (othello/engine.py,
    numba); once `endgame_empties` or fewer squares are empty, a perfect endgame instead: the exact
    solver (othello/solver.py) values every move by its final disc difference. A pass is a ply; the
    game ends when neither side can move. Among the root moves of equal (exact) score the player's
    rng picks one uniformly (listed in engine.MOVE_ORDER in the midgame, by action in the endgame,
    so a seed replays the same choices).
    `mobility_weight`: an integer, default engine.MOBILITY.
    """

    def __init__(self, depth=4, endgame_empties=8, seed=None, mobility_weight=None):
        if depth < 1:
            raise ValueError(f"alpha-beta depth must be >= 1, got {depth}")
        if not 0 <= endgame_empties <= game.SQUARES:
            raise ValueError(f"endgame_empties must be 0..{game.SQUARES}, got {endgame_empties}")
        # numba (about a second to import and load): only for players that search
        from othello import engine, solver
        self._engine, self._solver = engine, solver
        self.depth = depth
        self.endgame_empties = endgame_empties
        weight = engine.MOBILITY if mobility_weight is None else mobility_weight
        self.mobility_weight = engine.check_mobility_weight(weight)
        self.rng = np.random.default_rng(seed)
        self.name = f"alphabeta:{depth}"

    def __call__(self, me, opp):
        return np.array([self.best_move(int(m), int(o)) for m, o in zip(me, opp)], dtype=np.int64)

    def best_moves(self, me, opp):
        """(score, [every optimal action]) of the player's root search, one position as Python ints:
        the exact final disc difference from `endgame_empties` empties on, else the depth-`depth`
        heuristic score. With no legal square: pass (36) alone."""
        if game.SQUARES - (me | opp).bit_count() <= self.endgame_empties:
            return self._solver.best_moves(me, opp)
        return self._engine.best_moves(me, opp, self.depth, self.mobility_weight)

    def best_move(self, me, opp):
        """One position as Python ints -> action (36 = pass)."""
        if not game.legal_int(me, opp):
            return game.PASS
        _, best = self.best_moves(me, opp)
        return int(best[self.rng.integers(len(best))])

    def evaluate(self, me, opp):
        """Static score from the mover's side (integer; +-engine.WIN + discs if the game is over)."""
        return self._engine.evaluate(me, opp, self.mobility_weight)

    def solve(self, me, opp):
        """Exact final disc difference under perfect play, from the mover's side (Python ints)."""
        return self._solver.solve(me, opp)


class ExactEndgamePlayer(AlphaBetaPlayer):
    """AlphaBetaPlayer with the spec's name and defaults: alpha-beta to `depth` plies, and from
    `exact_empties` empty squares on the exact solver's best moves (one at random, its rng).
    Spec `alphabeta:DEPTH+exactE` in alphazero.agents.make_player, e.g. alphabeta:6+exact10.
    """

    def __init__(self, depth=6, exact_empties=10, seed=None, mobility_weight=None):
        super().__init__(depth=depth, endgame_empties=exact_empties, seed=seed, mobility_weight=mobility_weight)
        self.exact_empties = exact_empties
        self.name = f"alphabeta:{depth}+exact{exact_empties}"
