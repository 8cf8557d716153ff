"""The best run, one rule (gitrun.ranking): better value, then earlier end time, then run ID; NaN
and missing values never win. Unit properties with Hypothesis, then one store of tied runs that
every feature must agree on: the commit message, ``experiments list``, ``diff`` (text, md, json),
the gate, the PR report and the site's home, experiment and history pages."""

from __future__ import annotations

import json
import math
import random
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

import gitrun
from gitrun import ranking
from tests.helpers import gitrun_cli, run_git


@dataclass(frozen=True)
class R:
    run_id: str
    end_time: int | None
    metrics: Mapping[str, float] = field(default_factory=dict)


def runs(*specs: tuple[str, int | None, float | None]) -> list[R]:
    return [R(run_id, end, {} if value is None else {"m": value}) for run_id, end, value in specs]


# -- the rule ------------------------------------------------------------------------------------
def test_a_tie_goes_to_the_run_that_ended_first_then_to_the_smaller_id() -> None:
    tied = runs(("A", 2_000, 0.9), ("B", 1_000, 0.9), ("C", 500, 0.8))
    assert [r.run_id for r in ranking.ranked(tied, "m", "max")] == ["B", "A", "C"]
    same_end = runs(("B", 1_000, 0.9), ("A", 1_000, 0.9))
    assert ranking.best_run(same_end, "m", "max") == (same_end[1], 0.9)
    unended = runs(("A", None, 0.9), ("B", 9_000, 0.9))  # still running: after the runs that ended
    assert ranking.best_run(unended, "m", "max") == (unended[1], 0.9)


def test_nan_and_missing_values_never_win() -> None:
    mixed = runs(("A", 1, math.nan), ("B", 2, None), ("C", 3, -5.0))
    assert ranking.best_run(mixed, "m", "max") == (mixed[2], -5.0)
    assert ranking.best_run(runs(("A", 1, math.nan), ("B", 2, None)), "m", "min") is None
    assert [r.run_id for r in ranking.ranked(mixed, "m", "min")] == ["C", "A", "B"]  # the rest by end time


def test_infinities_are_the_extremes_of_their_direction() -> None:
    extremes = runs(("A", 1, math.inf), ("B", 2, -math.inf), ("C", 3, 0.0))
    assert ranking.best_run(extremes, "m", "max") == (extremes[0], math.inf)
    assert ranking.best_run(extremes, "m", "min") == (extremes[1], -math.inf)
    assert ranking.best_value([math.nan, 2.0, 1.0], "min") == 1.0 and ranking.best_value([math.nan], "max") is None
    assert ranking.is_better(1.0, 2.0, "min") and not ranking.is_better(1.0, 1.0, "max")
    assert not ranking.is_better(math.nan, 1.0, "max") and not ranking.is_better(1.0, math.nan, "min")


values = st.one_of(st.none(), st.floats(allow_nan=True, allow_infinity=True), st.sampled_from([0.5, 1.0]))
run_lists = st.lists(
    st.tuples(st.one_of(st.none(), st.integers(0, 5)), values, values),
    max_size=12,
).map(
    lambda specs: [
        R(f"{i:02d}", end, {k: v for k, v in (("m", m), ("n", n)) if v is not None})
        for i, (end, m, n) in enumerate(specs)
    ]
)


def _beats(a: R, b: R, direction: str) -> bool:
    """The rule written out as a comparison of two runs, independently of ranking's sort key."""
    va, vb = a.metrics.get("m"), b.metrics.get("m")
    a_num, b_num = va is not None and not math.isnan(va), vb is not None and not math.isnan(vb)
    if a_num != b_num:
        return a_num
    if a_num and va != vb:
        assert va is not None and vb is not None
        return va < vb if direction == "min" else va > vb
    if a.end_time != b.end_time:
        return b.end_time is None or (a.end_time is not None and a.end_time < b.end_time)
    return a.run_id < b.run_id


@given(run_lists, st.sampled_from(["min", "max"]), st.randoms())
def test_ranking_follows_the_rule_whatever_the_input_order(rs: list[R], direction: str, rnd: random.Random) -> None:
    order = ranking.ranked(rs, "m", direction)
    shuffled = list(rs)
    rnd.shuffle(shuffled)
    assert ranking.ranked(shuffled, "m", direction) == order
    assert sorted(r.run_id for r in order) == sorted(r.run_id for r in rs)
    assert all(not _beats(later, earlier, direction) for i, earlier in enumerate(order) for later in order[i + 1 :])
    best = ranking.best_run(shuffled, "m", direction)
    has_number = [r for r in rs if not math.isnan(r.metrics.get("m", math.nan))]
    assert (best is None) == (not has_number)
    if best is not None:
        assert best == (order[0], order[0].metrics["m"])


@given(run_lists, st.sampled_from(["min", "max"]))
def test_every_metric_at_once_picks_what_best_run_picks(rs: list[R], direction: str) -> None:
    directions = {"m": direction, "n": "min" if direction == "max" else "max"}
    together = ranking.best_runs(rs, directions)
    for key, key_direction in directions.items():
        alone = ranking.best_run(rs, key, key_direction)
        assert together.get(key) == alone


