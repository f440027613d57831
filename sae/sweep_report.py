"""The sweep report: `sweep.json` in a sweep folder, one row per trained SAE. This module owns the format.

    {"format": "othello-sae-sweep-report/1",
     "config": the run's config tree (config.to_dict), verbatim (so `--config sweep.json` repeats the run),
     "store": {"path", "checkpoint_sha256", "sites"}         the activation store the SAEs were trained on,
     "eval_split": "test"                                    every metric is on this held-out split (sae.config.EVAL_SPLIT),
     "runs": [{"name", "folder" (relative to the sweep folder), "site", "arch", "d_sae",
               "k" (int: topk / batchtopk, else null), "l1" (float: relu / gated / jumprelu, else null),
               "metrics" {...}}]}                            the SAE's metrics.json "metrics" minus per-feature lists

A run's metrics hold its 95% intervals (sae/evaluate.py): "ci95" {fvu, l0} and "downstream" "ci95" {kl, flr}
(bootstrap over held-out games), the match's "score_ci95" (Wilson); "n_eval", "n_eval_games" say on what.
A sweep over several sites names each run `<site>_<config name>` (sae.train.sae_name).
`markdown(report)` is the sweep's table per site (written as sweep.md; sae.evaluate prints the same table).

Metrics are computed once, when the SAEs are trained (sae/report.py); readers only read them.
`read_sweep_report` accepts exactly this layout and refuses anything else with a one-line error.
"""
import json
from pathlib import Path

from othello.atomic import atomic_write_json, atomic_write_text
from sae.archs import ARCHS, TOPK_FAMILY
from sae.config import EVAL_SPLIT

FORMAT = "othello-sae-sweep-report/1"
FILE = "sweep.json"
MARKDOWN = "sweep.md"
KEYS = ("format", "config", "store", "eval_split", "runs")
STORE_KEYS = {"path": str, "checkpoint_sha256": str, "sites": list}
RUN_KEYS = {"name": str, "folder": str, "site": str, "arch": str, "d_sae": int, "k": (int, type(None)),
            "l1": (float, type(None)), "metrics": dict}


class SweepReportError(ValueError):
    """A sweep report that is missing, corrupt, or not of FORMAT."""


def _check_keys(obj, spec, where):
    if not isinstance(obj, dict):
        raise SweepReportError(f"{where} must be a JSON object, got {type(obj).__name__}")
    if set(obj) != set(spec):
        odd = sorted(set(obj) ^ set(spec))[0]
        raise SweepReportError(f"{where}: key '{odd}' is {'missing' if odd in spec else 'not part of ' + FORMAT}")
    for key, tp in spec.items():
        if tp is not None and (not isinstance(obj[key], tp) or isinstance(obj[key], bool)):
            raise SweepReportError(f"{where}: '{key}' has the wrong type ({type(obj[key]).__name__})")


def check_report(report, where):
    """Raise SweepReportError unless `report` is a sweep report of FORMAT; returns it."""
    _check_keys(report, dict.fromkeys(KEYS), where)
    if report["format"] != FORMAT:
        raise SweepReportError(f"{where} has format {report['format']!r}, expected '{FORMAT}'")
    if not isinstance(report["config"], dict):
        raise SweepReportError(f"{where}: 'config' must be a JSON object")
    _check_keys(report["store"], STORE_KEYS, f"{where}: store")
    if report["eval_split"] != EVAL_SPLIT:
        raise SweepReportError(f"{where}: eval_split is {report['eval_split']!r}; this toolkit reports on '{EVAL_SPLIT}'")
    if not isinstance(report["runs"], list):
        raise SweepReportError(f"{where}: 'runs' must be a list")
    names = set()
    for i, run in enumerate(report["runs"]):
        _check_keys(run, RUN_KEYS, f"{where}: runs[{i}]")
        if run["arch"] not in ARCHS:
            raise SweepReportError(f"{where}: runs[{i}] arch '{run['arch']}' is not one of {', '.join(ARCHS)}")
        topk = run["arch"] in TOPK_FAMILY
        if (run["k"] is None) == topk or (run["l1"] is None) != topk:
            raise SweepReportError(f"{where}: runs[{i}] is a {run['arch']} SAE: it has "
                                   f"{'k and l1 null' if topk else 'l1 and k null'}; got k={run['k']}, l1={run['l1']}")
        if run["name"] in names:
            raise SweepReportError(f"{where}: two runs are named '{run['name']}'")
        names.add(run["name"])
    return report


