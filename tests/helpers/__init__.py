"""Helpers the tests share: real Git and gitrun in subprocesses, snapshots of a work tree, runs
logged the way a training script logs them. Fixtures live in ``tests/conftest.py``; tests import
these as ``from tests.helpers import ...``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]  # the checkout


GIT_IDENTITY = {
    "GIT_AUTHOR_NAME": "Test User",
    "GIT_AUTHOR_EMAIL": "test@example.com",
    "GIT_COMMITTER_NAME": "Test User",
    "GIT_COMMITTER_EMAIL": "test@example.com",
}


def run_git(cwd: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["git", *args], cwd=cwd, check=check, capture_output=True, text=True)


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
