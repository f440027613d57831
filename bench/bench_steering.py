"""Benchmark: does clamping a rule-labelled SAE feature move the policy the way its label says?

    python -m bench.bench_steering [--sae.out runs/sae] [--saes relu_f512_l1-3] [--positions 200]
                                   [--games 100] [--player policy|mcts] [--checkpoint PATH] [--record]

Labels: each feature's rule from `<sae.out>/concepts.json` (python -m sae.concept_eval), or, without one,
rules fitted here by sae.autointerp on a subsample of the store (--fit-rows). A feature is MOVE-LABELLED when
its rule (a single literal or a conjunction, test F1 >= --min-f1) implies a literal on a move square:
`legal X` or `solved_optimal X` (direction +1: the policy should favour X) or `not legal X` / `not
solved_optimal X` (direction -1). The first such literal labels it.

The measure (held-out test-split positions of the store, at most --positions per feature):
    relevant      positions where X is legal (the policy can move there at all)
    steer         clamp the feature to VALUE = --clamp-scale x its max on --max-rows train rows (sae/steering.py,
                  the error term kept); success when direction x [log p_steered(X) - log p_clean(X)] > 1e-4,
                  p = the policy's softmax over the legal moves. GOAL: success on >= 80% of relevant positions.
    ablate        on relevant positions where the feature fires, clamp it to 0: success when X moves the other way
    control       the same steered positions, a random OTHER legal square: how often it moves in the label's
                  direction (the base rate a label must beat)
Games: for the --game-features labelled features with the best steering success per SAE, --games games
(openings of --rules.opening-plies, colours alternating) of the steered model (clamped high, then ablated)
against the clean one, both raw policy (--player policy) or both MCTS at --search.sims (--player mcts).
`--record` appends the table to bench/RESULTS.md.
"""
import dataclasses
import datetime
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal

import numpy as np
import torch
import tyro

import config
from alphazero.agents import MCTSPlayer, PolicyPlayer
from alphazero.checkpoint import file_sha256, load_network, resolve_checkpoint
from bench.common import machine, record
from othello import game
from othello.arena import play_match
from sae import autointerp as ai
from sae import concept_eval as ce
from sae.activations import ActivationStore
from sae.export import load_sae
from sae.inspect_position import feature_labels
from sae.steering import Edit, Steer, edit_hook, steer_player
from sae.sweep_report import read_sweep_report

MOVE_CONCEPTS = ("legal", "solved_optimal")
TOL = 1e-4  # |change in log-probability| below this counts as no move


@dataclass(frozen=True)
class BenchArgs:
    saes: str = ""               # comma list of SAE names of the sweep ('' = all)
    checkpoint_file: str = ""    # the network ('' = the store's checkpoint; must match the store's sha256)
    positions: int = 200         # relevant held-out positions per feature
    max_features: int = 64       # labelled features measured per SAE (best test F1 first; 0 = all)
    min_f1: float = 0.5          # a rule labels its feature at this test F1 or more
    clamp_scale: float = 1.0     # clamp VALUE = this x the feature's max over the train rows
    max_rows: int = 20_000       # train rows for each feature's max
    fit_rows: int = 5_000        # without concepts.json: train rows for fitting rules (val, test: half each)
    games: int = 100             # games per steered model vs the clean one (0: none)
    game_features: int = 2       # features per SAE played in games
    player: Literal["policy", "mcts"] = "policy"  # both sides: raw policy argmax, or MCTS at --search.sims
    record: bool = False         # append the table to bench/RESULTS.md
    cfg: Annotated[config.Config, tyro.conf.arg(name="")] = config.Config()


def move_label(rule, columns):
    """(square, direction, literal text) of the first move literal a rule implies, or None."""
    a, tc, ts, fc, fs = (int(v) for v in rule)
    if tc == ai.ALWAYS and fc == ai.NEVER:
        lits = [(a, 1)]
    elif tc == ai.NEVER and fc == ai.ALWAYS:
        lits = [(a, 0)]
    elif fc == ai.NEVER and tc >= 0:
        lits = [(a, 1), (tc, ts)]
    elif tc == ai.NEVER and fc >= 0:
        lits = [(a, 0), (fc, fs)]
    else:
        return None  # disjunctions and trees imply no single literal
    for col, sign in lits:
        concept, _, square = columns[col].partition(" ")
        if concept in MOVE_CONCEPTS:
            return game.parse_action(square), 1 if sign else -1, ("" if sign else "not ") + columns[col]
    return None


