"""MLproject files, parsed as MLflow parses them (``mlflow/projects/_project_spec.py``).

A project is a directory; its ``MLproject`` file (any case) names entry points with typed
parameters and a command template. Values are shell-quoted (``shlex.quote``) and substituted
with ``str.format``; parameters the entry point does not declare are appended as ``--key value``
(key and value quoted); a ``.py`` or ``.sh`` entry point that is not declared runs as a script.
gitrun parses the file itself (it never imports mlflow); tests/test_projects_spec.py checks the
result against MLflow's parser on the same files. Where gitrun differs, docs/projects.md says so:
``float`` and ``int`` values are checked, and params are logged as given, not quoted.
"""

from __future__ import annotations

import math
import os
import shlex
import string
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gitrun.errors import ExecutionException

MLPROJECT = "mlproject"
PYTHON_ENV_FILE = "python_env.yaml"
CONDA_ENV_FILE = "conda.yaml"
ENV_FIELDS = ("python_env", "conda_env", "docker_env")
TYPES = ("string", "float", "int", "path", "uri")


@dataclass(frozen=True)
class Parameter:
    name: str
    type: str = "string"
    default: Any = None  # None: required

    @property
    def required(self) -> bool:
        return self.default is None

    def value(self, given: Any, *, resolve_paths: bool) -> str:
        """The value substituted into the command (unquoted): checked for ``float``/``int``/``uri``;
        a local ``path`` made absolute and required to exist (remote ones are refused)."""
        text = str(given)
        if self.type == "float":
            try:
                float(text)
            except ValueError:
                raise self._bad(text, "a number such as 0.01 or 1e-3") from None
        elif self.type == "int":
            try:
                number = float(text)
                if not math.isfinite(number) or number != int(number):
                    raise ValueError
            except ValueError:
                raise self._bad(text, "an integer such as 10") from None
        elif self.type == "uri" and not urllib.parse.urlparse(text).scheme:
            raise ExecutionException(f"Expected URI for parameter {self.name} but got {text}")
        elif self.type == "path" and resolve_paths:
            return _local_path(self.name, text)
        return text

    def _bad(self, text: str, what: str) -> ExecutionException:
        return ExecutionException(f"parameter {self.name!r} is of type {self.type}: got {text!r}; give {what}")


def _local_path(name: str, text: str) -> str:
    parsed = urllib.parse.urlparse(text)
    if parsed.scheme and not (parsed.scheme == "file" and not parsed.netloc):
        raise ExecutionException(
            f"parameter {name!r} is a path but got the remote URI {text!r}: gitrun does not download "
            "remote paths; download it first and pass the local path"
        )
    local = urllib.parse.unquote(parsed.path) if parsed.scheme == "file" else text
    if not os.path.exists(local):
        raise ExecutionException(f"Got value {text} for parameter {name}, but no such file or directory was found.")
    return os.path.abspath(local)


@dataclass(frozen=True)
class EntryPoint:
    name: str
    command: str
    parameters: dict[str, Parameter] = field(default_factory=dict)

    def resolve(self, given: Mapping[str, Any], *, resolve_paths: bool = True) -> tuple[dict[str, str], dict[str, str]]:
        """``(declared, extra)``: every declared parameter's value (given, else its default) and the
        given ones the entry point does not declare, as strings, unquoted."""
        missing = [name for name, p in self.parameters.items() if name not in given and p.required]
        if missing:
            names = ", ".join(f"'{name}'" for name in missing)
            raise ExecutionException(
                f"No value given for missing parameters: {names} (entry point {self.name!r}; pass -P NAME=VALUE)"
            )
        declared = {
            name: p.value(given.get(name, p.default), resolve_paths=resolve_paths)
            for name, p in self.parameters.items()
        }
        extra = {str(k): str(v) for k, v in given.items() if k not in self.parameters}
        return declared, extra

    def command_line(self, given: Mapping[str, Any], *, resolve_paths: bool = True) -> str:
        """The shell command to run: the template with quoted values, then ``--key value`` per extra one."""
        declared, extra = self.resolve(given, resolve_paths=resolve_paths)
        try:
            command = self.command.format(**{k: shlex.quote(v) for k, v in declared.items()})
        except (KeyError, IndexError, ValueError) as exc:
            raise ExecutionException(
                f"the command of entry point {self.name!r} cannot be filled in ({type(exc).__name__}: {exc}): "
                f"every {{name}} in it must be a declared parameter; write a literal brace as {{{{ or }}}}"
            ) from None
        return " ".join([command, *(f"--{shlex.quote(k)} {shlex.quote(v)}" for k, v in extra.items())])

    def log_params(self, given: Mapping[str, Any]) -> dict[str, str]:
        """The run's params: every declared parameter and every extra one, as given (paths unresolved)."""
        declared, extra = self.resolve(given, resolve_paths=False)
        return {**declared, **extra}


