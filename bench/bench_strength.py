"""Benchmark: how close the model plays to perfect, measured against the exact solver.

    python -m bench.bench_strength [--checkpoint shipped] [--positions 300] [--games 200] [--record]

(a) Endgame accuracy: positions with 10, 12 and 14 empty squares, drawn from uniformly random
    play and from the model's own games (raw policy sampled at temperature 1), `--positions`
    of each, one per game, seeds fixed (`--seed`). Every legal move is solved exactly
    (othello/solver.py). For the raw policy and MCTS at each of `--sims`: outcome kept (the
    move keeps the position's game-theoretic win/draw/loss), exactly optimal (the move's final
    disc difference equals the best), and mean disc regret (best minus the move's value).
(b) Matches against a classical engine of our own (`--opponent`, default alphabeta:6+exact10:
    alpha-beta 6 plies deep on the positional evaluation, exact solver from 10 empties),
    `--games` games, both colours, random openings (`--rules.opening-plies`), score with a 95% interval.
(c) The value head at the start position and the game the model plays against itself without
    noise (raw policy and MCTS), against the solved result (White wins 20-16: -4 for the first mover).
"""
import datetime
import sys
import time
from dataclasses import dataclass
from typing import Annotated

import numpy as np
import torch
import tyro

import config
from alphazero.agents import MCTSPlayer, PolicyPlayer, make_player
from alphazero.checkpoint import load_network, resolve_checkpoint
from alphazero.inference import boards_tensor
from alphazero.network import value_from_logits
from bench.common import machine, record
from config import Config
from othello import game, solver
from othello.arena import play_match
from othello.sampling import random_games

START_VALUE = -4  # 6x6 Othello solved (Feinstein 1993): the first mover loses 16-20


@dataclass(frozen=True)
class BenchArgs:
    positions: int = 300            # solved positions per (empties, source)
    empties: tuple[int, ...] = (10, 12, 14)  # empty squares of the solved positions
    sims: tuple[int, ...] = (64, 200)  # MCTS simulations per move of the searched players
    games: int = 200                # games of each match against the classical engine (0: skip the matches)
    opponent: str = "alphabeta:6+exact10"  # the classical engine (player spec)
    match_sims: int = 200           # MCTS simulations per move in the matches (the raw policy plays too)
    sources: tuple[str, ...] = ("random", "model")  # where the solved positions come from: random play, the model's own games
    record: bool = False            # append the tables to bench/RESULTS.md
    cfg: Annotated[Config, tyro.conf.arg(name="")] = Config()


def empties_of(me, opp):
    return game.SQUARES - game.popcount(me | opp)


def pick(pos, empties, n, rng):
    """One position per game with exactly `empties` empty squares (not finished), `n` of them."""
    ok = (empties_of(pos["me"], pos["opp"]) == empties) & ~game.terminal(pos["me"], pos["opp"])
    idx = np.flatnonzero(ok)
    _, first = np.unique(pos["game_id"][idx], return_index=True)  # one per game
    idx = idx[first]
    if len(idx) < n:
        sys.exit(f"error: only {len(idx)} games reached {empties} empties; play more games")
    idx = rng.choice(idx, n, replace=False)
    return pos["me"][idx], pos["opp"][idx]


def model_games(net, n_games, seed, device):
    """Every position of `n_games` games of the raw policy against itself, sampled at temperature 1."""
    player = PolicyPlayer(net, device, temperature=1.0, seed=seed)
    me, opp = game.initial(n_games)
    out = {"me": [], "opp": [], "game_id": []}
    for _ in range(100):
        live = np.flatnonzero(~game.terminal(me, opp))
        if not len(live):
            break
        out["me"].append(me[live]); out["opp"].append(opp[live]); out["game_id"].append(live)
        me[live], opp[live] = game.step(me[live], opp[live], player(me[live], opp[live]))
    return {k: np.concatenate(v) for k, v in out.items()}


def accuracy(values, actions):
    """values [N, 37] exact (ILLEGAL where illegal), actions [N] -> (kept, optimal, regret)."""
    best = values.max(1)
    got = values[np.arange(len(values)), actions]
    assert (got != solver.ILLEGAL).all(), "a player chose an illegal move"
    return float((np.sign(got) == np.sign(best)).mean()), float((got == best).mean()), float((best - got).mean())


