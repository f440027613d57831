"""The end-to-end pipeline on a tiny network (the collection stage's own tests: tests/test_collect.py)."""
import json

import pytest

import pipeline
from sae.concept_eval import read_concepts
from sae.sweep_report import read_sweep_report
from tests.conftest import tiny_checkpoint


@pytest.fixture(scope="module")
def tiny_ckpt(tmp_path_factory):
    return tiny_checkpoint(tmp_path_factory.mktemp("ck") / "tiny.pt", d_model=32, n_blocks=4, d_hidden=64)


def test_pipeline_end_to_end(tiny_ckpt, tmp_path, capsys):
    out, vis = tmp_path / "run", tmp_path / "vis_data"
    pipeline.main(["--checkpoint", str(tiny_ckpt), "--collect.out", str(out / "acts"), "--sae.out", str(out / "sae"),
                   "--vis.out", str(vis), "--games", "4", "--search.sims", "4", "--collect.positions", "3000",
                   "--sae.sweep", "small", "--sae.features", "64", "--sae.steps", "30", "--sae.batch-size", "512",
                   "--sae.match-games", "4", "--concepts.train-rows", "1500", "--concepts.val-rows", "400",
                   "--concepts.test-rows", "400", "--interp.importance-rows", "8", "--report.train-rows", "800",
                   "--report.val-rows", "300", "--report.test-rows", "300", "--report.example-rows", "400"])
    text = capsys.readouterr().out
    ladder = json.loads((out / "ladder.json").read_text())["matches"]
    assert [r["opponent"] for r in ladder] == ["random", "greedy", "alphabeta:4"] and all(r["games"] == 4 for r in ladder)
    scaling = read_sweep_report(out / "sae")
    assert sorted(r["arch"] for r in scaling["runs"]) == ["batchtopk", "gated", "jumprelu", "matryoshka", "relu", "topk"]
    index = json.loads((vis / "index.json").read_text())
    assert len(index["saes"]) == 6 and index["store"]["split"] == "test"
    assert "stage times" in text and "copy" in text  # --vis-out elsewhere: says where the page reads
    # stage 4: concept evaluation + auto-interp (read back strictly), its headline printed, the science report
    concepts = read_concepts(out / "sae")
    a, b = json.loads((out / "acts" / "manifest.json").read_text())["splits"]["train"]
    n_train = min(1500, b - a)  # the train split may hold fewer rows than asked for
    assert concepts["rows"]["train"] == n_train and sorted(concepts["autointerp"]) == sorted(r["name"] for r in scaling["runs"])
    assert "| method | L0 |" in text and "always-on" in text and "rules explain" in text
    assert (out / "sae" / "report.md").is_file() and (out / "sae" / "report_img" / "probes.svg").is_file()
    # the search concepts, at the pipeline's --search.sims, on every row (fewer than --concepts.search-rows)
    assert concepts["search"]["sims"] == 4 and concepts["search"]["rows"] == sum(concepts["rows"].values())
    assert "mcts_move" in concepts["concept"] and "search" in concepts["group"]
    # stage 5 carries them: the headline table, each feature's rule and importance, the report's copy
    assert [m["name"] for m in index["concepts"]["headline"]["methods"]][-1] == "always-on"
    sae = index["saes"][0]
    feats = json.loads((vis / sae["dir"] / "features.json").read_text())
    ai = concepts["autointerp"][sae["name"]]["features"]
    assert feats["label"] == [e and e["text"] for e in ai] and len(feats["importance"]) == sae["d_sae"]
    assert index["report"] == "report/report.html" and (vis / "report" / "report.html").is_file()