@dataclass(frozen=True)
class Project:
    """An MLproject (or a plain directory, whose ``.py`` / ``.sh`` files are entry points)."""

    directory: Path
    name: str | None
    entry_points: dict[str, EntryPoint]
    env_type: str | None = None  # "python_env", "conda_env", "docker_env", or None
    env_file: Path | None = None
    docker_env: dict[str, Any] | None = None
    file: Path | None = None

    def entry_point(self, name: str) -> EntryPoint:
        if name in self.entry_points:
            return self.entry_points[name]
        ext = os.path.splitext(name)[1]
        runner = {".py": "python", ".sh": os.environ.get("SHELL", "bash")}.get(ext)
        if runner is not None:
            return EntryPoint(name, f"{runner} {shlex.quote(name)}")
        known = ", ".join(sorted(self.entry_points)) or "none"
        raise ExecutionException(
            f"Could not find {name!r} among the entry points of {self.file or self.directory} (known: {known}) "
            "or run it as a script (.py or .sh)"
        )


def find_mlproject(directory: Path) -> Path | None:
    try:
        names = os.listdir(directory)
    except OSError as exc:
        raise ExecutionException(f"cannot read the project directory {directory}: {exc.strerror or exc}") from None
    for name in names:
        if name.lower() == MLPROJECT:
            return directory / name
    return None


def load_project(directory: str | os.PathLike[str]) -> Project:
    """The project in ``directory``: its MLproject, else the conventions (python_env.yaml, conda.yaml)."""
    root = Path(directory)
    if not root.is_dir():
        raise ExecutionException(f"no project directory {root}; give a directory, or a Git URL with -v VERSION")
    path = find_mlproject(root)
    data: dict[str, Any] = {}
    if path is not None:
        import yaml

        try:
            loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
            raise ExecutionException(f"{path}: cannot read it as YAML ({exc})") from None
        if loaded is not None and not isinstance(loaded, dict):
            raise ExecutionException(f"{path}: expected a YAML mapping with name, entry_points...")
        data = loaded or {}
    env_fields = [f for f in ENV_FIELDS if f in data]
    if len(env_fields) > 1:
        raise ExecutionException(f"Project cannot contain multiple environment fields: {set(env_fields)}")
    entry_points = {
        str(name): _entry_point(path, str(name), spec) for name, spec in (data.get("entry_points") or {}).items()
    }
    name = None if data.get("name") is None else str(data["name"])

    def project(**env: Any) -> Project:
        return Project(directory=root, name=name, entry_points=entry_points, file=path, **env)

    if data.get("docker_env"):
        docker = data["docker_env"]
        if not isinstance(docker, dict) or not docker.get("image"):
            raise ExecutionException(
                f"{path}: docker_env was invalid: Docker environment specified but no image attribute found."
            )
        return project(env_type="docker_env", docker_env=docker)
    for env_type in ("python_env", "conda_env"):
        if data.get(env_type):
            env_file = root / str(data[env_type])
            if not env_file.exists():
                raise ExecutionException(f"{path}: {env_type} names {env_file}, but no such file was found.")
            return project(env_type=env_type, env_file=env_file)
    for env_type, default in (("python_env", PYTHON_ENV_FILE), ("conda_env", CONDA_ENV_FILE)):
        if (root / default).exists():
            return project(env_type=env_type, env_file=root / default)
    return project()


def _entry_point(path: Path | None, name: str, spec: Any) -> EntryPoint:
    if not isinstance(spec, dict) or not isinstance(spec.get("command"), str):
        raise ExecutionException(f"{path}: entry point {name!r} needs a command (a string)")
    params = spec.get("parameters") or {}
    if not isinstance(params, dict):
        raise ExecutionException(f"{path}: the parameters of entry point {name!r} must be a mapping")
    parameters = {}
    for key, value in params.items():
        if isinstance(value, str):  # shorthand: the type alone, no default (required)
            param = Parameter(str(key), value)
        elif isinstance(value, dict):
            param = Parameter(str(key), str(value.get("type", "string")), value.get("default"))
        else:
            raise ExecutionException(
                f"{path}: parameter {key!r} of entry point {name!r} must be a type name or {{type:, default:}}"
            )
        parameters[str(key)] = param
    _check_fields(path, name, spec["command"])
    return EntryPoint(name, spec["command"], parameters)


def _check_fields(path: Path | None, name: str, command: str) -> None:
    try:
        list(string.Formatter().parse(command))
    except ValueError as exc:
        raise ExecutionException(
            f"{path}: the command of entry point {name!r} is not a valid template ({exc}); "
            "write a literal brace as {{ or }}"
        ) from None
