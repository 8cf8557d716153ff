"""The filter grammar (gitrun.search.grammar) and its evaluation, against a table of cases.

The table lives in tests/fixtures/search_cases.json (tests/test_site_filter.py holds the site's
JavaScript port to tests/fixtures/filter_cases.json). Stores are not involved here: matching runs
are plain objects (test_index.py, test_search_api.py and test_search_mlflow_compat.py use real
stores).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gitrun.errors import FilterSyntaxError, InvalidInputError
from gitrun.search.evaluate import compile_filter, like_regex, sort_rows
from gitrun.search.grammar import (
    And,
    Comparison,
    Field,
    Not,
    Or,
    format_filter,
    format_order_by,
    parse_filter,
    parse_order_by,
)

CASES = json.loads((Path(__file__).parent / "fixtures" / "search_cases.json").read_text(encoding="utf-8"))


@pytest.mark.parametrize(("source", "canonical"), CASES["parse"], ids=[c[0] or "<empty>" for c in CASES["parse"]])
def test_parse_and_canonical_text(source: str, canonical: str) -> None:
    expr = parse_filter(source)
    assert format_filter(expr) == canonical
    assert parse_filter(canonical) == expr


@pytest.mark.parametrize(("source", "position", "reason"), CASES["errors"], ids=[c[0] for c in CASES["errors"]])
def test_parse_errors_point_at_the_position(source: str, position: int, reason: str) -> None:
    with pytest.raises(FilterSyntaxError) as info:
        parse_filter(source)
    error = info.value
    assert isinstance(error, InvalidInputError)
    assert (error.position, error.source) == (position, source)
    assert reason in error.reason
    # the message: the reason, the filter, and a caret under the offending character
    first, shown, caret = str(error).split("\n")
    assert first == f"invalid filter: {error.reason}"
    assert shown == "  " + source.replace("\n", " ").replace("\t", " ")
    assert caret == "  " + " " * position + "^"


def test_error_excerpt_of_a_long_filter_keeps_the_caret_under_the_problem() -> None:
    source = " AND ".join(f"metrics.m{i} > {i}" for i in range(30)) + " AND metrics.x >> 1"
    with pytest.raises(FilterSyntaxError) as info:
        parse_filter(source)
    _, shown, caret = str(info.value).split("\n")
    assert shown.startswith("  ...")
    column = caret.index("^")
    assert shown[column] == ">"
    assert shown[column - 1] == ">"  # the second '>' of '>>' is the offending one


@pytest.mark.parametrize(
    ("source", "kind", "key", "ascending"), CASES["order_by"], ids=[c[0] for c in CASES["order_by"]]
)
def test_order_by_clauses(source: str, kind: str, key: str, ascending: bool) -> None:
    order = parse_order_by(source)
    assert (order.field.kind, order.field.key, order.ascending) == (kind, key, ascending)
    assert parse_order_by(format_order_by(order)) == order


@pytest.mark.parametrize(
    ("source", "position", "reason"),
    CASES["order_by_errors"],
    ids=[c[0] or "<empty>" for c in CASES["order_by_errors"]],
)
def test_order_by_errors(source: str, position: int, reason: str) -> None:
    with pytest.raises(FilterSyntaxError) as info:
        parse_order_by(source)
    assert info.value.position == position
    assert reason in info.value.reason
    assert str(info.value).startswith("invalid order_by clause: ")


# -- precedence and the tree ------------------------------------------------------------------
def _m(key: str, op: str = ">", value: float = 1) -> Comparison:
    return Comparison(Field("metric", key), op, value)


def test_and_binds_tighter_than_or_and_not_tighter_than_and() -> None:
    a, b, c = _m("a"), _m("b"), _m("c")
    assert parse_filter("metrics.a > 1 OR metrics.b > 1 AND metrics.c > 1") == Or((a, And((b, c))))
    assert parse_filter("metrics.a > 1 AND metrics.b > 1 OR metrics.c > 1") == Or((And((a, b)), c))
    assert parse_filter("NOT metrics.a > 1 AND metrics.b > 1") == And((Not(a), b))
    assert parse_filter("NOT (metrics.a > 1 AND metrics.b > 1)") == Not(And((a, b)))
    assert parse_filter("metrics.a > 1 or (metrics.b > 1 or metrics.c > 1)") == Or((a, b, c))
    assert parse_filter("(metrics.a > 1 OR metrics.b > 1) AND metrics.c > 1") == And((Or((a, b)), c))


def test_values_keep_their_type() -> None:
    assert parse_filter("metrics.a > 1") == _m("a", ">", 1)
    assert isinstance(parse_filter("metrics.a > 1").value, int)  # type: ignore[union-attr]
    assert parse_filter("params.a = '1'") == Comparison(Field("param", "a"), "=", "1")
    assert parse_filter("run_id IN ('x')") == Comparison(Field("attribute", "run_id"), "IN", ("x",))
    assert parse_filter("tags.t IS NULL") == Comparison(Field("tag", "t"), "IS NULL", None)


# -- round trip on generated trees ------------------------------------------------------------
_keys = st.text(st.sampled_from("ab_-/:. `\"'xyz09é"), min_size=1, max_size=8).filter(
    lambda k: "." not in (k[0], k[-1]) and ".." not in k
)
_numbers = st.one_of(st.integers(-(10**6), 10**6), st.floats(allow_nan=False, allow_infinity=False))
_texts = st.text(max_size=6)


@st.composite
def _comparisons(draw: st.DrawFn) -> Comparison:
    kind = draw(st.sampled_from(["metric", "param", "tag", "attribute"]))
    if kind == "attribute":
        key = draw(
            st.sampled_from(["run_id", "run_name", "status", "user_id", "artifact_uri", "start_time", "end_time"])
        )
        numeric = key in ("start_time", "end_time")
    else:
        key, numeric = draw(_keys), kind == "metric"
    field = Field(kind, key)
    ops = ["=", "!=", "<", "<=", ">", ">=", "IN", "NOT IN", "IS NULL", "IS NOT NULL"]
    if not numeric:
        ops += ["LIKE", "ILIKE", "NOT LIKE", "NOT ILIKE"]
    op = draw(st.sampled_from(ops))
    scalar = _numbers if numeric else (_texts if kind == "attribute" else st.one_of(_texts, _numbers))
    if op in ("IS NULL", "IS NOT NULL"):
        return Comparison(field, op, None)
    if op in ("IN", "NOT IN"):
        return Comparison(field, op, tuple(draw(st.lists(scalar, min_size=1, max_size=3))))
    if "LIKE" in op:
        return Comparison(field, op, draw(_texts))
    return Comparison(field, op, draw(scalar))


def _trees() -> st.SearchStrategy[Any]:
    def extend(children: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
        def no_nesting(cls: type) -> Any:
            return st.lists(children.filter(lambda c: not isinstance(c, cls)), min_size=2, max_size=3).map(
                lambda terms: cls(tuple(terms))
            )

        return st.one_of(children.map(Not), no_nesting(And), no_nesting(Or))

    return st.recursive(_comparisons(), extend, max_leaves=6)


@settings(max_examples=300, deadline=None)
@given(_trees())
def test_format_then_parse_is_identity(expr: Any) -> None:
    text = format_filter(expr)
    assert parse_filter(text) == expr


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.sampled_from("metrics.a>1 ()'\"`NOTANDOR=!<-_,IN%"), max_size=30))
def test_arbitrary_text_parses_or_fails_with_a_position(source: str) -> None:
    try:
        parse_filter(source)
    except FilterSyntaxError as error:
        assert 0 <= error.position <= len(source)


# -- evaluation -----------------------------------------------------------------------------
class _Run:
    """A run as the evaluator sees it: four lookups."""

    def __init__(self, data: dict[str, Any]):
        self.data = data
        self.run_id = data["name"]

    def metric(self, key: str) -> float | None:
        value = self.data["metrics"].get(key)
        return math.nan if value == "NaN" else value

    def param(self, key: str) -> str | None:
        return self.data["params"].get(key)

    def tag(self, key: str) -> str | None:
        return self.data["tags"].get(key)

    def attribute(self, key: str) -> Any:
        return self.data["name"] if key == "run_name" else self.data[key]


RUNS = [_Run(r) for r in CASES["runs"]]


@pytest.mark.parametrize(("source", "names"), CASES["match"], ids=[c[0] or "<empty>" for c in CASES["match"]])
def test_match_cases(source: str, names: list[str]) -> None:
    predicate = compile_filter(parse_filter(source))
    found = [r.run_id for r in RUNS if predicate is None or predicate(r)]
    assert found == names


def test_like_is_sql_like_over_the_whole_value() -> None:
    assert like_regex("a%").fullmatch("a\nb")  # % spans line breaks
    assert not like_regex("a_").fullmatch("a")
    assert like_regex("a.c").fullmatch("a.c") and not like_regex("a.c").fullmatch("abc")  # regex characters are literal
    assert like_regex("A%", ignore_case=True).fullmatch("abc")
    assert not like_regex("A%").fullmatch("abc")


def test_order_puts_nan_then_missing_last_in_both_directions() -> None:
    class R:
        def __init__(self, run_id: str, start: int, value: Any):
            self.run_id, self.start, self.value = run_id, start, value

        def metric(self, key: str) -> Any:
            return self.value

        def attribute(self, key: str) -> Any:
            return self.start

    rows = [R("a", 1, 2.0), R("b", 2, None), R("c", 3, math.nan), R("d", 4, 1.0), R("e", 5, 2.0)]
    asc = [r.run_id for r in sort_rows(rows, [parse_order_by("metrics.x")])]
    desc = [r.run_id for r in sort_rows(rows, [parse_order_by("metrics.x DESC")])]
    assert asc == ["d", "e", "a", "c", "b"]  # ties (a, e) keep the default order: start_time DESC
    assert desc == ["e", "a", "d", "c", "b"]
    assert [r.run_id for r in sort_rows(rows, [])] == ["e", "d", "c", "b", "a"]
    # runs started in the same millisecond: the newer ID (IDs grow with time) first
    same_ms = [R("01A", 7, 1.0), R("01C", 7, 1.0), R("01B", 7, 1.0), R("01D", 6, 1.0)]
    assert [r.run_id for r in sort_rows(same_ms, [])] == ["01C", "01B", "01A", "01D"]
    assert [r.run_id for r in sort_rows(same_ms, [parse_order_by("metrics.x")])] == ["01C", "01B", "01A", "01D"]
