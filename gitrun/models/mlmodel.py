"""The ``MLmodel`` file: read, write, and the facts a model directory's files hold.

Written byte for byte as MLflow 3 writes it: ``yaml.safe_dump(..., default_flow_style=False)``
(sorted keys, PyYAML's default width), the same keys (``model_id`` and ``prompts`` always, even
null; ``run_id`` and ``artifact_path`` only when set), the signature as JSON strings. gitrun writes
``gitrun_version`` where MLflow writes ``mlflow_version`` (MLflow keeps unknown keys as attributes,
so its ``Model.load`` reads the file as is). The reader keeps every key it does not know in
:attr:`MLModel.extra` and writes them back unchanged: MLflow keeps adding fields.
"""

from __future__ import annotations

import datetime as dt
import os
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from gitrun._version import __version__
from gitrun.errors import ModelFormatError
from gitrun.models.signature import ModelSignature, SignatureError
from gitrun.store.layout import MODEL_FILE

MLMODEL_FILE = MODEL_FILE
PYFUNC = "python_function"
MAIN = "loader_module"  # the key of a pyfunc flavor naming the module that loads it
DATA = "data"
CODE = "code"
ENV = "env"
PY_VERSION = "python_version"
REQUIREMENTS_FILE = "requirements.txt"
CONDA_FILE = "conda.yaml"
PYTHON_ENV_FILE = "python_env.yaml"
CONSTRAINTS_FILE = "constraints.txt"
EXAMPLE_FILE = "input_example.json"
SERVING_EXAMPLE_FILE = "serving_input_example.json"

# Keys MLflow writes that the dataclass has fields for; everything else goes to `extra`.
_KNOWN = frozenset(
    {
        "artifact_path",
        "run_id",
        "utc_time_created",
        "flavors",
        "signature",
        "saved_input_example_info",
        "model_uuid",
        "model_id",
        "model_size_bytes",
        "metadata",
        "prompts",
        "mlflow_version",
        "gitrun_version",
        "is_signature_from_type_hint",
        "type_hint_from_example",
    }
)


def now_utc_text() -> str:
    """``utc_time_created`` as MLflow writes it: a naive UTC ``str(datetime)``."""
    return str(dt.datetime.now(dt.timezone.utc).replace(tzinfo=None))


def new_model_id() -> str:
    """An MLflow 3 logged-model ID: ``m-`` and 32 hex digits."""
    return f"m-{uuid.uuid4().hex}"


