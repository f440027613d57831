"""The science report of a sweep: what its SAEs' features are, against what a probe can read, in one file.

    python -m sae.science_report [--sae.out runs/sae] [--report.train-rows 3000] ...

Reads the sweep's concept evaluation (`<sweep>/concepts.json`, sae/concept_eval.py: run that first)
and adds the linear-probe table over every site of the network (sae.probes.evaluate_probes, on its
own subsample: the probes fit in seconds, the concepts' exact solver labels are most of the cost).
Writes into the sweep folder `report.md` and `report.html` (the same blocks rendered twice, so the
viewer can link the HTML and a reader can diff the markdown) with their images in `report_img/`:

    headline      coverage per concept group: every SAE beside its random twin, the probe ceiling,
                  the untrained-network probe and always-on (test split; `headline` is the one table
                  the viewer's landing page shows too)
    probes        per site (embed, resid.0-3), trained vs untrained network vs the input planes
    kinds         coverage and board reconstruction per kind (input / computed / learned / all)
    auto-interp   explained fraction per SAE and the share of features above each F1
    candidates    the important-but-unexplained features (policy KL when ablated) with their best
                  rule and their top-activating test boards, drawn as small SVG boards
"""
import shutil
import sys
from dataclasses import dataclass
from html import escape
from pathlib import Path

import numpy as np

from alphazero.config import SearchConfig
from othello.atomic import atomic_write_text
from othello.svgplot import line_plot
from sae import concept_eval as ce
from sae import probes
from sae.activations import ActivationStore
from sae.export import load_sae

AGGREGATES = ("[input]", "[computed]", "[learned]", "[all]")
HEADLINE_KINDS = ("sae", "random-sae", "random-sae-l0", "probe", "untrained-probe", "always-on")
TWINS = ("random:", "random-l0:")  # each SAE's floors, listed right after it
IMG = "report_img"  # the images' folder beside report.md (the viewer copies both)


@dataclass(frozen=True)
class ReportConfig:
    train_rows: int = 3000       # probe table: train rows sampled (sae.probes; the solver labels dominate the cost)
    val_rows: int = 1500         # ... validation rows (penalty and threshold choice)
    test_rows: int = 1500        # ... held-out rows the probe F1 is reported on
    probes: bool = True          # the probe table over every site (False: leave it out)
    candidates: int = 3          # important-but-unexplained features shown per SAE
    boards: int = 4              # top-activating test boards drawn per candidate
    example_rows: int = 5000     # test rows searched for those boards
    search_rows: int = 2000      # probe table: search concepts (MCTS move) on at most this many rows (~8 s on a core)
    out: str = "report"          # <out>.md, <out>.html and report_img/ in the sweep folder


# ------------------------------------------------------------------ tables from concepts.json

def headline(report):
    """The headline table: {split, rows, groups [{name, kind, n, learned}], columns, methods [{name, kind,
    l0, coverage {column: mean test F1}}]}; each SAE is followed by its random twin."""
    groups = list(dict.fromkeys(report["group"]))
    kind_of = dict(zip(report["group"], report["kind"]))
    counted = np.asarray(report["counted"])
    n = {g: int(counted[np.asarray(report["group"]) == g].sum()) for g in groups}
    means, meth = report["means"]["coverage"], report["methods"]
    names = []
    for k in ce.ordered(report):
        kind = meth[k]["kind"]
        if kind == "sae":
            names += [k] + [f"{t}{k}" for t in TWINS if f"{t}{k}" in meth]
        elif kind in HEADLINE_KINDS and kind not in ("random-sae", "random-sae-l0"):
            names.append(k)
    return {"split": ce.SPLITS[-1], "rows": report["rows"],
            "groups": [{"name": g, "kind": kind_of[g], "n": n[g], "learned": g in report["learned_groups"]} for g in groups],
            "columns": groups + [a for a in AGGREGATES if any(a in means[k] for k in names)],
            "methods": [{"name": k, "kind": meth[k]["kind"], "l0": meth[k].get("l0"),
                         "coverage": {c: round(v, 4) for c, v in means[k].items()}} for k in names]}


def headline_blocks(h):
    cols = [f"{c} ({g['n']}{', learned' if g['learned'] else ''})" for c, g in
            zip(h["columns"], h["groups"])] + h["columns"][len(h["groups"]):]
    rows = [[m["name"], "" if m["l0"] is None else f"{m['l0']:.1f}"] + [_f(m["coverage"].get(c)) for c in h["columns"]]
            for m in h["methods"]]
    r = h["rows"]
    return [("p", f"Mean test F1 of the best single unit per concept column (coverage), over the columns with enough "
                  f"positives in every split (count after each group). Units and thresholds chosen on val, scored on "
                  f"{h['split']} (held-out games); rows train/val/test {r['train']}/{r['val']}/{r[h['split']]}. "
                  f"'learned': groups where the trained network's probe beats the untrained one's."),
            ("table", ["method", "L0"] + cols, rows)]


