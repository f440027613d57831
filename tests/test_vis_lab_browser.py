"""The board lab in a real browser (Debian chromium through playwright): the in-page forward pass of
the network and of every SAE architecture against PyTorch, then the lab as a researcher uses it
(open a board from a feature page, steer a feature, play, undo, edit), search by label and by
"fires on this board". Under CI (CI=true) a missing playwright or chromium FAILS the test.
"""
import json

import numpy as np
import pytest
import torch

from alphazero.checkpoint import load_network
from alphazero.network import NetConfig, value_from_logits
from othello import game
from othello.sampling import random_games
from sae.export import from_saelens
from tests import demo_data
from vis import generate_vis_data, site
from vis import weights as W
from tests.browser import browser, real_browser, watch_console  # noqa: F401 (fixtures)

LAB_NET = NetConfig(d_model=64, n_blocks=4, d_hidden=1024)  # its fc1/fc2 (65536 weights) are stored as float16
SAES = (("relu", 1024), ("topk", 256), ("jumprelu", 64), ("gated", 48))  # relu_1024's matrices are float16
LABELLED = "topk_256"
POSITIONS = 1000
CODED = 200  # positions on which the SAE codes are compared too (4096-wide codes are slow to ship out of the page)


@pytest.fixture(scope="module")
def lab_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("lab_site")
    labels = [None] * 256
    labels[5] = {"property": "c4 mine", "f1": 0.81, "precision": 0.9, "recall": 0.7, "f1_train": 0.8, "threshold": 0.0}
    labels[9] = {"property": "a5 legal", "f1": 0.42, "precision": 0.5, "recall": 0.4, "f1_train": 0.4, "threshold": 0.0}
    extra = {LABELLED: {"concepts": {"coverage": {"all": 0.5}, "reconstruction": {"square_acc": 0.75}, "features": labels}}}
    paths = demo_data.make_demo(root / "in", n_games=24, saes=SAES, net_cfg=LAB_NET, extra_metrics=extra)
    site.stage(root / "www")
    assert generate_vis_data.main(["--checkpoint", str(paths["checkpoint"]), "--sae.out", str(paths["sae_dir"]),
                                   "--collect.out", str(paths["acts"]), "--vis.out", str(root / "www" / "data"),
                                   "--device", "cpu", "--vis.effect-samples", "4"]) == 0
    return {"www": root / "www", "checkpoint": paths["checkpoint"]}


