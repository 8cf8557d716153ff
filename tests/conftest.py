"""Shared fixtures: an isolated HOME and Git config, one template repository per session.

Every test that touches Git gets a copy of a template repository built once per session
(``git init`` + one commit), so the suite stays fast on 2 cores. ``gitrun``'s process-wide
state (tracking URI, active experiment, active runs) is reset around every test.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
GIT_IDENTITY = {
    "GIT_AUTHOR_NAME": "Test User",
    "GIT_AUTHOR_EMAIL": "test@example.com",
    "GIT_COMMITTER_NAME": "Test User",
    "GIT_COMMITTER_EMAIL": "test@example.com",
}


def run_git(cwd: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["git", *args], cwd=cwd, check=check, capture_output=True, text=True)


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


def run_python(
    code: str, cwd: Path, env: dict[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """Run Python code in a fresh interpreter with gitrun importable; fails loudly on error."""
    full_env = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}
    return subprocess.run(
        [sys.executable, "-c", code], cwd=cwd, env=full_env, capture_output=True, text=True, timeout=timeout
    )


def gitrun_cli(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run the real ``gitrun`` command (as installed in the venv) in a subprocess."""
    full_env = {**os.environ, **(env or {})}
    exe = Path(sys.executable).with_name("gitrun")
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "gitrun"]
    return subprocess.run([*cmd, *args], cwd=cwd, env=full_env, capture_output=True, text=True, timeout=120)


def run_script(
    script: Path, cwd: Path, env: dict[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """Run a Python script file (``python script.py``, so ``sys.argv[0]`` names it) with gitrun importable."""
    full_env = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}
    return subprocess.run(
        [sys.executable, str(script.relative_to(cwd)) if script.is_relative_to(cwd) else str(script)],
        cwd=cwd,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


# -- Git + DVC repositories, remotes and S3 (runs into Git) ------------------------------------
DVC_REMOTE_NAME = "storage"
LOCAL_HOSTS = "127.0.0.1,localhost"


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


def git_state(repo: Path, *, exclude_store: bool = True) -> dict[str, bytes]:
    """What a user sees of their index and working tree (outside the store, by default): status,
    staged and unstaged diffs, index entries and the current branch. Read with
    ``GIT_OPTIONAL_LOCKS=0`` so taking the snapshot never rewrites the index itself."""
    env = {**os.environ, "GIT_OPTIONAL_LOCKS": "0"}
    spec = ["--", ".", ":(exclude).gitrun"] if exclude_store else ["--", "."]

    def out(*args: str, check: bool = True) -> bytes:
        return subprocess.run(["git", *args], cwd=repo, env=env, check=check, capture_output=True).stdout

    return {
        "status": out("status", "--porcelain=v1", "-z", "--untracked-files=all", *spec),
        "diff": out("diff", "--binary", *spec),
        "cached": out("diff", "--cached", "--binary", *spec),
        "index": out("ls-files", "-s", "-z", *spec),
        "branch": out("symbolic-ref", "-q", "HEAD", check=False),
    }


def work_files(root: Path, skip: tuple[str, ...] = (".git", ".gitrun", ".dvc")) -> dict[str, bytes]:
    """Path -> bytes of every file under ``root`` outside ``skip`` (top-level names)."""
    files = {}
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root)
        if rel.parts[0] in skip or not path.is_file():
            continue
        files[rel.as_posix()] = path.read_bytes()
    return files


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


def python_ok(code: str, cwd: Path, env: dict[str, str] | None = None) -> str:
    """``run_python`` that fails the test (showing stderr) unless the code exits 0; returns stdout."""
    proc = run_python(code, cwd, env)
    assert proc.returncode == 0, f"python exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout


def log_runs(
    cwd: Path,
    runs: list[dict[str, object]],
    experiment: str = "iris-sgd",
    primary_metric: str | None = "val_acc",
    env: dict[str, str] | None = None,
) -> list[str]:
    """Log finished runs in a fresh Python process (as a training script would); returns their IDs.

    Each spec may have ``name``, ``params`` (dict), ``metrics`` (dict: a value or a list of values
    logged as steps 0..n-1), ``tags`` (dict) and ``artifacts`` (list of local file paths).
    """
    code = f"""
import json, gitrun
gitrun.set_experiment({experiment!r}, primary_metric={primary_metric!r})
ids = []
for spec in {runs!r}:
    with gitrun.start_run(run_name=spec.get("name")) as run:
        gitrun.log_params(spec.get("params", {{}}))
        gitrun.set_tags(spec.get("tags", {{}}))
        for key, value in spec.get("metrics", {{}}).items():
            for step, v in enumerate(value if isinstance(value, list) else [value]):
                gitrun.log_metric(key, v, step=step)
        for path in spec.get("artifacts", []):
            gitrun.log_artifact(path)
    ids.append(run.info.run_id)
print(json.dumps(ids))
"""
    return list(json.loads(python_ok(code, cwd, env).strip().splitlines()[-1]))
