"""The three formats of ``gitrun diff``: Markdown parsed back into tables, JSON validated against
docs/schemas/diff.json, and the terminal text; plus the PR report's Markdown and diff.json."""

from __future__ import annotations

import copy
import json
import math
import shutil
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from bs4 import BeautifulSoup

from gitrun.charts.sparkline import sparkline
from tests.helpers import ROOT
from tests.helpers.diffkit import build_branched, cli, commit, git, html_of, log, table_after, tables, unescape_cell

SCHEMA = json.loads((ROOT / "docs" / "schemas" / "diff.json").read_text(encoding="utf-8"))


def validate(doc: dict[str, Any]) -> None:
    jsonschema.Draft202012Validator(SCHEMA, format_checker=jsonschema.FormatChecker()).validate(doc)


def cells(row: list[str]) -> list[str]:
    return [unescape_cell(c) for c in row]


@pytest.fixture
def branched(repo: Path) -> dict[str, str]:
    return build_branched(repo)


def test_schema_is_valid_draft_2020_12() -> None:
    jsonschema.Draft202012Validator.check_schema(SCHEMA)
    assert SCHEMA["$schema"] == "https://json-schema.org/draft/2020-12/schema"


def test_markdown_tables_parse_back(repo: Path, branched: dict[str, str]) -> None:
    proc = cli(repo, "diff", "main", "feature", "--format", "md")
    assert proc.returncode == 0, proc.stderr
    md = proc.stdout
    main7, feature7 = git(repo, "rev-parse", "--short=7", "main"), git(repo, "rev-parse", "--short=7", "feature")
    assert md.splitlines()[0] == f"## gitrun diff: main ({main7}) → feature ({feature7})"
    assert "1 added, 1 removed, 2 changed, 0 unchanged." in md

    for table in tables(md):  # every row has exactly the header's columns
        assert all(len(row) == len(table["header"]) for row in table["rows"]), table
        assert len(table["delimiter"]) == len(table["header"])

    best = table_after(md, "### digits")
    assert cells(best["header"]) == ["best val_acc (max)", "base", "target", "change"]
    assert cells(best["rows"][0]) == ["value", "0.8", "0.9", "+0.1 ▲ better"]
    assert cells(best["rows"][1]) == ["run", "b", "d", ""]

    params = table_after(md, "Params that differ")
    assert cells(params["header"]) == ["param", "base best", "target best"]
    assert sorted(cells(r) for r in params["rows"]) == [["depth", "3", "5"], ["lr", "0.01", "0.05"]]

    others = table_after(md, "Metrics whose best changed (1):")
    assert cells(others["header"]) == ["metric", "base best", "target best", "change"]
    assert [cells(r) for r in others["rows"]] == [
        ["val_loss (min)", "0.5 <sub>b</sub>", "0.3 <sub>d</sub>", "-0.2 ▲ better"]
    ]

    added = table_after(md, "Added runs (1)")
    assert cells(added["header"]) == ["run", "status", "val_acc", "val_loss"]
    assert cells(added["rows"][0]) == [f"d <sub>{branched['d'][:10]}</sub>", "FINISHED", "0.9", "0.3"]
    removed = table_after(md, "Removed runs (1)")
    assert cells(removed["rows"][0]) == [f"b <sub>{branched['b'][:10]}</sub>", "FINISHED", "0.8", "0.5"]

    changed = table_after(md, "Changed runs (2)")
    assert cells(changed["header"]) == ["run", "params", "metrics", "tags"]
    rows = {cells(r)[0].split(" <sub>")[0]: cells(r) for r in changed["rows"]}
    assert set(rows) == {"a → a-renamed", "c"}
    assert rows["c"][2] == "val_acc: 0.4 → 0.45" and rows["c"][3] == "reviewed: — → yes"

    # GitHub's parser (CommonMark + GFM tables) sees the same tables, inside <details> too
    soup = BeautifulSoup(html_of(md), "html.parser")
    html_tables = soup.find_all("table")
    assert len(html_tables) == len(tables(md)) == 6
    first = [[c.get_text() for c in tr.find_all(["th", "td"])] for tr in html_tables[0].find_all("tr")]
    assert first[0] == ["best val_acc (max)", "base", "target", "change"]
    assert first[1] == ["value", "0.8", "0.9", "+0.1 ▲ better"]
    added_html = [[c.get_text() for c in tr.find_all("td")] for tr in html_tables[3].find_all("tr")[1:]]
    assert added_html == [[f"d {branched['d'][:10]}", "FINISHED", "0.9", "0.3"]]


