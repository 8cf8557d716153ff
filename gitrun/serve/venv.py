"""``--env-manager venv`` (MLflow's ``virtualenv``): serve from the model's own Python environment.

The model folder is brought here (any revision, DVC content included), its ``python_env.yaml`` (or
``requirements.txt``) becomes a virtual environment through :func:`gitrun.envs.build_env`, the
builder ``gitrun run --env-manager venv`` uses: cached under the user's cache directory by the hash
of the requirements, gitrun installed from the running installation with its ``serve`` extra. Then
this process becomes ``gitrun serve ... --env-manager local`` run by that environment's Python
(``exec``: signals and the exit status are the server's own).

The environment's Python is this machine's of the model's major.minor version (``python: 3.11.7``
in ``python_env.yaml`` is served by any 3.11): gitrun does not install interpreters.
"""

from __future__ import annotations

import logging
import os
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

from gitrun.errors import EnvironmentBuildError

if TYPE_CHECKING:
    from gitrun.envs import PythonEnv, VirtualEnv
    from gitrun.serve.options import ServeOptions
    from gitrun.store import ReadStore

log = logging.getLogger(__name__)

IN_ENV = "GITRUN_SERVE_IN_ENV"  # set in the environment's server: it must not build another


def model_env(model_dir: Path) -> PythonEnv:
    """The environment a model folder declares: ``python_env.yaml``, else ``requirements.txt``."""
    from gitrun.envs import PythonEnv

    if (model_dir / "python_env.yaml").is_file():
        spec = PythonEnv.from_yaml(model_dir / "python_env.yaml")
        if spec.python:
            spec = replace(spec, python=".".join(spec.python.split(".")[:2]))
        return spec
    if (model_dir / "requirements.txt").is_file():
        return PythonEnv.from_requirements(model_dir / "requirements.txt")
    raise EnvironmentBuildError(
        f"the model in {model_dir} has neither python_env.yaml nor requirements.txt to build an environment "
        "from; serve it with --env-manager local"
    )


def build_model_env(options: ServeOptions, store: ReadStore) -> VirtualEnv:
    """The (cached) virtual environment of the model ``options.uri`` names, with gitrun[serve] in it."""
    from gitrun.envs import build_env
    from gitrun.models.uri import materialize, resolve

    model_dir = materialize(resolve(options.uri, rev=options.rev, store=store), store)
    return build_env(model_env(model_dir), extras=("serve",))


def exec_in_env(options: ServeOptions, store: ReadStore, argv: list[str]) -> NoReturn:
    """Replace this process by the server run by the model's environment (``argv``: gitrun's arguments)."""
    if os.environ.get(IN_ENV):
        raise EnvironmentBuildError(
            f"already inside the model's environment ({os.environ[IN_ENV]}); not building another"
        )
    env = build_model_env(options, store)
    log.info("serving from the environment %s", env.path)
    child_env = env.activate({k: v for k, v in os.environ.items() if k != "PYTHONPATH"})
    child_env[IN_ENV] = str(env.path)
    args = [str(env.python), "-m", "gitrun", *argv, "--env-manager", "local"]  # the last --env-manager wins
    os.execve(str(env.python), args, child_env)
