"""Hypothesis round trips: what goes into the run files comes back out exactly.

Each example uses a fresh store directory (``tmp_path_factory``), never the function-scoped
``repo`` fixture: Hypothesis runs many examples inside one test call.
"""

from __future__ import annotations

import math
import string
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import gitrun
from gitrun.entities import Metric, Param, RunTag
from gitrun.store import Store, textio

SETTINGS = settings(
    max_examples=50,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

# Keys: letters and digits of any script, '_', '-', '.', ' ', ':' in '/'-separated parts, no '.'/'..'
# parts, no leading '..', no surrounding spaces; the 250-character ASCII maximum is drawn too.
_key_chars = st.characters(categories=("L", "N"), include_characters="_-. :")
_part = st.text(_key_chars, min_size=1, max_size=12).filter(lambda p: p not in (".", "..") and not p.endswith(".tsv"))
_composed = st.lists(_part, min_size=1, max_size=3).map("/".join)
_long = st.integers(1, 250).map(lambda n: "k" * n)
KEYS = st.one_of(_composed, _long).filter(lambda k: k == k.strip() and not k.startswith("..") and len(k) <= 250)

INT64 = st.integers(-(2**63), 2**63 - 1)
FLOATS = st.floats(allow_nan=True, allow_infinity=True)
VALUES = st.one_of(FLOATS, st.sampled_from([math.nan, math.inf, -math.inf, -0.0, 5e-324, 1.7976931348623157e308]))
POINTS = st.lists(st.tuples(VALUES, INT64, INT64), min_size=1, max_size=12)  # (value, step, timestamp)
PARAM_VALUES = st.one_of(
    st.text(max_size=60),
    st.text(string.printable, min_size=5990, max_size=6000),
    st.integers(),
    st.floats(),
    st.booleans(),
    st.none(),
)


def _same(a: float, b: float) -> bool:
    """Equal as stored floats: NaN equals NaN, and -0.0 differs from 0.0."""
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    return a == b and math.copysign(1.0, a) == math.copysign(1.0, b)


def _latest(points: list[tuple[float, int, int]]) -> float:
    # MLflow's latest value: the max of (step, timestamp, value), NaN below every number.
    def rank(p: tuple[float, int, int]) -> tuple[int, int, int, float]:
        value, step, ts = p
        return (step, ts, 0, 0.0) if math.isnan(value) else (step, ts, 1, value)

    return max(points, key=rank)[0]


def _fresh_client(factory: pytest.TempPathFactory) -> gitrun.Client:
    return gitrun.Client(factory.mktemp("store") / ".gitrun")


@SETTINGS
@given(params=st.dictionaries(KEYS, PARAM_VALUES, max_size=6))
def test_params_round_trip(tmp_path_factory: pytest.TempPathFactory, params: dict[str, object]) -> None:
    client = _fresh_client(tmp_path_factory)
    run_id = client.create_run("default").info.run_id
    items = list(params.items())
    half = len(items) // 2
    client.log_batch(run_id, params=[Param(k, str(v)) for k, v in items[:half]])
    for key, value in items[half:]:
        client.log_param(run_id, key, value)
    client.store.close_writer(run_id)

    got = gitrun.Client(client.tracking_uri).get_run(run_id).data.params
    assert got == {k: str(v) for k, v in params.items()}


@SETTINGS
@given(tags=st.dictionaries(KEYS, st.text(max_size=80), max_size=6))
def test_tags_round_trip(tmp_path_factory: pytest.TempPathFactory, tags: dict[str, str]) -> None:
    client = _fresh_client(tmp_path_factory)
    run_id = client.create_run("default", run_name="tagged").info.run_id
    items = list(tags.items())
    client.log_batch(run_id, tags=[RunTag(k, v) for k, v in items[::2]])
    for key, value in items[1::2]:
        client.set_tag(run_id, key, value)
    client.store.close_writer(run_id)

    got = gitrun.Client(client.tracking_uri).get_run(run_id).data.tags
    expected = {"mlflow.runName": "tagged", **tags}
    assert got == expected


@SETTINGS
@given(series=st.dictionaries(KEYS, POINTS, min_size=1, max_size=3), batch=st.booleans())
def test_metrics_round_trip(
    tmp_path_factory: pytest.TempPathFactory, series: dict[str, list[tuple[float, int, int]]], batch: bool
) -> None:
    client = _fresh_client(tmp_path_factory)
    run_id = client.create_run("default").info.run_id
    if batch:
        client.log_batch(
            run_id,
            metrics=[Metric(key, value, ts, step) for key, points in series.items() for value, step, ts in points],
        )
    else:
        for key, points in series.items():
            for value, step, ts in points:
                client.log_metric(run_id, key, value, timestamp=ts, step=step)

    def check(reader: gitrun.Client) -> None:
        for key, points in series.items():
            history = reader.get_metric_history(run_id, key)
            assert len(history) == len(points)
            for metric, (value, step, ts) in zip(history, points, strict=True):
                assert (metric.key, metric.step, metric.timestamp) == (key, step, ts)
                assert _same(metric.value, value), (metric.value, value)
        metrics = reader.get_run(run_id).data.metrics
        assert set(metrics) == set(series)
        for key, points in series.items():
            assert _same(metrics[key], _latest(points)), (key, metrics[key], _latest(points))

    check(gitrun.Client(client.tracking_uri))  # from the series files (no summary yet)
    client.set_terminated(run_id)
    client.store.close_writer(run_id)
    check(gitrun.Client(client.tracking_uri))  # from metrics.json, written at the end

    record = Store(client.tracking_uri).read_run(run_id)
    for key, points in series.items():
        numbers = [v for v, _, _ in points if not math.isnan(v)]
        summary = record.summaries[key]
        assert summary.count == len(points)
        if numbers:
            assert summary.min == min(numbers) and summary.max == max(numbers)
        else:
            assert math.isnan(summary.min) and math.isnan(summary.max)


@settings(max_examples=200, deadline=None)
@given(value=VALUES)
def test_float_text_round_trip(value: float) -> None:
    assert _same(textio.parse_float(textio.format_float(value)), value)
    json_value = textio.json_number(value)
    assert isinstance(json_value, float) or json_value in ("NaN", "Infinity", "-Infinity")
    assert _same(textio.from_json_number(json_value), value)


def test_round_trip_survives_a_new_process(tmp_path: Path) -> None:
    """The files alone carry everything: a second interpreter reads what the first wrote."""
    from tests.helpers import run_python

    store = tmp_path / ".gitrun"
    client = gitrun.Client(store)
    run_id = client.create_run("default").info.run_id
    client.log_metric(run_id, "m", float("nan"), timestamp=-5, step=-(2**63))
    client.log_metric(run_id, "m", -0.0, timestamp=2**63 - 1, step=2**63 - 1)
    client.log_param(run_id, "p", 'tab\tnewline\nquote"')
    client.store.close_writer(run_id)
    code = (
        "import gitrun, sys\n"
        f"c = gitrun.Client({str(store)!r})\n"
        f"h = c.get_metric_history({run_id!r}, 'm')\n"
        "print(repr([(m.step, m.timestamp, m.value) for m in h]))\n"
        f"print(repr(c.get_run({run_id!r}).data.params['p']))\n"
    )
    proc = run_python(code, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0] == f"[({-(2**63)}, -5, nan), ({2**63 - 1}, {2**63 - 1}, -0.0)]"
    assert lines[1] == repr('tab\tnewline\nquote"')


_SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False, allow_infinity=False), st.text()
)


@given(st.dictionaries(st.text(), _SCALARS | st.lists(_SCALARS, max_size=2) | st.dictionaries(st.text(), _SCALARS)))
def test_canonical_json_is_the_indented_text(obj: dict[str, object]) -> None:
    """Flat objects take the C encoder's fast path; the text is json.dumps(indent=2)'s, byte for byte."""
    import json

    assert textio.dumps(obj) == json.dumps(obj, sort_keys=True, indent=2, ensure_ascii=False, allow_nan=False) + "\n"
