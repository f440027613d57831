"""Sweep report (sweep.json): the one layout written and read, one-line refusals, plots drawn from it."""
import json

import pytest

from sae.config import EVAL_SPLIT
from sae.plots import sweep_plots
from sae.sweep_report import FILE, FORMAT, MARKDOWN, SweepReportError, markdown, read_sweep_report, write_sweep_report

STORE = {"path": "runs/acts", "checkpoint_sha256": "ab" * 32, "sites": ["resid.2"]}
METRICS = {"fvu": 0.2, "l0": 12.0, "l1": 250.0, "mse": 0.01, "dead_frac": 0.0, "train_loss": 1.0}  # l1: mean feature L1


def run(name, arch, d_sae=64, k=None, l1=None, **metrics):
    return {"name": name, "folder": name, "site": "resid.2", "arch": arch, "d_sae": d_sae, "k": k, "l1": l1,
            "metrics": {**METRICS, **metrics}}


RUNS = [run("relu_f64_l1-3", "relu", l1=3.0), run("topk_f64_k8", "topk", k=8, l0=8.0),
        run("relu_f128_l1-3", "relu", 128, l1=3.0, fvu=0.1)]


def test_roundtrip_and_plots(tmp_path):
    written = write_sweep_report(tmp_path, RUNS, {"format": "othello-sae-config/1", "seed": 0}, STORE)
    read = read_sweep_report(tmp_path)
    assert read == written and list(read) == ["format", "config", "store", "eval_split", "runs"]
    assert read["format"] == FORMAT and read["eval_split"] == EVAL_SPLIT and read["store"] == STORE
    names = sweep_plots(read, tmp_path)
    assert "fvu_vs_l0.svg" in names and all((tmp_path / n).read_text().startswith("<svg") for n in names)
    assert "topk k=8" in (tmp_path / "l0_vs_features.svg").read_text()  # the knob is the run's own (k, not l1)
    assert "relu λ=3" in (tmp_path / "l0_vs_features.svg").read_text()  # the row's l1, not the metric of that name
    assert {"kl_vs_l0.svg", "dead_vs_l0.svg"} <= set(names) and not any("by_site" in n for n in names)
    assert (tmp_path / MARKDOWN).read_text() == markdown(read)


def test_markdown_table_per_site_with_intervals(tmp_path):
    ci = {"ci95": {"fvu": [0.18, 0.22], "l0": [11.5, 12.5]}, "n_eval": 100000, "n_eval_games": 3000,
          "downstream": {"kl": 0.3, "flr": 0.8, "ci95": {"kl": [0.25, 0.35], "flr": [0.78, 0.82]},
                         "match": {"games": 40, "score": 0.5, "score_ci95": [0.352, 0.648]}}}
    runs = [RUNS[0], {**run("embed_topk_f64_k8", "topk", k=8, **ci), "site": "embed"}]
    report = write_sweep_report(tmp_path, runs, {}, {**STORE, "sites": ["embed", "resid.2"]})
    md = markdown(report)
    assert md.index("## embed") < md.index("## resid.2")  # the store's site order
    assert "| embed_topk_f64_k8 | embed | 0.2000 [0.1800, 0.2200] | 12.00 [11.50, 12.50] |" in md
    assert "0.3000 [0.2500, 0.3500] | 0.800 [0.780, 0.820] | 0.500 [0.352, 0.648] (40 games) | 100000 / 3000 |" in md
    names = sweep_plots(report, tmp_path)
    assert {"fvu_vs_l0_embed.svg", "kl_vs_l0_resid.2.svg", "fvu_by_site.svg", "kl_by_site.svg",
            "dead_by_site.svg"} <= set(names)


@pytest.mark.parametrize("change, match", [
    (lambda r: r.update(format="othello-sae-scaling/1"), "format"),
    (lambda r: r.update(eval_split="val"), "eval_split"),
    (lambda r: r.update(saes=r.pop("runs")), "'runs' is missing"),
    (lambda r: r["store"].pop("sites"), "'sites' is missing"),
    (lambda r: r["runs"][0].update(k=32), r"relu SAE: it has l1 and k null"),   # a ReLU SAE shown with k=32
    (lambda r: r["runs"][1].update(l1=None, k=None), "topk SAE"),
    (lambda r: r["runs"][0].update(n_features=64), "'n_features'"),
    (lambda r: r["runs"][2].update(name="relu_f64_l1-3"), "two runs are named"),
    (lambda r: r["runs"][0].update(arch="dense"), "arch 'dense'"),
])
def test_reader_refuses_anything_else(tmp_path, change, match):
    report = write_sweep_report(tmp_path, RUNS, {}, STORE)
    report = json.loads(json.dumps(report))
    change(report)
    (tmp_path / FILE).write_text(json.dumps(report))
    with pytest.raises(SweepReportError, match=match) as e:
        read_sweep_report(tmp_path)
    assert "\n" not in str(e.value) and str(tmp_path / FILE) in str(e.value)


def test_missing_or_corrupt(tmp_path):
    with pytest.raises(SweepReportError, match="is missing"):
        read_sweep_report(tmp_path)
    (tmp_path / FILE).write_text("{oops")
    with pytest.raises(SweepReportError, match="not valid JSON"):
        read_sweep_report(tmp_path)
    with pytest.raises(SweepReportError, match="relu SAE"):  # the writer validates too: nothing invalid lands on disk
        write_sweep_report(tmp_path / "w", [run("x", "relu", k=4)], {}, STORE)
    assert not (tmp_path / "w" / FILE).exists()
