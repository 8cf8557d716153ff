"""The MLmodel format: byte-compatible with MLflow both ways, round-trip exact, tolerant of new fields."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gitrun.models.example import encode_example
from gitrun.models.infer import infer_signature
from gitrun.models.mlmodel import MLModel, parse_mlmodel, read_mlmodel
from gitrun.models.signature import (
    AnyType,
    Array,
    ColSpec,
    DataType,
    Map,
    ModelSignature,
    Object,
    ParamSchema,
    ParamSpec,
    Property,
    Schema,
    TensorSpec,
)
from tests.helpers import python_ok
from tests.helpers.models import MLFLOW_ENV

MLFLOW_DIRS = ("sk_df", "sk_np", "sk_cloudpickle", "sk_proba", "lgb_booster", "lgb_sklearn", "py", "py_func")


@pytest.mark.parametrize("name", MLFLOW_DIRS)
def test_an_mlmodel_mlflow_wrote_is_read_and_written_back_byte_for_byte(
    mlflow_models: tuple[Path, Any], name: str
) -> None:
    folder = mlflow_models[0] / name
    original = (folder / "MLmodel").read_text()
    model = read_mlmodel(folder)
    assert model.mlflow_version == "3.17.2" and model.gitrun_version is None
    assert model.to_yaml() == original


# Data whose signature and example encoding are compared with MLflow's (built the same way on both sides).
CASES = """
import datetime as dt
import numpy as np, pandas as pd
CASES = {
    "ndarray": (np.array([[1.0, 2.0], [3.0, np.nan]]), np.array([1, 0]), None),
    "frame": (pd.DataFrame({"a": [1.0, 2.0], "b": [1, 2], "s": ["x", "y"], "flag": [True, False]}), pd.Series([0.1, 0.2]), {"k": 1, "temp": 0.5, "l": [1, 2], "s": "x", "b": True, "d": dt.datetime(2020, 1, 1), "o": {"a": 1, "b": "x"}}),
    "frame_missing": (pd.DataFrame({"a": [1.0, np.nan], "s": ["x", None]}), None, None),
    "hostile_names": (pd.DataFrame({'a "quoted"\\nname': [1.0], "ünïcödé ✓": [2], "": ["e"]}), None, None),
    "dict_of_arrays": ({"x": np.zeros((2, 3), dtype=np.float32), "y": np.array(["a", "b"])}, None, None),
    "nested": ({"text": "hi", "ids": ["a", "b"], "d": {"k": "v", "n": 1}}, None, None),
    "records": ([{"a": 1, "b": "x"}, {"a": 2}], None, None),
    "strings": (["a", "b"], None, None),
    "scalar": ("hello", None, None),
    "int32": (np.array([1, 2], dtype=np.int32), None, None),
    "datetimes": (pd.DataFrame({"t": pd.to_datetime(["2020-01-01", "2021-01-01"])}), None, None),
    "bytes": (pd.DataFrame({"b": [b"x", b"yy"]}), None, None),
    "unnamed_columns": (pd.DataFrame([[1, 2], [3, 4]]), None, None),
}
"""

MLFLOW_SIDE = (
    CASES
    + """
import json, warnings
warnings.filterwarnings("ignore")
from mlflow.models import infer_signature
from mlflow.models.utils import _Example
out = {}
for name, (x, y, params) in CASES.items():
    example = _Example((x, {"k": 2}) if params else x)
    out[name] = {"signature": infer_signature(x, y, params).to_dict(),
                 "example": [example.info, example.json_input_example, example.json_serving_input]}
