"""Plugins installed through real entry points (a ``*.dist-info`` on PYTHONPATH), in fresh processes."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

import gitrun
from tests.helpers import ROOT, gitrun_cli, run_python

GOOD_PLUGIN = '''
"""A test plugin adding a tag to every run."""
import pluggy

hookimpl = pluggy.HookimplMarker("gitrun")


@hookimpl
def gitrun_run_context(experiment_id, run_name):
    return {"testplugin.seen": f"{experiment_id}/{run_name}", "mlflow.source.type": "PLUGIN", "team": "plugin"}
'''

LAZY_MARKER_PLUGIN = """
from gitrun.plugins import hookimpl


@hookimpl
def gitrun_run_context(experiment_id, run_name):
    return {"lazyplugin.ok": "yes"}
"""

BROKEN_AT_IMPORT = """
import module_that_does_not_exist_anywhere
"""

BROKEN_AT_CALL = """
import pluggy

hookimpl = pluggy.HookimplMarker("gitrun")


@hookimpl
def gitrun_run_context(experiment_id, run_name):
    raise RuntimeError("plugin exploded")
"""


def _install(site: Path, dist: str, version: str, modules: dict[str, str], entry_points: dict[str, str]) -> None:
    """Write modules plus a ``<dist>-<version>.dist-info`` whose entry_points.txt has a [gitrun] group."""
    site.mkdir(parents=True, exist_ok=True)
    for name, source in modules.items():
        (site / f"{name}.py").write_text(source)
    info = site / f"{dist.replace('-', '_')}-{version}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n")
    lines = "".join(f"{name} = {target}\n" for name, target in entry_points.items())
    (info / "entry_points.txt").write_text(f"[gitrun]\n{lines}")


@pytest.fixture
def site(tmp_path: Path) -> Path:
    site = tmp_path / "site"
    _install(site, "gitrun-testplugin", "0.1", {"gitrun_testplugin": GOOD_PLUGIN}, {"testplugin": "gitrun_testplugin"})
    return site


def _env(site: Path) -> dict[str, str]:
    return {"PYTHONPATH": os.pathsep.join([str(site), str(ROOT)])}


START_RUN = """
import json, sys
import gitrun
with gitrun.start_run(run_name="plugged", tags={"team": "user"}) as run:
    gitrun.log_metric("m", 1.0)
