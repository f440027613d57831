"""Stage and serve the viewer for tests and benchmarks (the user's way is `python -m http.server`).

`stage(dest)` copies the static page (index.html, js/, css/) into `dest`, so a test can
generate its data into `dest/data` without touching the developer's vis/data.
`serve(folder)` runs `python -m http.server` on a free local port in a subprocess and
stops it on exit, exactly as a user would serve the folder.
"""
import contextlib
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

VIS = Path(__file__).resolve().parent
STATIC = ["index.html", "js", "css"]
CHROMIUM = "/usr/bin/chromium"  # Debian's package; never `playwright install`


def stage(dest):
    """Copy the page's static files into `dest`; return it."""
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    for name in STATIC:
        src = VIS / name
        if src.is_dir():
            shutil.copytree(src, dest / name, dirs_exist_ok=True)
        else:
            shutil.copy2(src, dest / name)
    return dest


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def serve(folder, timeout=10.0):
    """`python -m http.server` on 127.0.0.1 serving `folder`; yields the base URL."""
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1"], cwd=folder,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + timeout
        while True:  # wait until it answers
            try:
                urllib.request.urlopen(url, timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise RuntimeError(f"http.server did not start on port {port}")
                time.sleep(0.05)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()


def browser_problem():
    """Why a real-browser check cannot run here (None if it can)."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "python playwright is not installed (pip install playwright)"
    if not Path(CHROMIUM).is_file():
        return f"{CHROMIUM} not found (apt-get install -y chromium)"
    return None


def launch(playwright):
    """Headless Debian chromium (no sandbox: tests may run as root in a container)."""
    return playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])


def time_first_feature(browser, url, timeout_ms=20000, on_page=None):
    """Open `url` (a #sae=...&f=... link) in a fresh context; return (wall ms, page-reported ms, page, watched).

    Wall ms: from starting the navigation to the feature's detail being visible, measured here.
    Page ms: `window.firstFeatureMs`, the page's performance.now() (from navigation start) when
    it rendered the first feature. `on_page(page)` runs before the navigation (to attach listeners);
    its result is returned as `watched`. The caller closes the page's context.
    """
    ctx = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = ctx.new_page()
    watched = on_page(page) if on_page else None
    t0 = time.perf_counter()
    page.goto(url)
    # data-feature is set once the whole detail (boards, heatmap, histogram) is in the DOM
    page.wait_for_selector(".detail[data-feature]", state="visible", timeout=timeout_ms)
    wall = (time.perf_counter() - t0) * 1000
    return wall, page.evaluate("window.firstFeatureMs"), page, watched


def time_lab_edits(browser, url, edits=10, timeout_ms=60000):
    """Open the board lab at `url` (a #lab=... link) in a fresh context and play `edits` moves by clicking;
    return (ms to the lab's first render, [per-edit ms], [per-edit ms of the forward passes alone]).

    Per-edit ms is the page's own measure (`window.labTimings`: forward passes of the network and every
    SAE of the site, then the DOM rebuilt), from the click's handler to the new view being in the DOM.
    """
    ctx = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = ctx.new_page()
    t0 = time.perf_counter()
    page.goto(url)
    page.wait_for_selector(".lab[data-position]", timeout=timeout_ms)
    first = (time.perf_counter() - t0) * 1000
    legal = ".lab-board .lab-sq:has(circle.legal), .lab-board .lab-sq:has(circle.net-move)"
    for i in range(edits):
        if page.locator(legal).count() == 0:  # game over (or only a pass): start again
            page.click("text=start")
            page.wait_for_function(f"window.labTimings.length === {i + 2}")
            continue
        page.locator(legal).first.click()
        page.wait_for_function(f"window.labTimings.length === {i + 2}")
    timings = page.evaluate("window.labTimings.slice(1)")
    ctx.close()
    return first, [t["total"] for t in timings], [t["compute"] for t in timings]
