"""Prediction inputs and outputs in MLflow's scoring protocol: the one code path of ``gitrun models
predict`` and of the scoring server (``gitrun serve``).

JSON input is an object with exactly one of ``dataframe_split`` (``{"columns": [...], "data":
[[...]]}``), ``dataframe_records`` (``[{...}, ...]``), ``instances`` (rows) or ``inputs``
(columns or a tensor), and optionally ``params``; CSV input is a table with a header; Parquet
input is a table (needs pyarrow). Values are cast to the signature's types as MLflow casts them
(base64 for binary columns, dates parsed, tensors built with the signature's dtype). Output is
``{"predictions": ...}`` (a DataFrame as records), serialized as MLflow's ``NumpyEncoder`` does
(NaN as ``NaN``, numpy scalars as numbers). A malformed payload is a :class:`PayloadError` (HTTP
400 in the scoring server); a content type or charset the protocol does not take is an
:class:`~gitrun.errors.UnsupportedContentTypeError` (HTTP 415).
"""

from __future__ import annotations

import base64
import io
import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from gitrun.errors import GitrunError, PayloadError, UnsupportedContentTypeError
from gitrun.models.example import dumps
from gitrun.models.signature import AnyType, Array, ColSpec, DataType, Map, Object, Schema, TensorSpec

if TYPE_CHECKING:
    from gitrun.models.loading import PyFuncModel

DF_SPLIT, DF_RECORDS, INSTANCES, INPUTS = "dataframe_split", "dataframe_records", "instances", "inputs"
FORMATS = (DF_SPLIT, DF_RECORDS, INSTANCES, INPUTS)
JSON, CSV, PARQUET = "application/json", "text/csv", "application/vnd.apache.parquet"
CONTENT_TYPES = {"json": JSON, "csv": CSV, "parquet": PARQUET}  # `gitrun models predict -t` names them so
REQUIRED_FORMAT = f"The input must be a JSON dictionary with exactly one of the input fields {set(FORMATS)}"


def media_type(content_type: str | None) -> str:
    """The MIME type of a request's ``Content-Type`` (``json``/``csv``/``parquet`` name theirs), checked
    as MLflow's scoring server checks it: UTF-8 only, no parameter but ``charset``."""
    if not content_type:
        raise UnsupportedContentTypeError(
            f"This predictor only supports the following content types: Types: {list(CONTENT_TYPES.values())}. "
            "Got no Content-Type header."
        )
    kind, *parameters = (part.strip() for part in content_type.split(";"))
    kind = CONTENT_TYPES.get(kind.lower(), kind.lower())
    values = {
        k.strip().lower(): v.strip().strip('"').lower() for k, _, v in (p.partition("=") for p in parameters if p)
    }
    if values.get("charset", "utf-8") != "utf-8":
        raise UnsupportedContentTypeError("The scoring server only supports UTF-8")
    unknown = sorted(set(values) - {"charset"})
    if unknown:
        raise UnsupportedContentTypeError(f"Unrecognized content type parameters: {', '.join(unknown)}.")
    if kind not in CONTENT_TYPES.values():
        raise UnsupportedContentTypeError(
            f"This predictor only supports the following content types: Types: {list(CONTENT_TYPES.values())}. "
            f"Got {content_type!r}."
        )
    return kind


def parse_input(raw: str | bytes, content_type: str | None, schema: Schema | None) -> tuple[Any, dict[str, Any] | None]:
    """``(data, params)`` of a request body; ``content_type`` is its ``Content-Type`` (or ``json``, ``csv``,
    ``parquet``)."""
    kind = media_type(content_type)
    if kind == CSV:
        return parse_csv(raw, schema), None
    if kind == PARQUET:
        return parse_parquet(raw if isinstance(raw, bytes) else raw.encode("utf-8")), None
    return parse_json(raw, schema)


def parse_json(raw: str | bytes | Mapping[str, Any], schema: Schema | None) -> tuple[Any, dict[str, Any] | None]:
    if isinstance(raw, Mapping):
        body: Any = dict(raw)
    else:
        try:
            body = json.loads(raw)
        except (ValueError, UnicodeDecodeError) as exc:
            raise PayloadError(
                f"Invalid input. Ensure that input is a valid JSON formatted string. Error: {exc}"
            ) from None
        except RecursionError:
            raise PayloadError(
                "Invalid input. Ensure that input is a valid JSON formatted string. Error: it nests deeper than "
                "this Python can read"
            ) from None
    if not isinstance(body, dict):
        raise PayloadError(
            f"{REQUIRED_FORMAT}. Received {'a list' if isinstance(body, list) else type(body).__name__}."
        )
    keys = [k for k in body if k in FORMATS]
    if len(keys) != 1:
        raise PayloadError(f"{REQUIRED_FORMAT}. Received dictionary with input fields: {list(body)}.")
    params = body.get("params")
    if params is not None and not isinstance(params, dict):
        raise PayloadError(f"'params' must be a JSON object of name -> value, got {type(params).__name__}")
    key = keys[0]
    if key == DF_SPLIT:
        return _frame_split(body[key], schema), params
    if key == DF_RECORDS:
        return _frame_records(body[key], schema), params
    if key == INSTANCES:
        return _instances(body[key], schema), params
    return _cast_inputs(body[key], schema), params


