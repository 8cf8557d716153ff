"""Shared pieces of the site tests: one Git repository with a run store, built once per session.

The store holds two experiments and runs chosen to exercise the site: hostile names, params and
notes (XSS cases), a long series (downsampling), a metric key with '/', artifacts (small, big, HTML,
a DVC pointer), and two commits (the history page). Tests copy the repository before changing it.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

XSS_RUN_NAME = "<script>alert(1)</script>"
XSS_PARAM = '"><img src=x onerror=alert(1)>'
XSS_NOTE = "Results **good**. [click me](javascript:alert(3)) <script>alert(4)</script> <img src=x onerror=alert(5)>"
REPO_URL = "https://github.com/acme/vision.git"
EPOCH = "1780000000"


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True, text=True).stdout.strip()


def _log_series(client: Any, run_id: str, key: str, values: list[float], start_ms: int) -> None:
    from gitrun.entities import Metric

    metrics = [Metric(key=key, value=v, timestamp=start_ms + 1000 * i, step=i) for i, v in enumerate(values)]
    for i in range(0, len(metrics), 500):
        client.log_batch(run_id, metrics=metrics[i : i + 500])


def make_site_repo(repo: Path) -> dict[str, Any]:
    """Fill the Git repository ``repo`` with runs in two commits; returns facts the tests check."""
    import gitrun

    client = gitrun.Client(repo / ".gitrun")
    alpha = client.create_experiment("alpha", primary_metric="val_acc")
    beta = client.create_experiment("beta vision")
    head = git(repo, "rev-parse", "HEAD")
    facts: dict[str, Any] = {"alpha": alpha, "beta": beta, "runs": {}}
    base = 1_780_000_000_000

    def run(exp: str, name: str, params: dict[str, Any], acc: list[float], start: int, **extra: Any) -> str:
        tags = {
            "mlflow.source.git.commit": head,
            "mlflow.source.git.repoURL": REPO_URL,
            "mlflow.source.git.branch": "main",
            "mlflow.user": "tester",
            **extra.get("tags", {}),
        }
        r = client.create_run(exp, start_time=start, run_name=name, tags=tags)
        run_id = r.info.run_id
        for k, v in params.items():
            client.log_param(run_id, k, v)
        _log_series(client, run_id, "val_acc", acc, start)
        _log_series(client, run_id, "train/loss", [1.0 / (1 + i) for i in range(len(acc))], start)
        client.set_terminated(run_id, "FINISHED", end_time=start + 1000 * len(acc) + 500)
        facts["runs"][name] = run_id
        return run_id

    good = run(alpha, "good", {"lr": 0.01, "opt": "adam", "layers": 3}, [0.5, 0.7, 0.91], base)
    run(alpha, "bad", {"lr": 0.1, "opt": "sgd", "layers": 12}, [0.4, 0.5, 0.6], base + 60_000)
    xss = run(alpha, XSS_RUN_NAME, {"lr": 0.001, "opt": XSS_PARAM, "layers": 3}, [0.2, 0.3, 0.8], base + 120_000)
    client.set_tag(xss, "mlflow.note.content", XSS_NOTE)
    client.log_text(good, "hello from the run\n", "notes/readme.txt")
    client.log_text(good, "<script>alert(6)</script>", "report.html")
    client.log_text(good, "epoch 1\n", "logs/train.tmp")  # a user's file, not a temp file of gitrun's
    art = Path(client.store.artifact_dir(good))
    (art / "big.bin").write_bytes(b"\0" * 1_100_000)
    (art / "model.pkl.dvc").write_text(
        "outs:\n- md5: 0123456789abcdef0123456789abcdef\n  size: 123456789\n  hash: md5\n  path: model.pkl\n",
        encoding="utf-8",
    )
    (client.store.find_run_dir(good)[1] / "code.diff").write_text("diff --git a/x b/x\n", encoding="utf-8")
    git(repo, "add", ".gitrun")
    git(repo, "commit", "-q", "-m", "first runs")
    facts["commit1"] = git(repo, "rev-parse", "HEAD")
    # A second commit: a better run and a long series, then a beta run.
    long_values = [0.5 + 0.4 * (i / 1999) for i in range(2000)]
    long_values[1234] = 0.99  # a spike that downsampling must keep
    long_values[-1] = 0.95  # the new best latest value of alpha
    run(alpha, "long", {"lr": 0.05, "opt": "adam", "layers": 6}, long_values, base + 180_000)
    run(beta, "beta-1", {"depth": 4}, [0.3, 0.35], base + 240_000, tags={"team": "nlp"})
    git(repo, "add", ".gitrun")
    git(repo, "commit", "-q", "-m", "more runs")
    facts["commit2"] = git(repo, "rev-parse", "HEAD")
    return facts


@pytest.fixture(scope="session")
def site_repo(tmp_path_factory: pytest.TempPathFactory, template_repo: Path) -> tuple[Path, dict[str, Any]]:
    """The shared repository (built once per worker); copy it before changing anything."""
    repo = tmp_path_factory.mktemp("site") / "repo"
    shutil.copytree(template_repo, repo, symlinks=True)
    facts = make_site_repo(repo)
    return repo, facts


@pytest.fixture(scope="session")
def built_site(
    site_repo: tuple[Path, dict[str, Any]], tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, dict[str, Any]]:
    """The shared repository's site, built once in strict mode with a fixed SOURCE_DATE_EPOCH."""
    from gitrun.site.build import BuildOptions, build_site
    from gitrun.store import Store

    repo, facts = site_repo
    out = tmp_path_factory.mktemp("built") / "_site"
    old = os.environ.get("SOURCE_DATE_EPOCH")
    os.environ["SOURCE_DATE_EPOCH"] = EPOCH
    try:
        build_site(Store(repo / ".gitrun"), BuildOptions(output=out, strict=True))
    finally:
        if old is None:
            os.environ.pop("SOURCE_DATE_EPOCH", None)
        else:
            os.environ["SOURCE_DATE_EPOCH"] = old
    return out, facts


