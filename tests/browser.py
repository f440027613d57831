"""Shared pieces of the real-browser tests (Debian chromium driven by playwright; vis/site.py).

A browser test module imports `real_browser` (autouse: under CI=true a missing browser fails the
module, elsewhere it skips) and `browser` (one chromium per module), and calls `watch_console` on
each page it opens to collect console errors and warnings.
"""
import os

import pytest

from vis import site


@pytest.fixture(scope="module", autouse=True)
def real_browser():
    """Chromium + playwright must be here; under CI their absence is a failure, never a skip."""
    problem = site.browser_problem()
    if problem is None:
        return
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI=true but the real-browser test cannot run: {problem}", pytrace=False)
    pytest.skip(f"real-browser test needs playwright + chromium: {problem}")


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        b = site.launch(p)
        yield b
        b.close()


def watch_console(page, failed_requests=False):
    """A list that collects the page's console errors and warnings, page errors and, with
    `failed_requests`, every request that failed."""
    problems = []
    page.on("console", lambda m: problems.append(f"console.{m.type}: {m.text}") if m.type in ("error", "warning") else None)
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    if failed_requests:
        page.on("requestfailed", lambda r: problems.append(f"request failed: {r.url}"))
    return problems
