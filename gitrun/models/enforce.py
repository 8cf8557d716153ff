"""Signature enforcement at ``predict``: MLflow's rules, with errors that name the column and the type.

Columns (:class:`~gitrun.models.signature.ColSpec`): the input becomes a pandas DataFrame; every
required column must be there (extra ones are ignored, with a log line); each column must have
the declared type or convert to it safely: int to a wider int, float32 to float64, ints of up to
6 bytes to float64 (an int64 column only when it holds nothing but 0 and 1: a float64 cannot hold
every int64), numpy datetimes of any precision, object columns of strings, of dates, of bools.
The result keeps the schema's column order. Tensors (:class:`~gitrun.models.signature.TensorSpec`):
shape (``-1`` matches any size) and dtype must match exactly. Params: missing ones get their
default, unknown ones are dropped (with a log line), values convert as MLflow converts them
(int to long/float/double, long to float/double, float to double).

Every refusal is a :class:`SchemaEnforcementError` (an ``InvalidInputError``) saying which column or
param, what it got and what the signature expects.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from gitrun.errors import SchemaEnforcementError
from gitrun.models.signature import AnyType, Array, ColSpec, DataType, Map, Object, Schema, TensorSpec

if TYPE_CHECKING:
    from gitrun.models.signature import ParamSchema, ParamSpec

log = logging.getLogger(__name__)


def describe(spec: ColSpec | TensorSpec) -> str:
    """How a column or tensor of a signature reads in a message: ``'age' (long)``."""
    name = "the unnamed input" if spec.name is None else repr(spec.name)
    if isinstance(spec, TensorSpec):
        return f"{name} (tensor of {spec.dtype_name}, shape {list(spec.shape)})"
    return f"{name} ({spec.type!r}{'' if spec.required else ', optional'})"


def some(names: list[Any], limit: int = 10) -> str:
    """Names quoted for a message, the first ``limit`` of them (a request may send 10,000 columns)."""
    shown = ", ".join(map(repr, names[:limit]))
    return f"{shown} and {len(names) - limit} more" if len(names) > limit else shown


# -- params -------------------------------------------------------------------------------------
def _is_int(value: Any) -> bool:
    import numbers

    return isinstance(value, numbers.Integral) and not isinstance(value, bool) and type(value).__name__ != "bool_"


def _is_float(value: Any) -> bool:
    import numbers

    return isinstance(value, numbers.Real) and not _is_int(value) and not isinstance(value, bool)


def _scalar(value: Any, kind: DataType, where: str) -> Any:
    """One param value converted as MLflow converts it, or a SchemaEnforcementError."""
    if value is None:
        return None
    if kind == DataType.datetime:
        return _to_datetime(value, where)
    if isinstance(value, (list, tuple, dict, set)) or (hasattr(value, "shape") and getattr(value, "ndim", 0) > 0):
        raise SchemaEnforcementError(f"{where}: expected a single {kind!r}, got {type(value).__name__} {value!r}")
    if kind == DataType.boolean and (isinstance(value, bool) or type(value).__name__ == "bool_"):
        return bool(value)
    if kind in (DataType.integer, DataType.long) and _is_int(value):
        return int(value)
    if kind in (DataType.float, DataType.double) and (_is_int(value) or _is_float(value)):
        return float(value)
    if kind == DataType.string and isinstance(value, str):
        return str(value)
    raise SchemaEnforcementError(f"{where}: cannot safely convert {type(value).__name__} {value!r} to {kind!r}")


def _to_datetime(value: Any, where: str) -> Any:
    if isinstance(value, (dt.date, dt.datetime)):
        return value
    if isinstance(value, str):
        try:
            return dt.datetime.fromisoformat(value)
        except ValueError:
            pass
    elif type(value).__name__ == "datetime64":
        item = value.item()
        if isinstance(item, (dt.date, dt.datetime)):
            return item
    raise SchemaEnforcementError(f"{where}: expected a date or datetime (ISO 8601 text works), got {value!r}")


def _object_value(value: Any, kind: Object, where: str) -> Any:
    if not isinstance(value, Mapping):
        raise SchemaEnforcementError(f"{where}: expected an object with {kind!r}, got {type(value).__name__}")
    for prop in kind.properties:
        if prop.name not in value or value[prop.name] is None:
            if prop.required:
                raise SchemaEnforcementError(f"{where}: missing required property {prop.name!r} ({prop.dtype!r})")
            continue
        check_value(value[prop.name], prop.dtype, f"{where}.{prop.name}")
    return value


def check_value(value: Any, kind: Any, where: str) -> Any:
    """A value of a nested column or param (JSON-shaped) checked against its type; returns it."""
    if isinstance(kind, AnyType):
        return value
    if isinstance(kind, DataType):
        return _scalar(value, kind, where)
    if isinstance(kind, Array):
        if hasattr(value, "tolist"):
            value = value.tolist()
        if not isinstance(value, (list, tuple)):
            raise SchemaEnforcementError(f"{where}: expected a list of {kind.dtype!r}, got {type(value).__name__}")
        return [check_value(v, kind.dtype, f"{where}[{i}]") for i, v in enumerate(value)]
    if isinstance(kind, Object):
        return _object_value(value, kind, where)
    if isinstance(kind, Map):
        if not isinstance(value, Mapping) or not all(isinstance(k, str) for k in value):
            raise SchemaEnforcementError(f"{where}: expected an object with string keys, got {type(value).__name__}")
        return {k: check_value(v, kind.value_type, f"{where}[{k!r}]") for k, v in value.items()}
    raise SchemaEnforcementError(f"{where}: unsupported type {kind!r}")


def check_param(spec: ParamSpec, value: Any) -> Any:
    """A param's value converted to its spec's type and shape (also checks a spec's default)."""
    where = f"param {spec.name!r}"
    if spec.shape is None:
        if isinstance(spec.dtype, Object):
            return None if value is None else _object_value(value, spec.dtype, where)
        return _scalar(value, spec.dtype, where)
    if value is None:
        return None
    items = value.tolist() if hasattr(value, "tolist") else value
    if not isinstance(items, (list, tuple)) or any(isinstance(v, (list, tuple, dict)) for v in items):
        raise SchemaEnforcementError(f"{where}: expected a list of {spec.dtype!r} (shape (-1,)), got {value!r}")
    assert isinstance(spec.dtype, DataType)
    return [_scalar(v, spec.dtype, f"{where}[{i}]") for i, v in enumerate(items)]


def enforce_params(params: Mapping[str, Any] | None, schema: ParamSchema | None) -> dict[str, Any] | None:
    """The params a model's predict gets: converted, defaults filled in, unknown ones dropped."""
    if schema is None:
        if params:
            log.warning(
                "the model's signature declares no params: ignoring %s (log the model with a params schema to use them)",
                ", ".join(map(repr, params)),
            )
            return {}
        return None if params is None else {}
    if params is None:
        params = {}
    if not isinstance(params, Mapping):
        raise SchemaEnforcementError(f"params must be a mapping of name to value, got {type(params).__name__}")
    known = {p.name for p in schema}
    unknown = [str(k) for k in params if str(k) not in known]
    if unknown:
        log.warning(
            "ignoring params the model's signature does not declare: %s (it declares %s)",
            some(unknown),
            ", ".join(map(repr, sorted(known))) or "none",
        )
    given = {str(k): v for k, v in params.items()}
    return {p.name: check_param(p, given[p.name]) if p.name in given else p.default for p in schema}


# -- data ---------------------------------------------------------------------------------------
def enforce_schema(data: Any, schema: Schema) -> Any:
    """``data`` as the model's signature says it must be, or a :class:`SchemaEnforcementError`."""
    if schema.is_tensor_spec():
        return _enforce_tensors(data, schema)
    return _enforce_columns(_as_frame(data, schema), schema)


def _as_frame(data: Any, schema: Schema) -> Any:
    import numpy as np
    import pandas as pd

    if isinstance(data, pd.DataFrame):
        return data
    if isinstance(data, pd.Series):
        return pd.DataFrame(data)
    if isinstance(data, Mapping):
        nested = any(isinstance(s.type, (Array, Object)) for s in schema.inputs)
        flat = all(
            np.isscalar(v) or v is None or (isinstance(v, list) and all(isinstance(i, str) for i in v))
            for v in data.values()
        )
        try:
            if nested or flat:
                return pd.DataFrame([dict(data)])
            return pd.DataFrame(
                {k: v.tolist() if isinstance(v, np.ndarray) and v.ndim > 1 else v for k, v in data.items()}
            )
        except ValueError as exc:
            raise SchemaEnforcementError(
                f"the model takes columns; this mapping does not make a table: {exc}"
            ) from None
    if isinstance(data, (list, np.ndarray)):
        return pd.DataFrame(data)
    if np.isscalar(data):
        return pd.DataFrame([data])
    raise SchemaEnforcementError(
        f"the model takes a table (a pandas DataFrame, a dict of columns, a list of rows); got {type(data).__name__}"
    )


def _enforce_columns(frame: Any, schema: Schema) -> Any:
    import pandas as pd

    specs = [s for s in schema.inputs if isinstance(s, ColSpec)]
    if not schema.has_input_names():
        if len(frame.columns) < len(specs):
            raise SchemaEnforcementError(
                f"the model's signature declares {len(specs)} unnamed columns, the input has {len(frame.columns)}"
            )
        columns = list(frame.columns[: len(specs)])
        out = {c: _enforce_column(frame[c], spec, c) for c, spec in zip(columns, specs, strict=True)}
        return pd.DataFrame(out)
    present = set(frame.columns)
    missing = [s for s in specs if s.required and s.name not in present]
    if missing:
        expected = ", ".join(describe(s) for s in specs)
        extra = [c for c in frame.columns if c not in {s.name for s in specs}]
        note = f"; the input has other columns: {some(extra)}" if extra else ""
        raise SchemaEnforcementError(
            f"the input is missing {', '.join(describe(s) for s in missing)}: the model's signature expects "
            f"{expected}{note}"
        )
    extra = [c for c in frame.columns if c not in {s.name for s in specs}]
    if extra:
        log.warning("ignoring input columns the model's signature does not declare: %s", some(extra))
    given = {s.name: frame[s.name] for s in specs if s.name in present}
    out = {
        name: _enforce_column(given[name], s, name)
        for name, s in zip(given, (s for s in specs if s.name in present), strict=True)
    }
    if list(frame.columns) == list(out) and all(out[name] is given[name] for name in out):
        return frame.copy()  # already as the signature says: one copy (the model may change it), not a rebuild
    return pd.DataFrame(out, index=frame.index)


def _enforce_column(values: Any, spec: ColSpec, name: Any) -> Any:
    import pandas as pd

    kind = spec.type
    if isinstance(kind, DataType):
        return _enforce_datatype(values, kind, spec)
    where = f"input column {name!r}"
    checked = [
        None if _missing(v) and not spec.required else check_value(v, kind, f"{where}, row {i}")
        for i, v in enumerate(values)
    ]
    return pd.Series(checked, index=values.index, name=name, dtype=object)


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and value != value)