def _frame_split(value: Any, schema: Schema | None) -> Any:
    import pandas as pd

    if not isinstance(value, dict):
        raise PayloadError(f"Dataframe split format must be a dictionary. Got {type(value).__name__}.")
    extra = set(value) - {"columns", "data", "index"}
    if "data" not in value or extra:
        raise PayloadError(
            f"Dataframe split format must have 'data' field and optionally 'columns' and 'index' fields. Got {set(value)}."
        )
    try:
        frame = pd.DataFrame(index=value.get("index"), columns=value.get("columns"), data=value["data"])
    except Exception as exc:
        raise PayloadError(
            f"Provided dataframe_split field is not a valid dataframe representation in 'split' format. Error: '{exc}'"
        ) from None
    return cast_frame(frame, schema)


def _frame_records(value: Any, schema: Schema | None) -> Any:
    import pandas as pd

    if not isinstance(value, list):
        raise PayloadError(f"Dataframe records format must be a list of records. Got {type(value).__name__}.")
    try:
        frame = pd.DataFrame(data=value)
    except Exception as exc:
        raise PayloadError(
            f"Provided dataframe_records field is not a valid dataframe in 'records' format. Error: '{exc}'"
        ) from None
    return cast_frame(frame, schema)


def parse_csv(raw: str | bytes, schema: Schema | None) -> Any:
    import pandas as pd

    try:
        text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
    except UnicodeDecodeError as exc:
        raise PayloadError(f"Invalid input. Ensure that input is a valid UTF-8 encoded string. Error: {exc}") from None
    try:
        if schema is not None and not schema.is_tensor_spec() and schema.has_input_names():
            types = {
                s.name: s.type.to_pandas()
                for s in schema.inputs
                if isinstance(s, ColSpec)
                and isinstance(s.type, DataType)
                and s.type not in (DataType.datetime, DataType.binary)
            }
            return cast_frame(pd.read_csv(io.StringIO(text), dtype=types), schema)
        return pd.read_csv(io.StringIO(text))
    except PayloadError:
        raise
    except Exception as exc:
        raise PayloadError(
            f"Failed to parse input as a Pandas DataFrame: the input must be CSV with a header row. Error: '{exc}'"
        ) from None


def parse_parquet(raw: bytes) -> Any:
    """A table from Parquet bytes (pandas with pyarrow), as MLflow reads it: not cast (Parquet is typed)."""
    import pandas as pd

    try:
        return pd.read_parquet(io.BytesIO(raw))
    except ImportError as exc:
        raise PayloadError(
            f"Parquet input needs pyarrow, which is not installed here ({exc}): pip install pyarrow"
        ) from None
    except Exception as exc:
        raise PayloadError(
            f"Failed to parse input as a Pandas DataFrame: the input must be Parquet (DataFrame.to_parquet). Error: '{exc}'"
        ) from None


def cast_frame(frame: Any, schema: Schema | None) -> Any:
    """A parsed table's columns cast to the signature's types (MLflow's ``cast_df_types_according_to_schema``)."""
    import numpy as np
    import pandas as pd

    from gitrun.models.enforce import SchemaEnforcementError, check_value

    if schema is None:
        return frame
    if schema.has_input_names():
        pairs = [(s.name, s) for s in schema.inputs]
    elif schema.is_tensor_spec() and len(schema.inputs) == 1:
        pairs = [(c, schema.inputs[0]) for c in frame.columns]
    else:
        pairs = list(zip(frame.columns[: len(schema.inputs)], schema.inputs, strict=False))
    for name, spec in pairs:
        if name not in frame.columns or isinstance(spec, TensorSpec):
            continue
        kind = spec.type
        try:
            if kind == DataType.binary:
                frame[name] = frame[name].map(
                    lambda x: base64.decodebytes(bytes(x, "utf8")) if isinstance(x, str) else x
                )
            elif isinstance(kind, (Array, Object, Map)):
                frame[name] = frame[name].map(
                    lambda x, k=kind, n=name: x if x is None else check_value(x, k, f"input column {n!r}")
                )
            elif isinstance(kind, AnyType):
                continue
            elif kind == DataType.datetime:
                parsed = pd.to_datetime(frame[name])
                if getattr(parsed.dt, "unit", "ns") != "ns":
                    parsed = parsed.dt.as_unit("ns")
                frame[name] = parsed
            else:
                target = kind.to_pandas()
                current = frame[name].dtype
                if current == target or (
                    isinstance(current, pd.StringDtype) and (target == np.dtype(object) or target.kind == "U")
                ):
                    continue  # already so (astype would still copy the column, at every request)
                frame[name] = frame[name].astype(target)
        except SchemaEnforcementError:
            raise
        except Exception as exc:
            raise PayloadError(
                f"Data is not compatible with model signature. Failed to convert column {name!r} to type {kind!r}. Error: '{exc}'"
            ) from None
    return frame


