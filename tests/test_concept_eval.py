"""Concept evaluation (sae/concept_eval.py): coverage and reconstruction on planted units whose answer is
known, the val-not-test threshold choice, and the whole command on a tiny store and sweep."""
import json

import numpy as np
import pytest
import torch

from alphazero.config import NetConfig
from sae import concept_eval as ce
from sae import probes
from sae.activations import ActivationStore
from sae.archs import SAEConfig, make_sae
from sae.export import export_sae
from sae.sweep_report import write_sweep_report
from tests.synthetic import make_random_store

SPLIT_N = {"train": 6000, "val": 3000, "test": 3000}


def planted(seed=0):
    """Columns: 0, 1, 2 independent (rate 0.3), 3 = 0 and 1, 4 rare (5%). Units: 0 = column 0 (x magnitude),
    1 = column 0 and column 1, 2 random (30%), 3 = column 2 at 1.0 plus val-only noise at 0.25 on 30% of the
    other rows, and on test half of column 2's rows at 0.2 (so test's best threshold, 0, is not val's)."""
    rng = np.random.default_rng(seed)
    n = sum(SPLIT_N.values())
    local, at = {}, 0
    for s, k in SPLIT_N.items():
        local[s], at = np.arange(at, at + k), at + k
    c = rng.random((n, 3)) < 0.3
    y = np.concatenate([c, (c[:, 0] & c[:, 1])[:, None], (rng.random(n) < 0.05)[:, None]], 1)
    mag = 1 + rng.random(n)
    h = np.zeros((n, 4), np.float32)
    h[:, 0] = c[:, 0] * mag
    h[:, 1] = (c[:, 0] & c[:, 1]) * mag
    h[:, 2] = (rng.random(n) < 0.3) * mag
    test = np.zeros(n, bool)
    test[local["test"]] = True
    h[:, 3] = np.where(c[:, 2], np.where(test & (rng.random(n) < 0.5), 0.2, 1.0),
                       np.where(~test & (rng.random(n) < 0.3), 0.25, 0.0))
    t = probes.Targets(y, np.ones_like(y), [f"col{i}" for i in range(5)], ["c"] * 5, ["g"] * 5, ["computed"] * 5)
    return h, t, local


@pytest.fixture(scope="module")
def scores():
    h, t, local = planted()
    return ce.unit_scores(h, t, local, ce.ConceptEvalConfig())


def test_a_unit_equal_to_a_column_covers_it(scores):
    assert scores["unit"][0] == 0 and scores["coverage"][0] == 1.0
    assert scores["reconstruction"][0] == 1.0 and scores["labelled"][0]


def test_a_conjunction_unit_covers_the_conjunction_and_labels_both_parts(scores):
    assert scores["unit"][3] == 1 and scores["coverage"][3] == 1.0
    # unit 1 fires only where columns 0 and 1 both hold: precision 1 for each, so both are labelled
    assert scores["labelled"][1] and scores["reconstruction"][3] == 1.0


def test_a_column_no_unit_encodes_scores_low(scores):
    assert scores["coverage"][4] < 0.3 and scores["reconstruction"][4] < 0.3  # the rare random column


def test_the_threshold_is_chosen_on_val_not_test(scores):
    assert scores["unit"][2] == 3 and scores["threshold"][2] >= 0.25     # val: the 0.25 noise is cut
    assert abs(scores["coverage"][2] - 2 / 3) < 0.05                      # test: t = 0 would have scored 1
    assert scores["coverage_val"][2] == 1.0


def test_random_like_is_an_untrained_sae_of_the_same_class():
    sae = make_sae(SAEConfig("topk", 16, 32, k=4))
    r = ce.random_like(sae, torch.ones(16), seed=1)
    assert type(r) is type(sae) and r.d_sae == 32 and r.k == 4
    f = r.encode(torch.randn(50, 16) + 1)
    assert ((f > 0).sum(1) <= 4).all() and torch.allclose(r.W_dec.norm(dim=1), torch.ones(32))


def test_the_command_on_a_tiny_store_and_sweep(tmp_path):
    make_random_store(tmp_path / "acts", n_games=60, net_cfg=NetConfig(d_model=16, n_blocks=2, d_hidden=32),
                      sites=["resid.1"], act_dtype="float32")
    store = ActivationStore(tmp_path / "acts")
    sweep, runs = tmp_path / "sweep", []
    for arch, knob in (("relu", {"l1": 3.0}), ("topk", {"k": 4})):
        sae = make_sae(SAEConfig(arch, 16, 24, **knob))
        export_sae(sae, sweep / arch, "resid.1")
        runs.append({"name": arch, "folder": arch, "site": "resid.1", "arch": arch, "d_sae": 24,
                     "k": knob.get("k"), "l1": knob.get("l1"), "metrics": {"l0": 5.0, "fvu": 0.5, "dead_frac": 0.0}})
    write_sweep_report(sweep, runs, {}, store.info())
    rc = ce.main(["--sae.out", str(sweep), "--concepts.train-rows", "800", "--concepts.val-rows", "400",
                  "--concepts.test-rows", "400", "--concepts.solve-empties", "6", "--concepts.min-positives", "3",
                  "--interp.importance-rows", "8"])
    assert rc == 0
    report = json.loads((sweep / "concepts.json").read_text())
    assert report["format"] == ce.FORMAT
    assert {"relu", "topk", "random:relu", "neurons:mlp.1", "probe:resid.1", "untrained probe:resid.1",
            "always-on"} <= set(report["methods"])
    for name in ("relu", "topk"):  # the same-L0 floor: a random TopK SAE keeping the trained SAE's (rounded) L0
        m, floor = report["methods"][name], report["methods"][f"random-l0:{name}"]
        assert floor["kind"] == "random-sae-l0" and floor["l0"] <= max(1, round(m["l0"])) + 1e-9
        assert floor["l0"] >= 0.5 * max(1, round(m["l0"]))
    k = len(report["columns"])
    assert all(len(m["coverage"]) == k for m in report["methods"].values())
    feats = report["autointerp"]["relu"]["features"]
    assert len(feats) == 24 and any(f is not None and "kl" in f for f in feats)
    assert "[computed]" in report["means"]["coverage"]["relu"] and isinstance(report["learned_groups"], list)
    # the search concepts: every evaluation row searched (fewer than search_rows), at the players' default search
    assert {"mcts_move a1", "mcts_differs", "flipped_played c3"} <= set(report["columns"]) and "search" in report["group"]
    assert report["search"]["rows"] == sum(report["rows"].values()) and report["search"]["config"]["sims"] == 64
    assert "Search concepts (group `search`" in (sweep / "concepts.md").read_text()
    md = (sweep / "concepts.md").read_text()
    assert "## Coverage" in md and "## Reconstruction" in md and "Important but unexplained" in md
    assert (sweep / "concepts_coverage_computed.svg").read_text().startswith("<svg")
    assert (sweep / "concepts_groups.svg").read_text().startswith("<svg")
