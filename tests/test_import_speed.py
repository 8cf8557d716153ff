"""`import gitrun` and `gitrun --help` stay light: none of the heavy libraries get imported.

Checked in fresh interpreters by module name (``sys.modules`` and ``-X importtime``), never by
timing, so the result does not depend on the machine's load.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import ROOT, run_python

HEAVY = ("pandas", "altair", "dvc", "git", "numpy", "mlflow", "starlette", "uvicorn")  # uvicorn, starlette: the server


def _heavy_loaded(code: str, cwd: Path, extra: tuple[str, ...] = ()) -> list[str]:
    """Run ``code`` in a fresh interpreter and return the heavy modules it left in ``sys.modules``."""
    names = (*HEAVY, *extra)
    probe = (
        f"{code}\nimport sys, json\n"
        f"names, heavy = {names!r}, {HEAVY!r}\n"
        "found = {m if m in names else m.split('.')[0] for m in sys.modules if m in names or m.split('.')[0] in heavy}\n"
        "print('@@' + json.dumps(sorted(found)))\n"
    )
    proc = run_python(probe, cwd=cwd)
    assert proc.returncode == 0, proc.stderr
    line = next(line for line in proc.stdout.splitlines() if line.startswith("@@"))
    return json.loads(line[2:])


def _importtime(args: list[str], cwd: Path) -> set[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    modules = set()
    for line in proc.stderr.splitlines():
        if line.startswith("import time:") and "|" in line:
            name = line.rsplit("|", 1)[1].strip()
            if name != "imported package":
                modules.add(name)
    assert "gitrun" in modules  # the probe itself works
    return modules


def test_import_gitrun_imports_no_heavy_module(tmp_path: Path) -> None:
    assert _heavy_loaded("import gitrun", tmp_path, extra=("pluggy", "yaml", "ulid")) == []


def test_import_gitrun_as_mlflow_and_touch_the_api(tmp_path: Path) -> None:
    code = "import gitrun as mlflow\nmlflow.get_tracking_uri()\nmlflow.Client\nmlflow.RunStatus.FINISHED\n"
    assert _heavy_loaded(code, tmp_path) == []


def test_help_imports_no_heavy_module(tmp_path: Path) -> None:
    modules = _importtime(["-m", "gitrun", "--help"], tmp_path)
    assert not {m for m in modules if m.split(".")[0] in HEAVY}
    assert "rich.table" not in modules


def test_every_command_help_imports_no_heavy_module(tmp_path: Path) -> None:
    code = """
import click
from gitrun.cli.app import cli

def walk(group, path):
    ctx = click.Context(group)
    for name in group.list_commands(ctx):
        command = group.get_command(ctx, name)
        yield (*path, name)
        if isinstance(command, click.Group):
            yield from walk(command, (*path, name))

for path in [(), *walk(cli, ())]:
    try:
        cli.main([*path, "--help"], prog_name="gitrun", standalone_mode=False)
    except SystemExit:
        pass
"""
    assert _heavy_loaded(code, tmp_path, extra=("rich.table",)) == []


def test_version_imports_no_heavy_module(tmp_path: Path) -> None:
    modules = _importtime(["-m", "gitrun", "--version"], tmp_path)
    assert not {m for m in modules if m.split(".")[0] in HEAVY}


def test_a_training_loop_imports_no_heavy_module(repo: Path) -> None:
    code = (
        "import gitrun\n"
        "gitrun.set_experiment('light', primary_metric='acc')\n"
        "with gitrun.start_run():\n"
        "    gitrun.log_params({'lr': 0.1})\n"
        "    for i in range(100):\n"
        "        gitrun.log_metric('acc', i / 100, step=i)\n"
        "    gitrun.set_tag('t', 'v')\n"
        "gitrun.get_run(gitrun.last_active_run().info.run_id)\n"
    )
    assert _heavy_loaded(code, repo) == []


@pytest.mark.parametrize("args", [("runs", "list"), ("experiments", "list", "--json"), ("runs", "list", "--json")])
def test_listing_commands_import_no_heavy_module(repo: Path, args: tuple[str, ...]) -> None:
    import gitrun

    with gitrun.start_run():
        gitrun.log_metric("m", 1.0)
    modules = _importtime(["-m", "gitrun", *args], repo)
    assert not {m for m in modules if m.split(".")[0] in ("pandas", "altair", "dvc", "numpy", "mlflow")}


def test_the_probe_sees_imported_modules(tmp_path: Path) -> None:
    assert _heavy_loaded("import yaml, email.mime.text", tmp_path, extra=("yaml",)) == ["yaml"]
    assert _heavy_loaded("import numpy", tmp_path) == ["numpy"]
