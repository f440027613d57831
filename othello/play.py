"""Play 6x6 Othello in the terminal against the model, or pit two players against each other.

    python othello/play.py --human                               # you (X, Black) vs the shipped model
    python othello/play.py --human --color white --opponent alphabeta:4
    python othello/play.py --games 100 --opponent greedy         # shipped model (MCTS) vs greedy
    python othello/play.py --games 40 --player alphabeta --depth 4 --opponent random --json

Player specs: random, greedy, alphabeta, alphabeta:DEPTH, policy:PATH (raw network),
mcts:PATH or a bare checkpoint PATH (MCTS with --sims), shipped (MCTS on models/othello6x6.pt).

In a human game type a move like c4, `pass` (only when you have no legal square),
`undo` (take back your last move and the reply), `hint` (the AI's move for you) or `quit`.
X is Black (moves first), O is White, '.' marks your legal moves.
"""
import argparse
import json
import sys

import torch

from alphazero.agents import SPEC_HELP, make_player
from alphazero.arena import play_match
from alphazero.checkpoint import SHIPPED, CheckpointError
from othello import game


def _counts(me, opp, black_to_move):
    """(black discs, white discs) of a canonical position."""
    m, o = int(game.popcount(me)[0]), int(game.popcount(opp)[0])
    return (m, o) if black_to_move else (o, m)


def human_game(opponent, human_black=True):
    """Interactive game on stdin/stdout. Returns your score (1 / 0.5 / 0) or None if you quit."""
    you, ai = ("X", "O") if human_black else ("O", "X")
    colour = "Black" if human_black else "White"
    print(f"You play {you} ({colour}) against {opponent.name}. "
          "Type a move like c4, or pass, undo, hint, quit.")
    me, opp = game.initial(1)
    black_to_move = True
    history = []  # positions before each of your moves, for undo
    while not game.terminal(me, opp)[0]:
        if black_to_move != human_black:  # --- the AI's turn ---
            a = int(opponent(me, opp)[0])
            print(f"AI ({ai}) has no legal move and passes." if a == game.PASS else f"AI ({ai}) plays {game.action_name(a)}")
            me, opp = game.step(me, opp, [a])
            black_to_move = not black_to_move
            continue
        # --- your turn ---
        legal = int(game.legal_bits(me, opp)[0])
        black, white = _counts(me, opp, black_to_move)
        print()
        print(game.render(me[0], opp[0], mover_is_black=black_to_move, legal=legal))
        print(f"X (Black) {black}   O (White) {white}")
        if not legal:
            print("You have no legal move and must pass: type pass.")
        while True:
            try:
                text = input(f"your move ({you})> ")
            except EOFError:
                print("\nEnd of input: quitting.")
                return None
            cmd = text.strip().lower()
            if cmd == "quit":
                print("You quit.")
                return None
            if cmd == "hint":
                print(f"hint: {opponent.name} would play {game.action_name(int(opponent(me, opp)[0]))}")
                continue
            if cmd == "undo":
                if not history:
                    print("Nothing to undo: you have not moved yet.")
                    continue
                me, opp, black_to_move = history.pop()
                print("Took back your last move and the reply.")
                break
            try:
                a = game.parse_action(cmd)
            except ValueError as e:
                print(e)
                continue
            if a == game.PASS and legal:
                print("You cannot pass: you have a legal move (marked '.').")
                continue
            if a != game.PASS and not legal:
                print("You have no legal move: type pass.")
                continue
            if a != game.PASS and not (legal >> a) & 1:
                print(f"{game.action_name(a)} is not a legal move: pick a square marked '.'.")
                continue
            history.append((me, opp, black_to_move))
            me, opp = game.step(me, opp, [a])
            black_to_move = not black_to_move
            break
    black, white = _counts(me, opp, black_to_move)
    print()
    print(game.render(me[0], opp[0], mover_is_black=black_to_move))
    mine, theirs = (black, white) if human_black else (white, black)
    verdict = "You win" if mine > theirs else "Draw" if mine == theirs else "You lose"
    print(f"Game over: X (Black) {black}, O (White) {white}. {verdict} {mine}-{theirs}.")
    return 1.0 if mine > theirs else 0.5 if mine == theirs else 0.0


def build_player(spec, args, seed):
    """make_player with the CLI's settings; exit with a one-line error on a bad spec or checkpoint."""
    try:
        return make_player(spec, device=args.device, sims=args.sims, seed=seed, depth=args.depth)
    except CheckpointError as e:
        if str(SHIPPED) in str(e) and not SHIPPED.is_file():
            sys.exit(f"error: the shipped model {SHIPPED} does not exist yet (train it with train_alphazero.py, "
                     f"or pick another player, e.g. --opponent alphabeta)")
        sys.exit(f"error: {e}")
    except ValueError as e:
        sys.exit(f"error: {e}")


class _Formatter(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """Defaults shown in --help, and the module docstring kept as written."""


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=_Formatter)
    mode = ap.add_mutually_exclusive_group(required=True)
    mode.add_argument("--human", action="store_true", help="play an interactive game against --opponent")
    mode.add_argument("--games", type=int, metavar="N", help="play N games of --player against --opponent")
    ap.add_argument("--opponent", default="shipped", help=f"the opponent: {SPEC_HELP}")
    ap.add_argument("--player", default="shipped", help="the player whose score is reported (with --games)")
    ap.add_argument("--color", choices=["black", "white"], default="black", help="your colour with --human (Black moves first)")
    ap.add_argument("--sims", type=int, default=64, help="MCTS simulations per move of checkpoint players")
    ap.add_argument("--depth", type=int, default=4, help="search depth of a bare 'alphabeta' player")
    ap.add_argument("--opening-plies", type=int, default=4, help="random plies that open each pair of games (--games)")
    ap.add_argument("--seed", type=int, default=0, help="random seed (openings and tie-breaks)")
    ap.add_argument("--json", action="store_true", help="print one JSON object with the result (--games)")
    ap.add_argument("--device", default="cpu", help="torch device for network players: cpu, or cuda if present")
    args = ap.parse_args(argv)
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        sys.exit(f"error: --device {args.device} requested but CUDA is not available")
    if args.games is not None and args.games < 1:
        sys.exit(f"error: --games must be >= 1, got {args.games}")

    if args.human:
        human_game(build_player(args.opponent, args, args.seed), human_black=args.color == "black")
        return
    player = build_player(args.player, args, args.seed)
    opponent = build_player(args.opponent, args, args.seed + 1)
    r = play_match(player, opponent, args.games, opening_plies=args.opening_plies, seed=args.seed)
    if args.json:
        print(json.dumps(r.to_dict()))
    else:
        print(r.summary())


if __name__ == "__main__":
    main()
