"""The CI gate of ``gitrun diff --check``: expressions over a :class:`~gitrun.compare.diff.Diff`.

Grammar (parsed here, never ``eval``-ed)::

    check  := ['models.' NAME '#' STAGE ':'] expr OP expr     OP: >= <= > < = !=
    expr   := term (('+' | '-') term)*
    term   := factor ('*' factor)*
    factor := NUMBER | 'base' | 'metrics.' NAME | '-' factor | '(' expr ')'

The tokens are the search grammar's (:func:`gitrun.search.grammar.tokenize` in its arithmetic
dialect), so names, backticks, numbers and comparison operators read as in a filter, ``==`` is
refused with the same hint (``use '=' for equality``), and every error is a
:class:`~gitrun.errors.CheckSyntaxError` with the filter errors' caret excerpt.

``metrics.NAME`` is the best value of NAME among the runs the target added or changed; ``base``
is the best value of that same metric among the base's runs (best by :mod:`gitrun.ranking`).
With the ``models.NAME#STAGE:`` prefix (``models.churn#prod: metrics.auc >= base``) the check is
about the model registry (docs/registry.md): ``metrics.NAME`` is the metric of the source run of
the version in that stage on the target, ``base`` the same metric of the version in that stage on
the base; the check fails when the target has no version in the stage or its run lacks the metric.
Exit codes: 0 every check holds, 1 one fails, 2 a malformed expression or unknown metric.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from gitrun import ranking
from gitrun.compare.diff import Diff, RunSummary
from gitrun.errors import CheckSyntaxError, FilterSyntaxError
from gitrun.formatting import format_number
from gitrun.search.grammar import METRIC, RUN_SCHEMA, Token, resolve_field, tokenize

__all__ = ["Check", "CheckResult", "CheckSyntaxError", "evaluate", "parse_check"]

_COMPARE: dict[str, Callable[[float, float], bool]] = {
    ">=": operator.ge,
    "<=": operator.le,
    ">": operator.gt,
    "<": operator.lt,
    "=": operator.eq,
    "!=": operator.ne,
}


@dataclass(frozen=True)
class Node:
    kind: str  # "num", "metric", "base", "neg", "+", "-", "*"
    value: float | str | None = None
    children: tuple[Node, ...] = ()
    pos: int = 0  # where it starts in the check's text


@dataclass(frozen=True)
class Check:
    text: str
    left: Node
    op: str
    right: Node
    metric: str
    metric_pos: int = 0  # where the check first names its metric
    model: tuple[str, str] | None = None  # (name, stage) of a models.NAME#STAGE: check


@dataclass(frozen=True)
class CheckResult:
    check: str
    experiment: str
    passed: bool
    explanation: str
    run: RunSummary | None = None
    value: float | None = None
    base: float | None = None


class _Parser:
    def __init__(self, text: str):
        self.text = text
        try:
            self.tokens = tokenize(text, arithmetic=True)
        except FilterSyntaxError as exc:
            raise CheckSyntaxError(exc.reason, text, exc.position) from None
        self.i = 0

    @property
    def tok(self) -> Token:
        return self.tokens[self.i]

    def take(self) -> Token:
        self.i += 1
        return self.tokens[self.i - 1]

    def error(self, message: str, token: Token | None = None) -> CheckSyntaxError:
        return CheckSyntaxError(message, self.text, (token or self.tok).pos)

    def arith(self, *symbols: str) -> bool:
        return self.tok.kind == "arith" and self.tok.text in symbols

    def expr(self) -> Node:
        node = self.term()
        while self.arith("+", "-"):
            op = self.take()
            node = Node(op.text, children=(node, self.term()), pos=node.pos)
        return node

    def term(self) -> Node:
        node = self.factor()
        while self.arith("*"):
            self.take()
            node = Node("*", children=(node, self.factor()), pos=node.pos)
        return node

    def factor(self) -> Node:
        token = self.take()
        if token.kind == "number":
            return Node("num", float(token.value), pos=token.pos)  # type: ignore[arg-type]
        if token.kind == "arith" and token.text == "-":
            return Node("neg", children=(self.factor(),), pos=token.pos)
        if token.kind == "(":
            node = self.expr()
            if self.tok.kind != ")":
                raise self.error("expected ')'")
            self.take()
            return node
        if token.kind == "path":
            return self.name(token)
        if token.kind == "end":
            raise self.error("unexpected end", token)
        raise self.error(f"expected a number, 'base' or metrics.NAME, found {token.text!r}", token)

    def name(self, token: Token) -> Node:
        segments: tuple[tuple[str, str], ...] = token.value  # type: ignore[assignment]
        if len(segments) == 1:
            if segments[0] == ("base", ""):
                return Node("base", pos=token.pos)
            raise self.error(f"expected a number, 'base' or metrics.NAME, found {token.text!r}", token)
        try:
            field = resolve_field(token, self.text, RUN_SCHEMA)
        except FilterSyntaxError as exc:
            raise CheckSyntaxError(exc.reason, self.text, exc.position) from None
        if field.kind != METRIC:
            raise self.error(f"a check compares metrics (metrics.NAME), not {token.text!r}", token)
        return Node("metric", field.key, pos=token.pos)


_MODEL_PREFIX = re.compile(r"^\s*models\.(?P<name>[^#\s]+)#(?P<stage>[A-Za-z0-9][A-Za-z0-9_/-]*)\s*:\s*")


def parse_check(text: str) -> Check:
    """One ``--check`` expression as a tree; a :class:`CheckSyntaxError` pointing at the problem."""
    prefix = _MODEL_PREFIX.match(text)
    if prefix is not None:
        try:
            inner = parse_check(text[prefix.end() :])
        except CheckSyntaxError as exc:
            raise CheckSyntaxError(exc.reason, text, exc.position + prefix.end()) from None
        return Check(
            text,
            inner.left,
            inner.op,
            inner.right,
            inner.metric,
            inner.metric_pos + prefix.end(),
            (prefix["name"], prefix["stage"]),
        )
    if text.lstrip().startswith("models."):
        raise CheckSyntaxError(
            "a model check starts with models.NAME#STAGE: (e.g. models.churn#prod: metrics.auc >= base)", text, 0
        )
    parser = _Parser(text)
    left = parser.expr()
    op = parser.take()
    if op.kind != "op":
        raise parser.error("expected a comparison (>=, <=, >, <, =, !=)", op)
    right = parser.expr()
    if parser.tok.kind != "end":
        raise parser.error("unexpected text after the comparison")
    named = [*_metrics(left), *_metrics(right)]
    metrics = sorted({name for name, _ in named})
    if len(metrics) != 1:
        raise CheckSyntaxError(
            "a check must name exactly one metric (metrics.NAME)"
            if not metrics
            else f"a check may name only one metric, found {', '.join(metrics)}",
            text,
            0,
        )
    return Check(text, left, op.text, right, metrics[0], named[0][1])


def _metrics(node: Node) -> Iterable[tuple[str, int]]:
    """(name, position) of every metric the expression names, in reading order."""
    if node.kind == "metric":
        yield str(node.value), node.pos
    for child in node.children:
        yield from _metrics(child)


def _num(value: float | None) -> str:
    return format_number(value, 6)


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


def evaluate(diff: Diff, checks: Sequence[str], *, require_runs: bool = False) -> tuple[int, list[CheckResult]]:
    """Evaluate every check in every experiment of ``diff``; returns (exit code, results)."""
    parsed = [parse_check(c) for c in checks]
    results: list[CheckResult] = []
    for check in parsed:
        metric = check.metric
        if check.model is not None:
            results.append(_model_check(diff, check))
            continue
        seen = False
        for exp in diff.experiments:
            if metric not in exp.directions:
                continue
            direction = exp.directions[metric]
            new_runs = [*exp.added, *(c.run for c in exp.changed)]
            seen = True
            best = ranking.best_run(new_runs, metric, direction)
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
            base_text = f", base best {_num(base)} (run {base_best.run_name})" if base_best is not None else ""
            explanation = (
                f"best {metric} among new/changed runs is {_num(value)} (run {run.run_name}, {run.run_id}){base_text}: "
                f"{_num(left)} {check.op} {_num(right)} is {'true' if passed else 'false'}"
            )
            results.append(CheckResult(check.text, exp.name, passed, explanation, run, value, base))
        if not seen:
            raise CheckSyntaxError(
                f"unknown metric {metric!r}: no run on either side logs it", check.text, check.metric_pos
            )
    code = 0 if all(r.passed for r in results) else 1
    return code, results


def _model_check(diff: Diff, check: Check) -> CheckResult:
    """A ``models.NAME#STAGE:`` check: the stage's version on the target against the base's."""
    assert check.model is not None
    name, stage = check.model
    where = f"models.{name}#{stage}"
    base_version, target_version = diff.registry.stages.get((name, stage), (None, None))
    if target_version is None:
        return CheckResult(check.text, where, False, f"no version of {name} is in stage {stage!r} on the target")
    value = target_version.metrics.get(check.metric)
    if value is None:
        return CheckResult(
            check.text,
            where,
            False,
            f"{name} {target_version.version}'s run ({target_version.run_id or 'unknown'}) has no metric {check.metric!r}",
        )
    base = base_version.metrics.get(check.metric) if base_version is not None else None
    if base is None and (_uses_base(check.left) or _uses_base(check.right)):
        return CheckResult(
            check.text,
            where,
            True,
            f"no version of {name} in stage {stage!r} with {check.metric} on the base; passing",
            value=value,
        )
    left, right = _eval(check.left, value, base), _eval(check.right, value, base)
    passed = _COMPARE[check.op](left, right)
    base_text = f", base {base_version.version} {_num(base)}" if base_version is not None and base is not None else ""
    explanation = (
        f"{check.metric} of {name} {target_version.version} (run {target_version.run_id}) in {stage} is {_num(value)}"
        f"{base_text}: {_num(left)} {check.op} {_num(right)} is {'true' if passed else 'false'}"
    )
    return CheckResult(check.text, where, passed, explanation, value=value, base=base)
