"""The whole toolkit end to end on the shipped model, at a small default size (10 min on 2 CPU cores).

    python pipeline.py                      # ladder match -> activations -> SAE sweep -> viewer data
    python pipeline.py --positions 1000000 --steps 5000 --sweep archs --device cuda   # bigger, on a GPU

Stages (each one is also its own command, printed as it runs):
  1. strength check: the model (MCTS, --sims) against random, greedy and alpha-beta depth 4,
     --games games each, colours alternating, varied openings        (othello/play.py)
  2. activations at layer 2 ('resid.2', the stream after block index 2) on --positions
     unique positions, split train/val/test by game                  (othello/collect_activations.py)
  3. an SAE sweep in lockstep (default `small`: one SAE per architecture), metrics on
     held-out games, SAELens export, scaling.json and plots          (train_sae.py)
  4. the viewer's static JSON                                         (vis/generate_vis_data.py)
Then it prints how to open the viewer: cd vis && python -m http.server 8000.
"""
import argparse
import json
import sys
import time
from pathlib import Path

from alphazero.agents import make_player
from alphazero.arena import play_match
from alphazero.checkpoint import SHIPPED, CheckpointError
from othello import collect_activations
from sae.activations import ActivationStore
import train_sae
from vis import generate_vis_data

OPPONENTS = ("random", "greedy", "alphabeta:4")
VIS_DATA = Path(__file__).resolve().parent / "vis" / "data"  # where vis/index.html looks


def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--checkpoint", default=str(SHIPPED), help="network to study (default: %(default)s)")
    ap.add_argument("--out", default="runs/pipeline", help="folder for activations and SAEs (default: %(default)s)")
    ap.add_argument("--vis-out", default="vis/data", help="viewer data folder (default: %(default)s)")
    ap.add_argument("--games", type=int, default=40, help="games against each ladder opponent; 0 skips stage 1 "
                                                          "(default: %(default)s)")
    ap.add_argument("--sims", type=int, default=64, help="MCTS simulations per move in stage 1 (default: %(default)s)")
    ap.add_argument("--positions", type=int, default=100_000, help="unique positions collected (default: %(default)s)")
    ap.add_argument("--layer", default="2", help="site(s) collected; SAEs train on the first (default: %(default)s)")
    ap.add_argument("--sweep", default="small", choices=train_sae.SWEEPS,
                    help="SAE grid of train_sae.py (default: %(default)s)")
    ap.add_argument("--features", type=int, nargs="+", default=None, help="dictionary sizes (default: the grid's)")
    ap.add_argument("--steps", type=int, default=1500, help="SAE training steps of 4096 activations (default: %(default)s)")
    ap.add_argument("--batch-size", type=int, default=4096, help="activations per SAE step (default: %(default)s)")
    ap.add_argument("--match-games", type=int, default=40,
                    help="games of each spliced network vs the clean one (default: %(default)s)")
    ap.add_argument("--seed", type=int, default=0, help="random seed of every stage (default: %(default)s)")
    ap.add_argument("--device", default="cpu", help="torch device: cpu, or cuda where present (default: %(default)s)")
    return ap.parse_args(argv)


def stage(n, title, command):
    print(f"\n=== {n}/4 {title}\n    {command}", flush=True)
    return time.perf_counter()


def main(argv=None):
    args = parse_args(argv)
    out = Path(args.out)
    acts, sae_dir = out / "acts", out / "sae"
    t_all = time.perf_counter()
    times = {}

    # --- 1. the model against the ladder ---
    if args.games > 0:
        t0 = stage(1, "strength check", f"python othello/play.py --player {args.checkpoint} --games {args.games} "
                                        f"--sims {args.sims} --opponent {{{','.join(OPPONENTS)}}}")
        try:
            model = make_player(args.checkpoint, args.device, sims=args.sims, seed=args.seed)
        except (CheckpointError, ValueError) as e:
            sys.exit(f"error: {e}")
        results = []
        for i, spec in enumerate(OPPONENTS):
            r = play_match(model, make_player(spec, seed=args.seed + i), args.games, seed=args.seed + i)
            print("   ", r.summary(), flush=True)
            results.append(r.to_dict())
        out.mkdir(parents=True, exist_ok=True)
        (out / "ladder.json").write_text(json.dumps(results, indent=1))
        times["ladder"] = time.perf_counter() - t0

    # --- 2. activations ---
    collect = ["--checkpoint", args.checkpoint, "--positions", str(args.positions), "--layer", args.layer,
               "--out", str(acts), "--seed", str(args.seed), "--device", args.device]
    t0 = stage(2, "activations", "python othello/collect_activations.py " + " ".join(collect))
    collect_activations.main(collect)
    times["activations"] = time.perf_counter() - t0

    # --- 3. SAEs ---
    site = ActivationStore(acts).sites[0]
    train = ["--acts", str(acts), "--out", str(sae_dir), "--site", site, "--sweep", args.sweep,
             "--steps", str(args.steps), "--batch-size", str(args.batch_size), "--match-games", str(args.match_games), "--seed", str(args.seed),
             "--device", args.device, "--checkpoint", args.checkpoint]
    if args.features:
        train += ["--features", *map(str, args.features)]
    t0 = stage(3, "SAE sweep", "python train_sae.py " + " ".join(train))
    train_sae.main(train)
    times["saes"] = time.perf_counter() - t0

    # --- 4. viewer data ---
    gen = ["--sae-dir", str(sae_dir), "--acts", str(acts), "--out", args.vis_out, "--device", args.device]
    t0 = stage(4, "viewer data", "python vis/generate_vis_data.py " + " ".join(gen))
    generate_vis_data.main(gen)
    times["viewer"] = time.perf_counter() - t0

    print("\nstage times: " + ", ".join(f"{k} {v / 60:.1f} min" for k, v in times.items())
          + f"; total {(time.perf_counter() - t_all) / 60:.1f} min")
    print(f"SAE metrics: {sae_dir / 'scaling.json'} (plots: {sae_dir}/*.svg)")
    if Path(args.vis_out).resolve() == VIS_DATA:
        print(f"open the viewer:  cd {VIS_DATA.parent} && python -m http.server 8000   then browse http://localhost:8000")
    else:
        print(f"the page reads {VIS_DATA}: copy {args.vis_out} there to view it")


if __name__ == "__main__":
    main()
