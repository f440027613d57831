import numpy as np
import pytest

from othello.arena import (Ladder, MatchResult, fit_elo, format_ladder, ladder, play_match, random_openings,
                             result_from_scores)
from othello import game
from othello.players import AlphaBetaPlayer, GreedyPlayer, RandomPlayer


class Scripted:
    """Plays a fixed game: position -> action from one recorded game (both sides)."""

    def __init__(self, book, name):
        self.book, self.name = book, name

    def __call__(self, me, opp):
        return np.array([self.book[(int(m), int(o))] for m, o in zip(me, opp)])


class Counting:
    """Wraps a player and records the batch size of every call."""

    def __init__(self, player):
        self.player, self.name, self.batches = player, player.name, []

    def __call__(self, me, opp):
        self.batches.append(len(me))
        return self.player(me, opp)


def recorded_game(want):
    """A random game from the start that ends with `want` ('draw' or 'black'), as a position -> action book."""
    rng = np.random.default_rng(0)
    for _ in range(200):
        me, opp = game.initial(1)
        book, black = {}, True
        while not game.terminal(me, opp)[0]:
            a = int(rng.choice(np.flatnonzero(game.legal_mask(me, opp)[0])))
            book[(int(me[0]), int(opp[0]))] = a
            me, opp = game.step(me, opp, [a])
            black = not black
        d = int(game.popcount(me)[0] - game.popcount(opp)[0]) * (1 if black else -1)  # Black's margin
        if (want == "draw" and d == 0) or (want == "black" and d > 0):
            return book
    raise AssertionError(f"no {want} game found")


def test_draws_count_half():
    """Both sides replay a drawn game: two draws, score 0.5, no losses."""
    book = recorded_game("draw")
    r = play_match(Scripted(book, "a"), Scripted(book, "b"), 2, opening_plies=0, progress=False)
    assert (r.wins, r.draws, r.losses) == (0, 2, 0)
    assert r.score == 0.5 and all(g.score == 0.5 and g.a_discs == g.b_discs for g in r.games)


def test_colours_alternate():
    """Replaying a game Black wins: A wins as Black (game 0) and loses as White (game 1)."""
    book = recorded_game("black")
    r = play_match(Scripted(book, "a"), Scripted(book, "b"), 2, opening_plies=0, progress=False)
    assert [g.a_black for g in r.games] == [True, False]
    assert [g.score for g in r.games] == [1.0, 0.0]
    assert (r.wins, r.draws, r.losses) == (1, 0, 1)


def test_scoring():
    r = result_from_scores([1, 0.5, 0, 0.5, 1])
    assert (r.wins, r.draws, r.losses, r.n_games) == (2, 2, 1, 5)
    assert r.score == pytest.approx(0.6)
    half = 1.96 * np.std([1, 0.5, 0, 0.5, 1], ddof=1) / np.sqrt(5)
    assert (r.score_low, r.score_high) == pytest.approx((0.6 - half, 0.6 + half))
    assert r.elo_low < r.elo < r.elo_high and r.elo > 0
    even = result_from_scores([0.5, 0.5, 1, 0])
    assert even.score == 0.5 and even.elo == 0
    sweep = result_from_scores([1.0] * 10)
    assert sweep.score_high == 1.0 and np.isfinite(sweep.elo)


