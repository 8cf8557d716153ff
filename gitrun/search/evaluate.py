"""Filter trees to predicates, and ``order_by`` clauses to MLflow's sort.

A compiled predicate takes any object with four lookups (``metric``, ``param``, ``tag``,
``attribute``, each returning None when the run lacks the key), so one compiler serves the run
store, its index and experiments. Semantics follow MLflow's file store for the shared subset:

- a comparison on a missing key is false (``IS NULL`` aside); ``NOT`` is plain negation, so
  ``NOT params.x = 'a'`` also matches runs without ``x`` while ``params.x != 'a'`` does not;
- metrics compare as floats (NaN is unequal to everything, as in Python and MLflow);
- params and tags are text: ``=``/``!=`` against a quoted string compare the text exactly (as
  MLflow); against a bare number, and for ``< <= > >=``, they compare as numbers when both sides
  read as numbers, else as text;
- ``LIKE``/``ILIKE`` are SQL patterns over the whole value (``%`` any text, ``_`` one character).
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable, Sequence
from functools import lru_cache
from typing import Any, Protocol

from gitrun.search.grammar import (
    ATTRIBUTE,
    DATASET,
    LIST_OPS,
    METRIC,
    NULL_OPS,
    PARAM,
    PATTERN_OPS,
    TAG,
    And,
    Comparison,
    Expr,
    Field,
    Not,
    Or,
    OrderBy,
    Value,
)

__all__ = ["Lookup", "compile_filter", "getter", "like_regex", "sort_rows"]


class Lookup(Protocol):
    def metric(self, key: str) -> float | None: ...
    def param(self, key: str) -> str | None: ...
    def tag(self, key: str) -> str | None: ...
    def attribute(self, key: str) -> Any: ...
    def datasets(self, key: str) -> list[str]: ...


Predicate = Callable[[Any], bool]

_OPS: dict[str, Callable[[Any, Any], bool]] = {
    "=": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}

_NUMBER_TEXT = re.compile(r"[+-]?(?:(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?|inf|infinity|nan)", re.IGNORECASE)


@lru_cache(maxsize=8192)
def as_number(text: str) -> float | None:
    """``text`` as a float when the whole of it is a decimal number (or inf/nan), else None."""
    return float(text) if _NUMBER_TEXT.fullmatch(text) else None


def like_regex(pattern: str, ignore_case: bool = False) -> re.Pattern[str]:
    """SQL LIKE: ``%`` any run of characters, ``_`` exactly one; the whole value must match."""
    body = "".join(".*" if c == "%" else "." if c == "_" else re.escape(c) for c in pattern)
    return re.compile(body, re.DOTALL | (re.IGNORECASE if ignore_case else 0))


def getter(field: Field) -> Callable[[Any], Any]:
    kind, key = field.kind, field.key
    if kind == METRIC:
        return lambda row: row.metric(key)
    if kind == PARAM:
        return lambda row: row.param(key)
    if kind == TAG:
        return lambda row: row.tag(key)
    if kind == DATASET:
        return lambda row: row.datasets(key)
    assert kind == ATTRIBUTE
    return lambda row: row.attribute(key)


def _number_text(value: int | float) -> str:
    return repr(value)


def _text_compare(op: str, literal: Value) -> Callable[[str], bool]:
    """How a text value (param, tag, text attribute) compares with one literal."""
    compare = _OPS[op]
    if isinstance(literal, str):
        if op in ("=", "!="):
            return lambda v: compare(v, literal)
        number = as_number(literal)
        if number is None:
            return lambda v: compare(v, literal)

        def ordered(v: str) -> bool:
            x = as_number(v)
            return compare(v, literal) if x is None else compare(x, number)

        return ordered
    text = _number_text(literal)

    def numeric(v: str) -> bool:
        x = as_number(v)
        return compare(v, text) if x is None else compare(x, literal)

    return numeric


class _Value:
    """One value seen as a run's only attribute: how a dataset field reuses the text comparisons."""

    __slots__ = ("value",)

    def __init__(self) -> None:
        self.value: str | None = None

    def attribute(self, key: str) -> Any:
        return self.value


def _compile_any_dataset(c: Comparison) -> Predicate:
    """``datasets.<key> <op> <value>``: true when one of the run's dataset inputs matches (MLflow's join)."""
    one = _compile_comparison(Comparison(Field(ATTRIBUTE, c.field.key), c.op, c.value), frozenset())
    key = c.field.key

    def test(row: Any) -> bool:
        holder = _Value()
        for value in row.datasets(key):
            holder.value = value
            if one(holder):
                return True
        return False

    return test


