"""Why did it play that? The SAE features active on one position, ranked by attribution to the move and value.

    python -m sae.inspect_position --moves "c4 e3 f4"          # a move list from the start (solver syntax)
    python -m sae.inspect_position --board "------/------/..XO../..OX../------/------" --to-move X
    python -m sae.inspect_position --moves "c4" --move d3 --top 15 --saes relu_f512_l1-3 --sae.out runs/sae

For every SAE of the sweep folder (--sae.out; sweep.json lists them and their sites) on the network of
--checkpoint: the features active on the position (f_j > 0) ranked by their attribution to the chosen
move (default: the raw policy's choice among legal moves; --move to ask about another) and to the value
(P(win) - P(loss)), with each feature's rule from the sweep's concepts.json (sae.concept_eval) if any.

    attribution_j = f_j * (d_j . dOut/dx)      at the SAE's site x, d_j = W_dec[j] (gradient x activation)
    ablation_j    = Out(x) - Out(x - f_j d_j)  the feature's own write removed, the SAE's error kept
                                              (the same ablation as sae.autointerp's importance)

The first is a linear estimate of the second; both columns are printed for the top features, and their
Pearson correlation over every active feature (or a sample of --check of them). The move output is its
logit (--target logprob: its log-probability among the legal moves, which ignores shifts common to all moves).
"""
import dataclasses
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal

import numpy as np
import torch
import tyro

import config
from alphazero.checkpoint import CheckpointError, file_sha256, load_network, resolve_checkpoint
from alphazero.network import value_from_logits
from othello import game
from othello.solver import parse_board, play_moves
from sae.export import load_sae
from sae.sweep_report import read_sweep_report


@dataclass(frozen=True)
class InspectArgs:
    moves: str = ""              # moves from the start, e.g. 'c4 e3 f4' (a forced pass may be left out)
    board: str = ""              # or a 36-cell board a1..f6 (X Black, O White, - empty; spaces and / ignored)
    to_move: str = "X"           # side to move with --board: X or O
    move: str = ""               # the move to explain, e.g. c2; '' = the raw policy's choice
    target: Literal["logit", "logprob"] = "logit"  # the move output: its logit, or its log-probability among legal moves
    top: int = 10                # features listed per SAE and output
    check: int = 0               # active features checked by true ablation for the correlation (0: all)
    saes: str = ""               # comma list of SAE names of the sweep ('' = all)
    concepts: str = "concepts"   # labels: <sae.out>/<concepts>.json from sae.concept_eval ('' = none)
    cfg: Annotated[config.Config, tyro.conf.arg(name="")] = config.Config()


def feature_labels(sweep_dir, run_name, folder, report="concepts"):
    """(features, columns, note) from `<sweep_dir>/<report>.json` for one SAE: features is a list over its
    features (None or a dict with text, f1, rule, kl, ...), columns the concept column names the rules index.
    (None, None, note) when there is no usable report; a report whose recorded weights differ from the
    folder's (format /2 records them) is stale and not used."""
    f = Path(sweep_dir) / f"{report}.json"
    if not report or not f.is_file():
        return None, None, ""
    try:
        r = json.loads(f.read_text())
        a = r["autointerp"].get(run_name)
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None, None, f"{f} is not a readable concepts report: no labels"
    if not isinstance(a, dict) or not isinstance(a.get("features"), list):
        return None, None, ""
    w = (r.get("saes") or {}).get(run_name)
    if isinstance(w, dict) and w.get("weights_sha256") not in (None, file_sha256(Path(folder) / "sae_weights.safetensors")):
        return None, None, f"{f} labels another version of {run_name}: no labels"
    return a["features"], r.get("columns"), ""


