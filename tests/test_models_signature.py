"""Signature enforcement at predict: MLflow's rules (checked case by case against real MLflow), and
errors that name the column and the expected type, whatever the column is called."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from gitrun.models.enforce import SchemaEnforcementError, enforce_params, enforce_schema
from gitrun.models.infer import infer_param_schema
from gitrun.models.signature import ColSpec, DataType, Object, ParamSchema, ParamSpec, Property, Schema, TensorSpec
from tests.helpers import python_ok
from tests.helpers.models import MLFLOW_ENV

# (schema as MLflow's JSON, the input as Python code over np and pd): enforced by both sides.
MATRIX = {
    "exact": ('[{"type": "double", "name": "a"}]', "pd.DataFrame({'a': [1.0, 2.0]})"),
    "missing": ('[{"type": "double", "name": "a"}, {"type": "double", "name": "b"}]', "pd.DataFrame({'a': [1.0]})"),
    "optional_missing": (
        '[{"type": "double", "name": "a"}, {"type": "double", "name": "b", "required": false}]',
        "pd.DataFrame({'a': [1.0]})",
    ),
    "extra_ignored": ('[{"type": "long", "name": "a"}]', "pd.DataFrame({'b': ['x'], 'a': [1]})"),
    "int32_to_double": ('[{"type": "double", "name": "a"}]', "pd.DataFrame({'a': np.array([1, 2], dtype=np.int32)})"),
    "int64_to_double": ('[{"type": "double", "name": "a"}]', "pd.DataFrame({'a': [3, 5]})"),
    "int64_zero_one_to_double": ('[{"type": "double", "name": "a"}]', "pd.DataFrame({'a': [0, 1]})"),
    "int32_to_long": ('[{"type": "long", "name": "a"}]', "pd.DataFrame({'a': np.array([1], dtype=np.int32)})"),
    "long_to_integer": ('[{"type": "integer", "name": "a"}]', "pd.DataFrame({'a': [1]})"),
    "float32_to_double": (
        '[{"type": "double", "name": "a"}]',
        "pd.DataFrame({'a': np.array([1.5], dtype=np.float32)})",
    ),
    "double_to_float": ('[{"type": "float", "name": "a"}]', "pd.DataFrame({'a': [1.5]})"),
    "double_to_long": ('[{"type": "long", "name": "a"}]', "pd.DataFrame({'a': [1.0, float('nan')]})"),
    "string_to_double": ('[{"type": "double", "name": "a"}]', "pd.DataFrame({'a': ['1.0']})"),
    "string_column": ('[{"type": "string", "name": "s"}]', "pd.DataFrame({'s': ['x', None]})"),
    "bool_column": ('[{"type": "boolean", "name": "f"}]', "pd.DataFrame({'f': [True, False]})"),
    "int_to_bool": ('[{"type": "boolean", "name": "f"}]', "pd.DataFrame({'f': [1, 0]})"),
    "datetime_text": ('[{"type": "datetime", "name": "t"}]', "pd.DataFrame({'t': ['2020-01-01', '2021-06-01']})"),
    "datetime_seconds": (
        '[{"type": "datetime", "name": "t"}]',
        "pd.DataFrame({'t': np.array(['2020-01-01'], dtype='datetime64[s]')})",
    ),
    "dict_of_scalars": ('[{"type": "double", "name": "a"}, {"type": "string", "name": "s"}]', "{'a': 1.5, 's': 'x'}"),
    "unnamed_columns": ('[{"type": "double"}, {"type": "double"}]', "pd.DataFrame([[1.0, 2.0]])"),
    "unnamed_too_few": ('[{"type": "double"}, {"type": "double"}]', "pd.DataFrame([[1.0]])"),
    "tensor_ok": ('[{"type": "tensor", "tensor-spec": {"dtype": "float64", "shape": [-1, 2]}}]', "np.zeros((3, 2))"),
    "tensor_shape": ('[{"type": "tensor", "tensor-spec": {"dtype": "float64", "shape": [-1, 2]}}]', "np.zeros((3, 4))"),
    "tensor_dtype": ('[{"type": "tensor", "tensor-spec": {"dtype": "float32", "shape": [-1, 2]}}]', "np.zeros((3, 2))"),
    "tensor_from_frame": (
        '[{"type": "tensor", "tensor-spec": {"dtype": "float64", "shape": [-1, 2]}}]',
        "pd.DataFrame({'a': [1.0], 'b': [2.0]})",
    ),
    "named_tensors": (
        '[{"name": "x", "type": "tensor", "tensor-spec": {"dtype": "int64", "shape": [-1]}}]',
        "{'x': np.array([1, 2])}",
    ),
    "named_tensor_missing": (
        '[{"name": "x", "type": "tensor", "tensor-spec": {"dtype": "int64", "shape": [-1]}}]',
        "{'y': np.array([1, 2])}",
    ),
    "array_column": (
        '[{"type": "array", "items": {"type": "string"}, "name": "tags"}]',
        "pd.DataFrame({'tags': [['a', 'b'], ['c']]})",
    ),
    "array_bad_item": (
        '[{"type": "array", "items": {"type": "long"}, "name": "n"}]',
        "pd.DataFrame({'n': [['a'], [1]]})",
    ),
    "object_column": (
        '[{"type": "object", "properties": {"k": {"type": "string", "required": true}}, "name": "o"}]',
        "pd.DataFrame({'o': [{'k': 'v'}]})",
    ),
    "object_missing_key": (
        '[{"type": "object", "properties": {"k": {"type": "string", "required": true}}, "name": "o"}]',
        "pd.DataFrame({'o': [{'j': 'v'}]})",
    ),
    "any_column": ('[{"type": "any", "name": "x"}]', "pd.DataFrame({'x': [1, 'two', None]})"),
}

MLFLOW_SIDE = """
import json, warnings
warnings.filterwarnings("ignore")
import numpy as np, pandas as pd
from mlflow.types.schema import Schema
from mlflow.models.utils import _enforce_schema
MATRIX = {matrix!r}
out = {{}}
for name, (schema, data) in MATRIX.items():
    try:
        result = _enforce_schema(eval(data), Schema.from_json(schema))
        dtypes = [str(t) for t in result.dtypes] if isinstance(result, pd.DataFrame) else None
        out[name] = ["ok", dtypes]
    except Exception as exc:
        out[name] = ["error", type(exc).__name__]
