"""Hostile strings (run names, params, tags, experiment names with Markdown, HTML, pipes, backticks,
newlines) neither break the report's tables nor inject markup into the pull-request comment."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from bs4 import BeautifulSoup

from tests.helpers.diffkit import cli, client, commit, git, html_of, log, mermaid_blocks, tables, unescape_cell

HOSTILE = [
    "<img src=x onerror=alert(1)>",
    '<script>alert("x")</script>',
    "a | b | c",
    "`rm -rf /` ``double``",
    "**bold** _it_ [link](javascript:alert(1)) ![img](http://evil.example/x.png)",
    "line one\nline two\r\n| injected | row |",
    "# heading",
    "<!-- gitrun-report -->",
    "</details><details open>",
    "```mermaid",
    "&lt;already escaped&gt; &amp;",
    "\\| backslash pipe \\",
    "- list item",
    "<https://evil.example>",
    "[bold red]rich markup[/bold red]",
    "~~strike~~ <sub>x</sub> &#60;script&#62;",
]
EXPERIMENT = "<b>exp</b> | [x](http://evil.example)"
# What the rendered comment may contain: gitrun's own structure, nothing a user string brings in.
ALLOWED_TAGS = {"h2", "h3", "p", "table", "thead", "tbody", "tr", "th", "td", "details", "summary", "sub", "strong",
                "pre", "code", "blockquote", "br"}  # fmt: skip


@pytest.fixture
def hostile_report(repo: Path, tmp_path: Path) -> tuple[str, Path]:
    log(repo, [{"name": "plain base", "params": {"note": "ok"}, "metrics": {"val_acc": [0.1, 0.2]}}], EXPERIMENT)
    (base_id,) = log(repo, [{"name": "to change", "metrics": {"val_acc": 0.01}}], EXPERIMENT)
    commit(repo)
    git(repo, "checkout", "-qb", "feature")
    specs = [
        {
            "name": text,
            "params": {"note": text, "lr": i},
            "tags": {"why": text},
            "metrics": {"val_acc": [0.2, 0.3 + i / 100]},
        }
        for i, text in enumerate(HOSTILE)
    ]
    assert len(log(repo, specs, EXPERIMENT)) == len(HOSTILE)
    client(repo).set_tag(base_id, "why", HOSTILE[0])  # a changed run with a hostile tag change
    client(repo).update_run(base_id, name=HOSTILE[1])  # renamed to a hostile name
    commit(repo)
    out = tmp_path / "out"
    proc = cli(
        repo, "report", "pr", "main", "feature", "--out", str(out), "--no-images", "--check", "metrics.val_acc >= base"
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return (out / "comment.md").read_text(encoding="utf-8"), out


def test_tables_keep_their_column_count(hostile_report: tuple[str, Path]) -> None:
    md, _ = hostile_report
    found = tables(md)
    assert len(found) >= 5
    for table in found:
        assert len(table["delimiter"]) == len(table["header"])
        for row in table["rows"]:
            assert len(row) == len(table["header"]), (table["header"], row)
    # every hostile run name is in the added-runs table, one row each, readable after unescaping
    added = next(t for t in found if t["header"][:2] == ["run", "status"])
    names = [unescape_cell(r[0]).rsplit(" <sub>", 1)[0] for r in added["rows"]]
    expected = {" ".join(h.replace("\r", " ").split()) for h in HOSTILE}
    assert {" ".join(n.split()) for n in names} == expected


def test_no_markup_is_injected(hostile_report: tuple[str, Path]) -> None:
    md, _ = hostile_report
    soup = BeautifulSoup(html_of(md), "html.parser")
    tags = {t.name for t in soup.find_all(True)}
    assert tags <= ALLOWED_TAGS, tags - ALLOWED_TAGS
    assert soup.find_all("a") == [] and soup.find_all("img") == [] and soup.find_all("script") == []
    for element in soup.find_all(True):
        assert not any(attr.lower().startswith("on") for attr in element.attrs), element
        assert element.attrs == {} or (element.name == "code" and element.attrs == {"class": ["language-mermaid"]})
    assert all(d.attrs == {} for d in soup.find_all("details"))
    text = soup.get_text()
    assert "<script>alert" in text and "<img src=x onerror=alert(1)>" in text  # shown as text
    # the table structure survives: as many <details> as gitrun wrote, headings only gitrun's
    assert len(soup.find_all("details")) == md.count("<details><summary>")
    assert [h.get_text() for h in soup.find_all(["h1", "h2", "h3"])][1:] == [EXPERIMENT]


def test_marker_once_and_mermaid_clean(hostile_report: tuple[str, Path]) -> None:
    md, _ = hostile_report
    assert md.startswith("<!-- gitrun-report -->\n") and md.count("<!-- gitrun-report -->") == 1
    blocks = mermaid_blocks(md)
    assert len(blocks) == 1
    for hostile in (*HOSTILE, EXPERIMENT):
        assert hostile.strip() not in blocks[0]
    assert all(ch not in blocks[0] for ch in "<|`")


def test_json_and_text_keep_the_strings_exactly(hostile_report: tuple[str, Path], repo: Path) -> None:
    _, out = hostile_report
    doc = json.loads((out / "diff.json").read_text(encoding="utf-8"))
    (exp,) = doc["experiments"]
    assert exp["name"] == EXPERIMENT
    assert {r["run_name"] for r in exp["added"]} == set(HOSTILE)
    assert {r["params"]["note"] for r in exp["added"]} == set(HOSTILE)
    proc = cli(repo, "diff", "main", "feature", env={"COLUMNS": "250"})
    assert proc.returncode == 0, proc.stderr
    assert "[bold red]rich markup[/bold red]" in proc.stdout  # rich markup printed, not interpreted