def _enforce_datatype(values: Any, kind: DataType, spec: ColSpec) -> Any:
    """MLflow's ``_enforce_mlflow_datatype``: the column as ``kind``, converted only where safe."""
    import numpy as np
    import pandas as pd

    if values.dtype.kind == "O" and kind not in (DataType.binary, DataType.string):
        values = values.infer_objects()
    is_text = isinstance(values.dtype, pd.StringDtype)
    if kind == DataType.string and (values.dtype.kind == "O" or is_text):
        return values
    if kind == DataType.binary and is_text:
        return values
    if values.dtype == kind.to_pandas() or values.dtype == kind.to_numpy():
        return values
    got = values.dtype
    if kind == DataType.binary and got.kind == "S":
        return values
    if kind == DataType.datetime and (got.kind == "M" or (got.kind == "O" and not is_text)):
        try:
            return values.astype(np.dtype("datetime64[ns]"))
        except (TypeError, ValueError) as exc:
            raise SchemaEnforcementError(
                f"input column {spec.name!r} ({got}) cannot be read as datetime, as the model's signature asks: {exc}"
            ) from None
    if kind == DataType.boolean and got.kind == "O":
        return values  # no conversion: it would turn None into False
    target = kind.to_numpy()
    if got.kind == target.kind:
        upcast = got.itemsize <= target.itemsize
    elif got.kind == "u" and target.kind == "i":
        upcast = got.itemsize < target.itemsize
    elif got.kind in "iu" and target == np.dtype("float64"):
        upcast = got.itemsize <= 6
    else:
        upcast = False
    if upcast:
        return values.astype(target)
    if got == np.dtype("int64") and target.kind == "f" and all(pd.isnull(x) or x in (0, 1) for x in values):
        return values.astype(target)
    hint = ""
    if got == np.dtype("float64") and target.kind in "iu" and values.hasnans:
        hint = (
            " (the floats are likely integers with missing values, which pandas stores as floats: declare the "
            "column as double in the signature, or infer it from data that has missing values)"
        )
    raise SchemaEnforcementError(
        f"input column {spec.name!r} is {_dtype_text(got)}, which does not convert safely to {kind!r}, the type the "
        f"model's signature declares{hint}"
    )