def _convert(value: Any, spec: ColSpec | TensorSpec | None) -> Any:
    """One input (a column, a tensor) as MLflow's ``convert_data_type`` makes it."""
    import numpy as np

    from gitrun.models.enforce import check_value

    try:
        if spec is None:
            return np.array(value)
        if isinstance(spec, TensorSpec):
            return np.array(value, dtype=spec.type)
        if isinstance(spec.type, DataType):
            dtype = spec.type.to_numpy()
            return np.array(value, dtype) if isinstance(value, (list, np.ndarray)) else np.array([value], dtype)[0]
        if isinstance(spec.type, Array):
            return np.array(check_value(value, spec.type, f"input {spec.name!r}"))
        if isinstance(spec.type, (Object, Map)):
            return check_value(value, spec.type, f"input {spec.name!r}")
        return value
    except (ValueError, TypeError) as exc:
        raise PayloadError(f"cannot read input {getattr(spec, 'name', None)!r} as {spec!r}: {exc}") from None


def _cast_inputs(value: Any, schema: Schema | None) -> Any:
    """``inputs`` (TF serving's columnar form, or one tensor)."""
    import numpy as np

    named = {s.name: s for s in schema.inputs} if schema is not None and schema.has_input_names() else {}
    if schema is not None:
        if len(named) == 1 and isinstance(value, list) and not any(isinstance(x, dict) for x in value):
            value = {next(iter(named)): value}
        elif not schema.has_input_names() and not (isinstance(value, list) or np.isscalar(value)):
            raise PayloadError(
                "the model's signature has one unnamed input: 'inputs' must be one list (a tensor) or one value"
            )
    if isinstance(value, dict):
        return {k: _convert(v, named.get(k)) for k, v in value.items()}
    if isinstance(value, list) and value and all(isinstance(x, dict) for x in value):
        return [{k: _convert(v, named.get(k)) for k, v in row.items()} for row in value]
    return _convert(value, schema.inputs[0] if schema is not None else None)


def _instances(value: Any, schema: Schema | None) -> Any:
    """``instances`` (TF serving's row form): rows of named values become columns."""
    import numpy as np

    if isinstance(value, list) and value and isinstance(value[0], dict):
        named = {s.name: s for s in schema.inputs} if schema is not None and schema.has_input_names() else {}
        columns: dict[str, list[Any]] = {}
        for row in value:
            for key, item in row.items():
                columns.setdefault(key, []).append(item)
        lengths = {len(v) for v in columns.values()}
        if len(lengths) > 1:
            raise PayloadError("The length of values for each input/column name are not the same")
        return {k: np.array([_convert(i, named.get(k)) for i in v]) for k, v in columns.items()}
    return _cast_inputs(value, schema)


def predictions_json(predictions: Any) -> str:
    """``{"predictions": ...}``: arrays as lists, a DataFrame (or Series) as a list of records."""
    return dumps({"predictions": jsonable(predictions)})


def jsonable(value: Any) -> Any:
    import sys

    pd = sys.modules.get("pandas")
    if pd is not None and isinstance(value, pd.DataFrame):
        return value.to_dict(orient="records")
    if pd is not None and isinstance(value, pd.Series):
        return pd.DataFrame(value).to_dict(orient="records")
    np = sys.modules.get("numpy")
    if np is not None and isinstance(value, np.ndarray):
        return value.tolist()
    return value


def predict_text(model: PyFuncModel, raw: str | bytes, content_type: str | None = "json") -> str:
    """Parse ``raw`` against ``model``'s signature, predict, and return ``{"predictions": ...}`` as JSON."""
    signature = model.metadata.signature
    try:
        data, params = parse_input(raw, content_type, signature.inputs if signature is not None else None)
    except GitrunError:
        raise
    except Exception as exc:  # pandas or numpy refusing a shape: still the input's fault, never the model's
        raise PayloadError(
            f"Invalid input. It cannot be read as the model's input: {type(exc).__name__}: {exc}"
        ) from None
    return predictions_json(model.predict(data, params=params))


def predict_payload(
    model_uri: str,
    raw: str | bytes,
    content_type: str = "json",
    *,
    rev: str | None = None,
    skops_trusted_types: tuple[str, ...] = (),
    safe: bool | None = None,
) -> str:
    """What ``gitrun models predict`` does: load the model and :func:`predict_text`."""
    from gitrun.models.loading import load_pyfunc

    model = load_pyfunc(model_uri, rev=rev, skops_trusted_types=skops_trusted_types, safe=safe)
    return predict_text(model, raw, content_type)
