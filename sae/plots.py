"""The SAE sweep's standard SVG figures.

`sweep_plots(report, out_dir)` draws the sweep's standard figures from the sweep report
(sae/sweep_report.py) next to sweep.json, with the generic `line_plot` of othello/svgplot.py:
per site, the frontiers of each architecture and size (one line per `arch F=d_sae` over its sparsities)
FVU vs L0, policy KL vs L0 and dead fraction vs L0, and L0 / MSE / training loss vs features. A sweep
over one site keeps the plain names (fvu_vs_l0.svg, ...); over several, each site's figures end in
`_<site>` (fvu_vs_l0_resid.2.svg) and fvu/kl/dead_by_site.svg put every SAE config across the sites.
"""
from pathlib import Path

from othello.atomic import atomic_write_text
from othello.svgplot import line_plot

ACROSS_SITES = {"fvu": "FVU", "kl": "policy KL (spliced)", "dead_frac": "dead fraction"}


def _group(runs, key):
    groups = {}
    for r in runs:
        groups.setdefault(key(r), []).append(r)
    return sorted(groups.items(), key=lambda kv: str(kv[0]))


def _knob(r):
    return f"{r['arch']} k={r['k']}" if r["k"] is not None else f"{r['arch']} λ={r['l1']:g}"


def _site_figures(runs, split, where):
    """{file stem: svg} of one site's runs (flat rows: row fields + metrics + kl)."""
    by_knob = _group(runs, _knob)
    by_arch_size = _group(runs, lambda r: f"{r['arch']} F={r['d_sae']}")

    def vs_features(key):
        return [(lab, [r["d_sae"] for r in g], [r.get(key) for r in g]) for lab, g in by_knob]

    def vs_l0(key):
        return [(lab, [r["l0"] for r in g], [r.get(key) for r in g]) for lab, g in by_arch_size]

    return {
        "l0_vs_features": line_plot(vs_features("l0"), f"L0 vs features{where}", "features", f"L0 ({split} split)",
                                    logx=True, logy=True),
        "mse_vs_features": line_plot(vs_features("mse"), f"MSE vs features{where}", "features", "MSE (raw units)",
                                     logx=True),
        "loss_vs_features": line_plot(vs_features("train_loss"), f"training loss vs features{where}", "features",
                                      "loss (end of training)", logx=True),
        "mse_vs_l0": line_plot(vs_l0("mse"), f"MSE vs L0{where}", "L0", "MSE (raw units)", logx=True),
        "fvu_vs_l0": line_plot(vs_l0("fvu"), f"FVU vs L0 by architecture{where}", "L0", "FVU", logx=True, logy=True),
        "kl_vs_l0": line_plot(vs_l0("kl"), f"spliced policy KL vs L0 by architecture{where}", "L0",
                              "policy KL (clean || spliced)", logx=True, logy=True),
        "dead_vs_l0": line_plot(vs_l0("dead_frac"), f"dead fraction vs L0 by architecture{where}", "L0",
                                f"dead features ({split} split)", logx=True),
    }


def sweep_plots(report, out_dir):
    """Write the sweep figures (SVG) of a sweep report into `out_dir`; returns the file names."""
    out_dir = Path(out_dir)
    # metrics, then the row's own fields over them (the metric "l1", mean feature L1, is not the row's sparsity knob)
    runs = [{**r["metrics"], **r, "kl": r["metrics"].get("downstream", {}).get("kl")} for r in report["runs"]]
    sites = [s for s in report["store"]["sites"] if any(r["site"] == s for r in runs)]
    sites += sorted({r["site"] for r in runs} - set(sites))
    split, figs = report["eval_split"], {}
    for site in sites:
        multi = len(sites) > 1
        for stem, svg in _site_figures([r for r in runs if r["site"] == site], split, f" at {site}" if multi else "").items():
            figs[f"{stem}_{site}.svg" if multi else f"{stem}.svg"] = svg
    if len(sites) > 1:
        index = {s: i for i, s in enumerate(sites)}
        by_cfg = _group(runs, lambda r: f"{_knob(r)} F={r['d_sae']}")
        axis = "site (" + ", ".join(f"{i}={s}" for s, i in index.items()) + ")"
        for key, label in ACROSS_SITES.items():
            series = [(lab, [index[r["site"]] for r in g], [r.get(key) for r in g]) for lab, g in by_cfg]
            figs[f"{key.split('_')[0]}_by_site.svg"] = line_plot(series, f"{label} by site", axis,
                                                                  f"{label} ({split} split)")
    for name, svg in figs.items():
        atomic_write_text(out_dir / name, svg)
    return sorted(figs)