def held_out_positions(n, seed=12345):
    """`n` distinct positions of random games no store of the tests holds: boards [n, 36] and legal [n, 37]."""
    pos = random_games(3 * n // 20 + 10, seed, unique=True)
    boards = game.to_planes(pos["me"], pos["opp"])[:n]
    return boards.astype(np.int8), game.legal_mask(pos["me"], pos["opp"])[:n].astype(bool)


PAGE_FORWARD = """async ([boards, saeNames, coded]) => {
  const d = await import("./js/data.js");
  const index = await d.loadIndex();
  const net = await d.loadNet(index);
  const saes = saeNames.map((n) => index.saes.find((s) => s.name === n));
  const models = await Promise.all(saes.map(d.loadSae));
  const out = {logits: [], wdl: [], codes: saes.map(() => [])};
  const t0 = performance.now();
  for (const [row, b] of boards.entries()) {
    const r = net.run(Int8Array.from(b));
    out.logits.push(Array.from(r.logits));
    out.wdl.push(Array.from(r.wdl));
    if (row < coded) saes.forEach((s, k) => { // sparse: [ids, values] (a dense 4096-wide code per position is slow to ship)
      const f = models[k].encode(r.acts[net.siteIndex(s.site)]), ids = [...f.keys()].filter((i) => f[i] !== 0);
      out.codes[k].push([ids, ids.map((i) => f[i])]);
    });
  }
  out.ms = (performance.now() - t0) / boards.length;
  return out;
}"""


def page_forward(page, boards, sae_names=(), coded=0):
    """The page's network on `boards` [n, 36] (and the SAE codes, sparse, on the first `coded`):
    {logits, wdl, codes, ms (per position)}."""
    return page.evaluate(PAGE_FORWARD, [boards.tolist(), list(sae_names), coded])


def forward_gap(net, boards, legal, got):
    """Largest |difference| between PyTorch's float32 network and the page's: policy probabilities over all 37
    actions and over the legal ones, and the value P(win) - P(loss)."""
    with torch.inference_mode():
        logits, wdl = net(torch.from_numpy(boards.astype(np.float32)))
    page_logits, page_wdl = torch.tensor(got["logits"]), torch.tensor(got["wdl"])
    mask = torch.from_numpy(legal)
    masked = lambda x: x.masked_fill(~mask, float("-inf")).softmax(-1)
    return {"policy": float((logits.softmax(-1) - page_logits.softmax(-1)).abs().max()),
            "policy_legal": float((masked(logits) - masked(page_logits)).abs().max()),
            "value": float((value_from_logits(wdl) - value_from_logits(page_wdl)).abs().max())}


def test_forward_pass_matches_pytorch(lab_root, browser):
    """1000 held-out positions: the page's network matches PyTorch's float32 one to 1e-3 in policy probability,
    and each SAE's in-page encoder matches PyTorch's encoder on the weights the page has."""
    boards, legal = held_out_positions(POSITIONS)
    index = json.loads((lab_root["www"] / "data" / "index.json").read_text())
    names = [s["name"] for s in index["saes"]]
    with site.serve(lab_root["www"]) as url:
        page = browser.new_page()
        problems = watch_console(page)
        page.goto(url + "index.html")
        page.wait_for_selector(".sae-card")
        got = page_forward(page, boards, names, CODED)
        # float16 decoding: every bit pattern as numpy reads it
        halves = page.evaluate("""async () => { const w = await import("./js/weights.js");
            return Array.from(w.decodeHalf(Uint16Array.from({length: 65536}, (_, i) => i))); }""")
        page.close()
    want = np.arange(65536, dtype=np.uint16).view(np.float16).astype(np.float64)
    assert np.array_equal(np.array(halves, dtype=np.float64), want, equal_nan=True)
    gap = forward_gap(load_network(lab_root["checkpoint"]), boards, legal, got)
    print(f"in-page forward pass on {POSITIONS} positions: max |dp| {gap['policy']:.2e} (legal {gap['policy_legal']:.2e}), "
          f"max |dvalue| {gap['value']:.2e}, {got['ms']:.3f} ms per position with {len(names)} SAEs")
    assert gap["policy"] <= 1e-3 and gap["policy_legal"] <= 1e-3 and gap["value"] <= 1e-3, gap

    # the SAEs read the page's own stream: PyTorch's network on the weights the page has gives it
    data = lab_root["www"] / "data"
    net = load_network(lab_root["checkpoint"])
    page_net = W.unpack(W.decode((data / index["net"]["file"]).read_bytes()), index["net"]["tensors"])
    net.load_state_dict({k: torch.from_numpy(v) for k, v in page_net.items()})
    with torch.inference_mode():
        _, _, cache = net.run_with_cache(torch.from_numpy(boards[:CODED].astype(np.float32)), net.sites)
    for k, s in enumerate(index["saes"]):
        w = s["weights"]
        tensors = {n: torch.from_numpy(a) for n, a in W.unpack(W.decode((data / w["file"]).read_bytes()), w["tensors"]).items()}
        sae = from_saelens(w["architecture"], tensors, w["k"], w["apply_b_dec_to_input"])
        with torch.inference_mode():
            f = sae.encode(cache[s["site"]].float()).numpy()
        page_f = np.zeros_like(f)
        for row, (ids, vals) in enumerate(got["codes"][k]):
            page_f[row, ids] = vals
        scale = max(1.0, float(np.abs(f).max()))
        assert np.abs(page_f - f).max() <= 1e-4 * scale, (s["name"], np.abs(page_f - f).max())
        assert (page_f > 0).sum() > 0
    assert problems == []


def test_board_lab_from_a_feature_page(lab_root, browser):
    """Click a top board -> the lab shows it; steer a feature -> policy and value change; play, undo, edit;
    play against the network; the numbers on screen are the page's forward pass."""
    index = json.loads((lab_root["www"] / "data" / "index.json").read_text())
    with site.serve(lab_root["www"]) as url:
        ctx = browser.new_context(viewport={"width": 1500, "height": 1000})
        page = ctx.new_page()
        problems = watch_console(page)
        page.goto(f"{url}index.html#sae={LABELLED}")
        page.wait_for_selector(".detail[data-feature] .board-card")
        page.locator(".examples .board-card").first.click()
        page.wait_for_selector(".lab[data-position]")
        assert "lab=" in page.url and "site=resid.2" in page.url
        position = page.locator(".lab").get_attribute("data-position")
        assert page.locator(".lab-sae").count() == len(index["saes"])  # every SAE of the site
        assert page.locator(f".lab-sae[data-sae='{LABELLED}'] tr").count() > 0  # the board fires the feature shown
        assert page.locator(".lab-policy rect.heat").count() == 36 and page.locator(".pass-cell").count() == 1
        value0 = page.locator(".lab-value b").inner_text()
        page.screenshot(path=str(lab_root["www"].parent / "lab.png"), full_page=True)

        # "fires on this board": the SAE page's list narrowed to the same features the lab shows
        n_active = int(page.locator(f".lab-sae[data-sae='{LABELLED}'] h3 .note").inner_text().split("·")[1].split()[0])
        page.locator(f".lab-sae[data-sae='{LABELLED}'] a", has_text="these features").click()
        page.wait_for_selector(".firing-line:not([hidden])")
        assert page.locator(".firing-line").inner_text().startswith(f"{n_active} features fire on this position")
        page.go_back()
        page.wait_for_selector(f".lab[data-position='{position}']")

        # steer: clamp the strongest feature of the big SAE far up -> a steered policy with deltas
        panel = page.locator(".lab-sae[data-sae='relu_1024']")
        panel.locator("tr").first.locator("button", has_text="max").click()
        page.wait_for_selector(".lab-sae[data-sae='relu_1024'] .steer")
        panel.locator(".steer-value").fill("50")
        panel.locator(".steer-value").dispatch_event("change")
        page.wait_for_function("document.querySelector('.lab-value').textContent.includes('unsteered')")
        assert "Policy (steered)" in page.locator(".lab-mid h3").inner_text()
        assert page.locator(".lab-value b").inner_text() != value0 or "Δ" in page.locator(".top-moves").inner_text()
        page.wait_for_function("location.hash.includes('steer=relu_1024')")  # the link follows, after a pause
        page.click("text=clear all steering")
        page.wait_for_function("!document.querySelector('.lab-value').textContent.includes('unsteered')")

        # play a legal move, undo it, edit a square
        legal_sq = page.locator(".lab-board .lab-sq:has(circle.legal), .lab-board .lab-sq:has(circle.net-move)").first
        legal_sq.click()
        page.wait_for_function(f"document.querySelector('.lab').dataset.position !== '{position}'")
        page.click("text=undo")
        page.wait_for_function(f"document.querySelector('.lab').dataset.position === '{position}'")
        page.click("button.mode")
        empty = next(i for i, ch in enumerate(position[:36]) if ch == "-")
        page.locator(f".lab-board .lab-sq[data-a='{empty}']").click()
        page.wait_for_function(f"document.querySelector('.lab').dataset.position[{empty}] === 'x'")
        page.click("button.mode")

        # from the start, the network plays White: one human move is answered by one network move
        page.click("text=start")
        page.select_option(".versus select", "-1")
        page.locator(".lab-board .lab-sq:has(circle.legal), .lab-board .lab-sq:has(circle.net-move)").first.click()
        page.wait_for_function("document.querySelector('.lab').dataset.position.endsWith('x') && "
                               "document.querySelector('.lab').dataset.position.replace(/-/g, '').length === 7")
        page.click("text=undo")  # back past the network's reply to the human's turn
        start = "".join("x" if a in (15, 20) else "o" if a in (14, 21) else "-" for a in range(36)) + "x"
        page.wait_for_function(f"document.querySelector('.lab').dataset.position === '{start}'")
        ctx.close()
        assert problems == []
        # timings are for bench/bench_vis to record, never asserted: this machine is shared and noisy
        first, total, compute = site.time_lab_edits(browser, url + "index.html#lab=", edits=6)
        print(f"board lab: first render {first:.0f} ms; per edit median {np.median(total):.1f} ms (forward passes "
              f"{np.median(compute):.1f} ms), max {max(total):.1f} ms over {len(total)}")


def test_search_by_label_and_by_board(lab_root, browser):
    """The feature map opens the dot clicked; `on=POSITION` narrows the list to the features firing there, largest
    first, as the lab computes them (search and sort by label: tests/test_vis_labels_browser.py)."""
    start = "".join("x" if a in (15, 20) else "o" if a in (14, 21) else "-" for a in range(36)) + "x"
    with site.serve(lab_root["www"]) as url:
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        problems = watch_console(page)
        page.goto(f"{url}index.html#sae={LABELLED}&dead=1")
        page.wait_for_selector(".detail[data-feature]")
        # the feature map: a click on a dot opens that feature
        summary = json.loads((lab_root["www"] / "data" / "saes" / LABELLED / "features.json").read_text())
        xy = np.array([summary["map_x"], summary["map_y"]]).T
        current = int(page.locator(".detail").get_attribute("data-feature"))
        target = int(np.abs(xy - xy[current]).sum(1).argmax())  # far from the feature shown
        box = page.locator(".feature-map").bounding_box()
        pad, size = 8, box["width"]
        page.mouse.click(box["x"] + pad + summary["map_x"][target] * (size - 2 * pad),
                         box["y"] + pad + (1 - summary["map_y"][target]) * (size - 2 * pad))
        page.wait_for_function(f"document.querySelector('.detail').dataset.feature !== '{current}'")
        shown = int(page.locator(".detail").get_attribute("data-feature"))
        assert np.abs(xy[shown] - xy[target]).max() < 0.03  # the dot clicked (or one drawn on top of it)

        page.goto(f"{url}index.html#sae={LABELLED}&on={start}")
        page.wait_for_selector(".firing-line:not([hidden])")
        n = int(page.locator(".firing-line").inner_text().split()[0])
        assert n == page.locator(".feature-row").count() or n > 20
        acts = [float(t) for t in page.locator(".feature-row .mval").all_inner_texts()]
        assert acts == sorted(acts, reverse=True) and n > 0
        page.close()
        assert problems == []


def test_damaged_weights_are_named(lab_root, browser, tmp_path):
    """A weight file cut short, or an index whose tensor list does not fit the network, is a message naming the file."""
    import shutil
    www = shutil.copytree(lab_root["www"], tmp_path / "www")
    data = www / "data"
    net_file = data / "net" / "weights.bin"
    net_file.write_bytes(net_file.read_bytes()[:-100])
    with site.serve(www) as url:
        page = browser.new_page()
        page.goto(f"{url}index.html#lab=")
        page.wait_for_selector(".no-data")
        text = page.locator(".no-data").inner_text()
        assert "data/net/weights.bin" in text and "truncated or damaged" in text, text
        page.close()
        index = json.loads((data / "index.json").read_text())
        del index["saes"][0]["weights"]["tensors"]["b_dec"]
        (data / "index.json").write_text(json.dumps(index))
        page = browser.new_page()
        page.goto(f"{url}index.html")
        page.wait_for_selector(".no-data")
        text = page.locator(".no-data").inner_text()
        assert f"data/index.json: saes[0] ({index['saes'][0]['name']}).weights holds tensors" in text, text
        page.close()