# ------------------------------------------------------------------ drawing

def board_svg(boards, legal, captions, size=18):
    """Small boards side by side (mover's view: dark = side to move; dots: its legal moves) as SVG."""
    w, gap = 6 * size, 8
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{len(boards) * (w + gap)}" height="{w + 16}" '
           f'font-family="sans-serif" font-size="10">']
    for i, (b, lg, cap) in enumerate(zip(boards, legal, captions)):
        x0 = i * (w + gap)
        lines = "".join(f"M{x0 + k * size} 0v{w}M{x0} {k * size}h{w}" for k in range(7))
        out.append(f'<rect x="{x0}" y="0" width="{w}" height="{w}" fill="#2e7d4f"/><path d="{lines}" stroke="#1b4d31"/>')
        for s in np.flatnonzero(np.asarray(b) != 0):
            out.append(f'<circle cx="{x0 + (s % 6 + .5) * size:g}" cy="{(s // 6 + .5) * size:g}" r="{size * .4:g}" '
                       f'fill="{"#111" if b[s] > 0 else "#f4f4f4"}"/>')
        for s in np.flatnonzero(np.asarray(lg[:36]) & (np.asarray(b) == 0)):
            out.append(f'<circle cx="{x0 + (s % 6 + .5) * size:g}" cy="{(s // 6 + .5) * size:g}" r="{size * .1:g}"/>')
        out.append(f'<text x="{x0}" y="{w + 12}">{escape(cap)}</text>')
    return "\n".join(out + ["</svg>"])


def explained_curve(report):
    """SVG: per SAE, the share of alive features whose rule reaches each test F1."""
    xs = [round(x, 2) for x in np.linspace(0, 1, 21)]
    series = []
    for name, a in report["autointerp"].items():
        f1 = np.array([e["f1"] for e in a["features"] if e is not None])
        series.append((name, xs, [float((f1 >= x).mean()) if len(f1) else None for x in xs]))
    return line_plot(series, "Features explained by a rule (test F1)", "rule F1 at least", "share of alive features")


# ------------------------------------------------------------------ the report

def build(sweep_dir, cfg, seed=0, concepts="concepts"):
    """(blocks, {image file: SVG}) of the whole report from `<sweep_dir>/<concepts>.json`; blocks are
    ("h", level, text), ("p", text), ("table", header, rows), ("img", file, alt)."""
    sweep_dir = Path(sweep_dir)
    report = ce.read_concepts(sweep_dir, concepts)
    if report is None:
        raise ValueError(f"no {sweep_dir / (concepts + '.json')}: run python -m sae.concept_eval --sae.out {sweep_dir} first")
    store = ActivationStore(report["store"]["path"])
    images = {f"{IMG}/concepts_{k}.svg": svg for k, svg in ce.plots(report).items()}
    blocks = [("h", 1, f"Science report: {sweep_dir}"),
              ("p", f"Store {report['store']['path']} (sites {', '.join(report['store']['sites'])}); concept evaluation "
                    f"{report['config']['concepts']['out']}.json took {report['seconds']:.0f} s. Every score is on held-out "
                    f"games of the test split; every choice (unit, threshold, rule, penalty) on val."),
              ("h", 2, "Headline: concept coverage per group"), *headline_blocks(headline(report)),
              ("img", f"{IMG}/concepts_groups.svg", "coverage per concept group")]
    if cfg.probes:  # the search concepts with the search that concepts.json used (players' defaults if it ran none)
        search = SearchConfig(**report["search"]["config"]) if report.get("search") else SearchConfig()
        blocks += probe_blocks(store, cfg, seed, images, search)
    blocks += kind_blocks(report, images) + interp_blocks(report, images)
    blocks += candidate_blocks(report, sweep_dir, store, cfg, images)
    return blocks, images