def position(args):
    """(me, opp) as uint64 [1] arrays, and whether X (Black) is to move."""
    if args.board and args.moves:
        raise ValueError("give --moves or --board, not both")
    if args.board:
        me, opp = parse_board(args.board, args.to_move)
        x_to_move = args.to_move.upper() == "X"
    else:
        me, opp, x_to_move = play_moves(args.moves)
    me, opp = np.array([me], np.uint64), np.array([opp], np.uint64)
    if game.terminal(me, opp)[0]:
        raise ValueError("the game is over in this position: there is no move to explain")
    return me, opp, x_to_move


def readout(net, site, legal_37, move, target):
    """Out(x_BD) -> [B, 2]: (the move's logit or legal log-probability, value), finishing the pass from `site`."""
    def out(x_BD):
        p, v = net.run_from(site, x_BD)
        m = p[:, move] if target == "logit" else torch.log_softmax(p.masked_fill(~legal_37, float("-inf")), -1)[:, move]
        return torch.stack([m, value_from_logits(v)], 1)
    return out


def attribution(out_fn, x_D, sae):
    """Activations f_F and attributions [F, K] = f_j * (W_dec[j] . grad of output k at x_D)."""
    x = x_D[None].detach().clone().requires_grad_(True)
    y_K = out_fn(x)[0]
    g_KD = torch.stack([torch.autograd.grad(y_K[k], x, retain_graph=True)[0][0] for k in range(len(y_K))])
    with torch.no_grad():
        f_F = sae.encode(x_D[None].float())[0]
        return f_F, f_F[:, None] * (sae.W_dec.float() @ g_KD.T)


@torch.no_grad()
def ablation(out_fn, x_D, sae, f_F, feats):
    """True effects [len(feats), K]: Out(x) - Out(x - f_j W_dec[j]) for each feature j in feats."""
    feats = torch.as_tensor(feats, dtype=torch.long)
    x_ND = x_D[None] - f_F[feats, None] * sae.W_dec[feats].float()
    return out_fn(x_D[None]) - out_fn(x_ND)


def pearson(a, b):
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if len(a) < 2 or a.std() == 0 or b.std() == 0:
        return float("nan")
    return float(np.corrcoef(a, b)[0, 1])


def inspect_sae(net, sae, site, board, legal_37, move, args, rng):
    """{active, rel_error, rows: [feature, act, attr K, ablation K], corr [K], checked} for one SAE."""
    with torch.no_grad():
        x_D = net.run_with_cache(board, [site])[2][site][0].float()
    out_fn = readout(net, site, legal_37, move, args.target)
    f_F, attr_FK = attribution(out_fn, x_D, sae)
    active = torch.nonzero(f_F > 0)[:, 0].numpy()
    checked = active if not args.check or len(active) <= args.check else np.sort(rng.choice(active, args.check, replace=False))
    top = set()
    for k in range(attr_FK.shape[1]):
        top |= set(active[np.argsort(-attr_FK[active, k].abs().numpy(), kind="stable")[:args.top]].tolist())
    feats = np.array(sorted(set(checked.tolist()) | top), np.int64)
    abl = ablation(out_fn, x_D, sae, f_F, feats) if len(feats) else torch.zeros(0, 2)
    by = {int(j): abl[i] for i, j in enumerate(feats)}
    with torch.no_grad():
        rel = float((sae(x_D[None])[0][0] - x_D).norm() / x_D.norm().clamp_min(1e-12))
    corr = [pearson(attr_FK[checked, k].numpy(), [float(by[int(j)][k]) for j in checked]) for k in range(2)]
    rows = [(int(j), float(f_F[j]), attr_FK[j].tolist(), by[int(j)].tolist()) for j in active if int(j) in by]
    return {"active": len(active), "rel_error": rel, "rows": rows, "corr": corr, "checked": len(checked)}


def _label(labels, j):
    e = labels[j] if labels is not None and j < len(labels) else None
    return f"{e['text']} (F1 {e['f1']:.2f})" if e else "-"


