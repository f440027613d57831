"""The SAE sweep's standard SVG figures.

`sweep_plots(report, out_dir)` draws the sweep's standard figures from the sweep report
(sae/sweep_report.py) next to sweep.json, with the generic `line_plot` of othello/svgplot.py.
"""
from pathlib import Path

from othello.atomic import atomic_write_text
from othello.svgplot import line_plot


def _group(runs, key):
    groups = {}
    for r in runs:
        groups.setdefault(key(r), []).append(r)
    return sorted(groups.items(), key=lambda kv: str(kv[0]))


def _knob(r):
    return f"{r['arch']} k={r['k']}" if r["k"] is not None else f"{r['arch']} λ={r['l1']:g}"


def sweep_plots(report, out_dir):
    """Write the sweep figures (SVG) of a sweep report into `out_dir`; returns the file names."""
    out_dir = Path(out_dir)
    runs = [{**r, **r["metrics"]} for r in report["runs"]]  # row fields + its metrics, flat
    by_knob = _group(runs, _knob)
    by_arch_size = _group(runs, lambda r: f"{r['arch']} F={r['d_sae']}")

    def vs_features(key):
        return [(lab, [r["d_sae"] for r in g], [r.get(key) for r in g]) for lab, g in by_knob]

    def vs_l0(key):
        return [(lab, [r["l0"] for r in g], [r[key] for r in g]) for lab, g in by_arch_size]

    split = report["eval_split"]
    figs = {
        "l0_vs_features.svg": line_plot(vs_features("l0"), "L0 vs features", "features", f"L0 ({split} split)",
                                        logx=True, logy=True),
        "mse_vs_features.svg": line_plot(vs_features("mse"), "MSE vs features", "features", "MSE (raw units)", logx=True),
        "loss_vs_features.svg": line_plot(vs_features("train_loss"), "training loss vs features", "features",
                                          "loss (end of training)", logx=True),
        "mse_vs_l0.svg": line_plot(vs_l0("mse"), "MSE vs L0", "L0", "MSE (raw units)", logx=True),
        "fvu_vs_l0.svg": line_plot(vs_l0("fvu"), "FVU vs L0 by architecture", "L0", "FVU", logx=True, logy=True),
    }
    for name, svg in figs.items():
        atomic_write_text(out_dir / name, svg)
    return sorted(figs)
