"""Model signatures: what a model takes and returns, with MLflow's JSON encoding.

A :class:`ModelSignature` holds an input :class:`Schema`, an output :class:`Schema` and an optional
:class:`ParamSchema`. A schema is a list of :class:`ColSpec` (named or unnamed columns of a
:class:`DataType`, or of the nested :class:`Array` / :class:`Object` / :class:`Map` /
:class:`AnyType`) or of :class:`TensorSpec` (numpy dtype and shape, ``-1`` for a variable axis).

In the ``MLmodel`` file each part is a JSON string (``signature: {inputs: '[...]', outputs: ...,
params: ...}``) written exactly as MLflow 3 writes it, key order included, so MLflow reads
gitrun's signatures and gitrun reads MLflow's. numpy is imported only when a dtype is asked for.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Union

from gitrun.errors import SignatureError

__all__ = [
    "AnyType",
    "Array",
    "ColSpec",
    "DataType",
    "Map",
    "ModelSignature",
    "Object",
    "ParamSchema",
    "ParamSpec",
    "Property",
    "Schema",
    "SignatureError",
    "TensorSpec",
]


class DataType(Enum):
    """MLflow's column types; the value is MLflow's number for the type."""

    boolean = 1
    integer = 2
    long = 3
    float = 4
    double = 5
    string = 6
    binary = 7
    datetime = 8

    def __repr__(self) -> str:
        return self.name

    @property
    def numpy_name(self) -> str:
        """The numpy dtype name of the type (``float64`` for double)."""
        return _NUMPY_NAMES[self]

    def to_numpy(self) -> Any:
        """The numpy dtype (imports numpy)."""
        import numpy as np

        return np.dtype(self.numpy_name)

    def to_pandas(self) -> Any:
        """The dtype pandas uses for a column of this type (object for string and binary)."""
        import numpy as np

        return np.dtype(object) if self in (DataType.string, DataType.binary) else self.to_numpy()

    def to_python(self) -> type:
        return _PYTHON_TYPES[self]

    @classmethod
    def parse(cls, name: str) -> DataType:
        try:
            return cls[name]
        except (KeyError, TypeError):
            known = ", ".join(t.name for t in cls)
            raise SignatureError(f"unknown data type {name!r}; use one of {known}") from None


_NUMPY_NAMES = {
    DataType.boolean: "bool",
    DataType.integer: "int32",
    DataType.long: "int64",
    DataType.float: "float32",
    DataType.double: "float64",
    DataType.string: "str",
    DataType.binary: "bytes",
    DataType.datetime: "datetime64[ns]",
}
_PYTHON_TYPES: dict[DataType, type] = {
    DataType.boolean: bool,
    DataType.integer: int,
    DataType.long: int,
    DataType.float: float,
    DataType.double: float,
    DataType.string: str,
    DataType.binary: bytes,
    DataType.datetime: dt.date,
}

ARRAY, OBJECT, MAP, ANY, TENSOR, SPARKML_VECTOR = "array", "object", "map", "any", "tensor", "sparkml_vector"

# A column's type: a plain DataType or one of the nested (JSON-shaped) types.
ColType = Union[DataType, "Array", "Object", "Map", "AnyType"]


def _type_from_name(value: ColType | str) -> ColType:
    return DataType.parse(value) if isinstance(value, str) else value


def _type_dict(value: ColType) -> dict[str, Any]:
    return {"type": value.name} if isinstance(value, DataType) else value.to_dict()


def _type_from_dict(data: Mapping[str, Any]) -> ColType:
    kind = data.get("type")
    if kind == ARRAY:
        return Array.from_dict(data)
    if kind == OBJECT:
        return Object.from_dict(data)
    if kind == MAP:
        return Map.from_dict(data)
    if kind == ANY:
        return AnyType()
    if kind == SPARKML_VECTOR:
        return Array(DataType.double)
    if not isinstance(kind, str):
        raise SignatureError(f"a type in the signature has no 'type' string: {dict(data)!r}")
    return DataType.parse(kind)


@dataclass(frozen=True)
class AnyType:
    """Any JSON value, None included (no check at inference)."""

    def __repr__(self) -> str:
        return "Any"

    def to_dict(self) -> dict[str, Any]:
        return {"type": ANY}


@dataclass(frozen=True, init=False)
class Array:
    """A list whose items have one type."""

    dtype: ColType

    def __init__(self, dtype: ColType | str):
        object.__setattr__(self, "dtype", _type_from_name(dtype))

    def __repr__(self) -> str:
        return f"Array({self.dtype!r})"

    def to_dict(self) -> dict[str, Any]:
        return {"type": ARRAY, "items": _type_dict(self.dtype)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Array:
        items = data.get("items")
        if not isinstance(items, Mapping):
            raise SignatureError(f"an array type needs an 'items' mapping: {dict(data)!r}")
        return cls(_type_from_dict(items))


@dataclass(frozen=True, init=False)
class Property:
    """One named field of an :class:`Object`."""

    name: str
    dtype: ColType
    required: bool = True

    def __init__(self, name: str, dtype: ColType | str, required: bool = True):
        if not isinstance(name, str):
            raise SignatureError(f"a property name must be a string, got {type(name).__name__}")
        object.__setattr__(self, "name", name)
        object.__setattr__(self, "dtype", _type_from_name(dtype))
        object.__setattr__(self, "required", bool(required))

    def to_dict(self) -> dict[str, Any]:
        return {self.name: {**_type_dict(self.dtype), "required": self.required}}


@dataclass(frozen=True, init=False)
class Object:
    """A JSON object with named, typed properties (kept sorted by name, as MLflow does)."""

    properties: tuple[Property, ...]

    def __init__(self, properties: Sequence[Property]):
        if not properties:
            raise SignatureError("an object type needs at least one property")
        names = [p.name for p in properties]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise SignatureError(f"an object type has duplicated properties: {', '.join(map(repr, duplicates))}")
        object.__setattr__(self, "properties", tuple(sorted(properties, key=lambda p: p.name)))

    def __repr__(self) -> str:
        return "{" + ", ".join(f"{p.name}: {p.dtype!r}" for p in self.properties) + "}"

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for prop in self.properties:
            out.update(prop.to_dict())
        return {"type": OBJECT, "properties": out}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Object:
        props = data.get("properties")
        if not isinstance(props, Mapping) or not all(isinstance(v, Mapping) for v in props.values()):
            raise SignatureError(f"an object type needs a 'properties' mapping: {dict(data)!r}")
        return cls(
            [Property(name, _type_from_dict(spec), bool(spec.get("required", True))) for name, spec in props.items()]
        )


@dataclass(frozen=True, init=False)
class Map:
    """A JSON object with string keys and values of one type."""

    value_type: ColType

    def __init__(self, value_type: ColType | str):
        object.__setattr__(self, "value_type", _type_from_name(value_type))

    def __repr__(self) -> str:
        return f"Map(str -> {self.value_type!r})"

    def to_dict(self) -> dict[str, Any]:
        return {"type": MAP, "values": _type_dict(self.value_type)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Map:
        values = data.get("values")
        if not isinstance(values, Mapping):
            raise SignatureError(f"a map type needs a 'values' mapping: {dict(data)!r}")
        return cls(_type_from_dict(values))


@dataclass(frozen=True, init=False)
class ColSpec:
    """One column: its type, its name (None for unnamed columns) and whether it is required."""

    type: ColType
    name: str | int | None = None  # pandas' unnamed columns are numbered
    required: bool = True

    def __init__(self, type: ColType | str, name: str | int | None = None, required: bool = True):
        object.__setattr__(self, "type", _type_from_name(type))
        object.__setattr__(self, "name", name)
        object.__setattr__(self, "required", bool(required))

    def __repr__(self) -> str:
        need = "required" if self.required else "optional"
        return f"{self.type!r} ({need})" if self.name is None else f"{self.name!r}: {self.type!r} ({need})"

    def to_dict(self) -> dict[str, Any]:
        out = _type_dict(self.type)
        if self.name is not None:
            out["name"] = self.name
        out["required"] = self.required
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ColSpec:
        required = data.get("required")
        return cls(_type_from_dict(data), data.get("name"), True if required is None else bool(required))


def _clean_dtype_name(name: str) -> str:
    """``<U5`` and ``|S3`` (numpy strings with a size) as MLflow keeps them: ``str`` and ``bytes``."""
    import numpy as np

    dtype = np.dtype(name)
    if dtype.char == "U":
        return "str"
    if dtype.char == "S":
        return "bytes"
    return dtype.name


@dataclass(frozen=True, init=False)
class TensorSpec:
    """A tensor: numpy dtype (kept by name, e.g. ``float64``) and shape (``-1`` marks a variable axis)."""

    dtype_name: str
    shape: tuple[int, ...]
    name: str | None = None

    def __init__(self, type: Any, shape: Sequence[int], name: str | None = None):
        dtype_name = type if isinstance(type, str) else _clean_dtype_name(getattr(type, "str", str(type)))
        if not isinstance(shape, (tuple, list)) or not all(isinstance(n, int) for n in shape):
            raise SignatureError(f"a tensor's shape must be a list of integers, got {shape!r}")
        object.__setattr__(self, "dtype_name", dtype_name)
        object.__setattr__(self, "shape", tuple(shape))
        object.__setattr__(self, "name", name)

    @property
    def type(self) -> Any:
        """The numpy dtype (imports numpy)."""
        import numpy as np

        return np.dtype(self.dtype_name)

    @property
    def required(self) -> bool:
        return True

    def __repr__(self) -> str:
        text = f"Tensor({self.dtype_name!r}, {self.shape!r})"
        return text if self.name is None else f"{self.name!r}: {text}"

    def to_dict(self) -> dict[str, Any]:
        spec = {"dtype": self.dtype_name, "shape": list(self.shape)}
        if self.name is None:
            return {"type": TENSOR, "tensor-spec": spec}
        return {"name": self.name, "type": TENSOR, "tensor-spec": spec}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TensorSpec:
        spec = data.get("tensor-spec")
        if not isinstance(spec, Mapping) or "dtype" not in spec or "shape" not in spec:
            raise SignatureError(f"a tensor spec needs 'tensor-spec' with 'dtype' and 'shape': {dict(data)!r}")
        return cls(str(spec["dtype"]), [int(n) if n is not None else -1 for n in spec["shape"]], data.get("name"))


Spec = ColSpec | TensorSpec


@dataclass(frozen=True, init=False)
class Schema:
    """The columns or tensors a model takes (or returns): all ColSpecs or all TensorSpecs, all
    named or all unnamed."""

    inputs: tuple[Spec, ...]

    def __init__(self, inputs: Sequence[Spec]):
        inputs = tuple(inputs)
        if not inputs:
            raise SignatureError("a schema needs at least one column or tensor")
        named = [s.name is not None for s in inputs]
        if any(named) and not all(named):
            raise SignatureError(f"a schema cannot mix named and unnamed inputs: {[s.name for s in inputs]}")
        tensors = [isinstance(s, TensorSpec) for s in inputs]
        if any(tensors) and not all(tensors):
            raise SignatureError("a schema cannot mix column specs and tensor specs")
        if all(tensors) and len(inputs) > 1 and not all(named):
            raise SignatureError("a schema with several tensors must name each of them")
        if not any(named) and not all(s.required for s in inputs):
            raise SignatureError("unnamed inputs cannot be optional; name them, or make them all required")
        names = [s.name for s in inputs if s.name is not None]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise SignatureError(f"a schema has duplicated names: {', '.join(map(repr, duplicates))}")
        object.__setattr__(self, "inputs", inputs)

    def __iter__(self) -> Iterator[Spec]:
        return iter(self.inputs)

    def __len__(self) -> int:
        return len(self.inputs)

    def is_tensor_spec(self) -> bool:
        return isinstance(self.inputs[0], TensorSpec)

    def has_input_names(self) -> bool:
        return self.inputs[0].name is not None

    def input_names(self) -> list[str | int]:
        return [s.name if s.name is not None else i for i, s in enumerate(self.inputs)]

    def required_input_names(self) -> list[str | int]:
        return [s.name if s.name is not None else i for i, s in enumerate(self.inputs) if s.required]

    def optional_input_names(self) -> list[str | int]:
        return [s.name if s.name is not None else i for i, s in enumerate(self.inputs) if not s.required]

    def input_types(self) -> list[Any]:
        return [s.type for s in self.inputs]

    def to_dict(self) -> list[dict[str, Any]]:
        return [s.to_dict() for s in self.inputs]

    def to_json(self) -> str:
        return json.dumps(self.to_dict())

    @classmethod
    def from_json(cls, text: str) -> Schema:
        return cls.from_list(_load_list(text, "schema"))

    @classmethod
    def from_list(cls, items: Sequence[Mapping[str, Any]]) -> Schema:
        return cls([TensorSpec.from_dict(x) if x.get("type") == TENSOR else ColSpec.from_dict(x) for x in items])


def _load_list(text: str, what: str) -> list[Mapping[str, Any]]:
    try:
        data = json.loads(text)
    except (TypeError, ValueError) as exc:
        raise SignatureError(f"the signature's {what} is not JSON ({exc}): {str(text)[:200]!r}") from None
    if not isinstance(data, list) or not all(isinstance(x, Mapping) for x in data):
        raise SignatureError(f"the signature's {what} must be a JSON list of objects, got {str(text)[:200]!r}")
    return data


@dataclass(frozen=True, init=False)
class ParamSpec:
    """One inference parameter: name, type (a DataType or an Object), default, shape (None for a
    scalar, ``(-1,)`` for a list)."""

    name: str
    dtype: DataType | Object
    default: Any
    shape: tuple[int, ...] | None = None

    def __init__(self, name: str, dtype: DataType | Object | str, default: Any, shape: Sequence[int] | None = None):
        kind = DataType.parse(dtype) if isinstance(dtype, str) else dtype
        if not isinstance(kind, (DataType, Object)):
            raise SignatureError(f"param {name!r}: the type must be a DataType or an Object, got {kind!r}")
        if kind == DataType.binary:
            raise SignatureError(f"param {name!r}: binary params are not supported")
        shape_t = tuple(shape) if shape is not None else None
        if shape_t not in (None, (-1,)):
            raise SignatureError(f"param {name!r}: the shape must be None (a scalar) or (-1,) (a list), got {shape_t}")
        object.__setattr__(self, "name", str(name))
        object.__setattr__(self, "dtype", kind)
        object.__setattr__(self, "shape", shape_t)
        from gitrun.models.enforce import check_param  # the rule that also checks values at predict time

        object.__setattr__(self, "default", check_param(self, default))

    @property
    def type(self) -> DataType | Object:
        return self.dtype

    def __repr__(self) -> str:
        shape = f" (shape: {self.shape})" if self.shape is not None else ""
        return f"{self.name!r}: {self.dtype!r} (default: {self.default}){shape}"

    def to_dict(self) -> dict[str, Any]:
        default = self.default
        if self.dtype == DataType.datetime and default is not None:
            default = [v.isoformat() for v in default] if self.shape else default.isoformat()
        out: dict[str, Any] = {"name": self.name, "default": default, "shape": list(self.shape) if self.shape else None}
        out.update(_type_dict(self.dtype))
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ParamSpec:
        kind = data.get("type") or data.get("dtype")
        if "name" not in data or "default" not in data or kind is None:
            raise SignatureError(f"a param spec needs 'name', 'type' and 'default': {dict(data)!r}")
        dtype: DataType | Object = Object.from_dict(data) if kind == OBJECT else DataType.parse(str(kind))
        return cls(str(data["name"]), dtype, data["default"], data.get("shape"))


@dataclass(frozen=True, init=False)
class ParamSchema:
    """The inference parameters a model accepts (``predict(data, params={...})``)."""

    params: tuple[ParamSpec, ...]

    def __init__(self, params: Sequence[ParamSpec]):
        names = [p.name for p in params]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise SignatureError(f"duplicated params in the schema: {', '.join(map(repr, duplicates))}")
        object.__setattr__(self, "params", tuple(params))

    def __iter__(self) -> Iterator[ParamSpec]:
        return iter(self.params)

    def __len__(self) -> int:
        return len(self.params)

    def to_dict(self) -> list[dict[str, Any]]:
        return [p.to_dict() for p in self.params]

    def to_json(self) -> str:
        return json.dumps(self.to_dict())

    @classmethod
    def from_json(cls, text: str) -> ParamSchema:
        return cls([ParamSpec.from_dict(x) for x in _load_list(text, "params")])


@dataclass(frozen=True)
class ModelSignature:
    """What a model takes (``inputs``), returns (``outputs``) and accepts as ``params`` at inference."""

    inputs: Schema | None = None
    outputs: Schema | None = None
    params: ParamSchema | None = None
    # MLflow's flags for signatures inferred from a PythonModel's type hints (written beside it).
    from_type_hint: bool = field(default=False, compare=False)
    type_hint_from_example: bool = field(default=False, compare=False)

    def __post_init__(self) -> None:
        for label, value, kind in (("inputs", self.inputs, Schema), ("outputs", self.outputs, Schema)):
            if value is not None and not isinstance(value, kind):
                raise SignatureError(f"ModelSignature {label} must be a Schema, got {type(value).__name__}")
        if self.params is not None and not isinstance(self.params, ParamSchema):
            raise SignatureError(f"ModelSignature params must be a ParamSchema, got {type(self.params).__name__}")

    def to_dict(self) -> dict[str, str | None]:
        """The ``signature`` mapping of an MLmodel file: each part a JSON string, or None."""
        return {
            "inputs": self.inputs.to_json() if self.inputs else None,
            "outputs": self.outputs.to_json() if self.outputs else None,
            "params": self.params.to_json() if self.params else None,
        }

    @classmethod
    def from_dict(
        cls, data: Mapping[str, Any], from_type_hint: bool = False, type_hint_from_example: bool = False
    ) -> ModelSignature:
        def part(key: str) -> Any:
            value = data.get(key)
            return value or None

        inputs, outputs, params = part("inputs"), part("outputs"), part("params")
        return cls(
            inputs=Schema.from_json(inputs) if inputs else None,
            outputs=Schema.from_json(outputs) if outputs else None,
            params=ParamSchema.from_json(params) if params else None,
            from_type_hint=from_type_hint,
            type_hint_from_example=type_hint_from_example,
        )
