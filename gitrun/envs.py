"""Python environments for projects and models: MLflow's ``python_env.yaml``, built with venv + pip.

:func:`build_env` turns a :class:`PythonEnv` (a ``python_env.yaml``, or a ``requirements.txt``)
into a virtual environment under gitrun's cache directory (:func:`cache_root`), keyed by the
hash of everything that goes into it: the Python version, the build dependencies, the
requirements (``-r`` files read in), and the gitrun installed with them. gitrun itself is not
installed from a registry but from the running installation: a source checkout as an editable
install, an installed distribution as a wheel rebuilt from its files. The environment is built
once, under a lock (concurrent sweep trials wait for the first), and marked complete last, so an
interrupted build is started again rather than used. Shared by ``gitrun run --env-manager venv``
and model serving; it imports nothing of gitrun but its errors.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import platform
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gitrun import env
from gitrun.errors import EnvironmentBuildError

log = logging.getLogger(__name__)

ENV_CACHE_DIR = env.CACHE_DIR.name
COMPLETE = ".gitrun-env-complete"
PIP_TAIL_LINES = 15


def cache_root() -> Path:
    """gitrun's per-user cache: ``$GITRUN_CACHE_DIR``, else ``$XDG_CACHE_HOME/gitrun``, else
    ``~/Library/Caches/gitrun`` on macOS, ``%LOCALAPPDATA%\\gitrun`` on Windows, ``~/.cache/gitrun``."""
    if os.environ.get(ENV_CACHE_DIR):
        return Path(os.environ[ENV_CACHE_DIR]).expanduser()
    if os.environ.get("XDG_CACHE_HOME"):
        return Path(os.environ["XDG_CACHE_HOME"]) / "gitrun"
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Caches" / "gitrun"
    if os.name == "nt" and os.environ.get("LOCALAPPDATA"):
        return Path(os.environ["LOCALAPPDATA"]) / "gitrun"
    return Path.home() / ".cache" / "gitrun"


@dataclass(frozen=True)
class PythonEnv:
    """MLflow's ``python_env.yaml``: the Python version, build dependencies, dependencies (pip lines)."""

    python: str | None = None
    build_dependencies: tuple[str, ...] = ()
    dependencies: tuple[str, ...] = ()
    base_dir: Path = field(default_factory=Path.cwd)  # where `-r file` lines and relative paths are read

    @classmethod
    def from_yaml(cls, path: str | os.PathLike[str]) -> PythonEnv:
        import yaml

        file = Path(path)
        try:
            data = yaml.safe_load(file.read_text(encoding="utf-8")) or {}
        except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
            raise EnvironmentBuildError(f"{file}: cannot read it ({exc})") from None
        if not isinstance(data, dict):
            raise EnvironmentBuildError(f"{file}: expected a mapping with python, build_dependencies, dependencies")
        unknown = set(data) - {"python", "build_dependencies", "dependencies"}
        if unknown:
            raise EnvironmentBuildError(f"{file}: unknown field(s) {', '.join(sorted(unknown))}")
        return cls(
            python=None if data.get("python") is None else str(data["python"]),
            build_dependencies=_strings(file, "build_dependencies", data.get("build_dependencies")),
            dependencies=_strings(file, "dependencies", data.get("dependencies")),
            base_dir=file.parent.resolve(),
        )

    @classmethod
    def from_requirements(cls, path: str | os.PathLike[str]) -> PythonEnv:
        file = Path(path).resolve()
        return cls(dependencies=(f"-r {file.name}",), base_dir=file.parent)

    def expanded(self) -> list[str]:
        """The dependency lines with each ``-r file`` replaced by that file's lines (for the hash)."""
        out: list[str] = []
        for line in self.dependencies:
            out.extend(_expand(line, self.base_dir, set()))
        return out


def _strings(file: Path, key: str, value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, (str, int, float)) for v in value):
        raise EnvironmentBuildError(f"{file}: {key} must be a list of pip requirement lines")
    return tuple(str(v) for v in value)


