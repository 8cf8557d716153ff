"""Signatures inferred from data, as MLflow infers them (``gitrun.models.infer_signature``).

numpy arrays (and dicts of them) give tensor specs with a variable first axis; pandas DataFrames,
Series, dicts of values and lists give column specs; params give a param schema. numpy and pandas
are imported only when the data is of their types.
"""

from __future__ import annotations

import datetime as dt
import logging
import sys
from collections.abc import Mapping
from typing import Any

from gitrun.models.signature import (
    AnyType,
    Array,
    ColSpec,
    ColType,
    DataType,
    ModelSignature,
    Object,
    ParamSchema,
    ParamSpec,
    Property,
    Schema,
    SignatureError,
    TensorSpec,
)

log = logging.getLogger(__name__)

__all__ = ["infer_param_schema", "infer_schema", "infer_signature"]


def infer_signature(
    model_input: Any = None, model_output: Any = None, params: Mapping[str, Any] | None = None
) -> ModelSignature:
    """The signature of a model taking ``model_input``, returning ``model_output``, accepting ``params``.

    As MLflow's: a part that cannot be inferred becomes an ``Any`` column (with a warning)."""
    parts: dict[str, Schema | None] = {"inputs": None, "outputs": None}
    for key, data in (("inputs", model_input), ("outputs", model_output)):
        if data is None:
            continue
        try:
            parts[key] = infer_schema(data)
        except Exception as exc:
            log.warning("cannot infer the schema of the model's %s (%s); using an Any column", key, exc)
            parts[key] = Schema([ColSpec(AnyType())])
    return ModelSignature(parts["inputs"], parts["outputs"], infer_param_schema(params) if params else None)


def _module_of(value: Any) -> str:
    return type(value).__module__.split(".")[0]


def _is_numpy(value: Any) -> bool:
    return "numpy" in sys.modules and isinstance(value, sys.modules["numpy"].ndarray)


def _is_pandas(value: Any, kind: str) -> bool:
    pd = sys.modules.get("pandas")
    return pd is not None and isinstance(value, getattr(pd, kind))


def _is_sparse(value: Any) -> bool:
    return (
        type(value).__name__ in ("csr_matrix", "csc_matrix", "csr_array", "csc_array") and _module_of(value) == "scipy"
    )


def _tensor_shape(data: Any) -> tuple[int, ...]:
    shape = list(data.shape)
    if not shape:
        raise SignatureError("a 0-dimensional array has no rows; reshape it to (1,)")
    shape[0] = -1
    return tuple(shape)


def infer_schema(data: Any) -> Schema:
    """The schema of ``data`` (a DataFrame, Series, ndarray, dict of arrays or values, list, scalar)."""
    if isinstance(data, list) and not data:
        return Schema([ColSpec(DataType.string)])  # MLflow's rule for an empty list
    if isinstance(data, list) and all(isinstance(v, Mapping) for v in data):
        columns: dict[Any, list[Any]] = {}
        for row in data:
            for key, value in row.items():
                columns.setdefault(key, []).append(value)
        return Schema(
            [
                ColSpec(
                    _require(infer_datatype(values), values).dtype,
                    name=key,
                    required=all(row.get(key) is not None for row in data),
                )
                for key, values in columns.items()
            ]
        )
    if isinstance(data, Mapping):
        if data and all(_is_numpy(v) for v in data.values()):
            return Schema([TensorSpec(v.dtype, _tensor_shape(v), name=str(k)) for k, v in data.items()])
        if any(not isinstance(k, str) for k in data):
            raise SignatureError("the keys of an input dict must all be strings")
        return Schema(
            [ColSpec(_require(infer_datatype(v), v), name=k, required=not _is_missing(v)) for k, v in data.items()]
        )
    if _is_pandas(data, "Series"):
        return Schema([ColSpec(_pandas_column_type(data), name=data.name, required=not bool(data.isna().any()))])
    if _is_pandas(data, "DataFrame"):
        return Schema(
            [
                ColSpec(_pandas_column_type(data[col]), name=col, required=not bool(data[col].isna().any()))
                for col in data.columns
            ]
        )
    if _is_numpy(data):
        return Schema([TensorSpec(data.dtype, _tensor_shape(data))])
    if _is_sparse(data):
        return Schema([TensorSpec(data.data.dtype, _tensor_shape(data))])
    if isinstance(data, list):
        return Schema([ColSpec(_require(infer_datatype(data), data).dtype)])  # type: ignore[union-attr]
    return Schema([ColSpec(_require(infer_datatype(data), data))])


def _require(kind: ColType | None, data: Any) -> Any:
    if kind is None:
        raise SignatureError(f"cannot infer a type from an empty array: {data!r}")
    return kind


def _is_missing(value: Any) -> bool:
    if isinstance(value, float):
        return value != value
    if value is None:
        return True
    pd = sys.modules.get("pandas")
    return pd is not None and (value is pd.NA or value is pd.NaT)


_SCALARS: dict[str, DataType] = {
    "bool": DataType.boolean,
    "bool_": DataType.boolean,
    "int": DataType.long,
    "int64": DataType.long,
    "int32": DataType.integer,
    "float": DataType.double,
    "float64": DataType.double,
    "float32": DataType.float,
    "str": DataType.string,
    "str_": DataType.string,
    "bytes": DataType.binary,
    "bytes_": DataType.binary,
    "bytearray": DataType.binary,
}


