"""The CI gate of ``gitrun diff --check``: expressions over a :class:`~gitrun.diff.Diff`.

Grammar (parsed here, never ``eval``-ed)::

    check  := expr OP expr            OP: >= <= > < == !=
    expr   := term (('+' | '-') term)*
    term   := factor ('*' factor)*
    factor := NUMBER | 'base' | 'metrics.' NAME | '-' factor | '(' expr ')'

``metrics.NAME`` is the best value of NAME among the runs the target added or changed; ``base``
is the best value of that same metric among the base's runs (best by the metric's direction).
Exit codes: 0 every check holds, 1 one fails, 2 a malformed expression or unknown metric.
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from gitrun.compare.diff import Diff, RunSummary
from gitrun.errors import CheckSyntaxError

_TOKEN = re.compile(
    r"\s*(?:(?P<num>\d+(?:\.\d*)?(?:[eE][-+]?\d+)?|\.\d+(?:[eE][-+]?\d+)?)"
    r"|(?P<metric>metrics?\.(?:`[^`]+`|[A-Za-z0-9_./:-]+))"
    r"|(?P<base>base\b)"
    r"|(?P<op>>=|<=|==|!=|>|<)"
    r"|(?P<sym>[-+*()]))"
)
_COMPARE: dict[str, Callable[[float, float], bool]] = {
    ">=": operator.ge,
    "<=": operator.le,
    ">": operator.gt,
    "<": operator.lt,
    "==": operator.eq,
    "!=": operator.ne,
}


@dataclass(frozen=True)
class Node:
    kind: str  # "num", "metric", "base", "neg", "+", "-", "*"
    value: float | str | None = None
    children: tuple[Node, ...] = ()


@dataclass(frozen=True)
class Check:
    text: str
    left: Node
    op: str
    right: Node
    metric: str


@dataclass(frozen=True)
class CheckResult:
    check: str
    experiment: str
    passed: bool
    explanation: str
    run: RunSummary | None = None
    value: float | None = None
    base: float | None = None


def _error(text: str, pos: int, message: str) -> CheckSyntaxError:
    return CheckSyntaxError(f"{message} in check:\n  {text}\n  {' ' * pos}^")


def parse_check(text: str) -> Check:
    tokens: list[tuple[str, str, int]] = []
    pos = 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        match = _TOKEN.match(text, pos)
        if not match or match.end() == pos:
            start = len(text) - len(text[pos:].lstrip())
            raise _error(text, start, "unexpected character")
        kind = match.lastgroup or ""
        tokens.append((kind, match.group(kind), match.start(kind)))
        pos = match.end()
    tokens.append(("end", "", len(text)))
    index = 0

    def peek() -> tuple[str, str, int]:
        return tokens[index]

    def take() -> tuple[str, str, int]:
        nonlocal index
        index += 1
        return tokens[index - 1]

    def expr() -> Node:
        node = term()
        while peek()[1] in ("+", "-") and peek()[0] == "sym":
            op = take()[1]
            node = Node(op, children=(node, term()))
        return node

    def term() -> Node:
        node = factor()
        while peek() == ("sym", "*", peek()[2]):
            take()
            node = Node("*", children=(node, factor()))
        return node

    def factor() -> Node:
        kind, value, at = take()
        if kind == "num":
            return Node("num", float(value))
        if kind == "base":
            return Node("base")
        if kind == "metric":
            name = value.split(".", 1)[1].strip("`")
            return Node("metric", name)
        if kind == "sym" and value == "-":
            return Node("neg", children=(factor(),))
        if kind == "sym" and value == "(":
            node = expr()
            if take()[1] != ")":
                raise _error(text, tokens[index - 1][2], "expected ')'")
            return node
        raise _error(text, at, "expected a number, 'base' or metrics.NAME" if kind != "end" else "unexpected end")

    left = expr()
    kind, op, at = take()
    if kind != "op":
        raise _error(text, at, "expected a comparison (>=, <=, >, <, ==, !=)")
    right = expr()
    if peek()[0] != "end":
        raise _error(text, peek()[2], "unexpected text after the comparison")
    metrics = sorted(set(_metrics(left)) | set(_metrics(right)))
    if len(metrics) != 1:
        raise _error(
            text,
            0,
            "a check must name exactly one metric (metrics.NAME)"
            if not metrics
            else f"a check may name only one metric, found {', '.join(metrics)}",
        )
    return Check(text, left, op, right, metrics[0])


def _metrics(node: Node) -> Iterable[str]:
    if node.kind == "metric":
        yield str(node.value)
    for child in node.children:
        yield from _metrics(child)


def _uses_base(node: Node) -> bool:
    return node.kind == "base" or any(_uses_base(c) for c in node.children)


def _eval(node: Node, value: float, base: float | None) -> float:
    if node.kind == "num":
        return float(node.value)  # type: ignore[arg-type]
    if node.kind == "metric":
        return value
    if node.kind == "base":
        assert base is not None
        return base
    if node.kind == "neg":
        return -_eval(node.children[0], value, base)
    a, b = (_eval(c, value, base) for c in node.children)
    return {"+": a + b, "-": a - b, "*": a * b}[node.kind]


def _best(runs: Sequence[RunSummary], metric: str, direction: str) -> tuple[RunSummary, float] | None:
    values = [(r, r.metrics[metric]) for r in runs if metric in r.metrics and not math.isnan(r.metrics[metric])]
    if not values:
        return None
    pick = min if direction == "min" else max
    return pick(values, key=lambda item: item[1])


def evaluate(diff: Diff, checks: Sequence[str], *, require_runs: bool = False) -> tuple[int, list[CheckResult]]:
    """Evaluate every check in every experiment of ``diff``; returns (exit code, results)."""
    parsed = [parse_check(c) for c in checks]
    results: list[CheckResult] = []
    for check in parsed:
        metric = check.metric
        seen = False
        for exp in diff.experiments:
            if metric not in exp.directions:
                continue
            direction = exp.directions[metric]
            new_runs = [*exp.added, *(c.run for c in exp.changed)]
            seen = True
            best = _best(new_runs, metric, direction)
            if best is None:
                note = "the target adds or changes no run with this metric"
                results.append(
                    CheckResult(
                        check.text,
                        exp.name,
                        not require_runs,
                        note + (" (--require-runs)" if require_runs else "; passing"),
                    )
                )
                continue
            run, value = best
            base_best = exp.base_bests.get(metric)
            base = base_best.value if base_best else None
            if base is None and (_uses_base(check.left) or _uses_base(check.right)):
                results.append(
                    CheckResult(
                        check.text,
                        exp.name,
                        True,
                        "no base value for this metric (new experiment or metric); passing",
                        run,
                        value,
                    )
                )
                continue
            left, right = _eval(check.left, value, base), _eval(check.right, value, base)
            passed = _COMPARE[check.op](left, right)
            base_text = f", base best {base:.6g} (run {base_best.run_name})" if base_best is not None else ""
            explanation = (
                f"best {metric} among new/changed runs is {value:.6g} (run {run.run_name}, {run.run_id}){base_text}: "
                f"{left:.6g} {check.op} {right:.6g} is {'true' if passed else 'false'}"
            )
            results.append(CheckResult(check.text, exp.name, passed, explanation, run, value, base))
        if not seen:
            raise CheckSyntaxError(f"unknown metric {metric!r} in check {check.text!r}: no run on either side logs it")
    code = 0 if all(r.passed for r in results) else 1
    return code, results
