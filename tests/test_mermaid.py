"""The PR report's Mermaid charts, checked by mermaid's own parser (the npm package, run headless
with the machine's Node.js through jsdom), and the sparklines of its tables."""

from __future__ import annotations

import math
import random
import re
from pathlib import Path

import pytest

from gitrun.charts.mermaid import MAX_SERIES, Line, grid, number, safe_text, xychart
from gitrun.charts.sparkline import BARS, FLAT, sparkline
from tests.helpers.diffkit import cli, commit, git, log, mermaid_blocks, mermaid_parse


def body(block: str) -> str:
    assert block.startswith("```mermaid\n") and block.endswith("\n```")
    return block[len("```mermaid\n") : -len("\n```")]


def line_data(block: str) -> list[list[float]]:
    return [[float(v) for v in m.split(",")] for m in re.findall(r"^    line \[(.*)\]$", block, flags=re.M)]


def synthetic_charts() -> dict[str, str]:
    rng = random.Random(7)
    noisy = [0.5 + 0.4 * (1 - math.exp(-s / 2000)) + rng.gauss(0, 0.02) for s in range(10_000)]
    noisy[7_777] = 1.5  # a spike that decimation must keep
    noisy[1_234] = -0.5
    cases = {
        "exact": [Line(range(30), [1 - math.exp(-s / 5) for s in range(30)]), Line(range(30), [0.5] * 30)],
        "long": [Line(range(10_000), noisy), Line(range(0, 9_000, 30), [0.7] * 300)],
        "irregular": [Line([0, 1, 5, 100, 1000], [0.1, 0.2, 0.3, 0.4, 0.5]), Line([3, 500], [0.9, 0.8])],
        "tiny-negative-huge": [
            Line(range(5), [1e-7, -2e-7, 3.5e-8, 0, -1e-9]),
            Line(range(5), [1.2e12, -3e11, 5e12, 7, 0.5]),
        ],
        "nan-inf": [Line(range(6), [0.1, math.nan, 0.3, math.inf, -math.inf, 0.2]), Line(range(6), [math.nan] * 6)],
        "seven-series": [Line(range(20), [i + s / 10 for s in range(20)]) for i in range(MAX_SERIES)],
        "single-points": [Line([5], [0.5]), Line([5], [0.7])],
        "constant": [Line(range(10), [3.0] * 10)],
        "late-start": [Line(range(100), [s / 100 for s in range(100)]), Line(range(50, 60), [0.2] * 10)],
    }
    out = {}
    for name, lines in cases.items():
        block = xychart(lines, title=f'{name} "quoted" [x] %% {{y}}', y_label="val/acc:top-1")
        assert block is not None, name
        out[name] = block
    return out


def test_synthetic_charts_parse_with_mermaid() -> None:
    charts = synthetic_charts()
    results = mermaid_parse([body(b) for b in charts.values()])
    for name, result in zip(charts, results, strict=True):
        assert result == {"ok": True, "type": "xychart"}, (name, result, charts[name])


def test_the_parser_really_rejects_broken_blocks() -> None:
    good = body(synthetic_charts()["exact"])
    broken = [
        good.replace("line [", "line [[", 1),
        good.replace("x-axis", "x-axis [", 1),
        good + "\n    line [1e-05, 2]",  # exponents are not in the grammar: number() must avoid them
    ]
    results = mermaid_parse(broken)
    assert [r["ok"] for r in results] == [False, False, False], results
    assert all("Parse error" in r["error"] or "error" in r["error"].lower() for r in results)


def test_at_most_100_points_and_extremes_kept() -> None:
    charts = synthetic_charts()
    for name, block in charts.items():
        for data in line_data(block):
            assert len(data) <= 100, name
    long_lines = line_data(charts["long"])
    assert max(long_lines[0]) == 1.5 and min(long_lines[0]) == -0.5  # the spike and the dip survive
    exact = line_data(charts["exact"])
    assert len(exact[0]) == 30 and exact[0][0] == 0 and exact[0][-1] == float(number(1 - math.exp(-29 / 5)))
    assert 'x-axis "step" 0 --> 29' in charts["exact"]
    # a series that starts late holds its first value before its first step
    late = line_data(charts["late-start"])[1]
    assert set(late) == {0.2}