def fitted_rules(store, sae, site, args, seed):
    """Rules by sae.autointerp on a subsample (no concepts.json): (features, columns)."""
    half = max(args.fit_rows // 2, 100)
    d = ce.select(store, ce.ConceptEvalConfig(train_rows=args.fit_rows, val_rows=half, test_rows=half, probes=False,
                                                search_rows=0), seed)
    allrows = np.concatenate([d.rows[s] for s in ce.SPLITS])
    f = ce.encode(sae, np.asarray(store.acts(site)[allrows], np.float32))
    fs = {s: f[d.local[s]] for s in ce.SPLITS}
    xs = {s: torch.as_tensor(d.t.y[d.local[s]] & d.t.m[d.local[s]]) for s in ce.SPLITS}
    return ai.explain(fs, xs, fs["train"].max(0).values.clamp_min(1e-12), ai.AutoInterpConfig(importance_rows=0),
                      d.t.columns), d.t.columns


def legal_logp(logits, legal):
    return torch.log_softmax(logits.float().masked_fill(~legal, float("-inf")), -1)


@torch.no_grad()
def measure(net, sae, site, labelled, top_F, test, args, rng):
    """Per labelled feature: {feature, label, f1, n, steer, ablate_n, ablate, control, dlogp} (fractions)."""
    rows = []
    for j, sq, sgn, text, f1 in labelled:
        rel = np.flatnonzero(test["legal"][:, sq])[:args.positions]
        if len(rel) == 0:
            continue
        b, lg = test["boards"][rel], test["legal"][rel]
        clean = legal_logp(net(b)[0], lg)
        steer = legal_logp(net(b, hooks={site: edit_hook(sae, [Edit(j, args.clamp_scale * float(top_F[j]))])})[0], lg)
        d = sgn * (steer[:, sq] - clean[:, sq])
        other = torch.tensor([rng.choice([a for a in np.flatnonzero(lg[i].numpy()) if a != sq] or [sq]) for i in range(len(rel))])
        has_other = other != sq
        d_other = sgn * (steer[torch.arange(len(rel)), other] - clean[torch.arange(len(rel)), other])
        fires = test["f"][rel, j] > 0
        if fires.any():
            abl = legal_logp(net(b[fires], hooks={site: edit_hook(sae, [Edit(j, 0.0)])})[0], lg[fires])
            d_abl = -sgn * (abl[:, sq] - clean[fires][:, sq])
        rows.append({"feature": j, "label": text, "f1": f1, "n": len(rel), "steer": float((d > TOL).float().mean()),
                     "dlogp": float(d.median()), "ablate_n": int(fires.sum()),
                     "ablate": float((d_abl > TOL).float().mean()) if fires.any() else float("nan"),
                     "control": float((d_other[has_other] > TOL).float().mean()) if has_other.any() else float("nan")})
    return rows


def games_for(steer_value, sae, site, j, folder, ck, args, cfg):
    """Score of the model with feature j clamped to steer_value against the clean model."""
    def player(seed):
        net = load_network(ck, cfg.device)
        return (PolicyPlayer(net, cfg.device, seed=seed) if args.player == "policy"
                else MCTSPlayer(net, device=cfg.device, seed=seed, search=cfg.search))
    steered = steer_player(player(cfg.seed), [Steer(sae, site, [Edit(j, steer_value)], str(folder))])
    return play_match(steered, player(cfg.seed + 1), args.games, opening_plies=cfg.rules.opening_plies,
                      seed=cfg.seed, progress=False)


def summary_row(name, rows):
    pool = lambda k, n: sum(r[k] * r[n] for r in rows if np.isfinite(r[k])) / max(sum(r[n] for r in rows if np.isfinite(r[k])), 1)  # noqa: E731
    good = sum(r["steer"] >= 0.8 for r in rows)
    return (f"| {name} | {len(rows)} | {pool('steer', 'n'):.3f} | {good} ({good / max(len(rows), 1):.0%}) | "
            f"{np.median([r['dlogp'] for r in rows]) if rows else float('nan'):+.3f} | {pool('ablate', 'ablate_n'):.3f} | "
            f"{pool('control', 'n'):.3f} |")


def main(argv=None):
    args = config.parse(BenchArgs, argv, __doc__)
    cfg = dataclasses.replace(args.cfg, device=config.resolve_device(args.cfg.device))
    t0 = time.perf_counter()
    try:
        sweep_dir = Path(cfg.sae.out)
        sweep = read_sweep_report(sweep_dir)
        store = ActivationStore(sweep["store"]["path"])
        ck = Path(args.checkpoint_file) if args.checkpoint_file else resolve_checkpoint(store.manifest["checkpoint"])
        if file_sha256(ck) != store.manifest["checkpoint_sha256"]:
            raise ValueError(f"{ck} is not the checkpoint the store was collected with (sha256 "
                             f"{store.manifest['checkpoint_sha256'][:12]}); pass that one with --checkpoint-file")
        runs = [r for r in sweep["runs"] if not args.saes or r["name"] in args.saes.split(",")]
        if not runs:
            raise ValueError(f"--saes '{args.saes}' names no SAE of {sweep_dir}")
    except ValueError as e:
        sys.exit(f"error: {e}")
    net = load_network(ck, cfg.device)
    rng = np.random.default_rng(cfg.seed)
    lo, hi = store.manifest["splits"]["test"]
    test_rows = np.arange(lo, hi)
    tr_lo, tr_hi = store.manifest["splits"]["train"]
    max_rows = np.sort(rng.choice(np.arange(tr_lo, tr_hi), min(args.max_rows, tr_hi - tr_lo), replace=False))
    test = {"boards": torch.as_tensor(np.asarray(store.arrays["boards"][test_rows]), dtype=torch.float32, device=cfg.device),
            "legal": torch.as_tensor(np.asarray(store.arrays["legal"][test_rows]), device=cfg.device)}
    head = ("| SAE | move-labelled features | steer: success (pooled) | features >= 80% | median dlogp | "
            "ablate: success | control |\n|---|---|---|---|---|---|---|")
    lines, details, game_lines = [head], [], []
    for run in runs:
        folder, site = sweep_dir / run["folder"], run["site"]
        sae = load_sae(folder, cfg.device)
        feats, columns, note = feature_labels(sweep_dir, run["name"], folder)
        source = "concepts.json"
        if feats is None:
            feats, columns = fitted_rules(store, sae, site, args, cfg.seed)
            source = f"rules fitted here ({args.fit_rows} train rows){'; ' + note if note else ''}"
        labelled = []
        for j, e in enumerate(feats):
            lab = move_label(e["rule"], columns) if e and e["f1"] >= args.min_f1 else None
            if lab:
                labelled.append((j, *lab, e["f1"]))
        labelled.sort(key=lambda r: -r[4])
        labelled = labelled[:args.max_features or None]
        test["f"] = ce.encode(sae, np.asarray(store.acts(site)[test_rows], np.float32), device=cfg.device)
        top_F = ce.encode(sae, np.asarray(store.acts(site)[max_rows], np.float32), device=cfg.device).max(0).values
        rows = measure(net, sae, site, labelled, top_F, test, args, rng)
        lines.append(summary_row(run["name"], rows))
        details.append(f"{run['name']} (labels: {source}): " + "; ".join(
            f"{r['feature']} '{r['label']}' F1 {r['f1']:.2f}: {r['steer']:.0%} of {r['n']}" for r in
            sorted(rows, key=lambda r: -r["steer"])[:5]))
        for r in sorted(rows, key=lambda r: (-r["steer"], -r["f1"]))[:args.game_features if args.games else 0]:
            j = r["feature"]
            for what, v in (("clamped high", args.clamp_scale * float(top_F[j])), ("ablated", 0.0)):
                m = games_for(v, sae, site, j, folder, ck, args, cfg)
                game_lines.append(f"| {run['name']} | {j} '{r['label']}' | {what} ({v:.2f}) | {m.wins + m.draws + m.losses} | "
                                  f"{m.score:.3f} [{m.score_low:.3f}, {m.score_high:.3f}] |")
    text = "\n".join(lines)
    if game_lines:
        text += (f"\n\nGames: steered vs clean ({args.player}{'' if args.player == 'policy' else f', {cfg.search.sims} sims'}, "
                 f"score of the steered side, 95% interval)\n\n| SAE | feature | edit | games | score |\n|---|---|---|---|---|\n"
                 + "\n".join(game_lines))
    note = (f"Relevant positions: held-out (test split) positions where the labelled square is legal, <= {args.positions} "
            f"per feature; clamp value {args.clamp_scale:g} x the feature's max on {len(max_rows)} train rows; success: "
            f"log p(square) among legal moves moves in the label's direction by > {TOL:g}. Goal >= 0.80. "
            f"{time.perf_counter() - t0:.0f} s.")
    print(text + "\n\n" + "\n".join(details) + "\n\n" + note)
    if args.record:
        cmd = "python -m bench.bench_steering " + " ".join(sys.argv[1:] if argv is None else argv)
        record(f"### Steering labelled SAE features ({datetime.date.today()}, issue 12 item 5)\n"
               f"{machine()}. `{cmd.strip()}`\n\n{text}\n\n{note}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