@dataclass(frozen=True)
class MLModel:
    """The content of an ``MLmodel`` file."""

    flavors: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    utc_time_created: str = field(default_factory=now_utc_text)
    model_uuid: str | None = field(default_factory=lambda: uuid.uuid4().hex)
    model_id: str | None = None
    run_id: str | None = None
    artifact_path: str | None = None
    signature: ModelSignature | None = None
    saved_input_example_info: Mapping[str, Any] | None = None
    model_size_bytes: int | None = None
    metadata: Mapping[str, Any] | None = None
    prompts: list[str] | None = None
    mlflow_version: str | None = None  # set in models MLflow wrote
    gitrun_version: str | None = __version__
    extra: Mapping[str, Any] = field(default_factory=dict)  # keys this gitrun does not know, kept as read

    @property
    def pyfunc(self) -> Mapping[str, Any] | None:
        """The ``python_function`` flavor's configuration, if the model has it."""
        conf = self.flavors.get(PYFUNC)
        return conf if isinstance(conf, Mapping) else None

    def with_flavor(self, name: str, **conf: Any) -> MLModel:
        return replace(self, flavors={**self.flavors, name: conf})

    def to_dict(self) -> dict[str, Any]:
        """The mapping MLflow's ``Model.to_dict`` makes of the same model (keys, nulls and all)."""
        out: dict[str, Any] = dict(self.extra)
        out.update(
            flavors={k: dict(v) for k, v in self.flavors.items()},
            utc_time_created=self.utc_time_created,
            model_uuid=self.model_uuid,
            model_id=self.model_id,
            prompts=self.prompts,
        )
        if self.run_id is not None:
            out["run_id"] = self.run_id
        if self.artifact_path is not None:
            out["artifact_path"] = self.artifact_path
        if self.mlflow_version is not None:
            out["mlflow_version"] = self.mlflow_version
        if self.gitrun_version is not None:
            out["gitrun_version"] = self.gitrun_version
        if self.signature is not None:
            out["signature"] = self.signature.to_dict()
            out["is_signature_from_type_hint"] = self.signature.from_type_hint
            out["type_hint_from_example"] = self.signature.type_hint_from_example
        if self.saved_input_example_info is not None:
            out["saved_input_example_info"] = dict(self.saved_input_example_info)
        if self.metadata is not None:
            out["metadata"] = dict(self.metadata)
        if self.model_size_bytes is not None:
            out["model_size_bytes"] = self.model_size_bytes
        return out

    def to_yaml(self) -> str:
        import yaml

        return str(yaml.safe_dump(self.to_dict(), default_flow_style=False))

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], source: str = "MLmodel") -> MLModel:
        flavors = data.get("flavors") or {}
        if not isinstance(flavors, Mapping) or not all(isinstance(v, Mapping) for v in flavors.values()):
            raise ModelFormatError(f"{source}: 'flavors' must map flavor names to their settings")
        signature = None
        raw = data.get("signature")
        if isinstance(raw, Mapping):
            try:
                signature = ModelSignature.from_dict(
                    raw,
                    from_type_hint=bool(data.get("is_signature_from_type_hint", False)),
                    type_hint_from_example=bool(data.get("type_hint_from_example", False)),
                )
            except SignatureError as exc:
                raise ModelFormatError(f"{source}: cannot read the signature: {exc}") from None
        size = data.get("model_size_bytes")
        return cls(
            flavors={str(k): dict(v) for k, v in flavors.items()},
            utc_time_created=str(data.get("utc_time_created") or ""),
            model_uuid=_opt_str(data.get("model_uuid")),
            model_id=_opt_str(data.get("model_id")),
            run_id=_opt_str(data.get("run_id")),
            artifact_path=_opt_str(data.get("artifact_path")),
            signature=signature,
            saved_input_example_info=data.get("saved_input_example_info"),
            model_size_bytes=int(size) if isinstance(size, int) else None,
            metadata=data.get("metadata"),
            prompts=data.get("prompts"),
            mlflow_version=_opt_str(data.get("mlflow_version")),
            gitrun_version=_opt_str(data.get("gitrun_version")),
            extra={k: v for k, v in data.items() if k not in _KNOWN},
        )


def _opt_str(value: Any) -> str | None:
    return None if value is None else str(value)


def parse_mlmodel(text: str, source: str = "MLmodel") -> MLModel:
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        data = yaml.load(text, Loader=loader)
    except yaml.YAMLError as exc:
        raise ModelFormatError(f"{source} is not valid YAML: {exc}") from None
    if not isinstance(data, Mapping):
        raise ModelFormatError(f"{source} is not a YAML mapping; is this an MLflow model directory?")
    return MLModel.from_dict(data, source)


def read_mlmodel(model_dir: str | os.PathLike[str]) -> MLModel:
    """The ``MLmodel`` of a model directory (or the file itself)."""
    path = Path(model_dir)
    if path.name != MLMODEL_FILE or path.is_dir():
        path = path / MLMODEL_FILE
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ModelFormatError(
            f"no {MLMODEL_FILE} file in {path.parent}: a model directory holds one (log models with "
            "gitrun.<flavor>.log_model, or mlflow's)"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ModelFormatError(f"cannot read {path}: {exc}") from None
    return parse_mlmodel(text, str(path))


def write_mlmodel(model_dir: Path, model: MLModel) -> None:
    from gitrun.store import textio

    textio.atomic_write(model_dir / MLMODEL_FILE, model.to_yaml())


def directory_size(model_dir: Path) -> int:
    """Bytes of every file under ``model_dir`` (``model_size_bytes``, as MLflow counts it)."""
    total = 0
    for dirpath, _, files in os.walk(model_dir):
        for name in files:
            total += os.path.getsize(os.path.join(dirpath, name))
    return total