def _expand(line: str, base: Path, seen: set[Path]) -> list[str]:
    text = line.split(" #", 1)[0].strip()
    if not text or text.startswith("#"):
        return []
    for flag in ("-r ", "--requirement ", "--requirement="):
        if text.startswith(flag):
            path = (base / text[len(flag) :].strip()).resolve()
            if path in seen:
                return []
            try:
                lines = path.read_text(encoding="utf-8").splitlines()
            except OSError as exc:
                raise EnvironmentBuildError(f"cannot read the requirements file {path}: {exc.strerror}") from None
            seen.add(path)
            return [x for sub in lines for x in _expand(sub, path.parent, seen)]
    return [text]


@dataclass(frozen=True)
class VirtualEnv:
    """A built environment: its folder and interpreter."""

    path: Path
    key: str

    @property
    def bin_dir(self) -> Path:
        return self.path / ("Scripts" if os.name == "nt" else "bin")

    @property
    def python(self) -> Path:
        return self.bin_dir / ("python.exe" if os.name == "nt" else "python")

    def activate(self, env: dict[str, str]) -> dict[str, str]:
        """``env`` as ``source bin/activate`` would leave it: the env's bin first on PATH, VIRTUAL_ENV set."""
        out = {k: v for k, v in env.items() if k != "PYTHONHOME"}
        out["PATH"] = os.pathsep.join([str(self.bin_dir), env.get("PATH", "")])
        out["VIRTUAL_ENV"] = str(self.path)
        return out


def find_python(version: str | None) -> tuple[Path, str]:
    """An interpreter whose version starts with ``version`` (this one if it fits) and its full version."""
    running = platform.python_version()
    if version is None or _matches(running, version):
        return Path(sys.executable), running
    parts = version.split(".")
    name = f"python{parts[0]}.{parts[1]}" if len(parts) > 1 else f"python{parts[0]}"
    found = shutil.which(name)
    if found:
        out = subprocess.run(
            [found, "-c", "import platform; print(platform.python_version())"], capture_output=True, text=True
        )
        if out.returncode == 0 and _matches(out.stdout.strip(), version):
            return Path(found), out.stdout.strip()
    raise EnvironmentBuildError(
        f"the environment asks for Python {version}, and this machine has {running} (no {name} on PATH "
        f"matches); install Python {version}, change `python:` in python_env.yaml, or use --env-manager local"
    )


def _matches(actual: str, wanted: str) -> bool:
    return actual.split(".")[: len(wanted.split("."))] == wanted.split(".")


def gitrun_install(extras: tuple[str, ...] = ()) -> tuple[list[str], str]:
    """pip arguments that install the running gitrun (with ``extras``, e.g. ``("serve",)``), and what
    identifies it (for the cache key): an editable install of a source checkout, else a wheel rebuilt
    from the installed files."""
    from gitrun._version import __version__

    wanted = f"[{','.join(sorted(extras))}]" if extras else ""
    root = Path(__file__).resolve().parent.parent  # above the gitrun package
    pyproject = root / "pyproject.toml"
    if pyproject.is_file() and 'name = "gitrun-ml"' in pyproject.read_text(encoding="utf-8"):
        return ["-e", f"{root}{wanted}"], f"checkout {root} {__version__}{wanted}"
    wheel = installed_wheel(cache_root() / "wheels")
    return [f"{wheel}{wanted}"], f"wheel {hashlib.sha256(wheel.read_bytes()).hexdigest()}{wanted}"