print(json.dumps(out))
"""
)


@pytest.fixture(scope="module")
def mlflow_encodings(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    out = python_ok(MLFLOW_SIDE, tmp_path_factory.mktemp("mlflow-enc"), {**MLFLOW_ENV, "PYTHONPATH": ""})
    return dict(json.loads(out.strip().splitlines()[-1]))


def _cases() -> dict[str, Any]:
    scope: dict[str, Any] = {}
    exec(CASES, scope)
    return dict(scope["CASES"])


@pytest.mark.parametrize("name", list(_cases()))
def test_signatures_and_input_examples_are_written_exactly_as_mlflow_writes_them(
    mlflow_encodings: dict[str, Any], name: str
) -> None:
    x, y, params = _cases()[name]
    expected = mlflow_encodings[name]
    assert infer_signature(x, y, params).to_dict() == expected["signature"]
    example = encode_example((x, {"k": 2}) if params else x)
    assert [example.info, example.json_text, example.serving_text] == expected["example"]


def test_mlflow_reads_the_mlmodel_gitrun_writes_without_a_warning(tmp_path: Path) -> None:
    import numpy as np

    from gitrun.models import pyfunc

    class Doubler(pyfunc.PythonModel):
        def predict(self, context: Any, model_input: Any, params: Any = None) -> Any:
            return model_input * 2

    signature = infer_signature(np.zeros((2, 3)), np.zeros(2), {"scale": 1.5})
    saved = pyfunc.save_model(
        tmp_path / "m", python_model=Doubler(), signature=signature, metadata={"team": "x"}, pip_requirements=[]
    )
    code = f"""
import json, warnings
from mlflow.models import Model
with warnings.catch_warnings():
    warnings.simplefilter("error")
    model = Model.load({str(tmp_path / "m")!r})
print(json.dumps({{"signature": model.signature.to_dict(), "flavors": model.flavors, "uuid": model.model_uuid,
                  "metadata": model.metadata, "gitrun_version": model.gitrun_version, "created": model.utc_time_created}}))
