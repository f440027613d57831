"""Auto-interp labels in the viewer data: the sweep's concepts.json read strictly (sae.concept_eval.read_concepts),
each feature's rule, held-out scores and importance in features.json, the headline table and the
important-but-unexplained list in index.json, "no labels" without the file, the science report's copy."""
import json
import shutil

import numpy as np
import pytest

from alphazero.checkpoint import file_sha256
from alphazero.network import NetConfig
from sae import autointerp as ai
from sae import concept_eval as ce
from sae.sweep_report import read_sweep_report
from tests import demo_data
from vis import generate_vis_data

TINY_NET = NetConfig(d_model=32, n_blocks=4, d_hidden=64)
SAES = (("relu", 64), ("topk", 96))
# relu_64's rules: feature -> (rule text, test F1, policy KL when ablated); 3 is explained, 5 and 9 are not
RULES = {3: ("legal c2 and not stable_mine b1", 0.91, 0.02), 5: ("flippable d4", 0.42, 0.3), 9: ("legal a5", 0.3, 0.5)}
GROUPS = (("board", "input"), ("board", "input"), ("legality", "computed"), ("legality", "computed"))


def fake_concepts(sweep_dir, runs, rules, name="concepts"):
    """A concepts.json as sae.concept_eval writes it (its format and fields, means and summaries computed by
    its own functions), with made-up scores; `rules` {sae name: {feature: (text, f1, kl)}}. Returns the report."""
    rng = np.random.default_rng(0)
    cov = lambda: [round(float(v), 3) for v in rng.uniform(0.2, 0.9, len(GROUPS))]
    methods = {"always-on": {"kind": "always-on", "coverage": cov()},
               "probe:resid.2": {"kind": "probe", "site": "resid.2", "coverage": [0.99, 0.98, 0.95, 0.9]},
               "untrained probe:resid.2": {"kind": "untrained-probe", "site": "resid.2", "coverage": [0.99, 0.98, 0.7, 0.6]}}
    autointerp, saes = {}, {}
    icfg = ai.AutoInterpConfig()
    for run in runs:
        for key, kind in ((run["name"], "sae"), (f"random:{run['name']}", "random-sae"),
                          (f"random-l0:{run['name']}", "random-sae-l0")):
            methods[key] = {"kind": kind, "site": run["site"], "l0": 8.0, "coverage": cov(), "coverage_val": cov(),
                            "reconstruction": cov()}
        saes[run["name"]] = {"weights_sha256": file_sha256(sweep_dir / run["folder"] / "sae_weights.safetensors"),
                             "d_sae": run["d_sae"]}
        if run["name"] not in rules:
            continue
        feats = [None] * run["d_sae"]
        for j, (text, f1, _) in rules[run["name"]].items():
            feats[j] = {"rule": [0, -1, 0, -2, 0], "text": text, "kind": "conjunction" if " and " in text else "single",
                        "threshold": 0.1, "precision": f1 + 0.05, "recall": f1 - 0.05, "f1": f1, "f1_val": f1,
                        "f1_train": f1, "fires_test": 40, "f1_always": 0.1}
        kl = np.full(run["d_sae"], np.nan)
        for j, (_, _, k) in rules[run["name"]].items():
            kl[j] = k
        summary = ai.summarise(feats, kl, kl / 10, np.full(run["d_sae"], 0.05), icfg)
        autointerp[run["name"]] = {"summary": summary, "features": feats}
    report = {"format": ce.FORMAT, "sweep": str(sweep_dir), "store": read_sweep_report(sweep_dir)["store"],
              "rows": {"train": 600, "val": 200, "test": 200},
              "config": {"concepts": {"learned_gap": 0.03, "max_l0": 64.0, "precision": 0.95, "out": name},
                         "autointerp": {"explained_f1": icfg.explained_f1, "importance_rows": icfg.importance_rows}},
              "columns": ["a1 mine", "b1 mine", "legal c2", "legal d2"], "concept": ["mine", "mine", "legal", "legal"],
              "group": [g for g, _ in GROUPS], "kind": [k for _, k in GROUPS], "counted": [True] * len(GROUPS),
              "methods": methods, "autointerp": autointerp, "saes": saes, "seconds": 1.0}
    ce.add_means(report)
    (sweep_dir / f"{name}.json").write_text(json.dumps(report))
    return report


def generate(paths, out, extra=()):
    return generate_vis_data.main(["--checkpoint", str(paths["checkpoint"]), "--sae.out", str(paths["sae_dir"]),
                                   "--collect.out", str(paths["acts"]), "--vis.out", str(out), "--vis.top", "6",
                                   "--device", "cpu", *extra])


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    return demo_data.make_demo(tmp_path_factory.mktemp("labels") / "in", n_games=24, saes=SAES, net_cfg=TINY_NET)


@pytest.fixture(scope="module")
def labelled(demo, tmp_path_factory):
    """Viewer data of a copy of the demo sweep with concepts.json (labels for relu_64 only) and a science report."""
    root = tmp_path_factory.mktemp("labels_data")
    sweep = shutil.copytree(demo["sae_dir"], root / "sae")
    fake_concepts(sweep, demo["runs"], {"relu_64": RULES})
    (sweep / "report_img").mkdir()
    (sweep / "report_img" / "x.svg").write_text("<svg/>")
    for f in ("report.md", "report.html"):
        (sweep / f).write_text(f"the report ({f})")
    assert generate({**demo, "sae_dir": sweep}, root / "data") == 0
    return {"out": root / "data", "index": json.loads((root / "data" / "index.json").read_text())}


