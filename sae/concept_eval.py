"""SAE evaluation on game concepts (Karvonen et al. 2024 protocol) for a whole sweep, with its floors and ceiling.

    python -m sae.concept_eval [--sae.out runs/sae] [--concepts.train-rows 20000] [--interp.beam 16] ...

For every SAE of a sweep (`<sweep>/sweep.json`, all sites) and every detection column of the concepts
(othello/concepts.py via sae.probes.targets: a square, a quadrant or a bin of a position value), on
rows of the sweep's activation store (train: a seeded sample; val, test: the first rows of those splits,
held-out games). The search concepts (the move the network's MCTS chooses, at the players' `--search.*`)
are computed on at most `search_rows` of those rows (sae/search_concepts.py; the report's `search`
records how many and how long). A unit j with threshold t is the detector act_j > t * max_j (max over
train rows):

    coverage        the best single (unit, t) per column by F1, CHOSEN ON VAL, F1 reported on TEST
    reconstruction  every (unit, t) is labelled with each column it predicts at val precision >=
                    `precision` (firing on >= `min_fires` val rows); on TEST a column is predicted true
                    where some labelled (unit, t) fires; F1 per column (Karvonen's board reconstruction,
                    with each (unit, column) taking every threshold whose precision qualifies)

Methods (rows of every table): each SAE; a random-initialised SAE of the same class and width
(untrained, decoder bias = the train mean, encoder reading x - b_dec; its own L0 is reported); the MLP
hidden units of the block writing each site (neurons, at the same thresholds; "untrained neurons":
sae.probes' best unit of an untrained network, at that module's thresholds); the linear-probe ceiling on
the site and the same probe on an untrained network (sae.probes, ridge; a probe has no coverage /
reconstruction split: its F1 fills both); an always-on detector. Scores are averaged over the columns
with >= `min_positives` positives in every split, per concept group and per kind (input / computed).
With `autointerp`, each SAE also gets every alive feature's rule and importance (sae/autointerp.py).
Written to the sweep folder: `<out>.json` (format FORMAT; `read_concepts` is its strict reader), `<out>.md`, and plots
`<out>_coverage_computed.svg`, `<out>_coverage_input.svg` (coverage vs L0, floors and ceiling as
lines), `<out>_groups.svg` (per group: the SAE best on val, its random twin, every floor and ceiling).
"""
import dataclasses
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from alphazero.checkpoint import file_sha256, load_network, resolve_checkpoint
from othello.atomic import atomic_write_json, atomic_write_text
from sae import autointerp as ai
from sae import probes
from sae.activations import ActivationStore
from sae.archs import CLASSES, SAEConfig
from sae.concept_tables import ORDER, best_sae, markdown, ordered, plots  # noqa: F401 (readers use ce.ordered, ce.plots ...)
from sae.export import load_sae
from sae.search_concepts import row_concepts
from sae.sweep_report import read_sweep_report

FORMAT = "othello-sae-concepts/3"  # /3: the search concepts and the same-L0 random floor ("random-l0:"); /2: `saes`
SPLITS = probes.SPLITS


@dataclass(frozen=True)
class ConceptEvalConfig:
    store: str = ""              # activation store; '' = the store the sweep was trained on (sweep.json)
    train_rows: int = 20_000     # train rows sampled: each unit's max, probe fits, rule fits
    val_rows: int = 5_000        # validation rows (first of the split): every choice (unit, threshold, rule)
    test_rows: int = 5_000       # held-out rows (first of the test split): every reported score
    thresholds: tuple[float, ...] = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)  # fractions of each unit's max
    precision: float = 0.95      # reconstruction: a (unit, t) predicts a column at this val precision or more
    min_fires: int = 10          # ... firing on at least this many val rows where the column is defined
    min_positives: int = 10      # a column counts only with this many positives in each split
    solve_empties: int = 14      # solver concepts on positions with at most this many empties
    search_rows: int = 6000      # search concepts (MCTS move) on at most this many rows: ~250 positions/s per core at 64 sims
    probes: bool = True          # probe ceiling and untrained-network floor at each site (sae.probes, ridge)
    autointerp: bool = True      # every SAE feature's rule and importance (sae.autointerp)
    learned_gap: float = 0.03    # "[learned]" groups: the trained probe beats the untrained one by this much F1
    max_l0: float = 64.0         # the headline SAE (plots): best val coverage among SAEs with L0 <= this
    out: str = "concepts"        # report name in the sweep folder: <out>.json, <out>.md, <out>_*.svg