def _dtype_text(dtype: Any) -> str:
    return "text (object)" if dtype.kind == "O" else str(dtype)


def _enforce_tensors(data: Any, schema: Schema) -> Any:
    import numpy as np
    import pandas as pd

    specs = [s for s in schema.inputs if isinstance(s, TensorSpec)]
    if schema.has_input_names():
        if isinstance(data, Mapping):
            missing = [s for s in specs if s.name not in data]
            if missing:
                raise SchemaEnforcementError(f"the input is missing {', '.join(describe(s) for s in missing)}")
            out = {}
            for spec in specs:
                value = data[spec.name]
                if not isinstance(value, np.ndarray):
                    raise SchemaEnforcementError(
                        f"input {spec.name!r} must be a numpy array for {describe(spec)}, got {type(value).__name__}"
                    )
                out[spec.name] = _check_tensor(value, spec)
            return out
        if isinstance(data, pd.DataFrame):
            missing = [s for s in specs if s.name not in data.columns]
            if missing:
                raise SchemaEnforcementError(f"the input is missing {', '.join(describe(s) for s in missing)}")
            return {s.name: _column_to_tensor(data[s.name], s) for s in specs}
        raise SchemaEnforcementError(
            f"the model takes named tensors ({', '.join(describe(s) for s in specs)}): pass a dict of numpy arrays, "
            f"got {type(data).__name__}"
        )
    spec = specs[0]
    if isinstance(data, pd.DataFrame):
        if data.empty:
            raise SchemaEnforcementError("the input DataFrame is empty")
        if len(data.columns) == 1:
            return _column_to_tensor(data[data.columns[0]], spec)
        if spec.shape != (-1, len(data.columns)):
            raise SchemaEnforcementError(
                f"the input has {len(data.columns)} columns; the model takes {describe(spec)}: with several columns "
                f"the shape must be [-1, {len(data.columns)}]"
            )
        return _check_tensor(data.to_numpy(), spec)
    if isinstance(data, np.ndarray) or type(data).__name__ in ("csr_matrix", "csc_matrix"):
        return _check_tensor(data, spec)
    if isinstance(data, list):
        try:
            array = np.asarray(data)
        except ValueError as exc:
            raise SchemaEnforcementError(f"the input list is not a tensor for {describe(spec)}: {exc}") from None
        if array.dtype != spec.type and array.dtype.kind in "iuf" and spec.type.kind in "iuf":
            array = array.astype(spec.type)
        return _check_tensor(array, spec)
    raise SchemaEnforcementError(f"the model takes {describe(spec)}: pass a numpy array, got {type(data).__name__}")