def installed_wheel(dest: Path, distribution: str = "gitrun-ml") -> Path:
    """A wheel of the installed ``distribution`` rebuilt from its files (RECORD), in ``dest``."""
    import base64
    import zipfile  # here: `gitrun run` imports this module, and zipfile costs milliseconds
    from importlib import metadata

    try:
        dist = metadata.distribution(distribution)
    except metadata.PackageNotFoundError:
        raise EnvironmentBuildError(f"{distribution} is not installed as a distribution; install it with pip") from None
    files = [f for f in dist.files or [] if "__pycache__" not in f.parts and not str(f).endswith(".pyc")]
    info = next((f.parts[0] for f in files if f.parts[0].endswith(".dist-info")), None)
    if info is None:
        raise EnvironmentBuildError(f"{distribution}'s installation has no .dist-info folder; reinstall it with pip")
    skip = {f"{info}/{name}" for name in ("RECORD", "INSTALLER", "REQUESTED", "direct_url.json")}
    name = dist.metadata["Name"].replace("-", "_")
    dest.mkdir(parents=True, exist_ok=True)
    wheel = dest / f"{name}-{dist.version}-py3-none-any.whl"
    tmp = wheel.with_suffix(f".{os.getpid()}.tmp")
    records = []
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as zf:
        for file in sorted(files, key=str):
            rel = str(file).replace(os.sep, "/")
            if rel in skip or rel.startswith(".."):
                continue
            data = Path(str(file.locate())).read_bytes()
            digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
            zf.writestr(rel, data)
            records.append(f"{rel},sha256={digest},{len(data)}")
        records.append(f"{info}/RECORD,,")
        zf.writestr(f"{info}/RECORD", "\n".join(records) + "\n")
    os.replace(tmp, wheel)
    return wheel


def env_key(spec: PythonEnv, python_version: str, gitrun_identity: str) -> str:
    payload = {
        "python": python_version,
        "build": list(spec.build_dependencies),
        "dependencies": spec.expanded(),
        "gitrun": gitrun_identity,
        "platform": f"{sys.platform}-{platform.machine()}",
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:20]


def build_env(spec: PythonEnv, root: Path | None = None, extras: tuple[str, ...] = ()) -> VirtualEnv:
    """The virtual environment of ``spec`` with gitrun (and its ``extras``) in it, built now or found
    in the cache."""
    from filelock import FileLock

    python, version = find_python(spec.python)
    install, identity = gitrun_install(extras)
    key = env_key(spec, version, identity)
    envs = (root or cache_root() / "envs").resolve()
    envs.mkdir(parents=True, exist_ok=True)
    env = VirtualEnv(envs / key, key)
    if (env.path / COMPLETE).exists():
        return env
    with FileLock(str(env.path) + ".lock"):
        if (env.path / COMPLETE).exists():  # another process built it while this one waited
            return env
        shutil.rmtree(env.path, ignore_errors=True)  # an interrupted build
        log.info("building the Python environment %s (once; later runs reuse it)", env.path)
        _pip_step(spec, [str(python), "-m", "venv", str(env.path)], "create the virtual environment")
        if spec.build_dependencies:
            _pip_step(spec, _pip(env, "--upgrade", *spec.build_dependencies), "install the build dependencies")
        requirements = [arg for line in spec.dependencies for arg in _pip_args(line)]
        _pip_step(spec, _pip(env, *requirements, *install), "install the dependencies and gitrun")
        (env.path / COMPLETE).write_text(json.dumps({"python": version, "gitrun": identity}, sort_keys=True) + "\n")
    return env


def _pip(env: VirtualEnv, *args: str) -> list[str]:
    return [str(env.python), "-m", "pip", "install", "--disable-pip-version-check", "--no-input", *args]


def _pip_args(line: str) -> list[str]:
    """A requirement line as pip arguments: ``-r file`` and options split, a requirement as one argument."""
    text = line.strip()
    if text.startswith("-"):
        flag, _, rest = text.partition(" ")
        return [flag, rest.strip()] if rest.strip() else [flag]
    return [text]


def _pip_step(spec: PythonEnv, args: list[str], what: str) -> None:
    proc = subprocess.run(args, cwd=spec.base_dir, capture_output=True, text=True, env=_clean_env())
    if proc.returncode != 0:
        tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-PIP_TAIL_LINES:])
        raise EnvironmentBuildError(f"could not {what} (exit status {proc.returncode}):\n{tail}")


def _clean_env() -> dict[str, str]:
    # pip inside the new environment must not see the running one's packages or settings.
    return {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "PIP_USER")}