@dataclass
class Rows:
    rows: dict           # {split: store row indices}
    local: dict          # {split: indices into the selected rows}
    boards: np.ndarray   # int8 [N, 36] of the selected rows (train | val | test)
    legal: np.ndarray    # bool [N, 37]
    t: probes.Targets    # detection columns [N, K]
    counted: np.ndarray  # bool [K]: enough positives in every split
    values: tuple        # (concept values, search info) of sae.search_concepts.row_concepts: the probes reuse them


def select(store, cfg, seed, net=None, search=None, device="cpu"):
    """The evaluation rows (as sae.probes.select_rows, so the probes see the same rows) and their concepts;
    `net`, `search`, `device`: the network, SearchConfig and device of the search concepts."""
    pcfg = probe_config(cfg, seed)
    rows = probes.select_rows(store, pcfg)
    allrows = np.concatenate([rows[s] for s in SPLITS])
    local, at = {}, 0
    for s in SPLITS:
        local[s], at = np.arange(at, at + len(rows[s])), at + len(rows[s])
    boards, legal = np.asarray(store.arrays["boards"][allrows]), np.asarray(store.arrays["legal"][allrows])
    values = row_concepts(store, rows, cfg.solve_empties, cfg.search_rows, search, seed, device, net)
    t = probes.targets(values[0])
    counted = np.all([(t.y[r] & t.m[r]).sum(0) >= cfg.min_positives for r in local.values()], 0)
    return Rows(rows, local, boards, legal, t, counted, values)


def probe_config(cfg, seed):
    return probes.ProbeConfig(train_rows=cfg.train_rows, val_rows=cfg.val_rows, test_rows=cfg.test_rows,
                              min_positives=cfg.min_positives, solve_empties=cfg.solve_empties,
                              search_rows=cfg.search_rows, seed=seed)


@torch.no_grad()
def encode(sae, x_ND, batch=8192, device="cpu"):
    """Feature activations f_NF (float32, CPU) of raw activations x_ND."""
    sae = sae.to(device)
    return torch.cat([sae.encode(torch.as_tensor(np.asarray(x_ND[a:a + batch], np.float32), device=device)).float().cpu()
                      for a in range(0, len(x_ND), batch)])


def unit_scores(h_NF, t, local, cfg):
    """Coverage and reconstruction F1 [K] on test of non-negative units h_NF (rows: train | val | test).

    All (unit, column) pairs at once per threshold: true positives and firings are matmuls of the
    binary firing matrix [N_val, F] with the columns [N_val, K], so the work is T matmuls, no loop over units.
    """
    h = torch.as_tensor(h_NF, dtype=torch.float32)
    top_F = h[local["train"]].max(0).values.clamp_min(1e-12)
    y, m = (torch.as_tensor(a).float() for a in t.rows(local["val"]))
    ym, pos = y * m, (y * m).sum(0)
    h_va, h_te = h[local["val"]], h[local["test"]]
    K = y.shape[1]
    best, unit, frac = torch.full((K,), -1.0), torch.zeros(K, dtype=torch.long), torch.zeros(K)
    votes = torch.zeros(len(h_te), K)   # labelled (unit, t) detectors firing on each test row, per column
    labelled = torch.zeros(K, dtype=torch.bool)
    for f in cfg.thresholds:
        c = (h_va > f * top_F).float()
        tp, fires = c.T @ ym, c.T @ m                               # [F, K]
        score, j = (2 * tp / (fires + pos).clamp_min(1)).max(0)
        better = score > best
        best, unit, frac = torch.where(better, score, best), torch.where(better, j, unit), torch.where(better, f, frac)
        label = (tp >= cfg.precision * fires) & (fires >= cfg.min_fires)
        labelled |= label.any(0)
        votes += (h_te > f * top_F).float() @ label.float()
    yt, mt = t.rows(local["test"])
    coverage = probes.f1_table(h_te[:, unit] > frac * top_F[unit], yt, mt)
    return {"coverage": coverage.numpy(), "coverage_val": best.clamp_min(0).numpy(), "unit": unit.numpy(),
            "threshold": frac.numpy(), "reconstruction": probes.f1_table(votes > 0, yt, mt).numpy(),
            "labelled": labelled.numpy(), "top": top_F}


