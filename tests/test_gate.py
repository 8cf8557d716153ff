"""The CI gate (``--check``): the expression grammar, its evaluation against a Diff, and the exit
codes of ``gitrun diff`` and ``gitrun report pr`` (0 pass, 1 fail, 2 malformed / unknown metric)."""

from __future__ import annotations

from pathlib import Path

import pytest

from gitrun.compare.diff import BestRun, Diff, ExperimentDiff, RunChange, RunSummary, Side
from gitrun.compare.gate import CheckSyntaxError, evaluate, parse_check
from tests.helpers.diffkit import cli, commit, git, log


def run(name: str, **metrics: float) -> RunSummary:
    return RunSummary(
        run_id=f"01TEST{name.upper():0<20}"[:26], run_name=name, status="FINISHED", start_time=0, metrics=metrics
    )


def one_experiment(
    added: tuple[RunSummary, ...] = (),
    changed: tuple[RunSummary, ...] = (),
    base: dict[str, float] | None = None,
    directions: dict[str, str] | None = None,
) -> Diff:
    """A Diff value as compute_diff returns it, for one experiment (base: metric -> base best value)."""
    directions = directions or {"acc": "max", "loss": "min"}
    base_bests = {k: BestRun("01BASE" + "0" * 20, "base-run", v) for k, v in (base or {}).items()}
    exp = ExperimentDiff(
        experiment_id="e",
        name="exp",
        metric="acc",
        direction="max",
        in_base=True,
        in_target=True,
        added=added,
        changed=tuple(RunChange(run=r, base_name=r.run_name, base_status="FINISHED") for r in changed),
        directions=directions,
        base_bests=base_bests,
    )
    return Diff(Side("main", "0" * 40), Side("feature", "1" * 40), (exp,))


def holds(check: str, diff: Diff) -> bool:
    code, results = evaluate(diff, [check])
    assert len(results) == 1
    return code == 0 and results[0].passed


# -- the grammar ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("check", "expected"),
    [
        ("metrics.acc >= 0.9", True),
        ("metrics.acc > 0.9", False),  # best new acc is exactly 0.9
        ("metrics.acc = 0.9", True),  # '=' as in a search filter ('==' is refused, below)
        ("metrics.acc != 0.9", False),
        ("metrics.acc >= base", True),  # base 0.85
        ("metrics.acc >= base + 0.1", False),
        ("metrics.acc >= base - 0.01", True),
        # * binds tighter than + and -: base - 0.02 * 3 = 0.79; (base - 0.02) * 3 = 2.49
        ("metrics.acc >= base - 0.02 * 3", True),
        ("metrics.acc >= (base - 0.02) * 3", False),
        ("metrics.acc - base >= 0.05", True),  # 0.9 - 0.85
        ("metrics.acc - base >= 0.06", False),
        ("0.5 * metrics.acc + 0.5 * base > 0.87", True),  # 0.875
        ("-metrics.acc <= -0.9", True),
        ("- -metrics.acc >= .9", True),
        ("metrics.acc >= 9e-1", True),
        ("base <= metrics.acc", True),
        ("metric.acc >= 0.9", True),  # singular prefix accepted too
        ("METRICS.acc >= 0.9", True),  # prefixes are case-insensitive, as in a filter
        ("metrics.acc >= base-0.05", True),  # base minus 0.05, without spaces
        ("metrics.acc>=.9*1", True),
    ],
)
def test_expressions_and_precedence(check: str, expected: bool) -> None:
    diff = one_experiment(added=(run("a", acc=0.9), run("b", acc=0.7)), base={"acc": 0.85})
    assert holds(check, diff) is expected


def test_metric_names_with_dots_slashes_and_backticks() -> None:
    diff = one_experiment(
        added=(run("a", **{"val/acc": 0.5, "eval.f1": 0.7, "top k": 0.1}),),
        directions={"val/acc": "max", "eval.f1": "max", "top k": "max"},
    )
    assert holds("metrics.val/acc >= 0.5", diff)
    assert holds("metrics.eval.f1 > 0.6", diff)
    assert holds("metrics.`top k` < 0.2", diff)


def test_best_follows_the_metric_direction() -> None:
    diff = one_experiment(added=(run("a", loss=0.3), run("b", loss=0.2)), base={"loss": 0.25})
    code, (result,) = evaluate(diff, ["metrics.loss <= base"])
    assert code == 0 and result.run is not None and result.run.run_name == "b" and result.value == 0.2
    assert not holds("metrics.loss <= 0.1", diff)


