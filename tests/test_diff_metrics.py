"""Every metric in every diff and report, as an MLflow user logs them (no primary metric set):
each metric's best on both sides with its direction and change in text, Markdown and JSON; run
tables with the most relevant metrics' final values under a column budget; Markdown and the PR
comment under their budgets. Real runs, real ``gitrun commit``, the real ``gitrun`` command."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
from bs4 import BeautifulSoup

import gitrun
from gitrun.compare.render import FOLDED_METRICS, METRIC_COLUMNS, SHOWN_METRICS
from gitrun.report.pr import build_pr_report, comment_length
from gitrun.store import Store
from tests.helpers import ROOT
from tests.helpers.diffkit import cli, commit, diff, git, html_of, log, table_after, tables, unescape_cell

SCHEMA = json.loads((ROOT / "docs" / "schemas" / "diff.json").read_text(encoding="utf-8"))


def cells(row: list[str]) -> list[str]:
    return [unescape_cell(c) for c in row]


def plain_experiment(repo: Path, name: str = "plain") -> str:
    """An experiment as MLflow users make one: no primary metric, no directions."""
    gitrun.set_tracking_uri(repo)
    gitrun.set_experiment(name)
    return name


@pytest.fixture
def mlflow_style(repo: Path) -> dict[str, str]:
    """main: run "base" (val_acc 0.75, val_loss 0.6, epochs 10); branch "better" adds "new"
    (val_acc 0.85, val_loss 0.4, epochs 10). No primary metric anywhere."""
    exp = plain_experiment(repo)
    (base,) = log(repo, [{"name": "base", "metrics": {"val_acc": [0.7, 0.75], "val_loss": 0.6, "epochs": 10.0}}], exp)
    commit(repo, "base run")
    git(repo, "checkout", "-qb", "better")
    (new,) = log(repo, [{"name": "new", "metrics": {"val_acc": [0.8, 0.85], "val_loss": 0.4, "epochs": 10.0}}], exp)
    commit(repo, "better run")
    return {"base": base, "new": new}


def test_metric_bests_most_relevant_first_without_a_primary_metric(repo: Path, mlflow_style: dict[str, str]) -> None:
    (exp,) = diff(repo, "main", "better").experiments
    assert exp.metric is None and exp.headline is None and exp.delta is None
    bests = exp.metric_bests()
    # the metrics whose best changed first (by name), then the rest
    assert [(m.key, m.direction, m.changed) for m in bests] == [
        ("val_acc", "max", True),
        ("val_loss", "min", True),
        ("epochs", "max", False),
    ]
    acc, loss, epochs = bests
    assert acc.base is not None and acc.target is not None
    assert (acc.base.run_name, acc.base.value, acc.target.run_name, acc.target.value) == ("base", 0.75, "new", 0.85)
    assert acc.delta == pytest.approx(0.1) and acc.improved is True
    assert loss.delta == pytest.approx(-0.2) and loss.improved is True  # lower is better by name
    assert epochs.delta == 0 and epochs.improved is False
    assert [m.key for m in exp.headline_metrics()] == ["val_acc", "val_loss"]
    assert exp.metric_columns(exp.added, 2) == ["val_acc", "val_loss"]


def test_text_shows_every_metrics_best_without_a_primary_metric(repo: Path, mlflow_style: dict[str, str]) -> None:
    proc = cli(repo, "diff", "main", "better", env={"COLUMNS": "120"})
    assert proc.returncode == 0, proc.stderr
    lines = [line.rstrip() for line in proc.stdout.splitlines()]
    for expected in (
        "plain  1 added, 0 removed, 0 changed, 1 unchanged",
        "  best val_acc (max): 0.75 (base) → 0.85 (new)  +0.1 ▲ better",
        "  best val_loss (min): 0.6 (base) → 0.4 (new)  -0.2 ▲ better",
        "  best epochs (max): 10 (base) → 10 (base)  +0 (same)",
    ):
        assert expected in lines, (expected, lines)
    assert lines.index("  best val_acc (max): 0.75 (base) → 0.85 (new)  +0.1 ▲ better") < lines.index(
        "  best epochs (max): 10 (base) → 10 (base)  +0 (same)"
    )
    header = next(line for line in lines if line.lstrip().startswith("run ┃"))
    assert [c.strip() for c in header.split("┃")] == ["run", "id", "status", "val_acc", "val_loss", "epochs"]
    row = next(line for line in lines if mlflow_style["new"][:10] in line)
    assert [c.strip() for c in row.split("│")] == ["new", mlflow_style["new"][:10], "FINISHED", "0.85", "0.4", "10"]


def test_markdown_without_a_primary_metric(repo: Path, mlflow_style: dict[str, str]) -> None:
    md = cli(repo, "diff", "main", "better", "--format", "md").stdout
    for table in tables(md):
        assert all(len(row) == len(table["header"]) for row in table["rows"]), table
    assert "| best " not in md  # no deciding metric: no best-of-primary table
    changed = table_after(md, "Metrics whose best changed (2):")
    assert cells(changed["header"]) == ["metric", "base best", "target best", "change"]
    assert [cells(r) for r in changed["rows"]] == [
        ["val_acc (max)", "0.75 <sub>base</sub>", "0.85 <sub>new</sub>", "+0.1 ▲ better"],
        ["val_loss (min)", "0.6 <sub>base</sub>", "0.4 <sub>new</sub>", "-0.2 ▲ better"],
    ]
    folded = table_after(md, "<details><summary>Other metrics (1)</summary>")
    assert [cells(r) for r in folded["rows"]] == [
        ["epochs (max)", "10 <sub>base</sub>", "10 <sub>base</sub>", "+0 (same)"]
    ]
    added = table_after(md, "Added runs (1)")
    assert cells(added["header"]) == ["run", "status", "val_acc", "val_loss", "epochs"]
    assert cells(added["rows"][0])[2:] == ["0.85", "0.4", "10"]
    # as GitHub renders it: the unchanged metric is inside a <details>, the changed ones are not
    soup = BeautifulSoup(html_of(md), "html.parser")
    shown = soup.find_all("table")[0]
    assert shown.find_parent("details") is None and "val_acc (max)" in shown.get_text()
    details = [d for d in soup.find_all("details") if "Other metrics" in d.get_text()]
    assert details and "epochs (max)" in details[0].get_text()


def test_markdown_with_a_primary_metric_leads_with_it(repo: Path) -> None:
    log(repo, [{"name": "a", "metrics": {"f1": 0.5, "val_loss": 0.6, "epochs": 3.0}}], "ranked", "f1")
    commit(repo)
    git(repo, "checkout", "-qb", "feature")
    log(repo, [{"name": "b", "metrics": {"f1": 0.4, "val_loss": 0.5, "epochs": 3.0}}], "ranked")
    commit(repo)
    md = cli(repo, "diff", "main", "feature", "--format", "md").stdout
    best = table_after(md, "### ranked")
    assert cells(best["header"]) == ["best f1 (max)", "base", "target", "change"]
    assert cells(best["rows"][0]) == ["value", "0.5", "0.5", "+0 (same)"]  # a stays best
    others = table_after(md, "Metrics whose best changed (1):")  # the primary metric is not repeated
    assert [cells(r)[0] for r in others["rows"]] == ["val_loss (min)"]
    assert [cells(r)[0] for r in table_after(md, "Other metrics (1)")["rows"]] == ["epochs (max)"]
    added = table_after(md, "Added runs (1)")
    assert cells(added["header"]) == ["run", "status", "f1", "val_loss", "epochs"]  # primary first
    text = cli(repo, "diff", "main", "feature").stdout.splitlines()
    first = next(i for i, line in enumerate(text) if line.startswith("  best "))
    assert text[first].startswith("  best f1 (max): 0.5 (a) → 0.5 (a)")
    assert text[first + 1].startswith("  best val_loss (min): 0.6 (a) → 0.5 (b)")


def test_json_has_every_metrics_change_and_validates(repo: Path, mlflow_style: dict[str, str]) -> None:
    doc = json.loads(cli(repo, "diff", "main", "better", "--json").stdout)
    jsonschema.Draft202012Validator(SCHEMA).validate(doc)
    (exp,) = doc["experiments"]
    assert exp["metric"] is None and exp["delta"] is None and exp["improved"] is None
    acc = exp["metrics"]["val_acc"]
    assert acc["direction"] == "max" and acc["improved"] is True and acc["delta"] == pytest.approx(0.1)
    assert acc["base_best"] == {"run_id": mlflow_style["base"], "run_name": "base", "value": 0.75}
    assert acc["target_best"] == {"run_id": mlflow_style["new"], "run_name": "new", "value": 0.85}
    assert exp["metrics"]["val_loss"]["improved"] is True and exp["metrics"]["epochs"]["delta"] == 0
    assert exp["added"][0]["metrics"] == {"epochs": 10, "val_acc": 0.85, "val_loss": 0.4}


def test_gate_is_unchanged_without_a_primary_metric(repo: Path, mlflow_style: dict[str, str]) -> None:
    ok = cli(repo, "diff", "main", "better", "--check", "metrics.val_acc >= base")
    assert ok.returncode == 0, ok.stdout + ok.stderr
    bad = cli(repo, "diff", "main", "better", "--check", "metrics.val_loss >= base")  # lower is better
    assert bad.returncode == 1, bad.stdout + bad.stderr


def wide(repo: Path, count: int, experiment: str = "wide") -> None:
    """``count`` metrics m000.. on main and a branch where every best moved."""
    plain_experiment(repo, experiment)
    log(repo, [{"name": "old", "metrics": {f"m{i:03d}": float(i) for i in range(count)}}], experiment)
    commit(repo)
    git(repo, "checkout", "-qb", "feature")
    log(repo, [{"name": "new", "metrics": {f"m{i:03d}": float(i + 1) for i in range(count)}}], experiment)
    commit(repo)


def test_column_and_row_budgets(repo: Path) -> None:
    count = SHOWN_METRICS + FOLDED_METRICS + 7
    wide(repo, count)
    md = cli(repo, "diff", "main", "feature", "--format", "md").stdout
    shown = table_after(md, f"Metrics whose best changed ({count}):")
    assert len(shown["rows"]) == SHOWN_METRICS
    folded = table_after(md, f"Other metrics ({count - SHOWN_METRICS})")
    assert len(folded["rows"]) == FOLDED_METRICS + 1
    assert cells(folded["rows"][-1])[0] == "… 7 more in `--format json`"
    added = table_after(md, "Added runs (1)")
    assert cells(added["header"]) == ["run", "status"] + [f"m{i:03d}" for i in range(METRIC_COLUMNS)]
    text = cli(repo, "diff", "main", "feature").stdout
    assert f"  … {count - SHOWN_METRICS} more metrics (--json lists every one)" in text
    doc = json.loads(cli(repo, "diff", "main", "feature", "--json").stdout)
    assert len(doc["experiments"][0]["metrics"]) == count
    assert len(doc["experiments"][0]["added"][0]["metrics"]) == count


def test_pr_report_leads_with_the_changed_metrics_and_fits_the_comment(repo: Path, tmp_path: Path) -> None:
    plain_experiment(repo, "plain")
    log(repo, [{"name": "base", "metrics": {"val_acc": [0.6, 0.75], "val_loss": [0.9, 0.6], "epochs": 2.0}}], "plain")
    commit(repo)
    git(repo, "checkout", "-qb", "better")
    log(repo, [{"name": "new", "metrics": {"val_acc": [0.7, 0.85], "val_loss": [0.8, 0.4], "epochs": 2.0}}], "plain")
    commit(repo)
    report = build_pr_report(Store(repo / ".gitrun"), "main", "better")
    # charts for the metrics whose best changed (no primary metric), none for the unchanged one
    assert [(c.metric, c.direction) for c in report.charts] == [("val_acc", "max"), ("val_loss", "min")]
    assert [s.values for s in report.charts[1].series] == [(0.9, 0.6), (0.8, 0.4)]
    md = report.comment
    assert "**val\\_acc** (max)" in md and "**val\\_loss** (max)" not in md and "**val\\_loss** (min)" in md
    added = table_after(md, "Added runs (1)")
    assert cells(added["header"])[-1] == "curve" and cells(added["rows"][0])[-1] == "▁█"  # val_acc's curve

    # a diff too big for the comment: run rows, charts, then metric rows are cut to fit
    wide(repo, 300, "huge")
    report = build_pr_report(Store(repo / ".gitrun"), "main", "feature", limit=8000)
    assert comment_length(report.markdown) > 8000
    assert report.truncated and comment_length(report.comment) < 8000
    shown = table_after(report.comment, "Metrics whose best changed (300):")
    assert len(shown["rows"]) == 5
    assert "… (cut at GitHub's comment size limit)" not in report.comment  # fitted, not cut
    assert len(table_after(report.markdown, "Metrics whose best changed (300):")["rows"]) == SHOWN_METRICS


def test_metric_table_escapes_run_names_and_metric_keys(repo: Path) -> None:
    plain_experiment(repo, "hostile")
    log(repo, [{"name": "x|y", "metrics": {"a_b__c": 1.0}}], "hostile")
    commit(repo)
    git(repo, "checkout", "-qb", "feature")
    log(repo, [{"name": "<img src=x>", "metrics": {"a_b__c": 2.0}}], "hostile")
    commit(repo)
    md = cli(repo, "diff", "main", "feature", "--format", "md").stdout
    row = table_after(md, "Metrics whose best changed (1):")["rows"][0]
    assert len(row) == 4
    soup = BeautifulSoup(html_of(md), "html.parser")
    assert soup.find("script") is None and soup.find("img") is None
    assert "a_b__c (max)" in soup.get_text() and "<img src=x>" in soup.get_text()
