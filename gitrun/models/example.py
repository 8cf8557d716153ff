"""Input examples: ``input_example.json`` and ``serving_input_example.json`` as MLflow writes them.

An example is a pandas DataFrame (saved ``{"columns": [...], "data": [[...]]}``, ``type:
dataframe``, ``pandas_orient: split``), a numpy array or a dict of them (``type: ndarray``), a
dict, list or scalar (``type: json_object``), or any of these paired with params as a tuple
``(data, {"param": value})``. The serving example is the same data as the body a scoring server
takes (``{"dataframe_split": ...}`` or ``{"inputs": ...}``, plus ``"params"``). NaN becomes null.
"""

from __future__ import annotations

import base64
import copy
import datetime as dt
import json
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gitrun.errors import InvalidInputError
from gitrun.models.mlmodel import EXAMPLE_FILE, SERVING_EXAMPLE_FILE, ModelFormatError

__all__ = ["Example", "encode_example", "read_example"]


@dataclass(frozen=True)
class Example:
    """An encoded input example: what goes into the MLmodel and the two files, and the data itself."""

    info: dict[str, Any]  # saved_input_example_info
    json_text: str  # input_example.json
    serving_text: str | None  # serving_input_example.json
    data: Any  # the example's data, as given (for signature inference)
    params: dict[str, Any] | None

    def save(self, model_dir: Path) -> None:
        from gitrun.store import textio

        textio.atomic_write(model_dir / self.info["artifact_path"], self.json_text)
        if self.serving_text is not None:
            textio.atomic_write(model_dir / self.info["serving_input_path"], self.serving_text)


class _Encoder(json.JSONEncoder):
    """numpy, pandas, bytes and dates in JSON, as MLflow's ``NumpyEncoder`` converts them."""

    def default(self, o: Any) -> Any:
        converted, ok = to_jsonable(o)
        return converted if ok else super().default(o)


def to_jsonable(o: Any) -> tuple[Any, bool]:
    np = sys.modules.get("numpy")
    if np is not None:
        if isinstance(o, np.ndarray):
            if o.dtype == object:
                return [to_jsonable(x)[0] for x in o.tolist()], True
            if o.dtype.kind == "S":
                return [to_jsonable(x)[0] for x in o.tolist()], True
            return o.tolist(), True
        if isinstance(o, np.datetime64):
            return np.datetime_as_string(o), True
        if isinstance(o, np.generic):
            return o.item(), True
    if isinstance(o, (bytes, bytearray)):
        return base64.encodebytes(bytes(o)).decode("ascii"), True
    if isinstance(o, (dt.date, dt.datetime, dt.time)) or type(o).__name__ == "Timestamp":
        return o.isoformat(), True
    return o, False


def dumps(value: Any, indent: int | None = None) -> str:
    return json.dumps(value, cls=_Encoder, indent=indent)


def _nan_to_none(array: Any) -> Any:
    import numpy as np

    if np.issubdtype(array.dtype, np.number):
        return np.where(np.isnan(array), None, array).tolist()  # type: ignore[attr-defined]
    return array.tolist()


def _frame_split(frame: Any) -> dict[str, Any]:
    out = frame.where(frame.notnull(), None).to_dict(orient="split")  # as MLflow (float columns keep NaN)
    del out["index"]
    if list(frame.columns) == list(range(len(frame.columns))):
        del out["columns"]  # the default column index is not written, as MLflow does
    return dict(out)