def test_changed_runs_count_as_new_and_nan_never_wins() -> None:
    diff = one_experiment(added=(run("nan", acc=float("nan")),), changed=(run("resumed", acc=0.8),), base={"acc": 0.5})
    code, (result,) = evaluate(diff, ["metrics.acc >= base"])
    assert code == 0 and result.run is not None and result.run.run_name == "resumed"


@pytest.mark.parametrize(
    ("check", "column", "message"),
    [
        ("metrics.acc >= ", 15, "unexpected end"),
        ("metrics.acc >> 1", 13, "expected a number"),
        ("metrics.acc 0.9", 12, "expected a comparison"),
        ("metrics.acc >= 1 1", 17, "unexpected text after the comparison"),
        ("metrics.acc >= (base - 1", 24, "expected ')'"),
        ("metrics.acc >= base ^ 2", 20, "unexpected character"),
        ("metrics.acc >= __import__('os')", 15, "expected a number, 'base' or metrics.NAME, found '__import__'"),
        ("metrics.acc == 0.9", 12, "use '=' for equality, not '=='"),
        ("metrics.acc <> 0.9", 12, "use '!=' for inequality, not '<>'"),
        ("params.lr >= 0.1", 0, "a check compares metrics (metrics.NAME), not 'params.lr'"),
        ("metrics.`acc >= 1", 8, "unterminated quoted name"),
        ("1 >= 0", 0, "must name exactly one metric"),
        ("metrics.acc >= metrics.loss", 0, "only one metric, found acc, loss"),
    ],
)
def test_malformed_checks_point_at_the_problem(check: str, column: int, message: str) -> None:
    with pytest.raises(CheckSyntaxError) as info:
        parse_check(check)
    text = str(info.value)
    assert message in text
    lines = text.splitlines()
    assert lines[-2] == f"  {check}"
    assert lines[-1] == "  " + " " * column + "^"
    assert info.value.exit_code == 2


def test_unknown_metric_is_an_error() -> None:
    with pytest.raises(CheckSyntaxError, match="unknown metric 'nope'") as info:
        evaluate(one_experiment(added=(run("a", acc=0.9),)), ["1 < metrics.nope"])
    assert info.value.exit_code == 2
    assert str(info.value).splitlines()[-1] == "  " + " " * 4 + "^"  # under the metric's name


@pytest.mark.parametrize("text", ["metrics.acc == 1", "metrics.acc = 'x", "metrics.acc >= base ^ 2", "!x"])
def test_the_gate_and_the_filter_grammar_read_tokens_alike(text: str) -> None:
    # One tokenizer: the same reason at the same column, in the same excerpt, from both.
    from gitrun.errors import FilterSyntaxError
    from gitrun.search.grammar import parse_filter

    with pytest.raises(FilterSyntaxError) as in_filter:
        parse_filter(text)
    with pytest.raises(CheckSyntaxError) as in_check:
        parse_check(text)
    assert isinstance(in_check.value, FilterSyntaxError)
    assert (in_check.value.reason, in_check.value.position) == (in_filter.value.reason, in_filter.value.position)
    assert str(in_check.value) == str(in_filter.value).replace("invalid filter:", "invalid check:", 1)


def test_a_long_check_shows_the_same_window_as_a_long_filter() -> None:
    check = "metrics.acc >= " + " + ".join(["base"] * 40) + " ^ 2"
    with pytest.raises(CheckSyntaxError) as info:
        parse_check(check)
    from gitrun.errors import FilterSyntaxError

    assert str(info.value).endswith(FilterSyntaxError.excerpt(check, check.index("^")))
    assert str(info.value).splitlines()[1].startswith("  ...")


def test_no_new_runs_passes_with_a_note_unless_required() -> None:
    diff = one_experiment(base={"acc": 0.8})
    code, (result,) = evaluate(diff, ["metrics.acc >= base"])
    assert (
        code == 0
        and result.passed
        and "adds or changes no run" in result.explanation
        and "passing" in result.explanation
    )
    code, (result,) = evaluate(diff, ["metrics.acc >= base"], require_runs=True)
    assert code == 1 and not result.passed and "--require-runs" in result.explanation