@torch.no_grad()
def random_like(sae, mean_D, seed, k=None):
    """An untrained SAE of the same class, width and k: random unit decoder rows, W_enc = W_dec^T,
    zero encoder bias (JumpReLU: the initial threshold), reading x - mean (so random directions cut the data).
    With `k`: a random TopK SAE of the same width keeping k features, whatever `sae`'s class (the floor at
    the trained SAE's own L0: an untrained ReLU / JumpReLU / Gated SAE fires on half its features, and
    coverage grows with density, so only a floor of equal sparsity isolates what training added)."""
    arch, k = ("topk", k) if k else (sae.arch, sae.k or 0)
    r = CLASSES[arch](SAEConfig(arch, sae.d_in, sae.d_sae, k=k, seed=seed)).requires_grad_(False).eval()
    r.W_dec.copy_(r.W_dec / r.W_dec.norm(dim=1, keepdim=True))
    r.W_enc.copy_(r.W_dec.T)
    r.b_dec.copy_(torch.as_tensor(mean_D, dtype=torch.float32))
    r.apply_b_dec_to_input, r.folded = True, True
    return r


def evaluate_sweep(sweep_dir, cfg, icfg, seed=0, device="cpu", search=None):
    """The whole report (a JSON-able dict; see the module doc) for the sweep in `sweep_dir`; `search`: the
    SearchConfig of the search concepts (default: the players' defaults)."""
    t0 = time.perf_counter()
    sweep_dir = Path(sweep_dir)
    sweep = read_sweep_report(sweep_dir)
    store = ActivationStore(cfg.store or sweep["store"]["path"])
    net = load_network(resolve_checkpoint(store.manifest["checkpoint"]), device=device)
    d = select(store, cfg, seed, net, search, device)
    allrows = np.concatenate([d.rows[s] for s in SPLITS])
    yt, mt = d.t.rows(d.local["test"])
    methods = {"always-on": {"kind": "always-on", "coverage": probes.always_on_f1(yt, mt)}}
    sites = list(dict.fromkeys(r["site"] for r in sweep["runs"]))
    if cfg.probes:
        pr = probes.evaluate_probes(store, probe_config(cfg, seed), sites=sites, values=d.values)
        if pr["columns"] != d.t.columns:
            raise ValueError("the probes' detection columns differ from the evaluation's")
        for s in sites:
            methods[f"probe:{s}"] = {"kind": "probe", "site": s, "coverage": np.asarray(pr["f1"][f"trained:{s}"])}
            methods[f"untrained probe:{s}"] = {"kind": "untrained-probe", "site": s,
                                               "coverage": np.asarray(pr["f1"][f"untrained:{s}"])}
        for k in (k for k in pr["f1"] if k.startswith("neurons:untrained:")):  # sae.probes' own unit thresholds
            methods[f"untrained neurons:{k.split(':')[2]}"] = {"kind": "untrained-neurons", "coverage": np.asarray(pr["f1"][k])}
    mlp = [f"mlp.{s.split('.')[1]}" for s in sites if s.startswith("resid.")]
    if mlp:
        hidden = probes.site_activations(net.cpu(), d.boards, keep=set(mlp))
        for s, name in zip([s for s in sites if s.startswith("resid.")], mlp):
            methods[f"neurons:{name}"] = {"kind": "neurons", "site": s, **unit_scores(hidden[name], d.t, d.local, cfg)}
    names, saes, weights = d.t.columns, {}, {}
    for run in tqdm(sweep["runs"], desc="SAEs", disable=None):
        sae, site = load_sae(sweep_dir / run["folder"], device), run["site"]
        weights[run["name"]] = {"weights_sha256": file_sha256(sweep_dir / run["folder"] / "sae_weights.safetensors"),
                                "d_sae": int(sae.d_sae)}
        x = np.asarray(store.acts(site)[allrows], np.float32)
        f = encode(sae, x, device=device)
        info = {"site": site, "arch": run["arch"], "d_sae": run["d_sae"], "fvu": run["metrics"].get("fvu")}
        sc = unit_scores(f, d.t, d.local, cfg)
        methods[run["name"]] = {"kind": "sae", **info, "l0": _l0(f[d.local["test"]]), **sc}
        rnd = random_like(sae, x[d.local["train"]].mean(0), seed)
        f_rnd = encode(rnd, x, device=device)
        methods[f"random:{run['name']}"] = {"kind": "random-sae", **info, "l0": _l0(f_rnd[d.local["test"]]),
                                           **unit_scores(f_rnd, d.t, d.local, cfg)}
        k_same = max(1, round(methods[run["name"]]["l0"]))
        f_rk = encode(random_like(sae, x[d.local["train"]].mean(0), seed, k=k_same), x, device=device)
        methods[f"random-l0:{run['name']}"] = {"kind": "random-sae-l0", **info, "l0": _l0(f_rk[d.local["test"]]),
                                              **unit_scores(f_rk, d.t, d.local, cfg)}
        if cfg.autointerp:
            fs = {s: f[d.local[s]] for s in SPLITS}
            xs = {s: torch.as_tensor(d.t.y[d.local[s]] & d.t.m[d.local[s]]) for s in SPLITS}
            feats = ai.explain(fs, xs, sc["top"], icfg, names)
            te = d.local["test"]
            kl, dv, _ = (ai.importance(net, sae, site, d.boards[te], d.legal[te], fs["test"], icfg, device)
                         if icfg.importance_rows else (torch.full((f.shape[1],), float("nan")),) * 3)
            saes[run["name"]] = {"summary": ai.summarise(feats, kl, dv, (fs["test"] > 0).float().mean(0), icfg),
                                 "features": feats}
    report = {"format": FORMAT, "sweep": str(sweep_dir), "store": store.info(),
              "rows": {s: len(r) for s, r in d.rows.items()}, "search": d.values[1],
              "config": {"concepts": dataclasses.asdict(cfg), "autointerp": dataclasses.asdict(icfg), "seed": seed},
              "columns": names, "concept": d.t.concept, "group": d.t.group, "kind": d.t.kind,
              "counted": d.counted.tolist(),
              "positives": {s: (d.t.y[r] & d.t.m[r]).sum(0).tolist() for s, r in d.local.items()},
              "methods": {k: _jsonable(v) for k, v in methods.items()}, "autointerp": saes, "saes": weights}
    add_means(report)
    report["seconds"] = round(time.perf_counter() - t0, 1)
    return report


