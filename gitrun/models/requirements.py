"""A model's requirements: ``requirements.txt``, ``python_env.yaml`` and ``conda.yaml``.

Inferred without running anything: the distributions the flavor names (scikit-learn and skops for
a skops sklearn model...), plus those of the modules the model object itself is made of (the
classes of a pipeline's steps, a PythonModel's attributes and the modules its methods use),
each pinned to the version installed here (``importlib.metadata``: no import of the packages, no
subprocess). ``pip_requirements`` replaces the inferred list and ``extra_pip_requirements``
extends it, as in MLflow; a ``-c constraints.txt`` line's file becomes the model's
``constraints.txt``. gitrun itself is never listed: the serving and projects venv builders install
it from the running installation.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Iterable, Sequence
from functools import lru_cache
from importlib import metadata
from pathlib import Path
from typing import Any

from gitrun.errors import InvalidInputError
from gitrun.models.mlmodel import CONDA_FILE, CONSTRAINTS_FILE, PYTHON_ENV_FILE, REQUIREMENTS_FILE

# Top-level modules whose distribution has another name (the common ones; others are looked up).
MODULE_DISTRIBUTIONS = {
    "sklearn": "scikit-learn",
    "skimage": "scikit-image",
    "yaml": "PyYAML",
    "PIL": "pillow",
    "cv2": "opencv-python",
    "bs4": "beautifulsoup4",
    "dateutil": "python-dateutil",
    "attr": "attrs",
    "google": "protobuf",
    "jwt": "PyJWT",
    "Crypto": "pycryptodome",
    "tensorflow": "tensorflow",
    "torch": "torch",
}
NEVER_LISTED = frozenset({"gitrun", "gitrun-ml", "mlflow", "mlflow-skinny", "pip", "setuptools", "wheel"})
_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")


def requirement_name(line: str) -> str | None:
    """The distribution a requirement line names (``scikit-learn==1.5`` -> ``scikit-learn``), normalised."""
    match = _NAME.match(line)
    return re.sub(r"[-_.]+", "-", match.group(1)).lower() if match else None


def installed_version(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def pinned(dist: str) -> str:
    """``dist==<installed version>`` (a local version label such as ``+cu121`` dropped, as MLflow does);
    the bare name when it is not installed."""
    version = installed_version(dist)
    if version is None:
        return dist
    return f"{dist}=={version.split('+', 1)[0]}"


@lru_cache(maxsize=1)
def _packages_distributions() -> dict[str, list[str]]:
    return dict(metadata.packages_distributions())  # reads every installed distribution: ~0.1 s, once


@lru_cache(maxsize=512)
def module_distribution(module: str) -> str | None:
    """The installed distribution providing the top-level module ``module`` (None: stdlib, unknown,
    or a module of the user's own code)."""
    top = module.split(".")[0]
    if not top or top.startswith("_") or top in sys.stdlib_module_names or top == "__main__":
        return None
    name = MODULE_DISTRIBUTIONS.get(top, top)
    if installed_version(name) is not None:
        return name
    dists = _packages_distributions().get(top)
    return dists[0] if dists else None


def modules_of(obj: Any, limit: int = 2000) -> set[str]:
    """Top-level modules of the classes an object is built from: its own class, the values of its
    attributes (lists, dicts, an estimator's ``get_params``), and the globals its class's methods use."""
    seen: set[int] = set()
    found: set[str] = set()
    pending = [obj]
    while pending and len(seen) < limit:
        value = pending.pop()
        if id(value) in seen or value is None or isinstance(value, (str, bytes, int, float, bool)):
            continue
        seen.add(id(value))
        kind = type(value)
        found.add(kind.__module__.split(".")[0])
        if isinstance(value, dict):
            pending.extend(value.values())
            continue
        if isinstance(value, (list, tuple, set, frozenset)):
            pending.extend(value)
            continue
        if kind.__module__.split(".")[0] in ("numpy", "pandas", "scipy", "builtins"):
            continue  # data, not parts of a model
        state = getattr(value, "__dict__", None)
        if isinstance(state, dict):
            pending.extend(state.values())
        for cls in kind.__mro__:
            top = cls.__module__.split(".")[0]
            if top not in ("builtins", "abc"):
                found.add(top)
                if module_distribution(top) is None:  # the user's own code: what its methods use counts
                    found |= _modules_used_by(cls)
    return found


def _modules_used_by(cls: type) -> set[str]:
    """Modules a class defined in user code reaches through the globals of its methods."""
    out: set[str] = set()
    module = sys.modules.get(cls.__module__)
    if module is None or module.__name__.split(".")[0] in sys.stdlib_module_names:
        return out
    for attr in vars(cls).values():
        func = getattr(attr, "__func__", attr)
        code = getattr(func, "__code__", None)
        globals_ = getattr(func, "__globals__", None)
        if code is None or not isinstance(globals_, dict):
            continue
        for name in _names(code):
            value = globals_.get(name)
            if value is None:
                continue
            origin = (
                getattr(value, "__name__", None)
                if type(value).__name__ == "module"
                else getattr(value, "__module__", None)
            )
            if isinstance(origin, str):
                out.add(origin.split(".")[0])
    return out


def _names(code: Any) -> Iterable[str]:
    yield from code.co_names
    for const in code.co_consts:
        if hasattr(const, "co_names"):
            yield from _names(const)


def infer_requirements(flavor_dists: Sequence[str], model: Any = None) -> list[str]:
    """Pinned requirements: the flavor's distributions, then those of the model's own modules."""
    dists = list(dict.fromkeys(flavor_dists))
    if model is not None:
        for module in sorted(modules_of(model)):
            dist = module_distribution(module)
            if dist is not None and dist not in dists and requirement_name(dist) not in NEVER_LISTED:
                dists.append(dist)
    return sorted({pinned(d) for d in dists}, key=str.lower)


def _read_lines(source: str | os.PathLike[str] | Sequence[str], what: str) -> list[str]:
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise InvalidInputError(f"cannot read {what} file {str(path)!r}: {exc.strerror or exc}") from None
        return [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.strip().startswith("#")]
    if not all(isinstance(x, str) for x in source):
        raise InvalidInputError(f"{what} must be a list of requirement strings or a requirements file path")
    return [x.strip() for x in source if x.strip()]


def resolve_requirements(
    inferred: Sequence[str],
    pip_requirements: str | os.PathLike[str] | Sequence[str] | None = None,
    extra_pip_requirements: str | os.PathLike[str] | Sequence[str] | None = None,
) -> tuple[list[str], list[str]]:
    """``(requirement lines, constraint lines)`` as MLflow decides them: ``pip_requirements``
    replaces what was inferred, ``extra_pip_requirements`` is added to it; duplicates go."""
    if pip_requirements is not None and extra_pip_requirements is not None:
        raise InvalidInputError("give pip_requirements or extra_pip_requirements, not both")
    constraints: list[str] = []
    if pip_requirements is not None:
        lines = _read_lines(pip_requirements, "pip_requirements")
    else:
        lines = list(inferred)
        if extra_pip_requirements is not None:
            lines += _read_lines(extra_pip_requirements, "extra_pip_requirements")
    out: list[str] = []
    seen: set[str] = set()
    for line in lines:
        if line.startswith("-c "):
            constraints += _read_lines(line[3:].strip(), "constraints")
            continue
        key = requirement_name(line) or line
        if key not in seen:
            seen.add(key)
            out.append(line)
    if constraints:
        out.append(f"-c {CONSTRAINTS_FILE}")
    return out, constraints


def python_version() -> str:
    return ".".join(map(str, sys.version_info[:3]))


def python_env_yaml() -> str:
    """``python_env.yaml``: this Python, the build tools installed here, and ``-r requirements.txt``."""
    import yaml

    build = [f"{p}=={v}" if (v := installed_version(p)) else p for p in ("pip", "setuptools", "wheel")]
    data = {"python": python_version(), "build_dependencies": build, "dependencies": [f"-r {REQUIREMENTS_FILE}"]}
    return str(yaml.safe_dump(data, sort_keys=False, default_flow_style=False))


def conda_yaml(requirements: Sequence[str]) -> str:
    """``conda.yaml``: conda-forge, this Python, pip, and the pip requirements."""
    import yaml

    deps: list[Any] = [f"python={python_version()}"]
    if requirements:
        pip = installed_version("pip")
        deps.append(f"pip<={pip}" if pip else "pip")
        deps.append({"pip": list(requirements)})
    return str(
        yaml.safe_dump(
            {"channels": ["conda-forge"], "dependencies": deps, "name": "mlflow-env"}, default_flow_style=False
        )
    )


def write_environment(model_dir: Path, requirements: Sequence[str], constraints: Sequence[str]) -> None:
    from gitrun.store import textio

    textio.atomic_write(model_dir / CONDA_FILE, conda_yaml(requirements))
    if constraints:
        textio.atomic_write(model_dir / CONSTRAINTS_FILE, "\n".join(constraints))
    textio.atomic_write(model_dir / REQUIREMENTS_FILE, "\n".join(requirements))
    textio.atomic_write(model_dir / PYTHON_ENV_FILE, python_env_yaml())


def read_requirements(model_dir: Path) -> list[str]:
    try:
        text = (model_dir / REQUIREMENTS_FILE).read_text(encoding="utf-8")
    except OSError:
        return []
    return [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.strip().startswith("#")]


def mismatches(requirements: Iterable[str]) -> list[str]:
    """Pinned requirements (``name==version``) whose installed version differs, as readable lines."""
    out = []
    for line in requirements:
        if "==" not in line or line.startswith("-"):
            continue
        name, _, version = line.partition("==")
        name = name.split("[")[0].strip()
        version = version.split(";")[0].strip()
        have = installed_version(name)
        if have is not None and have.split("+")[0] != version:
            out.append(f"{name}=={version} (installed: {have})")
        elif have is None:
            out.append(f"{name}=={version} (not installed)")
    return out
