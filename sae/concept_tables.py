"""The concept evaluation's tables and plots (sae/concept_eval.py's report -> concepts.md and *.svg).

    markdown(report)   coverage and reconstruction per concept group and kind for every method, the search
                       concepts' cost, the auto-interpretation summary and the important-but-unexplained features
    plots(report)      {suffix: SVG}: coverage vs L0 per kind with the floors and ceiling; per group for the best SAE
    best_sae(report)   the headline SAE: best mean val coverage among the sparse ones
"""
import numpy as np

from othello.svgplot import W, line_plot
from sae import autointerp as ai

ORDER = ("sae", "random-sae", "random-sae-l0", "neurons", "untrained-neurons", "probe", "untrained-probe", "always-on")


def ordered(report):
    return sorted(report["methods"], key=lambda k: (ORDER.index(report["methods"][k]["kind"]), k))


def best_sae(report, kind="[computed]"):
    """The SAE with the best mean VAL coverage on `kind` columns (chosen without looking at test), among
    those with L0 <= the config's max_l0 (all of them if none is that sparse)."""
    counted, kinds = np.asarray(report["counted"]), np.asarray(report["kind"])
    sel = counted & (kinds == kind.strip("[]"))
    saes = [k for k in report["methods"] if report["methods"][k]["kind"] == "sae"]
    sparse = [k for k in saes if report["methods"][k]["l0"] <= report["config"]["concepts"]["max_l0"]]
    saes = sparse or saes
    return max(saes, key=lambda k: np.mean(np.asarray(report["methods"][k]["coverage_val"])[sel])) if saes else None


def markdown(report):
    groups = list(dict.fromkeys(report["group"]))
    kind_of = dict(zip(report["group"], report["kind"]))
    cols = groups + ["[input]", "[computed]", "[learned]", "[all]"]
    n = {g: int(sum(c for c, x in zip(report["counted"], report["group"]) if x == g)) for g in groups}
    n.update({f"[{k}]": int(sum(c for c, x in zip(report["counted"], report["kind"]) if x == k)) for k in ("input", "computed")})
    n["[all]"] = int(sum(report["counted"]))
    n["[learned]"] = int(sum(c for c, x in zip(report["counted"], report["group"]) if x in report["learned_groups"]))
    out = [f"# Concept evaluation of `{report['sweep']}`", "",
           f"Rows train/val/test {report['rows']['train']}/{report['rows']['val']}/{report['rows']['test']} "
           f"(test: held-out games); units, thresholds and rules chosen on val, every score on test; mean F1 over "
           f"the columns with enough positives in every split (count under each group). Probe rows: one linear-probe "
           f"F1 per column (ceiling / untrained-network floor), in both tables. [learned]: the groups where the trained "
           f"network's probe beats the untrained one's by >= {report['config']['concepts']['learned_gap']} "
           f"({', '.join(report['learned_groups']) or 'none'}). {report['seconds']:.0f} s.", ""]
    if report.get("search"):  # the one concept group with a cost of its own: how many rows, how long
        sr = report["search"]
        out += [f"Search concepts (group `search`: the move MCTS chooses, and whether it differs from the raw policy's "
                f"argmax) on {sr['rows']} of the rows ({sr['algorithm']}, {sr['sims']} simulations, as the players "
                f"search): {sr['seconds']:.0f} s.", ""]
    for metric in ("coverage", "reconstruction"):
        means = report["means"][metric]
        head = [f"{g} ({'in' if kind_of[g] == 'input' else 'comp'}, {n[g]})" if g in kind_of else f"{g} ({n[g]})"
                for g in cols]
        out += [f"## {metric.capitalize()}", "", "| method | L0 | " + " | ".join(head) + " |", "|---|---|" + "---|" * len(cols)]
        for k in (k for k in ordered(report) if k in means):
            l0 = report["methods"][k].get("l0")
            out.append(f"| {k} | {'' if l0 is None else f'{l0:.1f}'} | "
                       + " | ".join(f"{means[k][g]:.3f}" if g in means.get(k, {}) else "" for g in cols) + " |")
        out.append("")
    if report["autointerp"]:
        out += ["## Auto-interpretation (rules over concept columns; test precision / recall / F1)", "",
                "| SAE | alive | explained (F1 >= 0.8) | median F1 | median F1 of 'always' | single / conjunction / tree |",
                "|---|---|---|---|---|---|"]
        for name, a in report["autointerp"].items():
            s = a["summary"]
            out.append(f"| {name} | {s['alive']} | {s['explained']} ({s['explained_frac']:.1%}) | "
                       f"{s['median_f1'] or 0:.3f} | {s['median_f1_always'] or 0:.3f} | {' / '.join(str(s['by_kind'][k]) for k in ai.KINDS)} |")
        for name, a in report["autointerp"].items():
            out += ["", f"### Important but unexplained: {name} (ranked by policy KL when ablated)", "",
                    "| feature | policy KL | value change | fires (test, > 0) | best rule | F1 |", "|---|---|---|---|---|---|"]
            out += [f"| {c['feature']} | {c['kl']:.4f} | {c['value_change']:.4f} | {c['freq_test']:.3f} | {c['text']} "
                    f"| {c['f1']:.3f} |" for c in a["summary"]["candidates"]]
    return "\n".join(out) + "\n"


def plots(report):
    """{file suffix: SVG}: mean coverage vs L0 per kind with every floor, and per group for the best SAE."""
    means, meth = report["means"]["coverage"], report["methods"]
    saes = [k for k in meth if meth[k]["kind"] == "sae"]
    l0s, l0r = [max(meth[k]["l0"], 0.1) for k in saes], [max(meth[f"random:{k}"]["l0"], 0.1) for k in saes]
    l0k = [max(meth[f"random-l0:{k}"]["l0"], 0.1) for k in saes]
    span = [min(l0s + l0r + l0k), max(l0s + l0r + l0k)] if saes else [1, 2]
    out = {}
    for kind in ("computed", "input"):
        g = f"[{kind}]"
        series = [("SAE", l0s, [means[k].get(g) for k in saes]),
                  ("random SAE", l0r, [means[f"random:{k}"].get(g) for k in saes]),
                  ("random SAE, same L0", l0k, [means[f"random-l0:{k}"].get(g) for k in saes])]
        for k in ordered(report):
            if meth[k]["kind"] not in ("sae", "random-sae", "random-sae-l0"):
                series.append((k, span, [means[k].get(g)] * 2))
        out[f"coverage_{kind}"] = line_plot(series, f"Coverage of {kind} concepts (test F1)", "L0 of the SAE",
                                            "mean best-feature F1", logx=True)
    best = best_sae(report)
    groups = list(dict.fromkeys(report["group"]))
    xs = list(range(1, len(groups) + 1))
    series = [(f"{k}" if k == best else k.split(":")[0], xs, [means[k].get(g) for g in groups])
              for k in [best, f"random:{best}", f"random-l0:{best}"]
              + [k for k in ordered(report) if meth[k]["kind"] not in ("sae", "random-sae", "random-sae-l0")]
              if k in means]
    svg = line_plot(series, f"Coverage per concept group (test F1); SAE: {best}", "concept group", "mean test F1")
    key = "".join(f'<text x="{W - 160}" y="{200 + 15 * i}">{x} {g}</text>' for i, (x, g) in enumerate(zip(xs, groups)))
    out["groups"] = svg.replace("</svg>", key + "</svg>")  # the group names, under the legend
    return out