def scalar_type(value: Any) -> DataType:
    """MLflow's type of one value (Python or numpy scalar, date or datetime)."""
    kind = type(value)
    if kind.__module__ in ("builtins", "numpy") and kind.__name__ in _SCALARS:
        return _SCALARS[kind.__name__]
    if isinstance(value, (dt.date, dt.datetime)) or kind.__name__ in ("datetime64", "Timestamp"):
        return DataType.datetime
    raise SignatureError(f"{value!r} ({kind.__name__}) is not one of the supported data types")


def infer_datatype(data: Any) -> ColType | None:
    """The type of a nested value: dict -> Object, list or array -> Array, scalar -> DataType, None -> Any."""
    if _is_missing(data) or (isinstance(data, (list, dict)) and not data):
        return AnyType()
    if isinstance(data, Mapping):
        props = []
        for key, value in data.items():
            kind = infer_datatype(value)
            if kind is None:
                raise SignatureError("a dict value must not be an empty numpy array")
            props.append(Property(str(key), kind, required=not isinstance(kind, AnyType)))
        return Object(props)
    if isinstance(data, list) or _is_numpy(data):
        return _array_type(data)
    return scalar_type(data)


def _array_type(items: Any) -> Array | None:
    result: Array | None = None
    for item in items:
        kind = infer_datatype(item)
        if kind is None:
            continue
        if result is None:
            result = Array(kind)
        elif isinstance(result.dtype, AnyType) or isinstance(kind, AnyType):
            if isinstance(result.dtype, AnyType):
                result = Array(kind)
        elif result.dtype != kind:
            merged = _merge(result.dtype, kind)
            if merged is None:
                raise SignatureError(f"a list holds values of several types ({result.dtype!r} and {kind!r})")
            result = Array(merged)
    return result


def _merge(a: ColType, b: ColType) -> ColType | None:
    """Two inferred types of list items as one (objects: properties missing on one side are optional)."""
    if a == b:
        return a
    if isinstance(a, Object) and isinstance(b, Object):
        left = {p.name: p for p in a.properties}
        right = {p.name: p for p in b.properties}
        props = []
        for name in sorted(set(left) | set(right)):
            if name in left and name in right:
                kind = _merge(left[name].dtype, right[name].dtype)
                if kind is None:
                    return None
                props.append(Property(name, kind, left[name].required and right[name].required))
            else:
                only = left.get(name) or right[name]
                props.append(Property(name, only.dtype, required=False))
        return Object(props)
    if isinstance(a, Array) and isinstance(b, Array):
        inner = _merge(a.dtype, b.dtype)
        return Array(inner) if inner is not None else None
    return None


def _numpy_type(dtype: Any) -> DataType:
    kind, size = dtype.kind, dtype.itemsize
    if kind == "b":
        return DataType.boolean
    if kind in "iu":
        if size < 4 or (kind == "i" and size == 4):
            return DataType.integer
        if size < 8 or (kind == "i" and size == 8):
            return DataType.long
    elif kind == "f":
        if size <= 4:
            return DataType.float
        if size <= 8:
            return DataType.double
    elif kind == "U":
        return DataType.string
    elif kind == "S":
        return DataType.binary
    elif kind == "M":
        return DataType.datetime
    raise SignatureError(f"unsupported numpy data type {dtype} (kind {kind!r})")


def _pandas_column_type(col: Any) -> ColType:
    import pandas as pd

    if len(col.values.shape) > 1:
        raise SignatureError(f"expected a 1-dimensional column, got shape {col.shape}")
    if col.dtype.kind == "O":
        col = col.infer_objects()
    if col.dtype.kind == "O" or isinstance(col.dtype, pd.StringDtype):
        if isinstance(col.dtype, pd.StringDtype):
            return DataType.string
        try:
            items = _require(infer_datatype(col.to_list()), col)
            return items.dtype  # type: ignore[no-any-return]
        except SignatureError:
            if pd.api.types.is_string_dtype(col):
                return DataType.string
            raise
    return _numpy_type(col.dtype)


def infer_param_schema(params: Mapping[str, Any]) -> ParamSchema:
    """The param schema of example params (``{"temperature": 0.5, "k": [1, 2]}``)."""
    if not isinstance(params, Mapping):
        raise SignatureError(f"params must be a dict, got {type(params).__name__}")
    specs, bad = [], []
    for name, value in params.items():
        try:
            kind, shape = _param_type(value)
            specs.append(ParamSpec(str(name), kind, value, shape))
        except SignatureError as exc:
            bad.append(f"{name!r}: {exc}")
    if bad:
        raise SignatureError(f"cannot infer the schema of params: {'; '.join(bad)}")
    return ParamSchema(specs)


def _param_type(value: Any) -> tuple[DataType | Object, tuple[int, ...] | None]:
    if isinstance(value, list) or _is_numpy(value):
        items = value.tolist() if _is_numpy(value) else value
        if any(isinstance(v, (list, tuple, dict)) for v in items):
            raise SignatureError("a param may be a scalar or a 1-dimensional list, not a nested one")
        if items and all(isinstance(v, (dt.date, dt.datetime)) for v in items):
            return DataType.datetime, (-1,)
        import numpy as np

        return _numpy_type(np.array(items).dtype), (-1,)
    if isinstance(value, (dt.date, dt.datetime)):
        return DataType.datetime, None
    if isinstance(value, Mapping):
        kind = infer_datatype(value)
        assert isinstance(kind, Object)
        return kind, None
    if isinstance(value, (bool, int, float, str)) or type(value).__module__ == "numpy":
        import numpy as np

        return _numpy_type(np.array(value).dtype), None
    raise SignatureError(f"a param must be a scalar, a list or a dict, got {type(value).__name__}")