def add_means(report):
    """report["means"][metric][method][group | "[input]" | "[computed]" | "[all]" | "[learned]"]: mean test F1
    over counted columns. "[learned]": the groups where a probe on the trained network beats the same probe on
    an untrained one by >= learned_gap (report["learned_groups"]): what a random embedding does not give."""
    gap = report["config"]["concepts"]["learned_gap"]
    report["means"] = {metric: probes.group_means(_as_result(report, metric)) for metric in ("coverage", "reconstruction")}
    cov, groups = report["means"]["coverage"], list(dict.fromkeys(report["group"]))
    sites = [m["site"] for m in report["methods"].values() if m["kind"] == "probe"]
    learned = [g for g in groups if sites and all(cov[f"probe:{s}"].get(g, 0) - cov[f"untrained probe:{s}"].get(g, 0) >= gap
                                                   for s in sites)]
    sel = np.asarray(report["counted"]) & np.isin(report["group"], learned)
    report["learned_groups"] = learned
    for metric, res in report["means"].items():
        f1 = _as_result(report, metric)["f1"]
        for k in res:
            if sel.any():
                res[k]["[learned]"] = float(np.mean(np.asarray(f1[k])[sel]))
    return report


def _l0(f_NF):
    """Mean number of active features per row (measured on the evaluation's test rows)."""
    return round(float((f_NF > 0).sum(1).float().mean()), 2)


def _jsonable(m):
    out = {}
    for k, v in m.items():
        if k == "top":
            continue
        if isinstance(v, (np.ndarray, torch.Tensor)):
            v = np.asarray(v)
            v = [round(float(a), 4) for a in v] if v.dtype.kind == "f" else v.tolist()
        out[k] = v
    return out


def _as_result(report, metric):
    """The {group, kind, counted, f1: {method: [K]}} form sae.probes.group_means reads; a method without
    a reconstruction score (probes, always-on: one F1) uses that F1; other methods without one are left out."""
    one_f1 = ("probe", "untrained-probe", "always-on")  # untrained neurons (sae.probes) have coverage only
    return {**{k: report[k] for k in ("group", "kind", "counted")},
            "f1": {name: m[metric] if metric in m else m["coverage"] for name, m in report["methods"].items()
                   if metric in m or m["kind"] in one_f1}}