def probe_blocks(store, cfg, seed, images, search=None):
    pr = probes.evaluate_probes(store, probes.ProbeConfig(train_rows=cfg.train_rows, val_rows=cfg.val_rows,
                                                          test_rows=cfg.test_rows, search_rows=cfg.search_rows,
                                                          seed=seed), search=search)
    means = probes.group_means(pr)
    groups = list(dict.fromkeys(pr["group"])) + ["[input]", "[computed]", "[all]"]
    sites = [k.split(":", 1)[1] for k in means if k.startswith("trained:")]
    order = ["input"] + [f"{w}:{s}" for s in sites for w in ("trained", "untrained")] + \
            [k for k in means if k.startswith("neurons:")] + ["always-on"]
    xs = list(range(len(sites)))
    images[f"{IMG}/probes.svg"] = line_plot(
        [(f"{w} network", xs, [means[f"{w}:{s}"].get("[computed]") for s in sites]) for w in ("trained", "untrained")]
        + [("input planes", [xs[0], xs[-1]], [means["input"].get("[computed]")] * 2)],
        "Linear probes on computed concepts (test F1)", f"site ({', '.join(f'{i}={s}' for i, s in enumerate(sites))})",
        "mean probe F1")
    r = pr["rows"]
    return [("h", 2, "Linear probes per site: ceiling and random-network floor"),
            ("p", f"Ridge probes (sae.probes) fitted on {r['train']} train rows, penalty and threshold chosen on {r['val']} "
                  f"val rows, F1 on {r[ce.SPLITS[-1]]} test rows; 'untrained': the same probe on a randomly initialised "
                  f"network of the same shape; 'input': on the 72 input planes; neurons: the best single MLP unit."
                  + (f" Search concepts on {pr['search']['rows']} of the rows ({pr['search']['algorithm']}, "
                     f"{pr['search']['sims']} simulations, {pr['search']['seconds']:.0f} s)." if pr["search"] else "")),
            ("table", ["method"] + groups, [[k] + [_f(means[k].get(g)) for g in groups] for k in order if k in means]),
            ("img", f"{IMG}/probes.svg", "probe F1 per site")]


def kind_blocks(report, images):  # the plots are concept_eval's, already in `images`
    rows = []
    for k in ce.ordered(report):
        cov, rec = report["means"]["coverage"].get(k, {}), report["means"]["reconstruction"].get(k, {})
        rows.append([k] + [_f(cov.get(a)) for a in AGGREGATES] + [_f(rec.get(a)) for a in AGGREGATES])
    return [("h", 2, "Coverage and board reconstruction by kind"),
            ("p", "Reconstruction: every (unit, threshold) labelled with the columns it predicts at val precision >= "
                  f"{report['config']['concepts']['precision']}; a column is predicted on test where a labelled detector "
                  "fires. Probes and always-on have one F1, shown in both."),
            ("table", ["method"] + [f"coverage {a}" for a in AGGREGATES] + [f"reconstruction {a}" for a in AGGREGATES], rows),
            ("img", f"{IMG}/concepts_coverage_computed.svg", "coverage of computed concepts vs L0"),
            ("img", f"{IMG}/concepts_coverage_input.svg", "coverage of input concepts vs L0")]


def interp_blocks(report, images):
    th = report["config"]["autointerp"]["explained_f1"]
    rows = [[name, s["alive"], f"{s['explained']} ({s['explained_frac']:.1%})", _f(s.get("median_f1")),
             _f(s.get("median_f1_always")), " / ".join(str(v) for v in s.get("by_kind", {}).values())]
            for name, s in ((n, a["summary"]) for n, a in report["autointerp"].items())]
    images[f"{IMG}/explained.svg"] = explained_curve(report)
    return [("h", 2, "Auto-interpretation: rules over concepts"),
            ("p", f"Each alive feature's best rule (a column, a conjunction or a depth-2 tree) fitted on train, chosen on "
                  f"val, scored on test; explained at test F1 >= {th}. 'always': the F1 the rule 'always' gets (what a dense "
                  f"feature scores for free)."),
            ("table", ["SAE", "alive", f"explained (F1 >= {th})", "median F1", "median F1 of 'always'",
                       "single / conjunction / tree"], rows),
            ("img", f"{IMG}/explained.svg", "share of features explained per F1")]


def candidate_blocks(report, sweep_dir, store, cfg, images):
    """Per SAE its top important-but-unexplained features, each with its rule and its top test boards."""
    blocks = [("h", 2, "Candidate concepts: important, explained by no rule"),
              ("p", f"Ranked by the mean policy KL when the feature is ablated (over up to "
                    f"{report['config']['autointerp']['importance_rows']} test positions where it fires). Boards: the "
                    f"feature's top activations among the first {cfg.example_rows} test rows, from the mover's side "
                    f"(dark = side to move, dots = its legal moves).")]
    a, b = store.split_rows(ce.SPLITS[-1])
    rows = np.arange(a, min(b, a + cfg.example_rows))
    boards, legal = np.asarray(store.arrays["boards"][rows]), np.asarray(store.arrays["legal"][rows])
    folders = {r["name"]: r for r in _sweep_runs(sweep_dir)}
    for name, ai in report["autointerp"].items():
        cands = ai["summary"]["candidates"][:cfg.candidates]
        if not cands or name not in folders:
            continue
        run = folders[name]
        f = ce.encode(load_sae(sweep_dir / run["folder"]), store.acts(run["site"])[rows]).numpy()
        blocks.append(("h", 3, name))
        for c in cands:
            j, e = c["feature"], ai["features"][c["feature"]]
            top = [i for i in np.argsort(-f[:, j])[:cfg.boards] if f[i, j] > 0]
            file = f"{IMG}/candidate_{_safe(name)}_{j}.svg"
            images[file] = board_svg(boards[top], legal[top], [f"act {f[i, j]:.3g}" for i in top])
            blocks += [("p", f"Feature #{j}: policy KL {c['kl']:.4f}, |value change| {c['value_change']:.4f}, fires on "
                             f"{c['freq_test']:.1%} of test positions; best rule '{e['text']}' ({e['kind']}) with test "
                             f"precision {e['precision']:.2f}, recall {e['recall']:.2f}, F1 {e['f1']:.2f}."),
                       ("img", file, f"top boards of feature {j}")]
    return blocks


