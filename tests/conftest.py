"""Shared fixtures: an isolated HOME and Git config, one template repository per session.

Every test that touches Git gets a copy of a template repository built once per session
(``git init`` + one commit), so the suite stays fast on 2 cores. ``gitrun``'s process-wide
state (tracking URI, active experiment, active runs) is reset around every test.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

from tests.helpers import DVC_REMOTE_NAME, GIT_IDENTITY, LOCAL_HOSTS, run_git


@pytest.fixture(scope="session")
def _session_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("home")
    gitconfig = home / ".gitconfig"
    gitconfig.write_text(
        "[user]\n\tname = Test User\n\temail = test@example.com\n"
        "[init]\n\tdefaultBranch = main\n[commit]\n\tgpgsign = false\n[advice]\n\tdetachedHead = false\n"
    )
    return home


@pytest.fixture(autouse=True)
def isolated_env(_session_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No test sees the developer's HOME, Git config or gitrun environment variables."""
    monkeypatch.setenv("HOME", str(_session_home))
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(_session_home / ".gitconfig"))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    for key, value in GIT_IDENTITY.items():
        monkeypatch.setenv(key, value)
    for key in list(os.environ):
        if key.startswith(("GITRUN_", "MLFLOW_", "GITHUB_")):
            monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("NO_COLOR", "1")


@pytest.fixture(autouse=True)
def reset_gitrun_state() -> Iterator[None]:
    """End runs a test left active and forget the tracking URI and active experiment."""
    yield
    from gitrun.tracking.state import reset

    reset()


@pytest.fixture(scope="session")
def template_repo(tmp_path_factory: pytest.TempPathFactory, _session_home: Path) -> Path:
    """A Git repository with one commit on ``main``, built once per session; copy, don't modify."""
    repo = tmp_path_factory.mktemp("template") / "repo"
    repo.mkdir()
    env = {
        **os.environ,
        "HOME": str(_session_home),
        "GIT_CONFIG_GLOBAL": str(_session_home / ".gitconfig"),
        **GIT_IDENTITY,
    }
    subprocess.run(["git", "init", "-q", "-b", "main"], cwd=repo, check=True, env=env)
    (repo / "README.md").write_text("# demo project\n")
    (repo / "train.py").write_text("print('training')\n")
    subprocess.run(["git", "add", "-A"], cwd=repo, check=True, env=env)
    subprocess.run(["git", "commit", "-q", "-m", "initial commit"], cwd=repo, check=True, env=env)
    return repo


@pytest.fixture
def repo(template_repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh copy of the template repository; the current directory during the test."""
    dest = tmp_path / "repo"
    shutil.copytree(template_repo, dest, symlinks=True)
    monkeypatch.chdir(dest)
    return dest


@pytest.fixture
def store_dir(repo: Path) -> Path:
    """The default store location inside ``repo`` (created on first use)."""
    return repo / ".gitrun"


@pytest.fixture(autouse=True)
def _dvc_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """DVC never phones home, and nothing talks to 127.0.0.1 (moto) through a proxy."""
    monkeypatch.setenv("DVC_NO_ANALYTICS", "1")
    monkeypatch.setenv("NO_PROXY", LOCAL_HOSTS)
    monkeypatch.setenv("no_proxy", LOCAL_HOSTS)


def _session_env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GITRUN_", "MLFLOW_", "GITHUB_"))}
    env.update(
        HOME=str(home),
        GIT_CONFIG_GLOBAL=str(home / ".gitconfig"),
        GIT_CONFIG_NOSYSTEM="1",
        DVC_NO_ANALYTICS="1",
        **GIT_IDENTITY,
    )
    return env


@pytest.fixture(scope="session")
def dvc_template_repo(template_repo: Path, tmp_path_factory: pytest.TempPathFactory, _session_home: Path) -> Path:
    """The template repository after ``gitrun init --dvc`` with a default local DVC remote, committed.

    The remote's URL is relative (``../../dvc-remote`` from ``.dvc/``), so every copy of the
    repository, and every clone beside it, uses its own ``<parent>/dvc-remote`` directory.
    Built once per session (DVC's set-up costs about half a second); copy it, don't modify it.
    """
    repo = tmp_path_factory.mktemp("dvc-template") / "repo"
    shutil.copytree(template_repo, repo, symlinks=True)
    env = _session_env(_session_home)
    exe = Path(sys.executable).with_name("gitrun")
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "gitrun"]
    proc = subprocess.run([*cmd, "init", "--dvc"], cwd=repo, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (repo / ".dvc" / "config").write_text(
        f"[core]\n    analytics = False\n    remote = {DVC_REMOTE_NAME}\n"
        f"['remote \"{DVC_REMOTE_NAME}\"']\n    url = ../../dvc-remote\n"
    )
    subprocess.run(["git", "commit", "-q", "-am", "DVC remote beside the repository"], cwd=repo, check=True, env=env)
    return repo


@pytest.fixture
def dvc_repo(dvc_template_repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh copy of the Git+DVC template (the current directory); its DVC remote is
    ``tmp_path / "dvc-remote"``. The store (``.gitrun/``, created by ``gitrun init``) is not committed."""
    dest = tmp_path / "repo"
    shutil.copytree(dvc_template_repo, dest, symlinks=True)
    monkeypatch.chdir(dest)
    return dest


@pytest.fixture
def origin(request: pytest.FixtureRequest, tmp_path: Path) -> Path:
    """A bare ``origin.git`` beside the test's repository (``dvc_repo`` when the test uses it, else
    ``repo``), registered as its ``origin`` remote; returns the bare repository's path."""
    work = request.getfixturevalue("dvc_repo" if "dvc_repo" in request.fixturenames else "repo")
    bare = tmp_path / "origin.git"
    run_git(tmp_path, "init", "-q", "--bare", "-b", "main", str(bare))
    run_git(work, "remote", "add", "origin", str(bare))
    return bare


@pytest.fixture(scope="session")
def moto_s3() -> Iterator[str]:
    """A real S3 endpoint (moto's server in a thread on 127.0.0.1, a free port); yields its URL.

    Clients need ``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY`` (any value) and ``NO_PROXY``.
    """
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


@pytest.fixture(scope="session")
def mlflow_models(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, object]]:
    """Models saved by real MLflow (one subprocess per session): their folder and expected predictions."""
    from tests.helpers.models import save_mlflow_models

    dest = tmp_path_factory.mktemp("mlflow-models")
    return dest, save_mlflow_models(dest)


@pytest.fixture
def real_mlflow(repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[ModuleType]:
    """Real MLflow on a file store in tmp_path; gitrun logs into `repo`. MLflow's set_tracking_uri
    sets MLFLOW_TRACKING_URI, which gitrun reads too: GITRUN_TRACKING_URI, read first, keeps them apart."""
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    monkeypatch.setenv("GITRUN_TRACKING_URI", str(repo))
    import mlflow

    mlflow.set_tracking_uri((tmp_path / "mlruns").as_uri())
    yield mlflow
    while mlflow.active_run():
        mlflow.end_run()
    mlflow.set_tracking_uri(None)
    # MLflow's set_experiment keeps the experiment in the process and in MLFLOW_EXPERIMENT_ID (which
    # gitrun reads too): forget both, so the next test starts clean.
    mlflow.tracking.fluent._active_experiment_id = None
    os.environ.pop("MLFLOW_EXPERIMENT_ID", None)