def features(data, name):
    sae = next(s for s in data["index"]["saes"] if s["name"] == name)
    return sae, json.loads((data["out"] / sae["dir"] / "features.json").read_text())


def test_each_feature_carries_its_rule_scores_and_importance(labelled):
    sae, f = features(labelled, "relu_64")
    assert f["label"][3] == "legal c2 and not stable_mine b1" and f["label_kind"][3] == "conjunction"
    assert (f["label_precision"][3], f["label_recall"][3], f["label_f1"][3]) == (0.96, 0.86, 0.91)
    assert f["importance"][9] == 0.5 and f["value_change"][9] == 0.05
    assert sum(x is not None for x in f["label"]) == 3 and f["label"][0] is None and f["importance"][0] is None
    # the important-but-unexplained list: unexplained features by policy KL, explained #3 left out
    assert [c["feature"] for c in sae["labels"]["candidates"]] == [9, 5] and sae["labels"]["explained"] == 1
    # an SAE the evaluation has no rules for: no labels, and a warning that says so
    other, g = features(labelled, "topk_96")
    assert other["labels"] is None and g["label"] == [None] * 96 == g["importance"]
    assert any("no rules for SAE topk_96" in w for w in labelled["index"]["warnings"])


def test_headline_table_and_report_copy_in_the_index(labelled):
    c = labelled["index"]["concepts"]
    assert c["format"] == ce.FORMAT and c["explained_f1"] == 0.8
    h = c["headline"]
    assert [m["name"] for m in h["methods"]] == ["relu_64", "random:relu_64", "random-l0:relu_64", "topk_96",
                                                 "random:topk_96", "random-l0:topk_96", "probe:resid.2",
                                                 "untrained probe:resid.2", "always-on"]
    assert h["columns"][:2] == ["board", "legality"] and "[learned]" in h["columns"]
    assert h["rows"] == {"train": 600, "val": 200, "test": 200} and h["split"] == "test"
    assert [g["learned"] for g in h["groups"]] == [False, True]  # probe beats the untrained one on legality only
    probe = next(m for m in h["methods"] if m["name"] == "probe:resid.2")
    assert probe["coverage"]["legality"] == pytest.approx(0.925)
    assert labelled["index"]["report"] == "report/report.html"
    assert (labelled["out"] / "report" / "report_img" / "x.svg").read_text() == "<svg/>"
    assert "concepts" not in json.loads((labelled["out"] / "saes/relu_64/shards/0.json").read_text())["features"][3]


def test_without_concepts_json_there_are_no_labels_and_the_page_says_so(demo, tmp_path):
    assert generate(demo, tmp_path / "data") == 0
    index = json.loads((tmp_path / "data" / "index.json").read_text())
    assert index["concepts"]["file"] is None and "no labels" in index["concepts"]["note"]
    assert index["report"] is None and all(s["labels"] is None for s in index["saes"])
    _, f = features({"out": tmp_path / "data", "index": index}, "relu_64")
    assert f["label"] == [None] * 64 == f["label_f1"] == f["importance"]


@pytest.mark.parametrize("damage, message", [
    (lambda r: "{not json", "is not readable JSON"),
    (lambda r: json.dumps({**r, "format": "othello-sae-concepts/2"}), "this reader reads 'othello-sae-concepts/3'"),
    (lambda r: json.dumps({k: v for k, v in r.items() if k != "saes"}), "lacks one of"),
    (lambda r: json.dumps({**r, "autointerp": {"relu_64": {**r["autointerp"]["relu_64"], "features": [None] * 3}}}),
     "must hold a summary and 64 features"),
])
def test_a_bad_concepts_json_is_a_one_line_error_naming_it(demo, tmp_path, capsys, damage, message):
    report = fake_concepts(demo["sae_dir"], demo["runs"], {"relu_64": RULES})
    try:
        (demo["sae_dir"] / "concepts.json").write_text(damage(report))
        with pytest.raises(SystemExit) as e:
            generate(demo, tmp_path / "data")
        text = str(e.value)
        assert text.startswith("error: ") and "\n" not in text and str(demo["sae_dir"] / "concepts.json") in text
        assert message in text
        assert not (tmp_path / "data").exists()  # nothing half-written
    finally:
        (demo["sae_dir"] / "concepts.json").unlink()


def test_labels_of_other_weights_are_refused(demo, tmp_path):
    report = fake_concepts(demo["sae_dir"], demo["runs"], {"relu_64": RULES})
    report["saes"]["relu_64"]["weights_sha256"] = "0" * 64  # the SAE was retrained after the evaluation
    (demo["sae_dir"] / "concepts.json").write_text(json.dumps(report))
    try:
        assert generate(demo, tmp_path / "data") == 0
        index = json.loads((tmp_path / "data" / "index.json").read_text())
        assert next(s for s in index["saes"] if s["name"] == "relu_64")["labels"] is None
        assert any("other weights of SAE relu_64" in w for w in index["warnings"])
        # --vis.check notices a changed concepts.json
        assert generate(demo, tmp_path / "data", ["--vis.check"]) == 0
        fake_concepts(demo["sae_dir"], demo["runs"], {"relu_64": {3: RULES[3]}})
        assert generate(demo, tmp_path / "data", ["--vis.check"]) == 1
    finally:
        (demo["sae_dir"] / "concepts.json").unlink()


def test_read_concepts_is_strict(tmp_path):
    assert ce.read_concepts(tmp_path) is None  # no file: no labels, not an error
    (tmp_path / "concepts.json").write_text(json.dumps([1, 2]))
    with pytest.raises(ce.ConceptsError, match="format 'list'"):
        ce.read_concepts(tmp_path)