def _sweep_runs(sweep_dir):
    from sae.sweep_report import read_sweep_report
    return read_sweep_report(sweep_dir)["runs"]


def _f(v):
    return "" if v is None else f"{v:.3f}"


def _safe(name):
    return "".join(ch if ch.isalnum() or ch in "._-" else "_" for ch in name)


# ------------------------------------------------------------------ rendering

def markdown(blocks):
    out = []
    for b in blocks:
        if b[0] == "h":
            out += ["#" * b[1] + " " + b[2], ""]
        elif b[0] == "p":
            out += [b[1], ""]
        elif b[0] == "table":
            out += ["| " + " | ".join(map(str, b[1])) + " |", "|" + "---|" * len(b[1])]
            out += ["| " + " | ".join(map(str, r)) + " |" for r in b[2]] + [""]
        else:
            out += [f"![{b[2]}]({b[1]})", ""]
    return "\n".join(out)


def html(blocks):
    out = ['<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Science report</title><link rel="icon" href="data:,"><style>'
           'body{font:14px/1.5 sans-serif;max-width:1200px;margin:1em auto;padding:0 1em}table{border-collapse:collapse;'
           'font-size:12px}td,th{border:1px solid #ccc;padding:2px 6px;text-align:right}td:first-child{text-align:left}'
           'img{max-width:100%;margin:.5em 0}</style></head><body>']
    for b in blocks:
        if b[0] == "h":
            out.append(f"<h{b[1]}>{escape(b[2])}</h{b[1]}>")
        elif b[0] == "p":
            out.append(f"<p>{escape(b[1])}</p>")
        elif b[0] == "table":
            out.append("<table><tr>" + "".join(f"<th>{escape(str(c))}</th>" for c in b[1]) + "</tr>" + "".join(
                "<tr>" + "".join(f"<td>{escape(str(c))}</td>" for c in r) + "</tr>" for r in b[2]) + "</table>")
        else:
            out.append(f'<img src="{escape(b[1])}" alt="{escape(b[2])}">')
    return "\n".join(out + ["</body></html>"])


def write(blocks, images, sweep_dir, name):
    """report.md / report.html and the images (the image folder is replaced: no stale candidate boards)."""
    sweep_dir = Path(sweep_dir)
    if (sweep_dir / IMG).is_dir():
        shutil.rmtree(sweep_dir / IMG)
    for file, svg in images.items():
        atomic_write_text(sweep_dir / file, svg)
    atomic_write_text(sweep_dir / f"{name}.md", markdown(blocks))
    atomic_write_text(sweep_dir / f"{name}.html", html(blocks))
    return sweep_dir / f"{name}.md"


def report_files(sweep_dir, name="report"):
    """The report's files relative to the sweep folder (what the viewer copies), or [] when there is none."""
    sweep_dir = Path(sweep_dir)
    if not (sweep_dir / f"{name}.html").is_file():
        return []
    return [f"{name}.md", f"{name}.html"] + sorted(str(p.relative_to(sweep_dir)) for p in (sweep_dir / IMG).glob("*.svg"))


def main(argv=None):
    from typing import Annotated

    import tyro

    import config  # the root config tree: only the command line needs it

    @dataclass(frozen=True)
    class ReportArgs:
        report: ReportConfig = ReportConfig()
        cfg: Annotated[config.Config, tyro.conf.arg(name="")] = config.Config()

    args = config.parse(ReportArgs, argv, __doc__)
    try:
        blocks, images = build(args.cfg.sae.out, args.report, args.cfg.seed)
    except ValueError as e:  # no / a bad concepts.json, a missing store or SAE folder
        raise SystemExit(f"error: {e}") from None
    out = write(blocks, images, args.cfg.sae.out, args.report.out)
    print(f"wrote {out}, {out.with_suffix('.html')} and {len(images)} images in {Path(args.cfg.sae.out) / IMG}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