def test_match_is_lockstep_and_paired():
    a, b = Counting(GreedyPlayer(0)), Counting(RandomPlayer(1))
    n = 9
    r = play_match(a, b, n, opening_plies=4, seed=3, progress=False)
    assert r.n_games == n and r.wins + r.draws + r.losses == n
    assert [g.a_black for g in r.games] == [True, False] * (n // 2) + [True]  # odd n: A is Black in the last
    assert len(a.batches) < 40 and max(a.batches) > 1  # one call per ply for all games, not one per game
    assert sum(a.batches) + sum(b.batches) == sum(len(g.actions) - g.opening_plies for g in r.games)
    openings = [tuple(g.actions[:g.opening_plies]) for g in r.games]
    assert all(g.opening_plies == 4 for g in r.games)
    assert all(openings[2 * k] == openings[2 * k + 1] for k in range(n // 2))  # pairs share the opening
    assert len(set(openings)) == (n + 1) // 2                                    # different pairs differ
    for g in r.games:  # the recorded game replays legally to the recorded disc counts
        me, opp = game.initial(1)
        for act in g.actions:
            assert game.legal_mask(me, opp)[0, act]
            me, opp = game.step(me, opp, [act])
        assert game.terminal(me, opp)[0]
        assert sorted([g.a_discs, g.b_discs]) == sorted(game.popcount(np.concatenate([me, opp])).tolist())


def test_openings_distinct_even_when_scarce():
    """More pairs than 1-ply openings (4 exist): extra pairs get longer openings, all distinct."""
    me, opp, black, actions = random_openings(10, 1, np.random.default_rng(0))
    assert len({(int(m), int(o), len(a) % 2) for m, o, a in zip(me, opp, actions)}) == 10
    assert black.tolist() == [len(a) % 2 == 0 for a in actions]


def test_deterministic_players_vary_across_openings():
    r = play_match(AlphaBetaPlayer(2, seed=0), GreedyPlayer(seed=0), 8, seed=1, progress=False)
    assert len({tuple(g.actions) for g in r.games}) == 8


def test_fit_elo_orders_players():
    def m(a, b, scores):
        r = result_from_scores(scores)
        r.a_name, r.b_name = a, b
        return r
    matches = {("strong", "mid"): m("strong", "mid", [1.0] * 10),
               ("mid", "random"): m("mid", "random", [1.0] * 7 + [0.0] * 3),
               ("strong", "random"): m("strong", "random", [1.0] * 10)}
    elo = fit_elo(["strong", "mid", "random"], matches)
    assert elo["random"] == 0 and elo["strong"] > elo["mid"] > 0 and np.isfinite(elo["strong"])
    even = fit_elo(["x", "y"], {("x", "y"): m("x", "y", [1.0, 0.0, 0.5, 0.5])})
    assert even["x"] == pytest.approx(0, abs=1e-6) and even["y"] == pytest.approx(0, abs=1e-6)


def test_ladder_round_robin():
    players = {"random": RandomPlayer(0), "greedy": GreedyPlayer(0), "alphabeta:2": AlphaBetaPlayer(2, seed=0)}
    lad = ladder(players, 6, progress=False)
    assert isinstance(lad, Ladder) and len(lad.matches) == 3
    assert all(isinstance(r, MatchResult) and r.n_games == 6 for r in lad.matches.values())
    assert lad.ratings["random"] == 0 and lad.names[0] == "alphabeta:2"
    table = format_ladder(lad)
    lines = table.splitlines()
    assert len(lines) == 2 + 3 and lines[0].startswith("| # | player | Elo")
    assert all(name in table for name in players)


def test_ladder_reuses_matches_already_played():
    calls = []

    class Counting(GreedyPlayer):
        def __call__(self, me, opp):
            calls.append(len(me))
            return super().__call__(me, opp)

    players = {"random": RandomPlayer(0), "greedy": Counting(0)}
    before = play_match(players["greedy"], players["random"], 6, progress=False)
    before.a_name, before.b_name = "greedy", "random"
    n_calls = len(calls)
    lad = ladder(players, 6, progress=False, played={("greedy", "random"): before})
    assert len(calls) == n_calls  # not replayed
    r = lad.matches[("random", "greedy")]  # stored from the ladder's side: flipped
    assert (r.wins, r.draws, r.losses) == (before.losses, before.draws, before.wins)
    assert r.score == pytest.approx(1 - before.score) and r.a_name == "random"
    assert [g.score for g in r.games] == [1 - g.score for g in before.games]
