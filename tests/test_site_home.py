"""The home page tells the story: per experiment a sparkline of its metric's best across the
default branch's commits, and the latest commits that added runs (who, when, message, best run).
Real commits in a real Git repository, the built page parsed with BeautifulSoup."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from test_site_helpers import EPOCH, git, soup_of

import gitrun
from gitrun.charts.sparkline import svg_points
from gitrun.site.build import BuildOptions, build_site
from gitrun.store import Store


def commit_runs(repo: Path, client: Any, exp: str, runs: list[tuple[str, float]], message: str, author: str) -> None:
    for name, value in runs:
        run_id = client.create_run(exp, run_name=name).info.run_id
        client.log_metric(run_id, "val_acc", value)
        client.set_terminated(run_id, "FINISHED")
    git(repo, "add", ".gitrun")
    git(repo, "commit", "-q", f"--author={author} <{author.lower()}@example.com>", "-m", message)


@pytest.fixture
def story(repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    client = gitrun.Client(repo / ".gitrun")
    digits = client.create_experiment("digits")  # no primary metric: the first metric, val_acc
    other = client.create_experiment("other")
    commit_runs(repo, client, digits, [("a", 0.8), ("b", 0.7)], "baseline", "Ada")
    commit_runs(repo, client, digits, [("c", 0.9)], "deeper model", "Grace")
    commit_runs(repo, client, digits, [("d", 0.85)], "try dropout <b>", "Ada")
    commit_runs(repo, client, other, [("o", 0.5)], "other idea", "Linus")
    monkeypatch.setenv("SOURCE_DATE_EPOCH", EPOCH)
    out = tmp_path / "_site"
    build_site(Store(repo / ".gitrun"), BuildOptions(output=out, strict=True))
    return out


def test_sparkline_of_the_best_across_commits(story: Path) -> None:
    soup = soup_of(story / "index.html")
    rows = {tr.find("td").get_text(strip=True): tr for tr in soup.select("#experiments tbody tr")}
    svg = rows["digits"].select_one("td.trend svg")
    # best after each of the four commits that changed the store: 0.8, 0.9, 0.9, 0.9
    assert svg.polyline["points"] == svg_points([0.8, 0.9, 0.9, 0.9])
    assert svg["role"] == "img"
    assert svg["aria-label"] == "best val_acc over 4 commits of the default branch: 0.8 → 0.9"
    other = rows["other"].select_one("td.trend svg")
    assert other["aria-label"] == "best val_acc over 1 commit of the default branch: 0.5 → 0.5"


def test_latest_commits_that_added_runs(story: Path) -> None:
    soup = soup_of(story / "index.html")
    items = soup.select("#latest-commits ol.commits li")
    assert [li.select_one(".subject").get_text() for li in items] == [
        "other idea",
        "try dropout <b>",  # a message is text
        "deeper model",
        "baseline",
    ]
    assert [li.select_one(".who").get_text() for li in items] == ["Linus", "Ada", "Grace", "Ada"]
    assert all(li.select_one(".when").get_text().endswith("UTC") for li in items)
    baseline = items[3]
    assert "(2 runs added)" in baseline.get_text()
    best = baseline.select_one(".best")
    assert best.get_text(" ", strip=True) == "best in digits: a · val_acc 0.8"
    assert best.a["href"].startswith("runs/")
    assert items[1].select_one(".best").get_text(" ", strip=True) == "best in digits: d · val_acc 0.85"
    assert soup.select_one("#latest-commits h2").get_text() == "Latest commits with runs on main"


def test_svg_points() -> None:
    assert svg_points([]) == "" and svg_points([float("nan")]) == ""
    assert svg_points([1.0]) == "2.0,12.0 118.0,12.0"  # one value: a level line
    assert svg_points([0.0, 1.0], width=10, height=10) == "2.0,8.0 8.0,2.0"  # higher is up
    assert len(svg_points([float(i) for i in range(1000)]).split()) == 60  # bucketed to width / 2
