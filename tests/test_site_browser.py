"""The built site in real headless Chromium (Debian's /usr/bin/chromium driven by Playwright).

Every page is opened from file:// and over HTTP under a sub-path (/repo/, as on GitHub Pages);
charts must render, the console stay clean, and no request leave the site. The runs table sorts
and filters (free text and the filter grammar), selected runs open the compare page, and the
hostile strings of the shared store stay text (no dialog ever opens).
"""

from __future__ import annotations

# ruff: noqa: F811  (pytest fixtures imported from test_site_helpers are redefined as arguments)
import functools
import shutil
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from test_site_helpers import XSS_PARAM, XSS_RUN_NAME, built_site, site_repo  # noqa: F401 - fixtures

CHROMIUM = Path("/usr/bin/chromium")
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--no-first-run",
]

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(), reason="Debian's chromium is not installed (scripts/install-system-deps.sh)"
)

Site = tuple[Path, dict[str, Any]]


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def browser_context(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    playwright = pytest.importorskip("playwright.sync_api")
    with playwright.sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            str(tmp_path_factory.mktemp("chromium-profile")),
            executable_path=str(CHROMIUM),
            args=FLAGS,
            viewport={"width": 1280, "height": 900},
        )
        try:
            yield context
        finally:
            context.close()


@pytest.fixture(scope="module")
def served(built_site: Site, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The built site served by a real http.server on 127.0.0.1 under /repo/ (a Pages-like sub-path)."""
    out, _ = built_site
    www = tmp_path_factory.mktemp("www")
    shutil.copytree(out, www / "repo")
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(www)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/repo/"
    finally:
        server.shutdown()
        server.server_close()


class Watch:
    """Console errors, page errors, dialogs and every request of one page."""

    def __init__(self, page: Any):
        self.errors: list[str] = []
        self.dialogs: list[str] = []
        self.requests: list[str] = []
        page.on(
            "console",
            lambda m: self.errors.append(f"console {m.type}: {m.text}") if m.type in ("error", "warning") else None,
        )
        page.on("pageerror", lambda e: self.errors.append(f"pageerror: {e}"))
        page.on("dialog", self._dialog)
        page.on("request", lambda r: self.requests.append(r.url))
        # CDP sees what Playwright's events miss (the favicon request, for one).
        cdp = page.context.new_cdp_session(page)
        cdp.send("Network.enable")
        cdp.on("Network.requestWillBeSent", lambda e: self.requests.append(e["request"]["url"]))

    def _dialog(self, dialog: Any) -> None:
        self.dialogs.append(dialog.message)
        dialog.dismiss()

    def check(self, base: str) -> None:
        assert not self.errors, self.errors
        assert not self.dialogs, f"a dialog opened: {self.dialogs}"
        outside = [u for u in self.requests if not u.startswith(base) and not u.startswith("data:")]
        assert not outside, f"requests left the site: {outside}"


def _open(context: Any, url: str) -> tuple[Any, Watch]:
    page = context.new_page()
    watch = Watch(page)
    page.goto(url, wait_until="load")
    return page, watch


def _wait_charts(page: Any) -> int:
    """Wait until every chart on the page has drawn (canvas or svg); returns how many."""
    count = page.locator(".chart").count()
    if count:
        page.wait_for_function(
            "() => [...document.querySelectorAll('.chart')].every(c => c.querySelector('canvas, svg'))", timeout=20000
        )
    return count


def _bases(out: Path, served: str) -> list[tuple[str, str]]:
    file_base = out.resolve().as_uri() + "/"
    return [(file_base, file_base), (served, served)]


def test_every_page_renders_offline_with_no_outside_request(
    built_site: Site, served: str, browser_context: Any
) -> None:
    out, facts = built_site
    pages = [
        "index.html",
        "history.html",
        f"experiments/{facts['alpha']}.html",
        f"experiments/{facts['beta']}.html",
        f"runs/{facts['runs']['long']}.html",
        f"runs/{facts['runs'][XSS_RUN_NAME]}.html",
        f"compare.html?runs={facts['runs']['good']},{facts['runs']['bad']}",
    ]
    for base, allowed in _bases(out, served):
        for rel in pages:
            page, watch = _open(browser_context, base + rel)
            charts = _wait_charts(page)
            if rel.startswith(("experiments/", "runs/", "history", "compare")):
                assert charts >= 1, f"no chart on {rel}"
            if rel.startswith("compare"):
                page.wait_for_function("() => document.querySelectorAll('#compare-charts .chart canvas').length == 2")
            watch.check(allowed)
            page.close()


def test_runs_table_sorts_filters_and_compares(built_site: Site, served: str, browser_context: Any) -> None:
    _, facts = built_site
    page, watch = _open(browser_context, f"{served}experiments/{facts['alpha']}.html")
    rows = page.locator("#runs-table tbody tr:not(.spacer)")

    def names() -> list[str]:
        return [rows.nth(i).locator("td").nth(1).inner_text() for i in range(rows.count())]

    assert names() == ["long", XSS_RUN_NAME, "bad", "good"]  # newest first
    page.click('th[data-col="m:val_acc"] button')
    assert names() == ["long", "good", XSS_RUN_NAME, "bad"]  # best first
    page.click('th[data-col="m:val_acc"] button')
    assert names() == ["bad", XSS_RUN_NAME, "good", "long"]
    assert page.locator('th[data-col="m:val_acc"]').get_attribute("aria-sort") == "ascending"
    # The XSS param shows as text in its cell.
    opt_cells = page.locator('#runs-table tbody td:has-text("onerror")')
    assert opt_cells.first.inner_text() == XSS_PARAM
    # The filter grammar, with OR, evaluated in the browser.
    page.fill("#filter", "params.lr < 0.005 OR metrics.val_acc > 0.92")
    page.wait_for_function("() => document.querySelector('#row-count').textContent.startsWith('2 of 4')")
    assert sorted(names()) == sorted(["long", XSS_RUN_NAME])
    page.fill("#filter", "params.lr <")
    page.wait_for_function("() => document.querySelector('#filter-error').textContent.includes('expected a value')")
    page.fill("#filter", "")
    page.fill("#search", "bad")
    page.wait_for_function("() => document.querySelector('#row-count').textContent.startsWith('1 of 4')")
    assert names() == ["bad"]
    page.fill("#search", "")
    page.wait_for_function("() => document.querySelector('#row-count').textContent.startsWith('4 of 4')")
    # Column chooser: hide the status column.
    page.click("details.columns summary")
    page.uncheck('#column-list input[data-col="status"]')
    assert page.locator('th[data-col="status"]').count() == 0
    # Select two runs, then compare them.
    for name in ("good", "bad"):
        page.locator(f'#runs-table tbody tr[data-run-id="{facts["runs"][name]}"] input.row-select').check()
    link = page.locator("#compare-link")
    assert link.inner_text() == "Compare selected (2)"
    link.click()
    page.wait_for_url("**/compare.html?runs=*")
    page.wait_for_function("() => document.querySelectorAll('#compare-charts .chart canvas').length == 2")
    headers = page.locator("#compare-params thead th").all_inner_texts()
    assert sorted(headers[1:]) == ["bad", "good"]
    assert page.locator('#compare-params tr[data-param="lr"]').get_attribute("class") == "diff"
    page.check("#only-diff")
    assert page.locator('#compare-params tr[data-param="opt"]').is_visible()
    assert page.locator("#compare-summary tbody tr").count() >= 5
    watch.check(served)
    page.close()


def test_hostile_strings_stay_inert(built_site: Site, served: str, browser_context: Any) -> None:
    out, facts = built_site
    xss = facts["runs"][XSS_RUN_NAME]
    for base, allowed in _bases(out, served):
        page, watch = _open(browser_context, f"{base}runs/{xss}.html")
        _wait_charts(page)
        assert page.locator("h1").inner_text().startswith(XSS_RUN_NAME)
        assert page.locator("table.params td").all_inner_texts()[2] == XSS_PARAM
        assert page.locator("#note img").count() == 0 and page.locator("#note script").count() == 0
        hrefs = page.eval_on_selector_all("#note a", "els => els.map(a => a.getAttribute('href'))")
        assert all(h is None or not h.lower().startswith("javascript") for h in hrefs)
        assert page.evaluate("() => document.querySelectorAll('[onerror]').length") == 0
        page.click("#note a")  # a link without href: nothing happens
        page.close()
        page, watch2 = _open(browser_context, f"{base}compare.html?runs={xss},{facts['runs']['good']}")
        page.wait_for_function("() => document.querySelectorAll('#compare-charts .chart canvas').length == 2")
        assert XSS_RUN_NAME in page.locator("#compare-summary thead").inner_text()
        page.wait_for_timeout(200)
        watch.check(allowed)
        watch2.check(allowed)
        page.close()


def test_run_chart_controls(built_site: Site, browser_context: Any) -> None:
    out, facts = built_site
    page, watch = _open(browser_context, (out / "runs" / f"{facts['runs']['long']}.html").resolve().as_uri())
    assert _wait_charts(page) == 2
    page.check("#log-scale")
    page.select_option("#x-axis", "time")
    page.fill("#smoothing", "0.9")
    page.dispatch_event("#smoothing", "input")
    page.wait_for_timeout(600)
    assert _wait_charts(page) == 2
    watch.check(out.resolve().as_uri())
    page.close()