# -- every feature names the same run ------------------------------------------------------------
SITE_DATA = re.compile(r'window\.GITRUN_DATA\[(".*?")\]=(.*);\n$', re.S)


def cli(repo: Path, *args: str) -> str:
    proc = gitrun_cli(*args, cwd=repo, env={"COLUMNS": "250"})  # tables and lines unfolded
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


def soup_of(path: Path) -> Any:
    from bs4 import BeautifulSoup

    return BeautifulSoup(path.read_text(encoding="utf-8"), "html.parser")


@pytest.fixture
def tied(repo: Path) -> dict[str, str]:
    """Experiment "tie" (acc, max): "started-first" and "ended-first" both at acc=0.9, the second
    ending a second before the first (so the smaller run ID ended later), and a NaN run; committed
    with gitrun commit's own message on top of the initial commit."""
    gitrun.set_tracking_uri(repo)
    gitrun.set_experiment("tie", primary_metric="acc")
    client = gitrun.Client(repo / ".gitrun")
    experiment_id = client.get_experiment_by_name("tie").experiment_id  # type: ignore[union-attr]
    ids = {}
    for name, values in (("started-first", [0.5, 0.9]), ("ended-first", [0.6, 0.9]), ("nan", [0.95, math.nan])):
        ids[name] = client.create_run(experiment_id, run_name=name).info.run_id
        for step, value in enumerate(values):
            client.log_metric(ids[name], "acc", value, step=step)
    assert ids["started-first"] < ids["ended-first"]
    end = 1_900_000_000_000
    client.set_terminated(ids["ended-first"], end_time=end)
    client.set_terminated(ids["started-first"], end_time=end + 1_000)
    client.set_terminated(ids["nan"], end_time=end - 1_000)
    cli(repo, "commit")
    return ids


def test_every_feature_names_the_same_best_run(repo: Path, tied: dict[str, str], tmp_path: Path) -> None:
    winner, name = tied["ended-first"], "ended-first"

    subject = run_git(repo, "log", "-1", "--format=%s").stdout.strip()
    assert subject == f"gitrun: 3 runs in tie (best acc=0.9, {name})"

    table = cli(repo, "experiments", "list")
    assert re.search(rf"│ tie .*│ 0\.9 +│ {name} ", table), table
    (row,) = [r for r in json.loads(cli(repo, "experiments", "list", "--json")) if r["name"] == "tie"]
    assert (row["best_run_id"], row["best_run_name"], row["best_value"]) == (winner, name, 0.9)

    text = cli(repo, "diff", "HEAD~1", "HEAD")
    assert f"best acc (max): — → 0.9 ({name})" in text
    added = text[text.index("added runs") :].splitlines()
    assert name in added[3] and winner[:10] in added[3], text  # title, header, rule, then the best run

    markdown = cli(repo, "diff", "HEAD~1", "HEAD", "--format", "md")
    assert f"| run | — | {name} | |" in markdown
    rows = markdown[markdown.index("Added runs") :].splitlines()
    assert rows[4].startswith(f"| {name} <sub>{winner[:10]}</sub>"), markdown

    doc = json.loads(cli(repo, "diff", "HEAD~1", "HEAD", "--json"))
    (exp,) = doc["experiments"]
    assert exp["target_best"]["run_id"] == exp["metrics"]["acc"]["target_best"]["run_id"] == winner
    assert {r["run_id"]: r["end_time"] for r in exp["added"]}[winner] == 1_900_000_000_000

    gate = cli(repo, "diff", "HEAD~1", "HEAD", "--check", "metrics.acc >= 0.5")
    assert f"best acc among new/changed runs is 0.9 (run {name}, {winner})" in gate

    out = tmp_path / "report"
    cli(repo, "report", "pr", "HEAD~1", "HEAD", "--out", str(out), "--no-images", "--check", "metrics.acc >= 0.5")
    comment = (out / "comment.md").read_text(encoding="utf-8")
    assert f"| new best: {name} <sub>{winner[:10]}</sub> | target |" in comment  # the curve chart's first line

    site = tmp_path / "site"
    cli(repo, "site", "build", "-o", str(site))
    experiment_id = row["experiment_id"]
    home = soup_of(site / "index.html").select_one(f'#experiments tr[data-experiment="{experiment_id}"]')
    assert home.select_one("td.best-run").a["href"] == f"runs/{winner}.html"
    assert home.select_one("td.best-run").get_text(strip=True) == name
    page = soup_of(site / "experiments" / f"{experiment_id}.html")
    assert page.select_one("#best-run")["href"] == f"../runs/{winner}.html"
    assert page.select_one("#best-value").get_text(strip=True) == "0.9"
    match = SITE_DATA.search((site / "data" / "experiments" / f"{experiment_id}.js").read_text(encoding="utf-8"))
    assert match is not None
    assert json.loads(match.group(2))["best"]["runs"][0]["id"] == winner  # the chart's first curve
    history = soup_of(site / "history.html").select("#history-table tbody tr")[0]
    assert history.select("td a[title]")[0]["href"] == f"runs/{winner}.html"