def test_markdown_precision(repo: Path) -> None:
    log(repo, [{"name": "p", "metrics": {"val_acc": 0.123456789}}])
    commit(repo)
    git(repo, "checkout", "-qb", "feature")
    log(repo, [{"name": "q", "metrics": {"val_acc": 0.987654321}}])
    commit(repo)
    md = cli(repo, "diff", "main", "feature", "--format", "md", "--precision", "3").stdout
    assert cells(table_after(md, "### digits")["rows"][0]) == ["value", "0.123", "0.988", "+0.864 ▲ better"]


def test_json_validates_against_the_schema(repo: Path, branched: dict[str, str]) -> None:
    proc = cli(repo, "diff", "main", "feature", "--json")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    validate(doc)
    assert doc["schema_version"] == 1
    (exp,) = doc["experiments"]
    assert exp["base_best"] == {"run_id": branched["b"], "run_name": "b", "value": 0.8}
    assert exp["improved"] is True and exp["delta"] == pytest.approx(0.1)
    changed = {c["run_id"]: c for c in exp["changed"]}
    assert changed[branched["a"]]["base_name"] == "a" and changed[branched["a"]]["run_name"] == "a-renamed"
    assert changed[branched["c"]]["metric_changes"] == [{"key": "val_acc", "base": 0.4, "target": 0.45}]
    assert exp["metrics"]["val_loss"]["direction"] == "min"

    with_checks = json.loads(
        cli(repo, "diff", "main", "feature", "--json", "--check", "metrics.val_acc >= base").stdout
    )
    validate(with_checks)
    assert with_checks["checks"][0]["passed"] is True

    # the schema is strict: a wrong version, a missing key or an unknown key are refused
    for mutate in (
        lambda d: d.update(schema_version=2),
        lambda d: d["experiments"][0].pop("delta"),
        lambda d: d["experiments"][0]["added"][0].update(surprise=1),
        lambda d: d["experiments"][0].update(direction="up"),
    ):
        bad = copy.deepcopy(doc)
        mutate(bad)
        with pytest.raises(jsonschema.ValidationError):
            validate(bad)


def test_json_with_nan_workspace_and_one_sided_experiments(repo: Path) -> None:
    log(repo, [{"name": "n", "metrics": {"val_acc": [0.2, math.nan], "val_loss": math.inf}}], "nan-exp")
    log(repo, [{"name": "gone", "metrics": {"val_acc": 0.4}}], "legacy")
    commit(repo)
    git(repo, "rm", "-rq", ".gitrun/experiments/legacy")
    git(repo, "commit", "-qm", "drop legacy")
    shutil.rmtree(repo / ".gitrun" / "experiments" / "legacy")  # its ignored lock files too
    log(repo, [{"name": "uncommitted", "metrics": {"val_acc": -math.inf}}], "fresh")
    doc = json.loads(cli(repo, "diff", "HEAD~1", "--json").stdout)
    validate(doc)
    assert doc["target"] == {"label": "workspace", "commit": None}
    exps = {e["name"]: e for e in doc["experiments"]}
    assert exps["legacy"]["in_target"] is False and exps["fresh"]["in_base"] is False
    assert exps["fresh"]["added"][0]["metrics"]["val_acc"] == "-Infinity"
    assert exps["fresh"]["target_best"] == {
        "run_id": exps["fresh"]["added"][0]["run_id"],
        "run_name": "uncommitted",
        "value": "-Infinity",
    }
    assert exps["nan-exp"]["unchanged"] == 1


