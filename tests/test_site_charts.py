"""Charts that fit the data on the site, as an MLflow user logs it (no primary metric, a value
logged once per run beside a curve): the run page shows a single value, not a one-point chart;
the experiment and compare pages draw a bar per run; curves name their direction. Built pages
parsed with BeautifulSoup (specs compared as dicts), then opened in real headless Chromium."""

from __future__ import annotations

# ruff: noqa: F811  (pytest fixtures imported from test_site_browser are redefined as arguments)
from pathlib import Path
from typing import Any

import pytest
from test_site_browser import CHROMIUM, _open, browser_context  # noqa: F401 - fixture
from test_site_helpers import EPOCH, built_site, load_data, site_repo, soup_of, spec_of  # noqa: F401 - fixtures

import gitrun
from gitrun import charts
from gitrun.site.build import BuildOptions, build_site
from gitrun.store import Store

Built = tuple[Path, dict[str, Any]]


@pytest.fixture
def once_site(repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Built:
    """Experiment "once": three runs, each logging ``test_acc`` once and ``loss`` over 3 steps."""
    client = gitrun.Client(repo / ".gitrun")
    exp = client.create_experiment("once")
    runs = {}
    for i, acc in enumerate([0.81, 0.93, 0.87]):
        run = client.create_run(exp, start_time=1_780_000_000_000 + i * 60_000, run_name=f"r{i}")
        run_id = run.info.run_id
        client.log_metric(run_id, "test_acc", acc, step=0)
        for step in range(3):
            client.log_metric(run_id, "loss", 1.0 / (step + 1 + i), step=step)
        client.set_terminated(run_id, "FINISHED", end_time=1_780_000_000_000 + i * 60_000 + 5_000)
        runs[f"r{i}"] = run_id
    monkeypatch.setenv("SOURCE_DATE_EPOCH", EPOCH)
    out = tmp_path / "_site"
    build_site(Store(repo / ".gitrun"), BuildOptions(output=out, strict=True))
    return out, {"experiment": exp, "runs": runs}


def test_run_page_shows_a_value_logged_once_as_a_value(once_site: Built) -> None:
    out, facts = once_site
    soup = soup_of(out / "runs" / f"{facts['runs']['r1']}.html")
    single = soup.select("figure.single-value")
    assert [f["data-metric"] for f in single] == ["test_acc"]
    assert single[0].select_one(".value").get_text(strip=True) == "0.93"
    assert "higher is better" in single[0].figcaption.get_text() and "logged once, at step 0" in single[0].get_text()
    chart_nodes = soup.select(".chart[data-kind=metric]")
    assert [n["data-metric"] for n in chart_nodes] == ["loss"]  # no one-point chart for test_acc
    specs = spec_of(soup)
    assert set(specs) == {chart_nodes[0]["data-spec"]}
    assert specs[chart_nodes[0]["data-spec"]] == charts.metric_curves(title="loss", by_run=False, direction="min")
    assert (out / "data" / "runs" / facts["runs"]["r1"] / "test_acc.csv").is_file()  # still downloadable


def test_experiment_page_curves_name_their_direction(once_site: Built) -> None:
    out, facts = once_site
    soup = soup_of(out / "experiments" / f"{facts['experiment']}.html")
    specs = spec_of(soup)
    # no primary metric: the first metric by name, "loss", has curves
    assert specs["best"] == charts.metric_curves(title="loss", by_run=True, direction="min")


def test_experiment_page_bars_when_the_chosen_metric_has_one_point_per_run(
    repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = gitrun.Client(repo / ".gitrun")
    exp = client.create_experiment("scalars", primary_metric="f1")
    for i, f1 in enumerate([0.5, 0.7, 0.6]):
        run_id = client.create_run(exp, run_name=f"s{i}").info.run_id
        client.log_metric(run_id, "f1", f1)
        client.set_terminated(run_id, "FINISHED")
    monkeypatch.setenv("SOURCE_DATE_EPOCH", EPOCH)
    out = tmp_path / "_site"
    build_site(Store(repo / ".gitrun"), BuildOptions(output=out, strict=True))
    specs = spec_of(soup_of(out / "experiments" / f"{exp}.html"))
    assert specs["best"] == charts.metric_bars(metric="f1", direction="max")
    data = load_data(out / "data" / "experiments" / f"{exp}.js")
    assert [(b["run"].split(" ·")[0], b["value"]) for b in data["best"]["bars"]] == [
        ("s1", 0.7),
        ("s2", 0.6),
        ("s0", 0.5),
    ]  # best first (gitrun.ranking)
    assert "runs" not in data["best"]


@pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed")
def test_compare_page_bars_for_values_logged_once_in_chromium(once_site: Built, browser_context: Any) -> None:
    out, facts = once_site
    base = out.resolve().as_uri() + "/"
    ids = ",".join(facts["runs"][name] for name in ("r0", "r1", "r2"))
    page, watch = _open(browser_context, f"{base}compare.html?runs={ids}")
    page.wait_for_function(
        "() => [...document.querySelectorAll('#compare-charts .chart')].length == 2 &&"
        " [...document.querySelectorAll('#compare-charts .chart')].every(c => c.getAttribute('data-rendered'))",
        timeout=20000,
    )
    kinds = page.eval_on_selector_all(
        "#compare-charts .chart", "els => els.map(e => [e.getAttribute('data-metric'), e.getAttribute('data-chart')])"
    )
    assert kinds == [["loss", "curves"], ["test_acc", "bars"]]
    watch.check(base)
    page.close()
    page, watch = _open(browser_context, f"{base}runs/{facts['runs']['r1']}.html")
    assert page.locator("figure.single-value .value").inner_text() == "0.93"
    page.wait_for_function("() => document.querySelector('.chart[data-kind=metric]').getAttribute('data-rendered')")
    watch.check(base)
    page.close()


def test_experiment_page_offers_grouping_by_params_and_tags(built_site: Built) -> None:
    out, facts = built_site
    data = load_data(out / "data" / "experiments" / f"{facts['alpha']}.js")
    # the best runs in order long, good, <script>, bad; lr differs on every run: no grouping by it
    assert data["best"]["groups"] == {
        "params.layers": ["6", "3", "3", "12"],
        "params.opt": ["adam", "adam", '"><img src=x onerror=alert(1)>', "sgd"],
    }
    soup = soup_of(out / "experiments" / f"{facts['alpha']}.html")
    assert spec_of(soup)["band"] == charts.metric_band(title="val_acc", direction="max")
    assert soup.select_one("#group-by option").get_text() == "no grouping"


@pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed")
def test_grouping_toggles_the_chart_in_chromium(built_site: Built, browser_context: Any) -> None:
    out, facts = built_site
    base = out.resolve().as_uri() + "/"
    page, watch = _open(browser_context, f"{base}experiments/{facts['alpha']}.html")
    page.wait_for_function("() => document.querySelector('#chart-best').getAttribute('data-rendered')")
    options = page.eval_on_selector_all("#group-by option", "els => els.map(o => o.value)")
    assert options == ["", "params.layers", "params.opt"]
    page.evaluate("() => document.querySelector('#chart-best').removeAttribute('data-rendered')")
    page.select_option("#group-by", "params.opt")
    page.wait_for_function("() => document.querySelector('#chart-best').getAttribute('data-rendered')")
    assert page.locator("#chart-best").get_attribute("data-grouped") == "params.opt"
    legend = page.evaluate(
        "() => GITRUN.bandRows(GITRUN_DATA[JSON.parse(document.getElementById('gitrun-page').textContent).data].best,"
        " 'params.opt').map(r => r.group)"
    )
    assert sorted(set(legend)) == sorted({"opt=adam", "opt=sgd", 'opt="><img src=x onerror=alert(1)>'})
    # the runs table folds by the same group
    groups = page.locator("#runs-table tr.group button.fold")
    assert groups.all_inner_texts() == [
        '▾ opt = "><img src=x onerror=alert(1)> (1 run)',
        "▾ opt = adam (2 runs)",
        "▾ opt = sgd (1 run)",
    ]
    rows = page.locator("#runs-table tbody tr[data-run-id]")
    assert rows.count() == 4
    groups.nth(1).focus()
    page.keyboard.press("Enter")  # fold "adam" from the keyboard
    assert rows.count() == 2 and groups.nth(1).get_attribute("aria-expanded") == "false"
    assert groups.nth(1).inner_text().startswith("▸ opt = adam")
    page.keyboard.press("Enter")  # the focus stays on the group's button: unfold
    assert rows.count() == 4
    page.select_option("#group-by", "")
    page.wait_for_timeout(300)
    assert page.locator("#chart-best").get_attribute("data-grouped") is None
    assert page.locator("#runs-table tr.group").count() == 0 and rows.count() == 4
    watch.check(base)
    page.close()
