"""Benchmark: the feature viewer's data generation and first-feature time for a 4096-feature SAE.

    python -m bench.bench_vis [--features 4096] [--games 400] [--runs 5] [--record]

Builds stand-in inputs (tests/demo_data.py: a full-size random network, every position of
--games random games, a random --features SAE at resid.2), times the viewer-data stage
(`vis.generate_vis_data.build_viewer_data`, with the --vis.* settings) on them, serves the result with `python -m http.server` and
opens `index.html#sae=...&f=...` in headless Debian chromium --runs times, each in a
fresh browser context (cold cache). "Wall" is measured by the driver from the start of
the navigation to the feature's detail being in the page; "page" is the page's own
performance.now() at that moment (from navigation start). Then it times stepping to the
next feature with the arrow key (same shard, warm) and to a feature in another shard, and
the board lab: its first render from the start position (fetching and decoding the network's
and the SAE's weights) and `--lab-edits` moves played by clicking, each timed by the page from
the click to the new policy, value and active features in the DOM (vis.site.time_lab_edits).
Prints a table, saves a screenshot to bench/vis_feature.png, and with --record appends the
table to bench/RESULTS.md with machine, date and command.
"""
import dataclasses
import datetime
import json
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import tyro

import config
from bench import common
from tests import demo_data
from vis import site
from vis.generate_vis_data import build_viewer_data

BENCH = Path(__file__).resolve().parent


def machine():
    chromium = subprocess.run([site.CHROMIUM, "--version"], capture_output=True, text=True).stdout.strip()
    return f"{common.machine()}, {chromium}"


def step_ms(page, key_or_hash, expect):
    """Time from a key press (or hash change) to feature `expect` being rendered."""
    t0 = time.perf_counter()
    if key_or_hash.startswith("#"):
        page.evaluate(f"location.hash = {json.dumps(key_or_hash)}")
    else:
        page.keyboard.press(key_or_hash)
    page.wait_for_function(f"document.querySelector('.detail').dataset.feature === '{expect}'")
    return (time.perf_counter() - t0) * 1000


@dataclass(frozen=True)
class BenchVisArgs:
    features: int = 4096         # SAE size
    games: int = 400             # random games in the stand-in store
    runs: int = 5                # cold page loads to time
    lab_edits: int = 10          # moves played in the board lab per run (each one timed)
    record: bool = False         # append the table to bench/RESULTS.md
    cfg: Annotated[config.Config, tyro.conf.arg(name="")] = config.Config()


def main(argv=None):
    args = config.parse(BenchVisArgs, argv, __doc__)
    cfg = args.cfg
    problem = site.browser_problem()
    if problem:
        sys.exit(f"cannot run the browser benchmark: {problem}")

    from playwright.sync_api import sync_playwright
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        paths = demo_data.make_demo(tmp / "in", n_games=args.games, saes=(("relu", args.features),), seed=cfg.seed)
        www = site.stage(tmp / "www")
        t0 = time.perf_counter()
        build_viewer_data(paths["sae_dir"], paths["acts"], dataclasses.replace(cfg.vis, out=str(www / "data")), cfg.seed,
                          config.resolve_device(cfg.device), config.to_dict(cfg), paths["checkpoint"])
        gen_s = time.perf_counter() - t0
        index = json.loads((www / "data" / "index.json").read_text())
        sae = index["saes"][0]
        summary = json.loads((www / "data" / sae["dir"] / "features.json").read_text())
        alive = [i for i, d in enumerate(summary["dead"]) if not d]
        f0, far = alive[0], alive[len(alive) // 2]  # `far` lies in another shard
        size_kb = sum(f.stat().st_size for f in (www / "data").rglob("*") if f.is_file()) / 1024
        first_kb = sum((www / "data" / p).stat().st_size for p in
                       ["index.json", f"{sae['dir']}/features.json", f"{sae['dir']}/shards/0.json", "boards/0.bin"]) / 1024

        rows, lab = [], []
        with sync_playwright() as p, site.serve(www) as url:
            browser = site.launch(p)
            for r in range(args.runs):
                wall, page_ms, page, _ = site.time_first_feature(browser, f"{url}index.html#sae={sae['name']}&f={f0}")
                nxt = alive[1]
                same = step_ms(page, "ArrowRight", nxt)
                other = step_ms(page, f"#sae={sae['name']}&f={far}", far)
                if r == 0:
                    page.evaluate(f"location.hash = '#sae={sae['name']}&f={f0}'")
                    page.wait_for_function(f"document.querySelector('.detail').dataset.feature === '{f0}'")
                    page.screenshot(path=str(BENCH / "vis_feature.png"), full_page=True)
                page.context.close()
                rows.append((r + 1, wall, page_ms, same, other))
                lab.append(site.time_lab_edits(browser, f"{url}index.html#lab=", edits=args.lab_edits))
            browser.close()

    med = lambda k: statistics.median(row[k] for row in rows)
    lines = [
        f"| run | first feature, wall ms | first feature, page ms | next feature (→) ms | feature in another shard ms |",
        "|---|---|---|---|---|",
        *[f"| {r} | {w:.0f} | {p:.0f} | {s:.0f} | {o:.0f} |" for r, w, p, s, o in rows],
        f"| median | {med(1):.0f} | {med(2):.0f} | {med(3):.0f} | {med(4):.0f} |",
    ]
    edits = sorted(t for _, total, _ in lab for t in total)
    compute = sorted(t for _, _, c in lab for t in c)
    lines += ["", "| board lab | median | max |", "|---|---|---|",
              f"| first render, ms | {statistics.median(f for f, _, _ in lab):.0f} | {max(f for f, _, _ in lab):.0f} |",
              f"| per edit (click to new view), ms | {statistics.median(edits):.1f} | {edits[-1]:.1f} |",
              f"| per edit, forward passes only, ms | {statistics.median(compute):.1f} | {compute[-1]:.1f} |"]
    head = (f"{args.features}-feature SAE ({len(alive)} alive), {index['store']['positions']} test positions, "
            f"{index['boards']['count']} boards; generation {gen_s:.1f} s; vis/data {size_kb:.0f} KiB in all, "
            f"{first_kb:.0f} KiB fetched for the first feature (index, features.json, one shard, one board chunk).")
    print(head)
    print("\n".join(lines))
    if args.record:
        cmd = "python -m bench.bench_vis " + " ".join(argv if argv is not None else sys.argv[1:])
        common.record(f"## Feature viewer: first feature of a {args.features}-feature SAE\n\n"
                    f"{datetime.date.today().isoformat()}. Machine: {machine()}. Command: `{cmd.strip()}`.\n"
                    f"Served by `python -m http.server` on localhost; each run a fresh headless browser context.\n"
                    f"{head}\n\n" + "\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