print(json.dumps({"run_id": run.info.run_id}))
"""


def test_entry_point_plugin_adds_tags(repo: Path, site: Path) -> None:
    proc = run_python(START_RUN, cwd=repo, env=_env(site))
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    run = gitrun.Client(repo).get_run(json.loads(proc.stdout)["run_id"])
    tags = run.data.tags
    assert tags["testplugin.seen"] == "default/plugged"
    assert tags["mlflow.source.type"] == "PLUGIN"  # plugins win over the built-in context
    assert tags["team"] == "user"  # tags passed to start_run win over plugins
    assert tags["mlflow.user"]  # the built-in context still ran
    assert run.info.status == "FINISHED"


def test_without_the_plugin_there_is_no_plugin_tag(repo: Path) -> None:
    proc = run_python(START_RUN, cwd=repo)
    assert proc.returncode == 0, proc.stderr
    tags = gitrun.Client(repo).get_run(json.loads(proc.stdout)["run_id"]).data.tags
    assert "testplugin.seen" not in tags
    assert tags["mlflow.source.type"] == "LOCAL"


def test_plugins_load_lazily(repo: Path, site: Path) -> None:
    code = (
        "import sys, gitrun\n"
        "assert 'gitrun_testplugin' not in sys.modules and 'pluggy' not in sys.modules, 'loaded at import'\n"
        "gitrun.set_experiment('lazy')\n"
        "assert 'gitrun_testplugin' not in sys.modules, 'loaded before a run started'\n"
        "with gitrun.start_run():\n"
        "    pass\n"
        "assert 'gitrun_testplugin' in sys.modules\n"
    )
    proc = run_python(code, cwd=repo, env=_env(site))
    assert proc.returncode == 0, proc.stderr


def test_plugin_using_gitrun_hookimpl(repo: Path, tmp_path: Path) -> None:
    site = tmp_path / "lazy-site"
    _install(
        site, "gitrun-lazyplugin", "2.0", {"gitrun_lazyplugin": LAZY_MARKER_PLUGIN}, {"lazyplugin": "gitrun_lazyplugin"}
    )
    proc = run_python(START_RUN, cwd=repo, env=_env(site))
    assert proc.returncode == 0, proc.stderr
    assert gitrun.Client(repo).get_run(json.loads(proc.stdout)["run_id"]).data.tags["lazyplugin.ok"] == "yes"


def test_broken_plugin_is_a_warning_and_the_run_still_works(repo: Path, site: Path) -> None:
    _install(site, "gitrun-broken", "0.0.1", {"gitrun_broken": BROKEN_AT_IMPORT}, {"brokenplugin": "gitrun_broken"})
    proc = run_python(START_RUN, cwd=repo, env=_env(site))
    assert proc.returncode == 0, proc.stderr
    assert "gitrun plugin 'brokenplugin' (gitrun_broken) failed to load" in proc.stderr
    assert "module_that_does_not_exist_anywhere" in proc.stderr
    run = gitrun.Client(repo).get_run(json.loads(proc.stdout)["run_id"])
    assert run.info.status == "FINISHED"
    assert run.data.metrics == {"m": 1.0}
    assert run.data.tags["testplugin.seen"] == "default/plugged"  # the good plugin still works


def test_plugin_failing_inside_its_hook_is_a_warning(repo: Path, tmp_path: Path) -> None:
    site = tmp_path / "exploding-site"
    _install(site, "gitrun-exploding", "1.0", {"gitrun_exploding": BROKEN_AT_CALL}, {"exploding": "gitrun_exploding"})
    proc = run_python(START_RUN, cwd=repo, env=_env(site))
    assert proc.returncode == 0, proc.stderr
    assert "exploding" in proc.stderr and "plugin exploded" in proc.stderr
    run = gitrun.Client(repo).get_run(json.loads(proc.stdout)["run_id"])
    assert run.info.status == "FINISHED"
    assert run.data.tags["mlflow.user"]  # the built-in context still ran


def test_plugins_command_lists_builtin_and_entry_point_plugins(repo: Path, site: Path) -> None:
    _install(site, "gitrun-broken", "0.0.1", {"gitrun_broken": BROKEN_AT_IMPORT}, {"brokenplugin": "gitrun_broken"})
    result = gitrun_cli("plugins", "--json", cwd=repo, env=_env(site))
    assert result.returncode == 0, result.stderr
    plugins = {p["name"]: p for p in json.loads(result.stdout)}
    builtin = plugins["gitrun.tracking.run_context"]
    assert builtin["source"] == "builtin"
    assert builtin["hooks"] == ["gitrun_run_context"]
    assert builtin["error"] is None
    test = plugins["testplugin"]
    assert test["source"] == "entry point"
    assert test["module"] == "gitrun_testplugin"
    assert test["distribution"] == "gitrun-testplugin"
    assert test["version"] == "0.1"
    assert test["hooks"] == ["gitrun_run_context"]
    assert test["error"] is None
    broken = plugins["brokenplugin"]
    assert "ModuleNotFoundError" in broken["error"]
    assert broken["distribution"] == "gitrun-broken"
    assert "brokenplugin" in result.stderr  # the warning names it too

    table = gitrun_cli("plugins", cwd=repo, env={**_env(site), "COLUMNS": "250"})
    assert table.returncode == 0, table.stderr
    assert "gitrun.tracking.run_context" in table.stdout and "testplugin" in table.stdout and "failed" in table.stdout


def test_plugins_command_without_plugins(repo: Path) -> None:
    result = gitrun_cli("plugins", "--json", cwd=repo)
    assert result.returncode == 0, result.stderr
    names = [p["name"] for p in json.loads(result.stdout)]
    assert "gitrun.tracking.run_context" in names
    assert "testplugin" not in names
