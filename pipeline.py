"""The whole toolkit end to end on the shipped model, at a small size (about 10 min on 2 CPU cores).

    python pipeline.py                                   # ladder match -> activations -> SAE sweep -> viewer data
    python pipeline.py --collect.positions 1000000 --sae.steps 5000 --sae.sweep archs --device cuda
    python pipeline.py --config runs/sae/sweep.json      # repeat a run from the config it recorded

Stages (each is a typed function; its own command is printed as it runs):
  1. strength check: the model (MCTS, --search.sims) against --opponents, --games games
     each, colours alternating, varied openings                       (othello/play.py)
  2. activations at --site (default resid.2, the stream after block index 2) on
     --collect.positions unique positions, split train/val/test by game  (python -m sae.collect)
  3. an SAE sweep in lockstep (default `small`: one SAE per architecture) at every collected site,
     metrics with 95% intervals on >= 100k held-out test positions, SAELens export, sweep.json,
     sweep.md and plots                                                  (train_sae.py)
  4. concept evaluation (coverage per concept group beside probes and floors), each feature's
     auto-interp rule and importance, and the science report, on a subsample of rows, with the
     move the model's search (--search.*) chooses on <= --concepts.search-rows of them
     (CONCEPTS below; --concepts.*, --interp.*, --report.*)   (python -m sae.concept_eval; python -m sae.science_report)
  5. the viewer's static JSON, with the labels and the report          (vis/generate_vis_data.py)
Then it prints how to open the viewer: cd vis && python -m http.server 8000.

Every setting is a flag of the one config tree (`--help` lists them). The pipeline starts
from PRESET below (small sizes that keep the main job near 10 minutes), then `--config`, then flags.
"""
import dataclasses
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import tyro

import config
from config import Config
from alphazero.agents import make_player
from alphazero.checkpoint import CheckpointError, resolve_checkpoint
from othello.arena import play_match
from othello.atomic import atomic_write_json
from sae import concept_eval, science_report
from sae.autointerp import AutoInterpConfig
from sae.collect import collect
from sae.sweeps import sae_configs
from sae.train import SAETrainingError, train_saes
from vis.generate_vis_data import build_viewer_data

# the main job's sizes: every other setting keeps its one default from the config tree
# (250k positions with 45% of the games held out: >= 100k test positions, for metrics with tight intervals)
PRESET = {"collect": {"positions": 250_000, "test_frac": 0.45},
          "sae": {"sweep": "small", "steps": 1500, "match_games": 40}}
# stage 4's sizes: a quarter of the standalone command's rows and half its ablations took 93 s instead of
# 256 s on the shipped sweep (5 SAEs, shared 2-core CPU) with explained fractions within 1 point of it
# the search concepts (one MCTS per position, ~250/s per core at 64 sims) on 4000 of those 9000 rows
CONCEPTS = concept_eval.ConceptEvalConfig(train_rows=5000, val_rows=2000, test_rows=2000, search_rows=4000)
INTERP = AutoInterpConfig(importance_rows=32)
VIS_DATA = Path(__file__).resolve().parent / "vis" / "data"  # where vis/index.html looks


@dataclass(frozen=True)
class PipelineArgs:
    games: int = 40                                # games against each ladder opponent in stage 1; 0 skips it
    opponents: str = "random,greedy,alphabeta:4"   # stage 1's opponents (player specs, comma-separated)
    concepts: concept_eval.ConceptEvalConfig = CONCEPTS  # stage 4: concept evaluation (sae/concept_eval.py)
    interp: AutoInterpConfig = INTERP              # stage 4: auto-interpretation (sae/autointerp.py)
    report: science_report.ReportConfig = science_report.ReportConfig()  # stage 4: the science report
    cfg: Annotated[Config, tyro.conf.arg(name="")] = Config()


def stage(n, title, command):
    print(f"\n=== {n}/5 {title}\n    {command}", flush=True)
    return time.perf_counter()


def strength_check(cfg, opponents, games):
    """Stage 1: the model (MCTS) against each opponent; returns the match summaries."""
    model = make_player(cfg.checkpoint, cfg.device, seed=cfg.seed, search=cfg.search)
    results = []
    for i, spec in enumerate(opponents):
        r = play_match(model, make_player(spec, cfg.device, seed=cfg.seed + i), games,
                       cfg.rules.opening_plies, seed=cfg.seed + i)
        print("   ", r.summary(), flush=True)
        results.append(r.to_dict())
    return results