def write_sweep_report(out_dir, runs, config_dict, store_info):
    """Validate and write `<out_dir>/sweep.json` atomically; returns the report dict.

    `runs`: rows as in the module doc; `config_dict`: config.to_dict(cfg);
    `store_info`: ActivationStore.info() ({path, checkpoint_sha256, sites}).
    """
    report = {"format": FORMAT, "config": config_dict, "store": dict(store_info), "eval_split": EVAL_SPLIT,
              "runs": list(runs)}
    path = Path(out_dir) / FILE
    check_report(report, str(path))
    atomic_write_json(path, report)
    atomic_write_text(Path(out_dir) / MARKDOWN, markdown(report))
    return report


def read_sweep_report(out_dir):
    """The validated sweep report of a sweep folder (see the module doc)."""
    path = Path(out_dir) / FILE
    if not path.is_file():
        raise SweepReportError(f"{path} is missing: {out_dir} is not a finished SAE sweep folder (train_sae.py writes it)")
    try:
        report = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise SweepReportError(f"{path} is not valid JSON ({type(e).__name__}: {str(e).splitlines()[0][:100]})") from None
    return check_report(report, str(path))


def _ci(value, ci, fmt):
    if value is None:
        return "-"
    return f"{value:{fmt}}" + (f" [{ci[0]:{fmt}}, {ci[1]:{fmt}}]" if ci else "")


def markdown_table(runs, caption):
    """A markdown table of `runs` (sweep-report rows) with their 95% intervals, under a one-line caption."""
    lines = [f"Held-out metrics ({caption}); [95% interval]: bootstrap over test games (FVU, L0, KL, loss "
             f"recovered), Wilson (match score vs the clean network).", "",
             "| SAE | site | FVU | L0 | dead | policy KL | loss recovered | match score | test rows / games |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in runs:
        m = r["metrics"]
        ci, ds = m.get("ci95", {}), m.get("downstream", {})
        dci, match = ds.get("ci95", {}), ds.get("match")
        dead = "-" if m.get("dead_frac") is None else f"{m['dead_frac']:.1%}"  # a run may hold no metrics yet
        lines.append(f"| {r['name']} | {r['site']} | {_ci(m.get('fvu'), ci.get('fvu'), '.4f')} | "
                     f"{_ci(m.get('l0'), ci.get('l0'), '.2f')} | {dead} | "
                     f"{_ci(ds.get('kl'), dci.get('kl'), '.4f')} | {_ci(ds.get('flr'), dci.get('flr'), '.3f')} | "
                     + (f"{_ci(match['score'], match['score_ci95'], '.3f')} ({match['games']} games)" if match else "-")
                     + f" | {m.get('n_eval', '-')} / {m.get('n_eval_games', '-')} |")
    return "\n".join(lines)


def markdown(report):
    """The sweep report as markdown: one table per site, in the store's site order."""
    sites = list(dict.fromkeys([s for s in report["store"]["sites"] if any(r["site"] == s for r in report["runs"])]
                               + [r["site"] for r in report["runs"]]))
    parts = [f"# SAE sweep ({len(report['runs'])} SAEs at {len(sites)} site(s))"]
    for site in sites:
        parts += ["", f"## {site}", "", markdown_table([r for r in report["runs"] if r["site"] == site],
                                                       f"{report['store']['path']}, {report['eval_split']} split")]
    return "\n".join(parts) + "\n"