print(json.dumps(out))
"""


@pytest.fixture(scope="module")
def mlflow_verdicts(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    out = python_ok(
        MLFLOW_SIDE.format(matrix=MATRIX), tmp_path_factory.mktemp("mlflow-enforce"), {**MLFLOW_ENV, "PYTHONPATH": ""}
    )
    return dict(json.loads(out.strip().splitlines()[-1]))


@pytest.mark.parametrize("name", list(MATRIX))
def test_enforcement_accepts_and_refuses_what_mlflow_does(mlflow_verdicts: dict[str, Any], name: str) -> None:
    schema_json, data = MATRIX[name]
    verdict, detail = mlflow_verdicts[name]
    schema = Schema.from_json(schema_json)
    if verdict == "error":
        with pytest.raises(SchemaEnforcementError):
            enforce_schema(eval(data), schema)
        return
    result = enforce_schema(eval(data), schema)
    if detail is not None:
        assert [str(t) for t in result.dtypes] == detail


def test_a_missing_column_is_named_with_its_type() -> None:
    schema = Schema([ColSpec("double", "petal length"), ColSpec("long", "count")])
    with pytest.raises(SchemaEnforcementError) as error:
        enforce_schema(pd.DataFrame({"petal length": [1.0], "other": [1]}), schema)
    message = str(error.value)
    assert "missing 'count' (long)" in message and "'other'" in message


def test_a_column_of_the_wrong_type_is_named_with_the_type_expected() -> None:
    schema = Schema([ColSpec("double", "x")])
    with pytest.raises(
        SchemaEnforcementError, match=r"input column 'x' is text \(object\), which does not convert safely to double"
    ):
        enforce_schema(pd.DataFrame({"x": pd.Series(["a"], dtype=object)}), schema)


HOSTILE = [
    '"; DROP TABLE runs; --',
    "line\nbreak",
    "tab\there",
    "ünï ✓ 名前",
    "x" * 300,
    "__proto__",
    "{{0}}",
    "$(rm -rf /)",
    "'",
    "",
]


@pytest.mark.parametrize("name", HOSTILE)
def test_hostile_column_names(name: str) -> None:
    schema = Schema([ColSpec("double", name), ColSpec("string", "ok")])
    result = enforce_schema(pd.DataFrame({"ok": ["v"], name: [1.5]}), schema)
    assert list(result.columns) == [name, "ok"] and result[name].tolist() == [1.5]
    with pytest.raises(SchemaEnforcementError) as missing:
        enforce_schema(pd.DataFrame({"ok": ["v"]}), schema)
    assert repr(name) in str(missing.value)
    with pytest.raises(SchemaEnforcementError) as wrong:
        enforce_schema(pd.DataFrame({"ok": ["v"], name: ["text"]}), schema)
    assert f"input column {name!r}" in str(wrong.value)


def test_columns_come_back_in_the_signature_order_and_extras_are_dropped(caplog: pytest.LogCaptureFixture) -> None:
    schema = Schema([ColSpec("double", "b"), ColSpec("double", "a")])
    with caplog.at_level(logging.WARNING):
        result = enforce_schema(pd.DataFrame({"a": [1.0], "z": [0], "b": [2.0]}), schema)
    assert list(result.columns) == ["b", "a"]
    assert "'z'" in caplog.text


def test_tensor_errors_say_the_shape_and_dtype_expected() -> None:
    schema = Schema([TensorSpec(np.dtype("float32"), (-1, 4))])
    with pytest.raises(SchemaEnforcementError, match=r"shape \[2, 3\].*tensor of float32, shape \[-1, 4\]"):
        enforce_schema(np.zeros((2, 3), dtype=np.float32), schema)
    with pytest.raises(SchemaEnforcementError, match=r"dtype is float64.*needs float32.*astype\('float32'\)"):
        enforce_schema(np.zeros((2, 4)), schema)


def test_params_get_defaults_conversions_and_clear_errors(caplog: pytest.LogCaptureFixture) -> None:
    schema = infer_param_schema({"k": 1, "temperature": 0.5, "names": ["a"], "flag": False})
    assert enforce_params({"temperature": 1}, schema) == {"k": 1, "temperature": 1.0, "names": ["a"], "flag": False}
    with caplog.at_level(logging.WARNING):
        assert enforce_params({"k": 3, "unknown": 1}, schema)["k"] == 3
    assert "'unknown'" in caplog.text
    with pytest.raises(SchemaEnforcementError, match=r"param 'k': cannot safely convert float 1\.5 to long"):
        enforce_params({"k": 1.5}, schema)
    with pytest.raises(SchemaEnforcementError, match="param 'flag'"):
        enforce_params({"flag": 1}, schema)
    with pytest.raises(SchemaEnforcementError, match=r"param 'names': expected a list"):
        enforce_params({"names": "a"}, schema)
    obj = ParamSchema([ParamSpec("cfg", Object([Property("depth", DataType.long)]), {"depth": 1})])
    with pytest.raises(SchemaEnforcementError, match="missing required property 'depth'"):
        enforce_params({"cfg": {}}, obj)


def test_predict_enforces_the_signature_of_a_saved_model(tmp_path: Path) -> None:
    from sklearn.linear_model import LinearRegression

    from gitrun.models import pyfunc, sklearn

    frame = pd.DataFrame({"x": [1.0, 2.0, 3.0], "y": [0.5, 0.1, 0.2]})
    model = LinearRegression().fit(frame, [1.0, 2.0, 3.0])
    sklearn.save_model(model, tmp_path / "m", input_example=frame.head(2), pip_requirements=[])
    loaded = pyfunc.load_model(tmp_path / "m")
    assert loaded.predict(frame[["y", "x"]]).tolist() == pytest.approx(model.predict(frame).tolist())
    with pytest.raises(SchemaEnforcementError, match="missing 'y' \\(double\\)"):
        loaded.predict(frame[["x"]])
