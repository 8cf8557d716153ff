"""The site's filter grammar (site/filter.js) agrees with gitrun.search on shared cases.

tests/fixtures/filter_cases.json holds runs, filters with the names they match, and filters that
must be refused. The same file goes through gitrun.search (Python) and through site/filter.js in
headless Chromium.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
CASES = json.loads((ROOT / "tests" / "fixtures" / "filter_cases.json").read_text(encoding="utf-8"))
CHROMIUM = Path("/usr/bin/chromium")
NONFINITE = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}


class Row:
    def __init__(self, run: dict[str, Any]):
        self.run = run

    def metric(self, key: str) -> float | None:
        value = self.run["metrics"].get(key)
        return None if value is None else NONFINITE[value] if isinstance(value, str) else float(value)

    def param(self, key: str) -> str | None:
        return self.run["params"].get(key)  # type: ignore[no-any-return]

    def tag(self, key: str) -> str | None:
        return self.run["tags"].get(key)  # type: ignore[no-any-return]

    def attribute(self, key: str) -> Any:
        return self.run["attributes"].get(key)


def test_cases_cover_the_grammar() -> None:
    filters = " ".join(c["filter"] for c in CASES["cases"])
    for word in (" OR ", "NOT ", "(", "LIKE", "ILIKE", "IN (", "IS NULL", "IS NOT NULL", "`", '"', "''"):
        assert word in filters, word
    assert len(CASES["cases"]) >= 50 and len(CASES["errors"]) >= 10


@pytest.mark.parametrize("case", CASES["cases"], ids=lambda c: c["filter"] or "(empty)")
def test_python_matches_the_cases(case: dict[str, Any]) -> None:
    from gitrun.search.evaluate import compile_filter
    from gitrun.search.grammar import parse_filter

    predicate = compile_filter(parse_filter(case["filter"]))
    names = [r["name"] for r in CASES["runs"] if predicate is None or predicate(Row(r))]
    assert names == case["expected"]


@pytest.mark.parametrize("source", CASES["errors"])
def test_python_refuses_the_bad_filters(source: str) -> None:
    from gitrun.errors import FilterSyntaxError
    from gitrun.search.grammar import parse_filter

    with pytest.raises(FilterSyntaxError):
        parse_filter(source)


EVALUATE = """
([cases, runs, errors]) => {
  const NONFINITE = {"NaN": NaN, "Infinity": Infinity, "-Infinity": -Infinity};
  const accessor = (run) => ({
    metric: (k) => { const v = run.metrics[k]; return v === undefined ? undefined : (typeof v === "string" ? NONFINITE[v] : v); },
    param: (k) => run.params[k],
    tag: (k) => run.tags[k],
    attr: (k) => { const v = run.attributes[k]; return v === null ? undefined : v; },
  });
  const results = cases.map((c) => {
    try {
      const pred = GitrunFilter.compile(c.filter);
      return runs.filter((r) => pred(accessor(r))).map((r) => r.name);
    } catch (e) { return "error: " + e.message; }
  });
  const refused = errors.map((source) => {
    try { GitrunFilter.compile(source); return null; }
    catch (e) { return e instanceof GitrunFilter.FilterError ? e.position : "wrong error " + e; }
  });
  return {results, refused};
}
"""


@pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed (scripts/install-system-deps.sh)")
def test_browser_matches_the_cases(tmp_path: Path) -> None:
    playwright = pytest.importorskip("playwright.sync_api")
    from test_site_browser import FLAGS

    with playwright.sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            str(tmp_path / "profile"), executable_path=str(CHROMIUM), args=FLAGS
        )
        try:
            page = context.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto("about:blank")
            page.add_script_tag(content=(ROOT / "site" / "filter.js").read_text(encoding="utf-8"))
            out = page.evaluate(EVALUATE, [CASES["cases"], CASES["runs"], CASES["errors"]])
        finally:
            context.close()
    assert not errors
    mismatches = [
        (case["filter"], case["expected"], got)
        for case, got in zip(CASES["cases"], out["results"], strict=True)
        if got != case["expected"]
    ]
    assert not mismatches, mismatches
    accepted = [source for source, pos in zip(CASES["errors"], out["refused"], strict=True) if not isinstance(pos, int)]
    assert not accepted, accepted
