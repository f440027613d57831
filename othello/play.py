"""Play 6x6 Othello in the terminal against the model, or pit two players against each other.

    python othello/play.py --human                               # you (X, Black) vs the shipped model
    python othello/play.py --human --checkpoint runs/alphazero/latest.pt   # vs a model you trained
    python othello/play.py --human --color white --opponent alphabeta:4
    python othello/play.py --games 100 --opponent greedy         # shipped model (MCTS) vs greedy
    python othello/play.py --games 40 --player alphabeta:4 --opponent random --json
    python othello/play.py --games 100 --opponent greedy --search.sims 200 --rules.opening-plies 6
    python othello/play.py --games 100 --steer runs/sae/relu_f512_l1-3:405=4   # steered model vs the clean one
    python othello/play.py --human --ablate runs/sae/relu_f512_l1-3:405,106     # play a model missing two features

Player specs: random, greedy, alphabeta (its default depth), alphabeta:DEPTH, policy:PATH (raw
network), mcts:PATH or a bare checkpoint PATH (MCTS with --search.sims), shipped (MCTS on
models/othello6x6.pt).

In a human game type a move like c4, `pass` (only when you have no legal square),
`undo` (take back your last move and the reply), `hint` (the AI's move for you) or `quit`.
X is Black (moves first), O is White, '.' marks your legal moves.

Steering (sae/steering.py): `--steer SAE_DIR:FEATURE=VALUE` clamps an SAE feature's activation to VALUE,
`SAE_DIR:FEATURE+=VALUE` adds VALUE along its decoder direction, `--ablate SAE_DIR:FEATURE` clamps it to 0,
at the site the SAE folder records; repeat the flag or give a comma list (`DIR:3=2,7+=1`). The edits apply
to the model player: --player with --games (play it against a clean --opponent), the AI with --human;
raw policy or MCTS alike (the search evaluates the steered network).
"""
import dataclasses
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal

if __name__ == "__main__" and not __package__:
    # run as `python othello/play.py`: Python put othello/ first on sys.path, where othello/config.py
    # would shadow the toolkit's root `config` module; the repo root goes there instead
    sys.path[0] = str(Path(__file__).resolve().parent.parent)

import tyro  # noqa: E402  (after the path fix above)

import config  # noqa: E402
from alphazero.agents import make_player
from alphazero.checkpoint import SHIPPED, CheckpointError
from othello import game
from othello.arena import play_match


@dataclass(frozen=True)
class PlayArgs:
    human: bool = False          # play an interactive game against --opponent
    games: int = 0               # play this many games of --player against --opponent (instead of --human)
    player: str = ""             # the player whose score is reported with --games (a player spec; empty: MCTS on --checkpoint)
    opponent: str = ""           # the opponent (a player spec; empty: MCTS on --checkpoint)
    color: Literal["black", "white"] = "black"  # your colour with --human (Black moves first)
    json: bool = False           # print one JSON object with the result (--games)
    steer: Annotated[tuple[str, ...], tyro.conf.UseAppendAction] = ()  # SAE_DIR:FEATURE=VALUE (clamp) or FEATURE+=VALUE (add), repeatable / comma list
    ablate: Annotated[tuple[str, ...], tyro.conf.UseAppendAction] = ()  # SAE_DIR:FEATURE: clamp the feature to 0, repeatable / comma list
    cfg: Annotated[config.Config, tyro.conf.arg(name="")] = config.Config()


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


def build_player(spec, cfg, seed):
    """make_player with the run's settings (Config; an empty spec is MCTS on cfg.checkpoint);
    exit with a one-line error on a bad spec or checkpoint."""
    try:
        return make_player(spec or cfg.checkpoint, device=cfg.device, seed=seed, search=cfg.search)
    except CheckpointError as e:
        if str(SHIPPED) in str(e) and not SHIPPED.is_file():
            sys.exit(f"error: the shipped model {SHIPPED} does not exist yet (train it with train_alphazero.py, "
                     f"or pick another player, e.g. --opponent alphabeta)")
        sys.exit(f"error: {e}")
    except ValueError as e:
        sys.exit(f"error: {e}")


def _checkpoint_of(spec, cfg):
    """The checkpoint file a network player spec plays (None for a rule-based player)."""
    spec = (spec or cfg.checkpoint).strip()
    kind, _, arg = spec.partition(":")
    path = arg if kind in ("policy", "mcts") else spec
    path = SHIPPED if path == "shipped" else Path(path)
    return path if path.is_file() else None


def apply_steering(player, spec, args, cfg):
    """Steer `player` (spec `spec`) with the --steer / --ablate edits; exit with a one-line error on a bad one.
    A checkpoint other than the one an SAE was trained on is allowed, with a warning."""
    from alphazero.checkpoint import file_sha256
    from sae import steering  # an entry script may reach up to sae/; othello's library modules never do
    try:
        steers = steering.load_steers(steering.parse_specs(args.steer, args.ablate), device=cfg.device)
        steering.steer_player(player, steers)
    except ValueError as e:
        sys.exit(f"error: {e}")
    ck = _checkpoint_of(spec, cfg)
    sha = file_sha256(ck) if ck else None
    for s in steers:
        if s.checkpoint_sha256 and sha and s.checkpoint_sha256 != sha:
            print(f"warning: {s.folder} was trained on checkpoint sha256 {s.checkpoint_sha256[:12]}, "
                  f"the player's {ck} is {sha[:12]}", file=sys.stderr)
    return player


def main(argv=None):
    args = config.parse(PlayArgs, argv, __doc__)
    cfg = dataclasses.replace(args.cfg, device=config.resolve_device(args.cfg.device))
    if args.games < 0:
        sys.exit(f"error: --games must be >= 1, got {args.games}")
    if args.human == (args.games > 0):
        sys.exit("error: choose one of --human (play the model yourself) or --games N (N AI games)")
    steered = bool(args.steer or args.ablate)
    if args.human:
        ai = build_player(args.opponent, cfg, cfg.seed)
        if steered:
            apply_steering(ai, args.opponent, args, cfg)
        human_game(ai, human_black=args.color == "black")
        return
    player = build_player(args.player, cfg, cfg.seed)
    if steered:
        apply_steering(player, args.player, args, cfg)
    opponent = build_player(args.opponent, cfg, cfg.seed + 1)
    r = play_match(player, opponent, args.games, opening_plies=cfg.rules.opening_plies, seed=cfg.seed)
    if args.json:
        print(json.dumps(r.to_dict()))
    else:
        print(r.summary())


if __name__ == "__main__":
    main()
