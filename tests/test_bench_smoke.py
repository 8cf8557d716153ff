"""The benchmark harness still runs: gitrun's part of bench/run_all.py with tiny N, in a few seconds.

No MLflow venv is created and nothing is timed against a target here (``make bench`` does that);
this only keeps the harness from rotting silently as gitrun's API and store format change.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def run_all(monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    monkeypatch.syspath_prepend(str(ROOT / "bench"))
    import run_all as module

    return module


def test_harness_runs_gitrun_workloads_in_tiny_mode(run_all, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "RESULTS.md"
    argv = [
        "--tiny",
        "--systems",
        "gitrun",
        "--python",
        sys.executable,
        "--out",
        str(out),
        "--workdir",
        str(tmp_path / "work"),
    ]
    code = run_all.main(argv)
    raw = json.loads((tmp_path / "results.json").read_text())
    assert raw["errors"] == [], raw["errors"]
    assert code == 0
    rows = raw["rows"]
    for key in ("import", "log_metric", "log_metrics", "log_batch", "start_end", "history"):
        assert rows[key]["samples"]["gitrun"], key
    # search_runs is measured once gitrun.search.api exists; until then it is reported as unavailable, never as an error
    for key, row in rows.items():
        if key.startswith("search_") and "gitrun" in row["unavailable"]:
            assert "not available" in row["unavailable"]["gitrun"]
    sigkill = raw["extra"]["sigkill"]
    assert sigkill["read_back"] == sigkill["logged"]
    text = out.read_text()
    assert "## Targets" in text and "SIGKILL" in text and "--tiny" in text
    # the gitlayer case (bench/bench_gitlayer.py): both trees measured, its own section written
    gitlayer = raw["extra"]["gitlayer"]
    assert all(gitlayer["wall"][key]["baseline"] and gitlayer["wall"][key]["checkout"] for key in gitlayer["wall"])
    assert "## The version path on GitPython" in text
    # the scale case (bench/bench_scale.py): both trees measured, its own section written
    scale = raw["extra"]["scale"]
    assert all(scale["cells"][key]["baseline"] and scale["cells"][key]["checkout"] for key in scale["cells"])
    assert "## Scale: the record cache" in text


def test_directly_written_store_reads_back_with_gitrun(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(ROOT / "bench"))
    import stores

    stores.build_gitrun_store(tmp_path / "store", 30)
    assert stores.verify_gitrun_store(tmp_path / "store", 30) == 30
    assert stores.expected_search(30)[:3] == ["f1", "f2", "f3"]
