"""Helpers of the registry tests: runs with models, committed; tags made with a chosen date; gto."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.helpers import ROOT, gitrun_cli, python_ok

GTO = str(Path(sys.executable).with_name("gto"))
DVC = str(Path(sys.executable).with_name("dvc"))

MLMODEL = """artifact_path: model
flavors:
  python_function:
    loader_module: mlflow.sklearn
    model_path: model.pkl
model_uuid: m-{uuid}
run_id: {run_id}
utc_time_created: '2026-01-01 00:00:00.000000'
"""


def runs_with_models(
    cwd: Path, metrics: list[dict[str, float]], experiment: str = "churn", commit: bool = True
) -> list[str]:
    """One finished run per ``metrics`` dict, each with a small model folder ``artifacts/model``
    (an MLmodel and a file), committed with ``gitrun commit``; their IDs."""
    code = f"""
import json, pathlib, tempfile, uuid, gitrun
gitrun.set_experiment({experiment!r}, primary_metric="auc")
ids = []
for values in {metrics!r}:
    with gitrun.start_run() as run:
        gitrun.log_metrics(values)
        folder = pathlib.Path(tempfile.mkdtemp()) / "model"
        folder.mkdir()
        (folder / "MLmodel").write_text({MLMODEL!r}.format(uuid=uuid.uuid4().hex, run_id=run.info.run_id))
        (folder / "model.pkl").write_bytes(b"weights of " + run.info.run_id.encode())
        gitrun.log_artifacts(str(folder), "model")
    ids.append(run.info.run_id)
print(json.dumps(ids))
"""
    ids = list(json.loads(python_ok(code, cwd).strip().splitlines()[-1]))
    if commit:
        done = gitrun_cli("commit", "-m", "runs", cwd=cwd)
        assert done.returncode == 0, done.stdout + done.stderr
    return ids


def ok(*args: str, cwd: Path, env: dict[str, str] | None = None) -> str:
    """``gitrun ARGS`` that must succeed; its stdout."""
    proc = gitrun_cli(*args, cwd=cwd, env=env)
    assert proc.returncode == 0, f"gitrun {' '.join(args)} exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout


def fails(*args: str, cwd: Path) -> str:
    """``gitrun ARGS`` that must fail with one error line (no traceback); its stderr."""
    proc = gitrun_cli(*args, cwd=cwd)
    assert proc.returncode != 0, proc.stdout
    assert "Traceback" not in proc.stderr, proc.stderr
    assert proc.stderr.startswith("Error: "), proc.stderr
    return proc.stderr


SCHEMAS = {
    "list": "registry-list.json",
    "history": "registry-history.json",
    **{verb: "registry-event.json" for verb in ("register", "promote", "assign", "demote", "deregister", "deprecate")},
}


def json_of(*args: str, cwd: Path, env: dict[str, str] | None = None) -> Any:
    """``gitrun ARGS --json``, parsed; a registry command's document is checked against its schema
    in docs/schemas/."""
    doc = json.loads(ok(*args, "--json", cwd=cwd, env=env))
    if args[0] == "models" and args[1] in SCHEMAS:
        import jsonschema

        schema = json.loads((ROOT / "docs" / "schemas" / SCHEMAS[args[1]]).read_text(encoding="utf-8"))
        jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker()).validate(doc)
    return doc


def tag(cwd: Path, name: str, target: str = "HEAD", message: str = "event", date: str | None = None) -> None:
    """An annotated tag, dated ``date`` (Git's date format) when given."""
    env = {**os.environ, **({"GIT_COMMITTER_DATE": date} if date else {})}
    subprocess.run(["git", "tag", "-a", "-m", message, name, target], cwd=cwd, check=True, env=env, capture_output=True)


def gto(*args: str, cwd: Path) -> Any:
    """``gto ARGS`` (the real gto 1.10 command); parsed JSON when ``--json`` is among them, else stdout."""
    proc = subprocess.run([GTO, *args], cwd=cwd, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, f"gto {' '.join(args)} exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr}"
    return json.loads(proc.stdout) if "--json" in args else proc.stdout


def git_out(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout
