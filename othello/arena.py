"""Matches between batched players, and a round-robin ladder with maximum-likelihood Elo.

All games of a match are played in LOCKSTEP: at each ply the positions where it
is A's turn go to A in one batched call and the rest to B in one call, so a
network player costs one forward pass (or one batched search) per ply.

Games come in pairs: both games of a pair start from the same random opening
(`opening_plies` uniformly random legal plies) with the colours swapped, and
different pairs get different openings, so deterministic players do not just
replay one game. Scores are from A's side: win 1, draw 0.5, loss 0.

This is game-level code: it needs only the rules, so it lives in the rules layer, and
every tool that plays matches (play.py, training, benchmarks, SAE splices) comes here.
"""
import dataclasses
import math
from dataclasses import dataclass, field
from itertools import combinations

import numpy as np
from tqdm import tqdm

from othello import game
from othello.config import RulesConfig

MAX_PLIES = 100  # a 6x6 game has at most 32 moves plus passes; this only guards against a bug


@dataclass
class GameRecord:
    actions: list      # every action from the start position, opening included (36 = pass)
    opening_plies: int  # how many of `actions` were the random opening
    a_black: bool       # A played Black (the first mover)
    a_discs: int        # final disc counts
    b_discs: int
    score: float        # A's result: 1 win, 0.5 draw, 0 loss


@dataclass
class MatchResult:
    a_name: str
    b_name: str
    wins: int           # from A's side
    draws: int
    losses: int
    score: float        # (wins + draws / 2) / games
    score_low: float    # 95% interval of the score (normal approximation, clipped to [0, 1])
    score_high: float
    elo: float          # Elo difference A - B implied by the score
    elo_low: float      # the score interval mapped to Elo
    elo_high: float
    games: list = field(default_factory=list, repr=False)  # GameRecord per game

    @property
    def n_games(self):
        return self.wins + self.draws + self.losses

    def summary(self):
        return (f"{self.a_name} vs {self.b_name}: {self.n_games} games, +{self.wins} ={self.draws} -{self.losses}, "
                f"score {self.score:.3f} [{self.score_low:.3f}, {self.score_high:.3f}], "
                f"Elo {self.elo:+.0f} [{self.elo_low:+.0f}, {self.elo_high:+.0f}]")

    def to_dict(self):
        """Plain-data summary (no per-game records), ready for json.dumps."""
        return {"player": self.a_name, "opponent": self.b_name, "games": self.n_games,
                "wins": self.wins, "draws": self.draws, "losses": self.losses,
                "score": self.score, "score_ci95": [self.score_low, self.score_high],
                "elo": self.elo, "elo_ci95": [self.elo_low, self.elo_high]}


def elo_from_score(score, n_games):
    """Elo difference for an expected score; 0 and 1 are pulled in by half a game so it stays finite."""
    eps = 0.5 / max(n_games, 1)
    s = min(max(score, eps), 1 - eps)
    return -400.0 * math.log10(1.0 / s - 1.0) + 0.0  # + 0.0: no '-0' at an even score


def score_stats(scores):
    """Per-game scores (1 / 0.5 / 0) -> (mean, low, high): 95% normal interval on the sample variance."""
    s = np.asarray(scores, dtype=np.float64)
    mean = float(s.mean())
    if len(s) < 2:
        return mean, 0.0, 1.0  # one game says nothing about the spread
    half = 1.96 * float(s.std(ddof=1)) / math.sqrt(len(s))
    return mean, max(0.0, mean - half), min(1.0, mean + half)


def random_openings(n, plies, rng):
    """`n` distinct openings of `plies` uniformly random legal plies from the start.

    Returns (me, opp) uint64 `[n]`, black_to_move bool `[n]`, and the action lists.
    A duplicate is redrawn; if it keeps colliding (more openings asked for than
    exist at that length) it gets one more random ply, so all stay distinct.
    """
    seen, out = set(), []
    for _ in range(n):
        for attempt in range(1000):
            length = plies + attempt // 50
            me, opp = game.initial(1)
            actions = []
            while len(actions) < length and not game.terminal(me, opp)[0]:
                legal = np.flatnonzero(game.legal_mask(me, opp)[0])
                actions.append(int(rng.choice(legal)))
                me, opp = game.step(me, opp, actions[-1:])
            key = (int(me[0]), int(opp[0]), len(actions) % 2)
            if key not in seen:
                break
        seen.add(key)
        out.append((me[0], opp[0], len(actions) % 2 == 0, actions))
    me, opp, black, actions = zip(*out) if out else ((), (), (), ())
    return np.array(me, np.uint64), np.array(opp, np.uint64), np.array(black, bool), list(actions)


def play_match(player_a, player_b, n_games, opening_plies=RulesConfig.opening_plies, seed=0, progress=True):
    """Play `n_games` between A and B in lockstep; return A's MatchResult.

    Game 2k has A as Black, game 2k+1 the same opening with B as Black (an odd
    `n_games` leaves the last game with A as Black).
    """
    if n_games < 1:
        raise ValueError(f"n_games must be >= 1, got {n_games}")
    rng = np.random.default_rng(seed)
    pairs = (n_games + 1) // 2
    o_me, o_opp, o_black, o_actions = random_openings(pairs, opening_plies, rng)
    idx = np.arange(n_games) // 2
    me, opp, black_to_move = o_me[idx].copy(), o_opp[idx].copy(), o_black[idx].copy()
    a_black = np.arange(n_games) % 2 == 0                         # [N]
    actions = [list(o_actions[i]) for i in idx]
    bar = tqdm(total=n_games, desc=f"{getattr(player_a, 'name', 'A')} vs {getattr(player_b, 'name', 'B')}",
               unit="game", disable=None if progress else True)
    done = game.terminal(me, opp)
    bar.update(int(done.sum()))
    for _ in range(MAX_PLIES):
        if done.all():
            break
        a_turn = ~done & (black_to_move == a_black)
        b_turn = ~done & ~a_turn
        act = np.full(n_games, game.PASS, np.int64)
        for player, turn in ((player_a, a_turn), (player_b, b_turn)):
            if turn.any():
                act[turn] = player(me[turn], opp[turn])
        live = ~done
        legal = game.legal_mask(me[live], opp[live])
        if not legal[np.arange(live.sum()), act[live]].all():
            raise ValueError("a player returned an illegal action")
        me[live], opp[live] = game.step(me[live], opp[live], act[live])
        black_to_move[live] = ~black_to_move[live]
        for i in np.flatnonzero(live):
            actions[i].append(int(act[i]))
        now_done = game.terminal(me, opp)
        bar.update(int((now_done & ~done).sum()))
        done = now_done
    else:
        raise RuntimeError(f"games did not end within {MAX_PLIES} plies")
    bar.close()

    mover_discs, other_discs = game.popcount(me), game.popcount(opp)
    a_moves_last = black_to_move == a_black
    a_discs = np.where(a_moves_last, mover_discs, other_discs)
    b_discs = np.where(a_moves_last, other_discs, mover_discs)
    scores = np.where(a_discs > b_discs, 1.0, np.where(a_discs == b_discs, 0.5, 0.0))
    records = [GameRecord(actions[i], len(o_actions[idx[i]]), bool(a_black[i]), int(a_discs[i]),
                          int(b_discs[i]), float(scores[i])) for i in range(n_games)]
    return result_from_scores(scores, getattr(player_a, "name", "A"), getattr(player_b, "name", "B"), records)


def result_from_scores(scores, a_name="A", b_name="B", records=()):
    """MatchResult from A's per-game scores (1 / 0.5 / 0)."""
    scores = np.asarray(scores, dtype=np.float64)
    n = len(scores)
    mean, low, high = score_stats(scores)
    return MatchResult(a_name, b_name, int((scores == 1).sum()), int((scores == 0.5).sum()), int((scores == 0).sum()),
                       mean, low, high, elo_from_score(mean, n), elo_from_score(low, n), elo_from_score(high, n),
                       list(records))


# --- ladder: round robin and Bradley-Terry Elo ---

@dataclass
class Ladder:
    names: list         # players, best first
    ratings: dict       # name -> Elo (anchored: random = 0 if present, else mean 0)
    matches: dict       # (a, b) -> MatchResult of a vs b, one per unordered pair


def fit_elo(names, matches, prior_draws=1.0, anchor="random", iters=10_000, tol=1e-10):
    """Maximum-likelihood Bradley-Terry ratings, a draw counting as half a win each.

    matches: {(a, b): MatchResult}. `prior_draws` virtual drawn games per played
    pair keep a player who won every game at a finite rating. Solved with the
    minorise-maximise iteration (Hunter 2004). Returns {name: Elo}.
    """
    k = {n: i for i, n in enumerate(names)}
    games = np.zeros((len(names), len(names)))   # games[i, j] = games between i and j
    won = np.zeros_like(games)                   # won[i, j] = points i scored against j
    for (a, b), r in matches.items():
        i, j = k[a], k[b]
        n, pts = r.n_games + prior_draws, r.score * r.n_games + prior_draws / 2
        games[i, j] += n
        games[j, i] += n
        won[i, j] += pts
        won[j, i] += n - pts
    gamma = np.ones(len(names))
    for _ in range(iters):
        denom = (games / (gamma[:, None] + gamma[None, :])).sum(1)
        new = won.sum(1) / np.maximum(denom, 1e-300)
        new /= np.exp(np.log(np.maximum(new, 1e-300)).mean())  # fix the scale: geometric mean 1
        if np.abs(new - gamma).max() < tol:
            gamma = new
            break
        gamma = new
    elo = 400.0 * np.log10(np.maximum(gamma, 1e-300))
    elo -= elo[k[anchor]] if anchor in k else elo.mean()
    return {n: float(elo[k[n]]) for n in names}


def ladder(players, games_per_pair, opening_plies=RulesConfig.opening_plies, seed=0, progress=True, played=None):
    """Round robin: every pair of `players` ({name: player}) plays `games_per_pair` games.

    `played` ({(a, b): MatchResult}) holds matches already played; those pairs are not replayed.
    """
    names = list(players)
    matches = {}
    for p, (a, b) in enumerate(combinations(names, 2)):
        known = (played or {}).get((a, b))
        if known is None and (played or {}).get((b, a)) is not None:
            known = flip(played[(b, a)])
        if known is not None:
            matches[(a, b)] = known
            continue
        r = play_match(players[a], players[b], games_per_pair, opening_plies, seed + p, progress)
        r.a_name, r.b_name = a, b
        matches[(a, b)] = r
    ratings = fit_elo(names, matches)
    return Ladder(sorted(names, key=lambda n: -ratings[n]), ratings, matches)


def flip(r):
    """The same match from B's side."""
    games = [dataclasses.replace(g, a_black=not g.a_black, a_discs=g.b_discs, b_discs=g.a_discs, score=1.0 - g.score)
             for g in r.games]
    return result_from_scores([g.score for g in games] if games else
                              [1.0] * r.losses + [0.5] * r.draws + [0.0] * r.wins, r.b_name, r.a_name, games)


def format_ladder(lad):
    """Markdown table: rank, Elo, overall score, and the row player's score against each column."""
    def vs(a, b):  # (a's score against b, games between them)
        if (a, b) in lad.matches:
            return lad.matches[(a, b)].score, lad.matches[(a, b)].n_games
        return 1.0 - lad.matches[(b, a)].score, lad.matches[(b, a)].n_games

    head = "| # | player | Elo | score | " + " | ".join(lad.names) + " |"
    rows = [head, "|" + "---|" * (4 + len(lad.names))]
    for rank, a in enumerate(lad.names, 1):
        results = {b: vs(a, b) for b in lad.names if b != a}
        overall = sum(s * n for s, n in results.values()) / max(sum(n for _, n in results.values()), 1)
        cells = [f"{results[b][0]:.2f}" if b in results else "" for b in lad.names]
        rows.append(f"| {rank} | {a} | {lad.ratings[a]:+.0f} | {overall:.2f} | " + " | ".join(cells) + " |")
    return "\n".join(rows)
