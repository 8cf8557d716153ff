"""Accessibility and polish of the built site in real headless Chromium: axe-core (from npm,
scripts/node) finds no serious or critical violation on any page, in the light and the dark
theme; controls are reachable from the keyboard with a visible focus ring; the dark theme
follows prefers-color-scheme; print leaves the controls out."""

from __future__ import annotations

# ruff: noqa: F811  (pytest fixtures imported from other test modules are redefined as arguments)
from pathlib import Path
from typing import Any

import pytest
from test_site_browser import CHROMIUM, XSS_RUN_NAME, Watch, _wait_charts, browser_context  # noqa: F401
from test_site_helpers import built_site, site_repo  # noqa: F401 - fixtures

from tests.helpers.diffkit import node_tools

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed")

Site = tuple[Path, dict[str, Any]]
SERIOUS = ("serious", "critical")


def axe_source() -> str:
    return (node_tools() / "node_modules" / "axe-core" / "axe.min.js").read_text(encoding="utf-8")


def violations(page: Any, source: str) -> list[dict[str, Any]]:
    page.add_script_tag(content=source)
    result = page.evaluate("() => axe.run(document, { resultTypes: ['violations'], preload: false })")
    return [
        {"id": v["id"], "impact": v["impact"], "nodes": [n["target"] for n in v["nodes"]][:5]}
        for v in result["violations"]
        if v["impact"] in SERIOUS
    ]


def pages(facts: dict[str, Any]) -> list[str]:
    return [
        "index.html",
        "history.html",
        f"experiments/{facts['alpha']}.html",
        f"experiments/{facts['beta']}.html",
        f"runs/{facts['runs']['good']}.html",
        f"runs/{facts['runs'][XSS_RUN_NAME]}.html",
        f"compare.html?runs={facts['runs']['good']},{facts['runs']['bad']}",
    ]


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_axe_core_finds_no_serious_violation(built_site: Site, browser_context: Any, scheme: str) -> None:
    out, facts = built_site
    source = axe_source()
    base = out.resolve().as_uri() + "/"
    found = {}
    for rel in pages(facts):
        page = browser_context.new_page()
        page.emulate_media(color_scheme=scheme)
        watch = Watch(page)
        page.goto(base + rel, wait_until="load")
        _wait_charts(page)
        found[rel] = violations(page, source)
        watch.check(base)
        page.close()
    assert not any(found.values()), {k: v for k, v in found.items() if v}


def test_keyboard_reaches_the_table_controls_with_a_visible_focus(built_site: Site, browser_context: Any) -> None:
    out, facts = built_site
    page = browser_context.new_page()
    page.goto((out / "experiments" / f"{facts['alpha']}.html").resolve().as_uri(), wait_until="load")
    reached = []
    for _ in range(60):
        page.keyboard.press("Tab")
        info = page.evaluate(
            "() => { const e = document.activeElement; const s = getComputedStyle(e);"
            " return [e.tagName, e.closest('th') ? e.closest('th').getAttribute('data-col') : e.id,"
            " s.outlineStyle, s.outlineWidth]; }"
        )
        reached.append(info)
        if info[1] == "m:val_acc":
            break
    tag, col, style, width = reached[-1]
    assert (tag, col) == ("BUTTON", "m:val_acc"), reached  # a column's sort button, by Tab alone
    assert style == "solid" and width == "2px"  # the focus ring shows
    assert any(r[1] == "search" for r in reached) and any(r[1] == "filter" for r in reached)
    page.keyboard.press("Enter")  # sorts, as a click does
    assert page.locator('th[data-col="m:val_acc"]').get_attribute("aria-sort") in ("descending", "ascending")
    page.close()


def test_dark_theme_and_print_styles(built_site: Site, browser_context: Any) -> None:
    out, facts = built_site
    url = (out / "experiments" / f"{facts['alpha']}.html").resolve().as_uri()
    page = browser_context.new_page()
    page.emulate_media(color_scheme="dark")
    page.goto(url, wait_until="load")
    assert page.evaluate("() => getComputedStyle(document.documentElement).backgroundColor") == "rgb(13, 17, 23)"
    page.emulate_media(color_scheme="light")
    assert page.evaluate("() => getComputedStyle(document.documentElement).backgroundColor") == "rgb(255, 255, 255)"
    assert page.locator(".toolbar").first.is_visible()
    page.emulate_media(media="print")
    assert not page.locator(".toolbar").first.is_visible() and page.locator("#runs-table").is_visible()
    page.close()