def test_text_output_lines(repo: Path, branched: dict[str, str]) -> None:
    proc = cli(repo, "diff", "main", "feature", env={"COLUMNS": "120"})
    assert proc.returncode == 0, proc.stderr
    lines = [line.rstrip() for line in proc.stdout.splitlines()]
    main7, feature7 = git(repo, "rev-parse", "--short=7", "main"), git(repo, "rev-parse", "--short=7", "feature")
    assert lines[0] == f"gitrun diff main ({main7}) → feature ({feature7})"
    for expected in (
        "digits  1 added, 1 removed, 2 changed, 0 unchanged",
        "  best val_acc (max): 0.8 (b) → 0.9 (d)  +0.1 ▲ better",
        "    param depth: 3 → 5",
        "    param lr: 0.01 → 0.05",
        "  best val_loss (min): 0.5 (b) → 0.3 (d)  -0.2 ▲ better",
        f"  changed a → a-renamed ({branched['a'][:10]})",
        f"  changed c ({branched['c'][:10]})",
        "    metric val_acc: 0.4 → 0.45",
        "    tag reviewed: — → yes",
    ):
        assert expected in lines, expected
    added = next(line for line in lines if branched["d"][:10] in line)
    assert added.split() == ["d", "│", branched["d"][:10], "│", "FINISHED", "│", "0.9", "│", "0.3"]
    assert "\x1b[" not in proc.stdout  # NO_COLOR


def test_report_markdown_has_sparklines_and_valid_diff_json(
    repo: Path, branched: dict[str, str], tmp_path: Path
) -> None:
    out = tmp_path / "report"
    proc = cli(repo, "report", "pr", "main", "feature", "--out", str(out), "--no-images")
    assert proc.returncode == 0, proc.stderr
    md = (out / "comment.md").read_text(encoding="utf-8")
    assert md.splitlines()[0] == "<!-- gitrun-report -->"
    for table in tables(md):
        assert all(len(row) == len(table["header"]) for row in table["rows"]), table
    best = table_after(md, "### digits")
    assert cells(best["rows"][2]) == ["curve", sparkline([0.6, 0.8]), sparkline([0.7, 0.9]), ""]
    added = table_after(md, "Added runs (1)")
    assert cells(added["header"]) == ["run", "status", "val_acc", "val_loss", "curve"]
    assert cells(added["rows"][0])[4] == sparkline([0.7, 0.9]) == "▁█"
    changed = table_after(md, "Changed runs (2)")
    assert cells(changed["header"])[-1] == "curve"
    c_row = next(cells(r) for r in changed["rows"] if r[0].startswith("c "))
    assert c_row[-1] == sparkline([0.4, 0.45])
    doc = json.loads((out / "diff.json").read_text(encoding="utf-8"))
    validate(doc)
    assert (out / "report.md").read_text(encoding="utf-8").startswith("<!-- gitrun-report -->")


def test_report_sparklines_follow_each_sides_experiment_for_a_moved_run(repo: Path, tmp_path: Path) -> None:
    """Sparklines are looked up by (side, run): a run moved to another experiment between the sides
    (a folder moved by hand) keeps its base curve under the base experiment's metric."""
    (moved,) = log(repo, [{"name": "mover", "metrics": {"acc": [0.1, 0.5]}}], "alpha", "acc")
    log(repo, [{"name": "b0", "metrics": {"f1": [0.2, 0.3]}}], "beta", "f1")
    commit(repo, "two experiments")
    git(repo, "checkout", "-qb", "feature")
    git(repo, "mv", f".gitrun/experiments/alpha/runs/{moved}", f".gitrun/experiments/beta/runs/{moved}")
    git(repo, "commit", "-qm", "move the run to beta")
    out = tmp_path / "report"
    proc = cli(repo, "report", "pr", "main", "feature", "--out", str(out), "--no-images")
    assert proc.returncode == 0, proc.stderr
    md = (out / "comment.md").read_text(encoding="utf-8")
    removed = table_after(md, "Removed runs (1)")  # alpha, the first experiment
    assert cells(removed["rows"][0])[0].startswith("mover") and cells(removed["rows"][0])[3] == sparkline([0.1, 0.5])
    added = table_after(md, "Added runs (1)")  # beta: the run has no f1 there
    assert cells(added["rows"][0])[0].startswith("mover") and cells(added["rows"][0])[3] == ""