"""
    seen = json.loads(python_ok(code, tmp_path, {**MLFLOW_ENV, "PYTHONPATH": ""}).strip().splitlines()[-1])
    assert seen["signature"] == signature.to_dict()
    assert seen["flavors"] == json.loads(json.dumps(saved.flavors))
    assert seen["uuid"] == saved.model_uuid and seen["metadata"] == {"team": "x"}
    assert seen["gitrun_version"] == saved.gitrun_version and seen["created"] == saved.utc_time_created


def test_the_reader_keeps_fields_it_does_not_know(tmp_path: Path) -> None:
    text = (
        "flavors:\n  python_function:\n    loader_module: mlflow.sklearn\n"
        "future_field:\n  nested:\n  - 1\n  - two\nmlflow_version: 9.0.0\nmodel_id: null\n"
        "model_uuid: abc\nprompts: null\nresources:\n  api: x\nutc_time_created: '2030-01-01 00:00:00'\n"
    )
    model = parse_mlmodel(text)
    assert model.extra == {"future_field": {"nested": [1, "two"]}, "resources": {"api": "x"}}
    assert model.to_yaml() == text


# -- property tests: parse(format(x)) == x ----------------------------------------------------
names = st.text(min_size=0, max_size=12)
scalar_types = st.sampled_from(list(DataType))


def col_types(depth: int = 2) -> st.SearchStrategy[Any]:
    if depth == 0:
        return st.one_of(scalar_types, st.just(AnyType()))
    inner = col_types(depth - 1)
    props = st.lists(st.tuples(names, inner, st.booleans()), min_size=1, max_size=3, unique_by=lambda p: p[0])
    return st.one_of(
        scalar_types,
        st.just(AnyType()),
        inner.map(Array),
        inner.map(Map),
        props.map(lambda ps: Object([Property(n, t, r) for n, t, r in ps])),
    )


@st.composite
def schemas(draw: Any) -> Schema:
    if draw(st.booleans()):
        dtype = draw(
            st.sampled_from(["float64", "float32", "int64", "int32", "bool", "str", "bytes", "object", "uint8"])
        )
        shapes = st.lists(st.sampled_from([-1, 1, 3, 28]), min_size=1, max_size=4).map(tuple)
        if draw(st.booleans()):
            return Schema([TensorSpec(dtype, draw(shapes))])
        tensor_names = draw(st.lists(names, min_size=1, max_size=3, unique=True))
        return Schema([TensorSpec(dtype, draw(shapes), n) for n in tensor_names])
    if draw(st.booleans()):
        return Schema([ColSpec(draw(col_types())) for _ in range(draw(st.integers(1, 4)))])
    column_names = draw(st.lists(names, min_size=1, max_size=4, unique=True))
    return Schema([ColSpec(draw(col_types()), n, draw(st.booleans())) for n in column_names])


param_values = {
    DataType.boolean: st.booleans(),
    DataType.long: st.integers(-(2**40), 2**40),
    DataType.double: st.floats(allow_nan=False, allow_infinity=False),
    DataType.string: st.text(max_size=10),
}


@st.composite
def param_schemas(draw: Any) -> ParamSchema:
    specs = []
    for name in draw(st.lists(names, max_size=4, unique=True)):
        kind = draw(st.sampled_from(list(param_values)))
        if draw(st.booleans()):
            specs.append(ParamSpec(name, kind, draw(st.lists(param_values[kind], max_size=3)), (-1,)))
        else:
            specs.append(ParamSpec(name, kind, draw(param_values[kind])))
    return ParamSchema(specs)


signatures = st.builds(
    ModelSignature,
    inputs=st.none() | schemas(),
    outputs=st.none() | schemas(),
    params=st.none() | param_schemas().filter(len),
)


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow])
@given(signatures)
def test_signatures_round_trip(signature: ModelSignature) -> None:
    assert ModelSignature.from_dict(signature.to_dict()) == signature


yaml_values = st.recursive(
    st.none() | st.booleans() | st.integers(-1000, 1000) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(min_size=1, max_size=6), inner, max_size=3),
    max_leaves=8,
)
extra_keys = st.text(min_size=1, max_size=10).filter(
    lambda k: (
        k not in MLModel().to_dict()
        and k
        not in {
            "signature",
            "is_signature_from_type_hint",
            "type_hint_from_example",
            "saved_input_example_info",
            "metadata",
            "mlflow_version",
        }
    )
)


@settings(max_examples=100, suppress_health_check=[HealthCheck.too_slow])
@given(
    flavors=st.dictionaries(
        st.text(min_size=1, max_size=8),
        st.dictionaries(st.text(min_size=1, max_size=8), yaml_values, max_size=4),
        max_size=3,
    ),
    signature=st.none() | signatures,
    extra=st.dictionaries(extra_keys, yaml_values, max_size=3),
    run_id=st.none() | st.text(min_size=1, max_size=26),
    size=st.none() | st.integers(0, 10**12),
)
def test_mlmodel_files_round_trip(
    flavors: dict[str, Any],
    signature: ModelSignature | None,
    extra: dict[str, Any],
    run_id: str | None,
    size: int | None,
) -> None:
    model = MLModel(
        flavors=flavors, signature=signature, extra=extra, run_id=run_id, model_size_bytes=size, metadata={"k": "v"}
    )
    assert parse_mlmodel(model.to_yaml()) == model


finite = st.floats(allow_nan=False, allow_infinity=False, width=64)


@settings(max_examples=60, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(
    rows=st.lists(
        st.tuples(finite, st.integers(-(2**31), 2**31), st.text(max_size=6), st.booleans()), min_size=1, max_size=5
    ),
    params=st.none() | st.fixed_dictionaries({"k": st.integers(0, 9), "temperature": finite}),
)
def test_input_examples_read_back_as_written(
    tmp_path_factory: pytest.TempPathFactory, rows: list[Any], params: dict[str, Any] | None
) -> None:
    import numpy as np
    import pandas as pd

    from gitrun.models.example import read_example

    folder = tmp_path_factory.mktemp("example")
    frame = pd.DataFrame(rows, columns=["x", "n", "s", "flag"])
    for data in (frame, frame[["x"]].to_numpy()):
        example = encode_example((data, params) if params else data)
        example.save(folder)
        back, back_params = read_example(folder, example.info)
        assert back_params == params
        if isinstance(data, pd.DataFrame):
            pd.testing.assert_frame_equal(back, data, check_dtype=False)
        else:
            assert np.array_equal(back, data)
        assert encode_example((back, back_params) if params else back).json_text == example.json_text


def test_requirements_and_environment_files_read_back(tmp_path: Path) -> None:
    import yaml

    from gitrun.models.requirements import read_requirements, write_environment

    lines = ["scikit-learn==1.9.1", "skops==0.16.0", "-c constraints.txt"]
    write_environment(tmp_path, lines, ["numpy<3"])
    assert read_requirements(tmp_path) == lines
    env = yaml.safe_load((tmp_path / "python_env.yaml").read_text())
    assert list(env) == ["python", "build_dependencies", "dependencies"] and env["dependencies"] == [
        "-r requirements.txt"
    ]
    conda = yaml.safe_load((tmp_path / "conda.yaml").read_text())
    assert conda["dependencies"][-1] == {"pip": lines} and conda["channels"] == ["conda-forge"]
    assert (tmp_path / "constraints.txt").read_text() == "numpy<3"