def print_sae(name, site, res, labels, move_name, top):
    print(f"\n== {name} at {site}: {res['active']} active features, SAE error |x - x_hat| / |x| = {res['rel_error']:.3f}")
    for k, what in ((0, f"move {move_name}"), (1, "value")):
        rows = sorted(res["rows"], key=lambda r: -abs(r[2][k]))[:top]
        print(f"top {len(rows)} by |attribution| to the {what}:")
        print(f"  {'feature':>7} {'act':>7} {'attr':>8} {'ablate':>8}  label (test F1)")
        for j, a, attr, abl in rows:
            print(f"  {j:>7} {a:7.3f} {attr[k]:+8.4f} {abl[k]:+8.4f}  {_label(labels, j)}")
    c = res["corr"]
    print(f"attribution vs ablation over {res['checked']} active features: Pearson r = {c[0]:.3f} (move), {c[1]:.3f} (value)")


def main(argv=None):
    args = config.parse(InspectArgs, argv, __doc__)
    cfg = dataclasses.replace(args.cfg, device="cpu")  # one position: the CPU is the fast place for it
    try:
        me, opp, x_to_move = position(args)
        sweep_dir = Path(cfg.sae.out)
        sweep = read_sweep_report(sweep_dir)
        ck = resolve_checkpoint(cfg.checkpoint)
        net = load_network(ck)
        runs = sweep["runs"]
        if args.saes:
            want = [s.strip() for s in args.saes.split(",")]
            unknown = [s for s in want if s not in {r["name"] for r in runs}]
            if unknown:
                raise ValueError(f"--saes: '{unknown[0]}' is not an SAE of {sweep_dir} ({', '.join(r['name'] for r in runs)})")
            runs = [r for r in runs if r["name"] in want]
        legal = game.legal_mask(me, opp)[0]
        board = torch.as_tensor(game.to_planes(me, opp))
        with torch.no_grad():
            p, v = net(board)
        logp = torch.log_softmax(p[0].masked_fill(~torch.as_tensor(legal), float("-inf")), -1)
        move = int(logp.argmax()) if not args.move else game.parse_action(args.move)
        if not legal[move]:
            raise ValueError(f"--move '{args.move}' is not legal here (legal: "
                             f"{', '.join(game.action_name(int(a)) for a in np.flatnonzero(legal))})")
    except (ValueError, CheckpointError) as e:
        sys.exit(f"error: {e}")
    sha = file_sha256(ck)
    if sha != sweep["store"]["checkpoint_sha256"]:
        print(f"warning: the sweep's SAEs were trained on checkpoint sha256 {sweep['store']['checkpoint_sha256'][:12]}, "
              f"{ck} is {sha[:12]} (pass the one they were trained on with --checkpoint)", file=sys.stderr)
    print(game.render(me[0], opp[0], mover_is_black=x_to_move, legal=game.legal_int(int(me[0]), int(opp[0]))))
    order = np.argsort(-logp.numpy(), kind="stable")[:int(legal.sum())][:5]
    print(f"{'X' if x_to_move else 'O'} to move; policy: " + ", ".join(f"{game.action_name(int(a))} {float(logp[a].exp()):.3f}" for a in order)
          + f"; value {float(value_from_logits(v)[0]):+.3f}; explaining {game.action_name(move)} ({args.target})")
    rng = np.random.default_rng(cfg.seed)
    legal_37 = torch.as_tensor(legal)[None]
    for run in runs:
        folder = sweep_dir / run["folder"]
        try:
            sae = load_sae(folder)
        except ValueError as e:
            print(f"\n== {run['name']}: skipped ({e})")
            continue
        labels, _, note = feature_labels(sweep_dir, run["name"], folder, args.concepts)
        res = inspect_sae(net, sae, run["site"], board, legal_37, move, args, rng)
        print_sae(run["name"], run["site"], res, labels, game.action_name(move), args.top)
        if note:
            print(note)
    return 0


if __name__ == "__main__":
    sys.exit(main())
