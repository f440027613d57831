"""Labels in a real browser (Debian chromium through playwright): the landing page's concept headline table,
the important-but-unexplained list and the report link; a feature's rule and scores in the list, on its page
and in the search; the list sorted by importance; "no labels" said on the page without concepts.json.
Under CI (CI=true) a missing playwright or chromium FAILS the test; elsewhere it skips with the reason."""
import json
import shutil
import urllib.request

import pytest

from tests import demo_data
from tests.test_vis_labels import RULES, SAES, TINY_NET, fake_concepts
from vis import generate_vis_data, site
from tests.browser import browser, real_browser, watch_console  # noqa: F401 (fixtures)


def build(demo, sweep, www):
    site.stage(www)
    assert generate_vis_data.main(["--checkpoint", str(demo["checkpoint"]), "--sae.out", str(sweep), "--collect.out",
                                   str(demo["acts"]), "--vis.out", str(www / "data"), "--device", "cpu",
                                   "--vis.effect-samples", "4"]) == 0
    return www


@pytest.fixture(scope="module")
def sites(tmp_path_factory):
    """Two viewer sites of one demo sweep: with concepts.json (labels for relu_64) and a report, and without."""
    root = tmp_path_factory.mktemp("labels_site")
    demo = demo_data.make_demo(root / "in", n_games=24, saes=SAES, net_cfg=TINY_NET)
    bare = build(demo, demo["sae_dir"], root / "bare")
    sweep = shutil.copytree(demo["sae_dir"], root / "sae")
    fake_concepts(sweep, demo["runs"], {"relu_64": RULES})
    (sweep / "report.md").write_text("# the report")
    (sweep / "report.html").write_text("<h1>Science report</h1>")
    return {"labelled": build(demo, sweep, root / "labelled"), "bare": bare}


def test_landing_shows_the_headline_the_unexplained_and_the_report(sites, browser):
    with site.serve(sites["labelled"]) as url:
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        problems = watch_console(page)
        page.goto(f"{url}index.html")
        page.wait_for_selector(".headline table")
        methods = page.locator(".headline tbody td:first-child").all_inner_texts()
        assert methods == ["relu_64", "random:relu_64", "random-l0:relu_64", "topk_96", "random:topk_96",
                           "random-l0:topk_96", "probe:resid.2", "untrained probe:resid.2", "always-on"]
        assert "legality *" in page.locator(".headline thead").inner_text()
        assert "600 / 200 / 200 positions" in page.locator(".headline .note").inner_text()  # split sizes labelled
        assert "labels · test · 200 pos." in page.locator(".sae-card").first.inner_text().lower()  # CSS upper-cases it
        # the important-but-unexplained list links to its features, most important first
        links = page.locator(".candidates a")
        assert links.all_inner_texts() == ["#9", "#5"]
        href = page.locator(".report-link").get_attribute("href")
        with urllib.request.urlopen(url + href) as r:
            assert b"Science report" in r.read()
        links.first.click()
        page.wait_for_selector(".detail[data-feature='9']")
        card = page.locator(".label-card").inner_text()
        assert "legal a5" in card and "0.5" in card and "F1" in card
        page.close()
        assert problems == []


def test_labels_in_the_list_the_search_and_the_sort_by_importance(sites, browser):
    with site.serve(sites["labelled"]) as url:
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        problems = watch_console(page)
        page.goto(f"{url}index.html#sae=relu_64&dead=1")
        page.wait_for_selector(".detail[data-feature]")
        assert "no rule" in page.locator(".feature-row .lbl").first.inner_text()
        page.select_option(".controls select", "importance")
        page.wait_for_function("location.hash.includes('sort=importance')")
        page.locator(".feature-list").evaluate("el => { el.scrollTop = 0; el.dispatchEvent(new Event('scroll')); }")
        top = [page.locator(f".feature-row[style='top:{k * 46}px']") for k in range(3)]
        assert [r.locator(".fid").inner_text() for r in top] == ["#9", "#5", "#3"]
        assert [r.locator(".mval").inner_text() for r in top] == ["0.5", "0.3", "0.02"]
        assert top[2].locator(".lbl").inner_text() == "legal c2 and not stable_mine b1 · F1 0.91"
        page.fill(".controls input[type=search]", "STABLE_MINE b1")
        page.wait_for_function("document.querySelectorAll('.feature-row').length === 1")
        page.locator(".feature-row").click()
        page.wait_for_selector(".detail[data-feature='3']")
        card = page.locator(".label-card").inner_text()
        for text in ("legal c2 and not stable_mine b1", "conjunction", "0.96", "0.86", "0.91"):
            assert text in card
        page.close()
        assert problems == []


def test_without_concepts_the_page_says_there_are_no_labels(sites, browser):
    index = json.loads((sites["bare"] / "data" / "index.json").read_text())
    with site.serve(sites["bare"]) as url:
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        problems = watch_console(page)
        page.goto(f"{url}index.html")
        page.wait_for_selector(".labels-note")
        assert "no labels" in page.locator(".labels-note").inner_text()
        assert page.locator(".report-link").count() == 0
        page.goto(f"{url}index.html#sae={index['saes'][0]['name']}&f=0")
        page.wait_for_selector(".detail[data-feature='0'] .labels-note")
        assert page.locator("option[value=importance]").count() == 0 and page.locator("option[value=label_f1]").count() == 0
        page.close()
        assert problems == []