def test_grid_modes() -> None:
    exact = grid([Line([0, 2, 4], [1.0, 2.0, 3.0]), Line([0, 4], [5.0, 6.0])])
    assert exact is not None and exact.exact and exact.values == ((1.0, 2.0, 3.0), (5.0, 5.0, 6.0))
    buckets = grid([Line([0, 1, 5, 100], [1.0, 2.0, 3.0, 4.0])], max_points=10)
    assert buckets is not None and not buckets.exact and len(buckets.values[0]) == 10
    assert grid([Line([1], [math.nan])]) is None
    assert xychart([Line([1], [math.nan])], title="t", y_label="y") is None


def test_numbers_and_text_are_grammar_safe() -> None:
    assert [number(v) for v in (1e-05, 0.1, -2.5e-7, 1e21, 3.0, -0.0, 123456789.0)] == [
        "0.00001",
        "0.1",
        "-0.00000025",
        "1000000000000000000000",
        "3",
        "0",
        "123457000",
    ]
    assert safe_text('a "b" [c] %%{init}%% `d`\nnext') == "a  b   c   init   d next"
    with pytest.raises(ValueError):
        number(math.nan)
    with pytest.raises(ValueError):
        xychart([Line([0], [1.0])] * (MAX_SERIES + 1), title="t", y_label="y")


def test_report_charts_from_a_real_repository_parse(repo: Path, tmp_path: Path) -> None:
    log(
        repo,
        [
            {"name": "base-a", "metrics": {"val_acc": [0.1 * s for s in range(8)]}},
            {"name": "base-b", "metrics": {"val_acc": [0.05 * s for s in range(8)]}},
        ],
    )
    log(repo, [{"name": "loss-run", "metrics": {"val_loss": [1 / (s + 1) for s in range(150)]}}], "reg", "val_loss")
    commit(repo)
    git(repo, "checkout", "-qb", "feature")
    log(repo, [{"name": f"new-{i}", "metrics": {"val_acc": [0.09 * s + i / 100 for s in range(12)]}} for i in range(5)])
    log(repo, [{"name": "loss-new", "metrics": {"val_loss": [0.8 / (s + 1) for s in range(300)]}}], "reg")
    commit(repo)
    out = tmp_path / "out"
    proc = cli(repo, "report", "pr", "main", "feature", "--out", str(out), "--no-images")
    assert proc.returncode == 0, proc.stderr
    md = (out / "comment.md").read_text(encoding="utf-8")
    blocks = mermaid_blocks(md)
    assert len(blocks) == 2
    assert mermaid_parse(blocks) == [{"ok": True, "type": "xychart"}] * 2
    # digits: the base's best + the 3 best new runs (--max-curves default 3), named in the legend table
    digits = md[md.index("### digits") :]
    assert len(line_data(digits.split("```", 2)[1])) == 4
    legend = [line for line in digits.splitlines() if line.startswith(("| 🟦", "| 🟧", "| 🟩", "| 🟥"))][:4]
    assert [row.split("|")[2].strip().split(" <sub>")[0] for row in legend] == [
        "base best: base-a",
        "new best: new-4",
        "new #2: new-3",
        "new #3: new-2",
    ]
    reg = md[md.index("### reg") :]
    assert "(min)" in reg and len(line_data(reg.split("```", 2)[1])[0]) <= 100


def test_sparklines() -> None:
    assert sparkline([1, 2, 3, 4, 5, 6, 7, 8]) == BARS
    assert sparkline([8, 7, 6, 5, 4, 3, 2, 1]) == BARS[::-1]
    assert sparkline([2.0, 2.0, 2.0]) == FLAT * 3
    assert sparkline([]) == "" and sparkline([math.nan, math.inf]) == ""
    assert sparkline([0, math.nan, 1]) == "▁█"  # non-finite points are left out
    long = sparkline([math.sin(i / 100) for i in range(10_000)], width=24)
    assert len(long) == 24 and set(long) <= set(BARS) and "█" in long and "▁" in long
    assert sparkline([0.5]) == FLAT
