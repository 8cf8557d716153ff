"""Metric values, steps and timestamps on every path that takes a metric (issue 9, items 1 and 12).

Any number MLflow accepts (a float subclass, NumPy and torch scalars, 0-d arrays, ``Decimal``...)
is stored as its plain float value: ``repr(float(x))`` in the series, the same value in
``get_run``, ``runs show --json`` and ``metrics.json``. Anything else, and steps or timestamps
outside 64-bit signed range, is refused naming the key, with nothing written.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import gitrun
from gitrun.entities import Metric
from gitrun.errors import InvalidInputError
from tests.helpers import gitrun_cli

Log = Callable[[str, str, Any, Any, Any], None]  # (run_id, key, value, step, timestamp)


def _fluent(run_id: str, key: str, value: Any, step: Any = None, timestamp: Any = None) -> None:
    gitrun.log_metric(key, value, step=step, timestamp=timestamp)


def _fluent_many(run_id: str, key: str, value: Any, step: Any = None, timestamp: Any = None) -> None:
    gitrun.log_metrics({key: value}, step=step, timestamp=timestamp)


def _client(run_id: str, key: str, value: Any, step: Any = None, timestamp: Any = None) -> None:
    gitrun.Client().log_metric(run_id, key, value, timestamp=timestamp, step=step)


def _batch(run_id: str, key: str, value: Any, step: Any = None, timestamp: Any = None) -> None:
    ts = 1_700_000_000_000 if timestamp is None else timestamp
    gitrun.Client().log_batch(run_id, metrics=[Metric(key, value, ts, 0 if step is None else step)])


PATHS: dict[str, Log] = {
    "log_metric": _fluent,
    "log_metrics": _fluent_many,
    "Client.log_metric": _client,
    "Client.log_batch": _batch,
}


class Fancy(float):
    """A float subclass with its own repr (a units library, a tracked value...)."""

    def __repr__(self) -> str:
        return f"Fancy({float(self)})"


NUMBERS: list[tuple[str, Any, float]] = [
    ("float64", np.float64(0.4472135954999579), 0.4472135954999579),
    ("float32", np.float32(0.25), 0.25),
    ("float16", np.float16(0.5), 0.5),
    ("longdouble", np.longdouble(0.125), 0.125),
    ("int8", np.int8(-3), -3.0),
    ("int16", np.int16(300), 300.0),
    ("int32", np.int32(-70000), -70000.0),
    ("int64", np.int64(2**40), float(2**40)),
    ("uint8", np.uint8(255), 255.0),
    ("uint16", np.uint16(65535), 65535.0),
    ("uint32", np.uint32(2**32 - 1), float(2**32 - 1)),
    ("uint64", np.uint64(2**64 - 1), float(2**64 - 1)),
    ("bool_", np.bool_(True), 1.0),
    ("0-d array", np.array(0.75), 0.75),
    ("Decimal", Decimal("0.1"), 0.1),
    ("Fraction", Fraction(1, 4), 0.25),
    ("float subclass", Fancy(0.3), 0.3),
    ("bool", True, 1.0),
    ("int", 7, 7.0),
    ("nan float64", np.float64("nan"), float("nan")),
]


def _same(a: float, b: float) -> bool:
    return a == b or (a != a and b != b)


def _series_values(run_dir: Path, key: str) -> list[str]:
    lines = (run_dir / "metrics" / f"{key}.tsv").read_text(encoding="utf-8").splitlines()[1:]
    return [line.split("\t")[2] for line in lines]


@pytest.mark.parametrize("path", list(PATHS))
def test_every_number_is_stored_as_its_float_value(repo: Path, path: str) -> None:
    log = PATHS[path]
    with gitrun.start_run(run_name=path) as run:
        run_id = run.info.run_id
        for name, value, _ in NUMBERS:
            log(run_id, f"m/{name.replace(' ', '_')}", value, None, None)
    run_dir = Path(run._writer.run_dir)  # type: ignore[attr-defined]
    expected = {f"m/{name.replace(' ', '_')}": number for name, _, number in NUMBERS}

    for key, number in expected.items():
        assert _series_values(run_dir, key) == [repr(number)], key  # never "np.float64(0.44...)"
    metrics = gitrun.get_run(run_id).data.metrics
    assert set(metrics) == set(expected)
    assert all(_same(metrics[k], v) and type(metrics[k]) is float for k, v in expected.items())
    summary = json.loads((run_dir / "metrics.json").read_text(encoding="utf-8"))
    assert {k: summary[k]["latest"] for k in expected if k != "m/nan_float64"} == {
        k: v for k, v in expected.items() if k != "m/nan_float64"
    }
    shown = gitrun_cli("runs", "show", run_id, "--json", cwd=repo)
    assert shown.returncode == 0, shown.stderr
    assert "StoreWarning" not in shown.stderr
    data = json.loads(shown.stdout)
    assert {k: v for k, v in data["metrics"].items() if k != "m/nan_float64"} == {
        k: v for k, v in expected.items() if k != "m/nan_float64"
    }


@pytest.mark.parametrize("path", list(PATHS))
def test_torch_scalars_are_stored_as_floats(repo: Path, path: str) -> None:
    torch = pytest.importorskip("torch", reason="torch is not installed here")
    with gitrun.start_run() as run:
        PATHS[path](run.info.run_id, "loss", torch.tensor(0.5), None, None)
        PATHS[path](run.info.run_id, "grad", torch.tensor(2.0, requires_grad=True), None, None)
    assert gitrun.get_run(run.info.run_id).data.metrics == {"loss": 0.5, "grad": 2.0}


NOT_NUMBERS: list[tuple[str, Any, str]] = [
    ("str", "0.5", "metric values must be numbers"),
    ("bytes", b"1", "metric values must be numbers"),
    ("None", None, "metric values must be numbers"),
    ("list", [1.0], "metric values must be numbers"),
    ("dict", {"v": 1.0}, "metric values must be numbers"),
    ("huge int", 10**400, "too large for a 64-bit float"),
    ("huge Fraction", Fraction(10**400, 3), "too large for a 64-bit float"),
    ("complex", 1 + 2j, "not a number"),
    ("array of two", np.array([1.0, 2.0]), "not a number"),
]


@pytest.mark.parametrize("path", list(PATHS))
@pytest.mark.parametrize(("what", "value", "message"), NOT_NUMBERS, ids=[n for n, _, _ in NOT_NUMBERS])
def test_anything_else_is_refused_naming_the_key(repo: Path, path: str, what: str, value: Any, message: str) -> None:
    with gitrun.start_run() as run:
        with pytest.raises(InvalidInputError, match="'refused'") as excinfo:
            PATHS[path](run.info.run_id, "refused", value, None, None)
        assert message in str(excinfo.value)
        assert len(str(excinfo.value)) < 400  # a 400-digit int is not pasted into the message whole
        run_dir = Path(run._writer.run_dir)  # type: ignore[attr-defined]
        assert not (run_dir / "metrics" / "refused.tsv").exists()


OUT_OF_RANGE: list[tuple[str, dict[str, Any]]] = [
    ("step 2**63", {"step": 2**63}),
    ("step 2**64", {"step": 2**64}),
    ("step -2**63-1", {"step": -(2**63) - 1}),
    ("step numpy uint64", {"step": np.uint64(2**64 - 1)}),
    ("step 1e19 float", {"step": 1e19}),
    ("timestamp 10**30", {"timestamp": 10**30}),
    ("timestamp 2**63", {"timestamp": 2**63}),
    ("timestamp -2**63-1", {"timestamp": -(2**63) - 1}),
]


@pytest.mark.parametrize("path", list(PATHS))
@pytest.mark.parametrize(("what", "kwargs"), OUT_OF_RANGE, ids=[n for n, _ in OUT_OF_RANGE])
def test_steps_and_timestamps_outside_64_bits_are_refused(repo: Path, path: str, what: str, kwargs: dict) -> None:
    with gitrun.start_run() as run:
        with pytest.raises(InvalidInputError, match=r"'big'.*64-bit signed range"):
            PATHS[path](run.info.run_id, "big", 1.0, kwargs.get("step"), kwargs.get("timestamp"))
        run_dir = Path(run._writer.run_dir)  # type: ignore[attr-defined]
        assert not (run_dir / "metrics" / "big.tsv").exists()


@pytest.mark.parametrize("path", list(PATHS))
def test_the_64_bit_limits_themselves_are_accepted(repo: Path, path: str) -> None:
    with gitrun.start_run() as run:
        PATHS[path](run.info.run_id, "edge", 1.0, 2**63 - 1, 2**63 - 1)
        PATHS[path](run.info.run_id, "edge", 2.0, -(2**63), -(2**63))
    history = gitrun.get_metric_history(run.info.run_id, "edge")
    assert [(m.step, m.timestamp, m.value) for m in history] == [
        (2**63 - 1, 2**63 - 1, 1.0),
        (-(2**63), -(2**63), 2.0),
    ]


def test_run_times_must_be_dates(repo: Path) -> None:
    """``start_time``/``end_time`` are shown as dates everywhere, so they must be representable ones."""
    client = gitrun.Client()
    for bad in (10**30, 2**64, 2**62, float("inf"), "now"):
        with pytest.raises(InvalidInputError, match="start_time"):
            client.create_run("default", start_time=bad)
    run_id = client.create_run("default", start_time=1_700_000_000_000).info.run_id
    with pytest.raises(InvalidInputError, match="end_time"):
        client.set_terminated(run_id, end_time=10**30)
    client.set_terminated(run_id, end_time=1_700_000_000_500)
    assert client.get_run(run_id).info.end_time == 1_700_000_000_500