def encode_example(example: Any) -> Example:
    """Encode an input example the way MLflow's ``_Example`` does."""
    data, params = example, None
    if isinstance(example, tuple) and len(example) == 2 and isinstance(example[1], Mapping):
        data, params = example[0], dict(example[1])
        from gitrun.models.infer import infer_param_schema

        infer_param_schema(params)  # refuse params no schema can describe, now
    info: dict[str, Any] = {"artifact_path": EXAMPLE_FILE}
    if params:
        info["params"] = "true"
    value = copy.deepcopy(data)
    np = sys.modules.get("numpy")
    pd = sys.modules.get("pandas")
    serving: dict[str, Any] | None
    if isinstance(value, Mapping):
        arrays = [np is not None and isinstance(v, np.ndarray) for v in value.values()]
        if any(arrays):
            if not all(arrays):
                raise InvalidInputError("an input example dict must hold only numpy arrays, or no numpy array")
            info["type"] = "ndarray"
            value = {k: _nan_to_none(v) for k, v in value.items()}
        else:
            info["type"] = "json_object"
        serving = {"inputs": value}
    elif np is not None and isinstance(value, np.ndarray):
        info["type"] = "ndarray"
        value = _nan_to_none(value)
        serving = {"inputs": value}
    elif isinstance(value, list):
        if np is not None and _holds_array(value, np):
            raise InvalidInputError("numpy arrays inside a list are not supported as input examples; pass one array")
        info["type"] = "json_object"
        serving = {"inputs": value}
    elif pd is not None and isinstance(value, pd.DataFrame):
        value = _frame_split(value)
        info.update(type="dataframe", pandas_orient="split" if "columns" in value else "values")
        serving = {"dataframe_split": value}
    elif type(value).__name__ in ("csr_matrix", "csc_matrix"):
        info["type"] = "sparse_matrix_csc" if type(value).__name__ == "csc_matrix" else "sparse_matrix_csr"
        serving = {"inputs": value.toarray()}
        value = {
            "data": _nan_to_none(value.data),
            "indices": value.indices.tolist(),
            "indptr": value.indptr.tolist(),
            "shape": list(value.shape),
        }
    elif isinstance(value, (str, bytes, bool, int, float, dt.datetime)) or (np is not None and np.isscalar(value)):
        info["type"] = "json_object"
        serving = {"inputs": value}
    else:
        raise InvalidInputError(
            "an input example must be a pandas DataFrame, a numpy array, a dict of numpy arrays, a dict, a list, "
            f"a scalar or a datetime (optionally with params, as a tuple (data, params)); got {type(data).__name__}"
        )
    if params is not None:
        value = {"inputs": value, "params": params}
        serving = {**serving, "params": params}
    info["serving_input_path"] = SERVING_EXAMPLE_FILE
    return Example(info, dumps(value), dumps(serving, indent=2), data, params)


def _holds_array(value: Any, np: Any) -> bool:
    if isinstance(value, np.ndarray):
        return True
    if isinstance(value, list):
        return any(_holds_array(v, np) for v in value)
    if isinstance(value, Mapping):
        return any(_holds_array(v, np) for v in value.values())
    return False


def read_example(model_dir: Path, info: Mapping[str, Any] | None) -> tuple[Any, dict[str, Any] | None] | None:
    """``(data, params)`` of a model's saved input example (a DataFrame for ``dataframe`` examples,
    an ndarray or dict of them for ``ndarray``), or None when the model has none."""
    if not info:
        return None
    kind = info.get("type")
    if kind not in ("dataframe", "ndarray", "json_object", "sparse_matrix_csc", "sparse_matrix_csr"):
        raise ModelFormatError(f"{model_dir}: unknown input example type {kind!r}")
    path = model_dir / str(info.get("artifact_path", EXAMPLE_FILE))
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ModelFormatError(f"cannot read the model's input example {path}: {exc}") from None
    params = None
    if info.get("params"):
        raw, params = raw.get("inputs"), raw.get("params")
    if kind == "dataframe":
        import pandas as pd

        if info.get("pandas_orient", "split") == "split":
            return pd.DataFrame(raw["data"], columns=raw.get("columns")), params
        return pd.DataFrame(raw), params
    if kind == "ndarray":
        import numpy as np

        if isinstance(raw, Mapping):
            return {k: np.array(v) for k, v in raw.items()}, params
        return np.array(raw), params
    if kind.startswith("sparse_matrix"):
        from scipy import sparse

        make = sparse.csc_matrix if kind.endswith("csc") else sparse.csr_matrix
        return make((raw["data"], raw["indices"], raw["indptr"]), shape=raw["shape"]), params
    return raw, params