def _column_to_tensor(series: Any, spec: TensorSpec) -> Any:
    import numpy as np

    if spec.shape[0] != -1 or -1 in spec.shape[1:]:
        raise SchemaEnforcementError(
            f"{describe(spec)}: a DataFrame column can fill a tensor only when its first axis is the variable one "
            "and the others are fixed"
        )
    first = series.iloc[0]
    if np.isscalar(first):
        if spec.shape in ((-1,), (-1, 1)):
            return _check_tensor(np.array(series, dtype=spec.type).reshape(spec.shape), spec)
        raise SchemaEnforcementError(f"column {series.name!r} holds scalars; {describe(spec)} needs rows of values")
    try:
        stacked = np.vstack(series.tolist())
        array = (
            stacked.reshape(spec.shape)
            if isinstance(first, np.ndarray)
            else stacked.reshape(spec.shape).astype(spec.type)
        )
    except ValueError:
        raise SchemaEnforcementError(
            f"the values of column {series.name!r} do not make {describe(spec)}: every row must have the same length"
        ) from None
    if len(array) != len(series):
        raise SchemaEnforcementError(f"the values of column {series.name!r} do not make {describe(spec)}")
    return _check_tensor(array, spec)


def _check_tensor(values: Any, spec: TensorSpec) -> Any:
    import numpy as np

    dtype = values.dtype if isinstance(values, np.ndarray) else values.data.dtype
    shape = values.shape
    expected = spec.shape
    if len(expected) == 1 and expected[0] == -1 and spec.dtype_name == "object":
        return values
    if len(expected) > 1 and -1 in expected[1:] and len(shape) == 1 and dtype == np.dtype("O"):
        return values  # a ragged array
    if len(shape) != len(expected) or any(e != -1 and e != a for e, a in zip(expected, shape, strict=True)):
        raise SchemaEnforcementError(f"the input's shape {list(shape)} does not fit {describe(spec)}")
    cleaned = "str" if dtype.char == "U" else "bytes" if dtype.char == "S" else dtype.name
    if cleaned != spec.dtype_name:
        raise SchemaEnforcementError(
            f"the input's dtype is {cleaned}; {describe(spec)} needs {spec.dtype_name} (convert it with "
            f".astype({spec.dtype_name!r}))"
        )
    return values
