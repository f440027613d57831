"""The science report command (sae/science_report.py) on a tiny sweep: markdown and HTML from the same blocks,
every image they name written, the headline table the viewer shows, the probe table over every site, the
candidate concepts with their boards; without concepts.json it is a one-line error."""
import re

import numpy as np
import pytest

from sae import science_report as sr
from tests import demo_data
from tests.test_vis_labels import RULES, SAES, TINY_NET, fake_concepts


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    demo = demo_data.make_demo(tmp_path_factory.mktemp("report") / "in", n_games=24, saes=SAES, net_cfg=TINY_NET)
    sweep = demo["sae_dir"]
    concepts = fake_concepts(sweep, demo["runs"], {"relu_64": RULES})
    assert sr.main(["--sae.out", str(sweep), "--report.train-rows", "400", "--report.val-rows", "200",
                    "--report.test-rows", "200", "--report.example-rows", "400"]) == 0
    return {"sweep": sweep, "concepts": concepts, "md": (sweep / "report.md").read_text(),
            "html": (sweep / "report.html").read_text()}


def test_every_section_and_image_is_there(report):
    md, sweep = report["md"], report["sweep"]
    for heading in ("# Science report", "## Headline: concept coverage per group", "## Linear probes per site",
                    "## Coverage and board reconstruction by kind", "## Auto-interpretation", "## Candidate concepts"):
        assert heading in md
    images = re.findall(r"!\[[^]]*\]\(([^)]+)\)", md)
    assert images and all((sweep / f).is_file() for f in images)
    assert sorted(images) == sorted(re.findall(r'<img src="([^"]+)"', report["html"]))  # one set of blocks, twice
    assert sr.report_files(sweep)[:2] == ["report.md", "report.html"] and len(sr.report_files(sweep)) == len(images) + 2


def test_headline_table_is_the_viewers(report):
    h = sr.headline(report["concepts"])
    section = report["md"].split("## Headline")[1].split("\n## ")[0]
    rows = {line.split(" | ")[0].strip("| "): line for line in section.splitlines() if line.startswith("| ")}
    for m in h["methods"]:
        assert f"{m['coverage']['legality']:.3f}" in rows[m["name"]]
    assert "legality (2, learned)" in report["md"]


def test_probe_table_covers_every_site_trained_and_untrained(report):
    for site in ("embed", "resid.0", "resid.1", "resid.2", "resid.3"):
        assert f"| trained:{site} |" in report["md"] and f"| untrained:{site} |" in report["md"]
    assert "| input |" in report["md"] and "| always-on |" in report["md"]
    assert " search |" in report["md"]  # the search concepts' group, run at the players' default search
    assert re.search(r"Search concepts on \d+ of the rows \(gumbel, 64 simulations", report["md"])


def test_candidates_come_with_their_rule_and_boards(report):
    md = report["md"]
    assert md.index("Feature #9") < md.index("Feature #5") and "Feature #3:" not in md  # by KL; #3 is explained
    assert "best rule 'legal a5'" in md
    svg = (report["sweep"] / sr.IMG / "candidate_relu_64_9.svg").read_text()
    assert svg.startswith("<svg") and svg.count("act ") >= 1


def test_board_svg_draws_discs_and_legal_moves():
    b = np.zeros((1, 36), np.int8)
    b[0, 14], b[0, 15] = 1, -1
    legal = np.zeros((1, 37), bool)
    legal[0, [3, 14]] = True  # an occupied square is never drawn as a legal dot
    svg = sr.board_svg(b, legal, ["act 1.5"])
    assert svg.count('fill="#111"') == 1 and svg.count('fill="#f4f4f4"') == 1 and svg.count("<circle") == 3


def test_without_concepts_json_it_is_a_one_line_error(tmp_path):
    with pytest.raises(SystemExit) as e:
        sr.main(["--sae.out", str(tmp_path)])
    assert str(e.value).startswith("error: no ") and "concepts.json" in str(e.value) and "\n" not in str(e.value)