def _compile_comparison(c: Comparison, numeric_attributes: frozenset[str]) -> Predicate:
    if c.field.kind == DATASET:
        return _compile_any_dataset(c)
    get = getter(c.field)
    op = c.op
    if op in NULL_OPS:
        if op == "IS NULL":
            return lambda row: get(row) is None
        return lambda row: get(row) is not None
    numeric = c.field.kind == METRIC or (c.field.kind == ATTRIBUTE and c.field.key in numeric_attributes)
    if op in PATTERN_OPS:
        assert isinstance(c.value, str)
        rx = like_regex(c.value, ignore_case="ILIKE" in op).fullmatch
        if op.startswith("NOT"):
            return lambda row: (v := get(row)) is not None and rx(v) is None
        return lambda row: (v := get(row)) is not None and rx(v) is not None
    if op in LIST_OPS:
        assert isinstance(c.value, tuple)
        if numeric:
            members = frozenset(c.value)

            def any_equal(v: Any) -> bool:
                return v in members
        else:
            tests = [_text_compare("=", x) for x in c.value]

            def any_equal(v: Any) -> bool:
                return any(t(v) for t in tests)

        if op == "NOT IN":
            return lambda row: (v := get(row)) is not None and not any_equal(v)
        return lambda row: (v := get(row)) is not None and any_equal(v)
    assert c.value is not None and not isinstance(c.value, tuple)
    if numeric:
        compare, literal = _OPS[op], c.value
        return lambda row: (v := get(row)) is not None and compare(v, literal)
    test = _text_compare(op, c.value)
    return lambda row: (v := get(row)) is not None and test(v)


def compile_filter(
    expr: Expr | None, numeric_attributes: frozenset[str] = frozenset({"start_time", "end_time"})
) -> Predicate | None:
    """A predicate for ``expr``; None when there is no filter (everything matches)."""
    if expr is None:
        return None

    def build(e: Expr) -> Predicate:
        if isinstance(e, Comparison):
            return _compile_comparison(e, numeric_attributes)
        if isinstance(e, Not):
            inner = build(e.term)
            return lambda row: not inner(row)
        parts = [build(t) for t in e.terms]
        if isinstance(e, And):
            if len(parts) == 2:
                a, b = parts
                return lambda row: a(row) and b(row)
            return lambda row: all(p(row) for p in parts)
        assert isinstance(e, Or)
        return lambda row: any(p(row) for p in parts)

    return build(expr)


def referenced_fields(expr: Expr | None) -> list[Field]:
    """Every field a filter reads, in order of appearance (duplicates removed)."""
    out: dict[Field, None] = {}

    def walk(e: Expr | None) -> None:
        if e is None:
            return
        if isinstance(e, Comparison):
            out[e.field] = None
        elif isinstance(e, Not):
            walk(e.term)
        else:
            for t in e.terms:
                walk(t)

    walk(expr)
    return list(out)


def _sort_value(value: Any, ascending: bool) -> tuple[bool, Any]:
    # MLflow's SearchUtils._get_value_for_sort: values first, then NaN, then None, either direction.
    is_none = value is None
    is_nan = isinstance(value, float) and math.isnan(value)
    fill = math.inf if ascending else -math.inf
    if is_none:
        value = fill
    elif is_nan:
        value = -fill
    missing = is_none or is_nan
    return (missing, value) if ascending else (not missing, value)


def sort_rows(rows: list[Any], orders: Sequence[OrderBy]) -> list[Any]:
    """MLflow's order: start_time DESC, then re-sorted (stably) by each clause, last clause first.

    Runs that started in the same millisecond come newest first: gitrun's run IDs grow with
    creation time, so the tie-break is run_id DESC (MLflow breaks ties by run_id ascending, but its
    IDs are random, so its order among such runs carries no meaning).
    """
    rows = sorted(rows, key=lambda r: r.run_id, reverse=True)
    rows.sort(key=lambda r: -r.attribute("start_time"))
    for order in reversed(orders):
        get, ascending = getter(order.field), order.ascending
        rows.sort(key=lambda r: _sort_value(get(r), ascending), reverse=not ascending)
    return rows
