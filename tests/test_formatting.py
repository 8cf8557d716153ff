"""gitrun.formatting: one way to print a number (NaN, +∞, -∞), a time, a duration and a size,
used by the CLI's tables, ``gitrun diff``, the gate, commit messages and the site (Python and
its JavaScript)."""

from __future__ import annotations

import json
import math
import re
import shutil
import subprocess
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

import gitrun
from gitrun.formatting import format_duration, format_number, format_size, format_time, iso_time
from gitrun.store.textio import from_json_number
from tests.helpers import ROOT, gitrun_cli, run_git

CASES = json.loads((ROOT / "tests" / "fixtures" / "number_cases.json").read_text(encoding="utf-8"))
NONFINITE_JSON = ("NaN", "Infinity", "-Infinity")
# How the old formatters spelled what is not a number: none of it may come back.
OLD_SPELLINGS = re.compile(r"\b(nan|inf|-inf|Infinity)\b|(?<![+-])∞")


def _value(raw: Any) -> Any:
    return from_json_number(raw) if raw in NONFINITE_JSON else raw


@pytest.mark.parametrize(("raw", "text"), CASES["cases"], ids=lambda v: repr(v))
def test_numbers_as_the_site_shows_them(raw: Any, text: str) -> None:
    assert format_number(_value(raw), CASES["precision"]) == text


def test_precision_sign_and_missing_values() -> None:
    assert format_number(0.123456789) == "0.1235"  # 4 significant digits unless told
    assert format_number(math.nan, signed=True) == "NaN"
    assert format_number(math.inf) == format_number(math.inf, signed=True) == "+∞"
    assert format_number(-math.inf, signed=True) == "-∞"
    assert format_number(0.05, signed=True) == "+0.05" and format_number(-0.05, 2, signed=True) == "-0.05"
    assert format_number(None) == "" and format_number(None, missing="—") == "—"
    assert format_number(3) == "3" and format_number(True) == "True" and format_number("adam") == "adam"


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_the_sites_javascript_prints_numbers_as_python_does() -> None:
    # site/gitrun.js formats the runs table in the browser: the same cases, through its formatNumber.
    script = (ROOT / "site" / "gitrun.js").read_text(encoding="utf-8")
    probe = (
        "const window = {}; const document = {body: {getAttribute: () => null}};\n"
        + script
        + f"\nconst cases = {json.dumps(CASES['cases'])};\n"
        + "console.log(JSON.stringify(cases.map(([raw]) => window.GITRUN.formatNumber(raw))));\n"
    )
    proc = subprocess.run(["node", "-e", probe], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == [text for _, text in CASES["cases"]]


def test_times_durations_and_sizes() -> None:
    assert iso_time(0) == "1970-01-01T00:00:00.000Z"
    assert iso_time(1_700_000_000_123) == "2023-11-14T22:13:20.123Z"
    assert iso_time(None) is None
    assert datetime.fromisoformat("2023-11-14T22:13:20.123+00:00").tzinfo == timezone.utc
    assert format_time(1_700_000_000_123) == "2023-11-14 22:13:20 UTC"
    assert format_time(1_700_000_000_123, zone=False) == "2023-11-14 22:13:20"
    assert format_time(1_700_000_000_123, seconds=False, zone=False) == "2023-11-14 22:13"
    assert format_time(None) == format_time(0) == ""
    assert format_duration(1_000, 4_500) == "3.5 s" and format_duration(1_000, 126_000) == "2m 05s"
    assert format_duration(1_000, 3_726_000) == "1h 02m 05s" and format_duration(5, None) == format_duration(9, 5) == ""
    assert format_size(512) == "512 B" and format_size(1536) == "1.5 KB" and format_size(None) == "?"


def test_every_surface_spells_nan_and_infinities_alike(repo: Path, tmp_path: Path) -> None:
    gitrun.set_tracking_uri(repo)
    gitrun.set_experiment("odd", primary_metric="score", directions={"score": "max"})
    ids = {}
    for name, value in (("up", math.inf), ("down", -math.inf), ("undefined", math.nan)):
        with gitrun.start_run(run_name=name) as run:
            gitrun.log_metric("score", value)
        ids[name] = run.info.run_id

    def cli(*args: str) -> str:
        proc = gitrun_cli(*args, cwd=repo)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        return proc.stdout

    outputs = {"runs list": cli("runs", "list", "--experiment", "odd"), "runs show": cli("runs", "show", ids["down"])}
    cli("commit")
    outputs["commit message"] = run_git(repo, "log", "-1", "--format=%s").stdout
    outputs["experiments list"] = cli("experiments", "list")
    outputs["diff"] = cli("diff", "HEAD~1", "HEAD")
    outputs["diff md"] = cli("diff", "HEAD~1", "HEAD", "--format", "md")
    outputs["gate"] = cli("diff", "HEAD~1", "HEAD", "--check", "metrics.score >= 0")
    site = tmp_path / "site"
    cli("site", "build", "-o", str(site), "--no-history")
    from bs4 import BeautifulSoup

    for page in ("index.html", f"runs/{ids['down']}.html", f"runs/{ids['undefined']}.html"):
        outputs[page] = BeautifulSoup((site / page).read_text(encoding="utf-8"), "html.parser").get_text(" ")

    for surface, text in outputs.items():
        assert not OLD_SPELLINGS.search(text), f"{surface}: {OLD_SPELLINGS.search(text)} in\n{text}"
    assert "+∞" in outputs["runs list"] and "-∞" in outputs["runs list"] and "NaN" in outputs["runs list"]
    assert "-∞" in outputs["runs show"]
    assert "(best score=+∞, up)" in outputs["commit message"]
    assert "+∞" in outputs["experiments list"] and "+∞" in outputs["index.html"]
    assert "best score (max): — → +∞ (up)" in outputs["diff"]
    assert "| value | — | \\+∞ | — |" in outputs["diff md"]
    for shown in ("\\-∞", "NaN"):
        assert shown in outputs["diff md"]
    assert "best score among new/changed runs is +∞ (run up" in outputs["gate"]
    assert "-∞" in outputs[f"runs/{ids['down']}.html"] and "NaN" in outputs[f"runs/{ids['undefined']}.html"]