def test_no_base_value_passes_when_the_check_uses_base() -> None:
    diff = one_experiment(added=(run("a", acc=0.1),))
    code, (result,) = evaluate(diff, ["metrics.acc >= base"])
    assert code == 0 and "no base value" in result.explanation
    assert not holds("metrics.acc >= 0.5", diff)  # without base, the numbers still decide


# -- exit codes of the commands, on a real repository ----------------------------------------
@pytest.fixture
def gated(repo: Path) -> Path:
    log(
        repo,
        [
            {"name": "base-best", "metrics": {"val_acc": 0.85, "val_loss": 0.4}},
            {"name": "base-2", "metrics": {"val_acc": 0.6}},
        ],
    )
    log(repo, [{"name": "quiet", "metrics": {"val_acc": 0.5}}], "untouched")
    commit(repo, "base")
    git(repo, "checkout", "-qb", "feature")
    log(
        repo,
        [
            {"name": "new-good", "metrics": {"val_acc": 0.84, "val_loss": 0.35}},
            {"name": "new-bad", "metrics": {"val_acc": 0.7}},
        ],
    )
    commit(repo, "feature")
    return repo


def test_cli_pass_and_fail_with_explanation(gated: Path) -> None:
    ok = cli(gated, "diff", "main", "feature", "--check", "metrics.val_acc >= base - 0.02", "-e", "digits")
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "PASS metrics.val_acc >= base - 0.02 [digits]" in ok.stdout

    bad = cli(
        gated, "diff", "main", "feature", "--check", "metrics.val_acc >= base", "--check", "metrics.val_loss <= base"
    )
    assert bad.returncode == 1, bad.stdout + bad.stderr
    fail = next(line for line in bad.stdout.splitlines() if line.startswith("FAIL"))
    assert fail.startswith(
        "FAIL metrics.val_acc >= base [digits]: best val_acc among new/changed runs is 0.84 (run new-good,"
    )
    assert "base best 0.85 (run base-best): 0.84 >= 0.85 is false" in fail
    assert "PASS metrics.val_loss <= base [digits]" in bad.stdout
    # the experiment the branch did not touch passes with a note
    assert (
        "PASS metrics.val_acc >= base [untouched]: the target adds or changes no run with this metric; passing"
        in bad.stdout
    )


def test_cli_require_runs_fails_untouched_experiments(gated: Path) -> None:
    proc = cli(gated, "diff", "main", "feature", "--check", "metrics.val_acc >= 0", "--require-runs")
    assert proc.returncode == 1
    assert (
        "FAIL metrics.val_acc >= 0 [untouched]: the target adds or changes no run with this metric (--require-runs)"
        in proc.stdout
    )


def test_cli_malformed_and_unknown_exit_2(gated: Path) -> None:
    proc = cli(gated, "diff", "main", "feature", "--check", "metrics.val_acc >= base -")
    assert proc.returncode == 2
    assert proc.stderr.splitlines()[-2:] == ["  metrics.val_acc >= base -", "  " + " " * 25 + "^"]
    assert "unexpected end" in proc.stderr
    proc = cli(gated, "diff", "main", "feature", "--check", "metrics.val_f1 >= 0.5")
    assert proc.returncode == 2 and "unknown metric 'val_f1'" in proc.stderr


def test_report_pr_uses_the_same_gate_and_exit_codes(gated: Path, tmp_path: Path) -> None:
    out = tmp_path / "r"
    proc = cli(
        gated, "report", "pr", "main", "feature", "--out", str(out), "--no-images", "--check", "metrics.val_acc >= base"
    )
    assert proc.returncode == 1
    comment = (out / "comment.md").read_text(encoding="utf-8")
    assert "**Gate: ❌ failed** (1 of 2 results)" in comment
    # GITRUN_CHECKS (one per line, '#' comments) is the default for --check
    env = {"GITRUN_CHECKS": "# the gate\nmetrics.val_acc >= base - 0.05\n\nmetrics.val_loss <= base\n"}
    proc = cli(gated, "report", "pr", "main", "feature", "--out", str(out), "--no-images", "-e", "digits", env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "**Gate: ✅ passed** (2 results)" in (out / "comment.md").read_text(encoding="utf-8")
    proc = cli(gated, "report", "pr", "main", "feature", "--out", str(out), "--check", "metrics.val_acc >=")
    assert proc.returncode == 2