def self_play_result(player):
    """Final disc difference (first mover's view) of the player's game against itself from the start."""
    me, opp = game.initial(1)
    ply = 0
    while not game.terminal(me, opp)[0]:
        me, opp = game.step(me, opp, player(me, opp))
        ply += 1
    diff = int(game.popcount(me)[0]) - int(game.popcount(opp)[0])
    return diff if ply % 2 == 0 else -diff


def main(argv=None):
    args = config.parse(BenchArgs, argv, __doc__)
    cfg = args.cfg
    device = config.resolve_device(cfg.device)
    path = resolve_checkpoint(cfg.checkpoint)
    net = load_network(path, device)
    rng = np.random.default_rng(cfg.seed)
    players = {"raw policy": PolicyPlayer(net, device, seed=cfg.seed)}
    for s in args.sims:
        players[f"MCTS {s}"] = MCTSPlayer(net, sims=s, device=device, seed=cfg.seed, search=cfg.search)
    t0 = time.perf_counter()

    # --- (a) endgame accuracy on solved positions ---
    n_games = 8 * args.positions
    make = {"random": ("random play", lambda: random_games(n_games, seed=cfg.seed)),
            "model": ("model's games", lambda: model_games(net, n_games, cfg.seed, device))}
    bad = [s for s in args.sources if s not in make]
    if bad:
        sys.exit(f"error: --sources {bad[0]!r} is not one of {sorted(make)}")
    sources = {make[s][0]: make[s][1]() for s in args.sources}
    rows = ["| source | empties | player | outcome kept | exactly optimal | mean disc regret |", "|---|---|---|---|---|---|"]
    for src, pos in sources.items():
        for e in args.empties:
            me, opp = pick(pos, e, args.positions, rng)
            values = np.stack([solver.solve_moves(int(m), int(o)) for m, o in zip(me, opp)])
            for name, player in players.items():
                kept, optimal, regret = accuracy(values, player(me, opp))
                rows.append(f"| {src} | {e} | {name} | {kept:.3f} | {optimal:.3f} | {regret:.2f} |")
                print(rows[-1], flush=True)
    table_a = "\n".join(rows)

    # --- (b) matches against the classical engine ---
    table_b = ""
    if args.games > 0:
        rows = ["| player | opponent | games | +W =D -L | score [95% interval] |", "|---|---|---|---|---|"]
        match_players = {"raw policy": players["raw policy"],
                         f"MCTS {args.match_sims}": MCTSPlayer(net, sims=args.match_sims, device=device,
                                                               seed=cfg.seed, search=cfg.search)}
        for name, player in match_players.items():
            r = play_match(player, make_player(args.opponent, device, seed=cfg.seed), args.games,
                           cfg.rules.opening_plies, seed=cfg.seed)
            rows.append(f"| {name} | {args.opponent} | {r.n_games} | +{r.wins} ={r.draws} -{r.losses} | "
                        f"{r.score:.3f} [{r.score_low:.3f}, {r.score_high:.3f}] |")
            print(rows[-1], flush=True)
        table_b = "\n".join(rows)

    # --- (c) the start position ---
    me, opp = game.initial(1)
    with torch.inference_mode():
        _, v_logits = net(boards_tensor(me, opp, device))
    v = float(value_from_logits(v_logits.float())[0])
    rows = ["| what | model | solved |", "|---|---|---|",
            f"| value head at the start (first mover's P(win) - P(loss)) | {v:+.3f} | loss (-4 discs) |"]
    for name, player in players.items():
        rows.append(f"| {name} against itself from the start: final disc difference (first mover) | "
                    f"{self_play_result(player):+d} | {START_VALUE:+d} |")
    table_c = "\n".join(rows)

    text = (f"### Strength against the exact solver ({datetime.date.today()})\n"
            f"Machine: {machine()}. Command: `python -m bench.bench_strength {' '.join(argv or sys.argv[1:])}`. "
            f"Model: {path.name}. Seed {cfg.seed}; {args.positions} positions per row, one per game; "
            f"search settings {cfg.search}. {time.perf_counter() - t0:.0f} s.\n\n"
            f"{table_a}\n\n{table_b}\n\n{table_c}")
    print(text)
    if args.record:
        record(text)


if __name__ == "__main__":
    main()