def concepts_stage(cfg, args, device):
    """Stage 4: concepts.json/.md/.svg and report.md/.html into the sweep folder; prints the headline."""
    report = concept_eval.evaluate_sweep(cfg.sae.out, args.concepts, args.interp, cfg.seed, device, cfg.search)
    concept_eval.write(report, cfg.sae.out, args.concepts.out)
    print(science_report.markdown(science_report.headline_blocks(science_report.headline(report))))
    for name, a in report["autointerp"].items():
        s = a["summary"]
        print(f"    {name}: rules explain {s['explained']} of {s['alive']} alive features ({s['explained_frac']:.1%}) "
              f"at test F1 >= {args.interp.explained_f1}")
    science_report.write(*science_report.build(cfg.sae.out, args.report, cfg.seed, args.concepts.out), cfg.sae.out,
                         args.report.out)
    print(f"    science report: {Path(cfg.sae.out) / args.report.out}.md (.html)", flush=True)


def main(argv=None):
    args = config.parse(PipelineArgs, argv, __doc__, preset=PRESET)
    cfg = args.cfg
    device = config.resolve_device(cfg.device)
    cfg = dataclasses.replace(cfg, device=device)  # every stage gets the resolved device ('auto' -> cpu / cuda)
    if cfg.wandb:
        config.require_wandb()
    record = config.to_dict(cfg)
    flags = "--config " + cfg.config if cfg.config else ""
    t_all, times = time.perf_counter(), {}
    try:
        checkpoint = resolve_checkpoint(cfg.checkpoint)
        # --- 1. the model against the ladder ---
        if args.games > 0:
            opponents = [s.strip() for s in args.opponents.split(",") if s.strip()]
            t0 = stage(1, "strength check", f"python othello/play.py --player {cfg.checkpoint} --games {args.games} "
                                            f"--search.sims {cfg.search.sims} --opponent {{{','.join(opponents)}}}")
            ladder = strength_check(cfg, opponents, args.games)
            atomic_write_json(Path(cfg.collect.out).parent / "ladder.json", {"config": record, "matches": ladder})
            times["ladder"] = time.perf_counter() - t0

        # --- 2. activations ---
        t0 = stage(2, "activations", f"python -m sae.collect --site {cfg.site} --collect.positions "
                                     f"{cfg.collect.positions} --collect.out {cfg.collect.out} {flags}")
        store = collect(checkpoint, cfg.site, cfg.collect, cfg.seed, device, record)
        times["activations"] = time.perf_counter() - t0

        # --- 3. SAEs (every config at every collected site, in one pass) ---
        sites = store.sites[0] if len(store.sites) == 1 else list(store.sites)
        t0 = stage(3, "SAE sweep", f"python train_sae.py --site {','.join(store.sites)} --sae.sweep {cfg.sae.sweep} "
                                   f"--sae.steps {cfg.sae.steps} --sae.out {cfg.sae.out} {flags}")
        train_saes(store, sae_configs(cfg.sae, store.d_model, cfg.seed), cfg.sae, sites, cfg.seed, device,
                   cfg.wandb, record, checkpoint)
        times["saes"] = time.perf_counter() - t0

        # --- 4. concepts, auto-interp, science report ---
        t0 = stage(4, "concepts + auto-interp + report",
                   f"python -m sae.concept_eval --sae.out {cfg.sae.out} --concepts.train-rows {args.concepts.train_rows} "
                   f"--concepts.val-rows {args.concepts.val_rows} --concepts.test-rows {args.concepts.test_rows} "
                   f"--concepts.search-rows {args.concepts.search_rows} "
                   f"--interp.importance-rows {args.interp.importance_rows} {flags}; "
                   f"python -m sae.science_report --sae.out {cfg.sae.out} {flags}")
        concepts_stage(cfg, args, device)
        times["concepts"] = time.perf_counter() - t0

        # --- 5. viewer data ---
        t0 = stage(5, "viewer data", f"python vis/generate_vis_data.py --sae.out {cfg.sae.out} "
                                     f"--collect.out {cfg.collect.out} --vis.out {cfg.vis.out} {flags}")
        build_viewer_data(cfg.sae.out, cfg.collect.out, cfg.vis, cfg.seed, device, record)
        times["viewer"] = time.perf_counter() - t0
    except (CheckpointError, SAETrainingError, ValueError) as e:
        sys.exit(f"error: {e}")

    print("\nstage times: " + ", ".join(f"{k} {v / 60:.1f} min" for k, v in times.items())
          + f"; total {(time.perf_counter() - t_all) / 60:.1f} min")
    print(f"SAE metrics: {Path(cfg.sae.out) / 'sweep.json'} (plots: {cfg.sae.out}/*.svg)")
    if Path(cfg.vis.out).resolve() == VIS_DATA:
        print(f"open the viewer:  cd {VIS_DATA.parent} && python -m http.server 8000   then browse http://localhost:8000")
    else:
        print(f"the page reads {VIS_DATA}: copy {cfg.vis.out} there to view it")


if __name__ == "__main__":
    main()