def write(report, sweep_dir, name):
    sweep_dir = Path(sweep_dir)
    atomic_write_json(sweep_dir / f"{name}.json", report)
    atomic_write_text(sweep_dir / f"{name}.md", markdown(report))
    for suffix, svg in plots(report).items():
        atomic_write_text(sweep_dir / f"{name}_{suffix}.svg", svg)


class ConceptsError(ValueError):
    """A concepts report that is unreadable, of another format, or inconsistent (the message names the file)."""


RULE_KEYS = ("text", "kind", "threshold", "precision", "recall", "f1")  # what readers show of a feature's rule


def read_concepts(sweep_dir, name="concepts"):
    """The report `<sweep_dir>/<name>.json` checked field by field, or None when there is none.

    Only what readers use is checked (the headline means, each SAE's summary and per-feature rules,
    the weights they were computed from); anything else wrong is a ConceptsError naming the file."""
    f = Path(sweep_dir) / f"{name}.json"
    if not f.is_file():
        return None
    try:
        r = json.loads(f.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ConceptsError(f"{f} is not readable JSON ({type(e).__name__}: {e})") from None

    def need(ok, what):
        if not ok:
            raise ConceptsError(f"{f}: {what}; rerun python -m sae.concept_eval --sae.out {sweep_dir}")
    need(isinstance(r, dict) and r.get("format") == FORMAT,
         f"format {r.get('format') if isinstance(r, dict) else type(r).__name__!r}, this reader reads '{FORMAT}'")
    need(all(k in r for k in ("rows", "group", "kind", "counted", "methods", "means", "learned_groups", "autointerp",
                              "saes", "config")), "lacks one of rows / group / kind / counted / methods / means / "
                                                  "learned_groups / autointerp / saes / config")
    need(all(isinstance(r["rows"].get(s), int) for s in SPLITS), f"rows must count {', '.join(SPLITS)}")
    K = len(r["group"])
    need(len(r["kind"]) == K == len(r["counted"]), "group, kind and counted differ in length")
    for name_, m in r["methods"].items():
        need(isinstance(m, dict) and m.get("kind") in ORDER, f"method {name_!r} has no known kind")
        need(isinstance(r["means"].get("coverage", {}).get(name_), dict), f"means.coverage lacks method {name_!r}")
    need(isinstance(r["config"].get("autointerp", {}).get("explained_f1"), (int, float)), "config.autointerp lacks explained_f1")
    for sae, a in r["autointerp"].items():
        w = r["saes"].get(sae)
        need(isinstance(w, dict) and isinstance(w.get("weights_sha256"), str) and isinstance(w.get("d_sae"), int),
             f"saes lacks the weights of {sae!r}")
        need(isinstance(a, dict) and isinstance(a.get("summary"), dict) and isinstance(a.get("features"), list)
             and len(a["features"]) == w["d_sae"], f"autointerp.{sae} must hold a summary and {w['d_sae']} features")
        need(all(e is None or (isinstance(e, dict) and all(k in e for k in RULE_KEYS + ("kl", "value_change")))
                 for e in a["features"]), f"autointerp.{sae}.features: an entry lacks one of {RULE_KEYS + ('kl', 'value_change')}")
        need(all(k in a["summary"] for k in ("alive", "explained", "explained_frac", "candidates")),
             f"autointerp.{sae}.summary lacks alive / explained / explained_frac / candidates")
    return r


def main(argv=None):
    from typing import Annotated

    import tyro

    import config  # the root config tree: only the command line needs it

    @dataclass(frozen=True)
    class ConceptEvalArgs:
        concepts: ConceptEvalConfig = ConceptEvalConfig()
        interp: ai.AutoInterpConfig = ai.AutoInterpConfig()
        cfg: Annotated[config.Config, tyro.conf.arg(name="")] = config.Config()

    args = config.parse(ConceptEvalArgs, argv, __doc__)
    try:
        report = evaluate_sweep(args.cfg.sae.out, args.concepts, args.interp, args.cfg.seed,
                                config.resolve_device(args.cfg.device), args.cfg.search)
    except ValueError as e:  # a missing / foreign sweep, store or SAE folder
        raise SystemExit(f"error: {e}") from None
    write(report, args.cfg.sae.out, args.concepts.out)
    print(markdown(report))
    print(f"wrote {Path(args.cfg.sae.out) / args.concepts.out}.json / .md / _*.svg")
    return 0


if __name__ == "__main__":
    sys.exit(main())