def load_data(path: Path) -> dict[str, Any]:
    """The value a site data file (``GITRUN_DATA[key] = {...};``) assigns."""
    text = path.read_text(encoding="utf-8")
    match = re.match(
        r'window\.GITRUN_DATA=window\.GITRUN_DATA\|\|\{\};window\.GITRUN_DATA\[(".*?")\]=(.*);\n$', text, re.S
    )
    assert match, text[:200]
    return json.loads(match.group(2))


def decode(column: dict[str, Any]) -> list[Any]:
    """A data column's values: plain, or a dictionary and codes."""
    if "values" in column:
        return list(column["values"])
    return [None if c is None else column["dict"][c] for c in column["codes"]]


def experiment_table(out: Path, experiment_id: str) -> dict[str, list[Any]]:
    """An experiment's runs table as the browser assembles it: column ID -> every run's value,
    in the table's order, from the index in ``data/experiments/<id>.js`` and its chunk files."""
    table = load_data(out / "data" / "experiments" / f"{experiment_id}.js")["table"]
    values: dict[str, list[Any]] = {c["id"]: [] for c in table["columns"]}
    for chunk in table["chunks"]:
        data = load_data(out / chunk["src"])
        assert data["rows"] == chunk["rows"]
        assert set(data["columns"]) <= set(values), "a chunk has a column the index lacks"
        for col_id, column in values.items():
            column += decode(data["columns"][col_id]) if col_id in data["columns"] else [None] * chunk["rows"]
    assert all(len(v) == table["count"] for v in values.values())
    return values


def spec_of(soup: Any, element_id: str = "gitrun-specs") -> Any:
    node = soup.find("script", id=element_id)
    assert node is not None, f"no script#{element_id}"
    return json.loads(node.string)


def soup_of(path: Path) -> Any:
    from bs4 import BeautifulSoup

    return BeautifulSoup(path.read_text(encoding="utf-8"), "html.parser")


def settle(repo: Path) -> None:
    """Date every run folder changed in the last ten seconds ten seconds back: folders that changed
    in the last two are read in full (gitrun.site.builder._work_tree_keys), and tests do not wait."""
    limit = time.time_ns() - 10_000_000_000
    for run_dir in (repo / ".gitrun" / "experiments").glob("*/runs/*"):
        mtime = min(run_dir.stat().st_mtime_ns, limit)
        os.utime(run_dir, ns=(mtime, mtime))
