"""Plugins installed through real entry points (a ``*.dist-info`` on PYTHONPATH), in fresh processes."""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from bs4 import BeautifulSoup

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


# -- the example plugin (examples/gitrun-status), installed with pip as a real package ----------
EXAMPLE = ROOT / "examples" / "gitrun-status"
EVENTS_SCRIPT = """
import gitrun
gitrun.set_experiment("events")
with gitrun.start_run(run_name="good"):
    gitrun.log_params({"lr": 0.1, "depth": 3})  # 2 items
    gitrun.log_metric("acc", 0.5, step=0)  # 3: the first batch
    gitrun.log_metric("acc", 0.7, step=1)
    gitrun.set_tag("stage", "tuning")
    gitrun.log_metrics({"loss": 0.3, "f1": 0.6}, step=1)  # 4: the second batch
    gitrun.log_metric("acc", 0.9, step=2)  # handed over when the run ends
try:
    with gitrun.start_run(run_name="bad"):
        gitrun.log_metric("loss", float("nan"))
        raise RuntimeError("diverged")
except RuntimeError:
    pass
"""


@pytest.fixture(scope="module")
def example_plugin(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``pip install --target`` of examples/gitrun-status (built offline with hatchling): a folder
    holding the package and its ``gitrun_status-0.1.0.dist-info`` with the ``gitrun`` entry point."""
    work = tmp_path_factory.mktemp("example-plugin")
    source = work / "src"
    shutil.copytree(EXAMPLE, source)  # the build never writes into the checkout
    target = work / "site-packages"
    pip = [sys.executable, "-m", "pip", "install", "--no-deps", "--no-build-isolation", "--no-index", "--quiet"]
    subprocess.run(
        [*pip, "--target", str(target), str(source)],
        check=True,
        capture_output=True,
    )
    return target


def _with(plugin_dir: Path, **extra: str) -> dict[str, str]:
    return {"PYTHONPATH": os.pathsep.join([str(plugin_dir), str(ROOT)]), **extra}


def test_the_example_plugin_is_an_installed_distribution(repo: Path, example_plugin: Path) -> None:
    (info,) = example_plugin.glob("gitrun_status-0.1.0.dist-info")
    assert (info / "entry_points.txt").read_text().split() == ["[gitrun]", "status", "=", "gitrun_status"]
    result = gitrun_cli("plugins", "--json", cwd=repo, env=_with(example_plugin))
    assert result.returncode == 0, result.stderr
    plugins = {p["name"]: p for p in json.loads(result.stdout)}
    assert plugins["status"]["distribution"] == "gitrun-status"
    assert plugins["status"]["version"] == "0.1.0"
    assert plugins["status"]["hooks"] == [
        "gitrun_cli_commands",
        "gitrun_run_ended",
        "gitrun_run_logged",
        "gitrun_run_started",
        "gitrun_site_pages",
    ]
    assert plugins["gitrun.cli.commands"]["hooks"] == ["gitrun_cli_commands"]  # the built-ins, the same way
    assert plugins["gitrun.site.pages.builtin"]["hooks"] == ["gitrun_site_pages"]


def test_plugin_command(repo: Path, example_plugin: Path) -> None:
    run_python(EVENTS_SCRIPT, cwd=repo)
    env = _with(example_plugin)
    listed = gitrun_cli("--help", cwd=repo, env=env)
    assert listed.returncode == 0, listed.stderr
    assert re.search(r"^  status +How many runs of each experiment", listed.stdout, re.M)
    assert re.search(r"^  runs +List, inspect", listed.stdout, re.M)  # the built-ins are still there
    result = gitrun_cli("status", "--json", cwd=repo, env=env)
    assert result.returncode == 0, result.stderr
    counts = {row["name"]: row for row in json.loads(result.stdout)}
    assert counts["events"] == {
        "experiment_id": "events",
        "name": "events",
        "RUNNING": 0,
        "FINISHED": 1,
        "FAILED": 1,
        "KILLED": 0,
    }
    assert "Example:" in gitrun_cli("status", "--help", cwd=repo, env=env).stdout
    # The root group's options reach it: another store.
    other = gitrun_cli("--tracking-uri", str(repo / "elsewhere"), "status", "--json", cwd=repo, env=env)
    assert other.returncode == 0, other.stderr
    assert "events" not in {row["name"] for row in json.loads(other.stdout)}

    without = gitrun_cli("status", cwd=repo)
    assert without.returncode == 2 and "No such command 'status'" in without.stderr


def _nav(page: Path) -> list[tuple[str, str]]:
    soup = BeautifulSoup(page.read_text(encoding="utf-8"), "html.parser")
    return [(a.get_text(strip=True), str(a["href"])) for a in soup.select("header.topbar nav a")]


def test_plugin_page_with_its_navigation_link(repo: Path, example_plugin: Path) -> None:
    run_python(EVENTS_SCRIPT, cwd=repo)
    out = repo.parent / "site"
    result = gitrun_cli("site", "build", "-o", str(out), cwd=repo, env=_with(example_plugin))
    assert result.returncode == 0, result.stderr
    (run_page, *_) = sorted((out / "runs").glob("*.html"))
    pages = {
        out / "index.html": "",
        out / "history.html": "",
        out / "compare.html": "",
        out / "status.html": "",
        out / "experiments" / "events.html": "../",
        run_page: "../",
    }
    for page, root in pages.items():
        assert _nav(page) == [
            ("Experiments", f"{root}index.html"),
            ("Models", f"{root}models.html"),
            ("History", f"{root}history.html"),
            ("Status", f"{root}status.html"),
        ], page
    soup = BeautifulSoup((out / "status.html").read_text(encoding="utf-8"), "html.parser")
    assert soup.select_one("header.topbar nav a.current").get_text() == "Status"
    row = soup.select_one('tr[data-experiment="events"]')
    assert [td.get_text() for td in row.find_all("td")] == ["events", "0", "1", "1", "0"]
    assert row.a["href"] == "experiments/events.html"
    data = json.loads((out / "data" / "status.json").read_bytes())
    assert {"experiment_id": "events", "name": "events", "RUNNING": 0, "FINISHED": 1, "FAILED": 1, "KILLED": 0} in data

    # Without the plugin, the next build drops its page and its link, from the run pages too.
    again = gitrun_cli("site", "build", "-o", str(out), cwd=repo)
    assert again.returncode == 0, again.stderr
    assert not (out / "status.html").exists() and not (out / "data" / "status.json").exists()
    assert _nav(run_page) == [
        ("Experiments", "../index.html"),
        ("Models", "../models.html"),
        ("History", "../history.html"),
    ]


def _events(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_run_events_in_order_batched(repo: Path, example_plugin: Path) -> None:
    events_file = repo.parent / "events.jsonl"
    env = _with(example_plugin, GITRUN_STATUS_EVENTS=str(events_file), GITRUN_EVENTS_BATCH="3")
    proc = run_python(EVENTS_SCRIPT, cwd=repo, env=env)
    assert proc.returncode == 0, proc.stderr
    events = _events(events_file)
    client = gitrun.Client(repo)
    good, bad = sorted(client.search_runs(["events"]), key=lambda r: r.info.run_name != "good")
    g, b = good.info.run_id, bad.info.run_id

    def metrics(*points: tuple[str, float, int]) -> list[list[Any]]:
        # Each point with the timestamp the store recorded for it.
        out = []
        for key, value, step in points:
            (stored,) = [m for m in client.get_metric_history(g, key) if m.step == step]
            out.append([key, value, step, stored.timestamp])
        return out

    assert events[:5] == [
        {"event": "started", "run_id": g, "run_name": "good", "experiment_id": "events", "resumed": False},
        {
            "event": "logged",
            "run_id": g,
            "metrics": metrics(("acc", 0.5, 0)),
            "params": {"lr": "0.1", "depth": "3"},
            "tags": {},
        },
        {
            "event": "logged",
            "run_id": g,
            "metrics": metrics(("acc", 0.7, 1), ("loss", 0.3, 1), ("f1", 0.6, 1)),
            "params": {},
            "tags": {"stage": "tuning"},
        },
        {"event": "logged", "run_id": g, "metrics": metrics(("acc", 0.9, 2)), "params": {}, "tags": {}},
        {"event": "ended", "run_id": g, "status": "FINISHED"},
    ]
    assert events[5] == {
        "event": "started",
        "run_id": b,
        "run_name": "bad",
        "experiment_id": "events",
        "resumed": False,
    }
    ((key, value, step, _),) = events[6]["metrics"]  # NaN logged, NaN reported
    assert events[6]["event"] == "logged" and events[6]["run_id"] == b
    assert key == "loss" and math.isnan(value) and step == 0
    assert events[7] == {"event": "ended", "run_id": b, "status": "FAILED"}
    assert len(events) == 8
    assert f"gitrun-status: run {b} FAILED" in proc.stderr  # the plugin's alert
    assert good.info.status == "FINISHED" and bad.info.status == "FAILED"  # the runs as without plugins


def test_run_events_default_batch_interval_and_resume(repo: Path, example_plugin: Path) -> None:
    events_file = repo.parent / "events.jsonl"
    code = """
import sys, time, gitrun
with gitrun.start_run() as run:
    for step in range(50):
        gitrun.log_metric("m", step, step=step)
with gitrun.start_run(run_id=run.info.run_id):  # resumed
    gitrun.log_metric("m", 50, step=50)
    time.sleep(2.5)  # GITRUN_EVENTS_INTERVAL=2: the next call hands the batch over
    gitrun.log_metric("m", 51, step=51)
    gitrun.log_metric("m", 52, step=52)
"""
    env = _with(example_plugin, GITRUN_STATUS_EVENTS=str(events_file), GITRUN_EVENTS_INTERVAL="2")
    proc = run_python(code, cwd=repo, env=env)
    assert proc.returncode == 0, proc.stderr
    kinds = [(e["event"], e.get("resumed"), [m[2] for m in e.get("metrics", [])]) for e in _events(events_file)]
    assert kinds == [
        ("started", False, []),
        ("logged", None, list(range(50))),  # default batch size 1000: one batch at the end
        ("ended", None, []),
        ("started", True, []),
        ("logged", None, [50, 51]),
        ("logged", None, [52]),
        ("ended", None, []),
    ]


WRITER_TYPE = """
import gitrun
with gitrun.start_run():
    print(type(gitrun.active_run()._writer).__name__)
"""

ONLY_START_END = """
from gitrun.plugins import hookimpl


@hookimpl
def gitrun_run_started(run):
    pass


@hookimpl
def gitrun_run_ended(run_id, status):
    pass
"""


def test_without_a_logged_hook_the_logging_path_is_untouched(repo: Path, example_plugin: Path, tmp_path: Path) -> None:
    def writer_type(env: dict[str, str] | None) -> str:
        proc = run_python(WRITER_TYPE, cwd=repo, env=env)
        assert proc.returncode == 0, proc.stderr
        return proc.stdout.strip()

    assert writer_type(None) == "RunWriter"  # the store's own writer: log_metric as without plugins
    site = tmp_path / "start-end-only"
    _install(site, "gitrun-startend", "1.0", {"gitrun_startend": ONLY_START_END}, {"startend": "gitrun_startend"})
    assert writer_type(_env(site)) == "RunWriter"  # run started/ended only: logging not wrapped either
    assert writer_type(_with(example_plugin)) == "ReportingWriter"


RAISING_EVENTS = """
from gitrun.plugins import hookimpl


@hookimpl
def gitrun_run_started(run):
    raise RuntimeError("started exploded")


@hookimpl
def gitrun_run_logged(metrics):
    raise RuntimeError("logged exploded")


@hookimpl
def gitrun_run_ended(status):
    raise RuntimeError("ended exploded")
"""


def test_event_hooks_that_raise_are_warnings(repo: Path, example_plugin: Path, tmp_path: Path) -> None:
    site = tmp_path / "raising"
    _install(site, "gitrun-raising", "1.0", {"gitrun_raising": RAISING_EVENTS}, {"raising": "gitrun_raising"})
    events_file = repo.parent / "events.jsonl"
    env = {"PYTHONPATH": os.pathsep.join([str(site), str(example_plugin), str(ROOT)])}
    proc = run_python(EVENTS_SCRIPT, cwd=repo, env={**env, "GITRUN_STATUS_EVENTS": str(events_file)})
    assert proc.returncode == 0, proc.stderr
    for hook in ("gitrun_run_started", "gitrun_run_logged", "gitrun_run_ended"):
        assert f"gitrun plugin 'raising' failed in {hook} and is skipped: RuntimeError" in proc.stderr
    assert "Traceback" not in proc.stderr
    runs = {r.info.run_name: r for r in gitrun.Client(repo).search_runs(["events"])}
    assert runs["good"].info.status == "FINISHED" and runs["good"].data.metrics["acc"] == 0.9
    assert runs["bad"].info.status == "FAILED"
    assert [e["event"] for e in _events(events_file)].count("ended") == 2  # the other plugin got everything


BAD_COMMANDS = """
import click
from gitrun.plugins import hookimpl


@click.command()
def runs():
    "A plugin's runs command."


@hookimpl
def gitrun_cli_commands():
    return {"runs": runs, "broken": "module_that_does_not_exist_anywhere:command", "notacommand": "json:dumps"}
"""


def test_plugin_commands_that_clash_or_fail_to_load(repo: Path, tmp_path: Path) -> None:
    site = tmp_path / "bad-commands"
    _install(site, "gitrun-badcmds", "1.0", {"gitrun_badcmds": BAD_COMMANDS}, {"badcmds": "gitrun_badcmds"})
    env = _env(site)
    listed = gitrun_cli("--help", cwd=repo, env={**env, "COLUMNS": "200"})
    assert listed.returncode == 0, listed.stderr
    assert re.search(r"^  broken +\(failed to load: ModuleNotFoundError", listed.stdout, re.M)
    assert re.search(r"^  notacommand +\(failed to load: it is a function, not a click command\)", listed.stdout, re.M)
    assert re.search(r"^  runs +List, inspect", listed.stdout, re.M)  # the built-in keeps its name
    assert "gitrun plugin 'badcmds' declares the command 'runs', which 'gitrun.cli.commands' already provides" in (
        listed.stderr
    )
    builtin = gitrun_cli("runs", "list", cwd=repo, env=env)  # a built-in name: no plugin manager, no table
    assert builtin.returncode == 0 and "badcmds" not in builtin.stderr
    result = gitrun_cli("broken", "--some", "args", cwd=repo, env=env)
    assert result.returncode == 1
    (line,) = [line for line in result.stderr.splitlines() if line.startswith("Error")]
    assert line.startswith(
        "Error: the command 'broken' of gitrun plugin 'badcmds' (module_that_does_not_exist_anywhere:command) "
        "failed to load: ModuleNotFoundError"
    )
    assert "Traceback" not in result.stderr


RAISING_PAGE = """
from gitrun.plugins import hookimpl
from gitrun.site.pages import SitePage


def build(builder):
    raise KeyError("no such thing")


@hookimpl
def gitrun_site_pages():
    return [SitePage("boom", build, nav="Boom"), SitePage("home", build, nav="Mine")]
"""


def test_plugin_page_that_fails_is_an_error_naming_it(repo: Path, tmp_path: Path) -> None:
    run_python(EVENTS_SCRIPT, cwd=repo)
    site = tmp_path / "raising-page"
    _install(site, "gitrun-boompage", "1.0", {"gitrun_boompage": RAISING_PAGE}, {"boompage": "gitrun_boompage"})
    result = gitrun_cli("site", "build", "-o", str(repo.parent / "site"), cwd=repo, env=_env(site))
    assert result.returncode == 1
    assert "declares the site page 'home', which 'gitrun.site.pages.builtin' already provides" in result.stderr
    (line,) = [line for line in result.stderr.splitlines() if line.startswith("Error")]
    assert line == (
        "Error: the site page 'boom' of gitrun plugin 'boompage' failed: KeyError: 'no such thing'; "
        "fix or uninstall the plugin (see `gitrun plugins`)"
    )


def test_a_training_run_with_the_plugin_imports_no_click(repo: Path, example_plugin: Path) -> None:
    code = (
        "import sys, gitrun\n"
        "with gitrun.start_run():\n"
        "    gitrun.log_metric('m', 1.0)\n"
        "assert 'gitrun_status' in sys.modules\n"
        "print(sorted(m for m in ('click', 'gitrun.cli.app', 'gitrun.site.builder', 'jinja2') if m in sys.modules))\n"
    )
    proc = run_python(code, cwd=repo, env=_with(example_plugin))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"


def test_run_events_of_a_run_left_open_and_of_ctrl_c(repo: Path, example_plugin: Path) -> None:
    events_file = repo.parent / "events.jsonl"
    env = _with(example_plugin, GITRUN_STATUS_EVENTS=str(events_file))
    left_open = "import gitrun\ngitrun.start_run(run_name='open')\ngitrun.log_metric('m', 1.0)\n"
    assert run_python(left_open, cwd=repo, env=env).returncode == 0
    ctrl_c = "import gitrun\nwith gitrun.start_run(run_name='ctrl-c'):\n    gitrun.log_metric('m', 2.0)\n    raise KeyboardInterrupt\n"
    assert run_python(ctrl_c, cwd=repo, env=env).returncode != 0
    seen = [(e["event"], e.get("status"), [m[1] for m in e.get("metrics", [])]) for e in _events(events_file)]
    assert seen == [
        ("started", None, []),
        ("logged", None, [1.0]),
        ("ended", "FINISHED", []),  # ended by the interpreter's exit, with its last batch first
        ("started", None, []),
        ("logged", None, [2.0]),
        ("ended", "KILLED", []),
    ]


ORDERED_PAGE = """
from pathlib import Path

from gitrun.plugins import hookimpl
from gitrun.site.pages import SitePage

TEMPLATES = Path(__file__).parent / "ordered_templates"


def build(builder):
    runs = sum(len(records) for records in builder.snapshot.records.values())
    builder.writer.begin("page:leaderboard", "")
    context = {"site": builder.site_info("leaderboard", 1), "runs": runs}
    builder.writer.write("boards/index.html", builder.render("ordered-leaderboard.html", context))
    builder.writer.end()


@hookimpl
def gitrun_site_pages():
    return [SitePage("leaderboard", build, nav="Leaderboard", href="boards/index.html", order=45, templates=TEMPLATES)]
"""


def test_plugin_page_placed_by_order_rendered_from_a_mapping(repo: Path, tmp_path: Path) -> None:
    run_python(EVENTS_SCRIPT, cwd=repo)
    site = tmp_path / "ordered"
    _install(site, "gitrun-ordered", "1.0", {"gitrun_ordered": ORDERED_PAGE}, {"ordered": "gitrun_ordered"})
    (site / "ordered_templates").mkdir()
    (site / "ordered_templates" / "ordered-leaderboard.html").write_text(
        '{% extends "base.html" %}{% block content %}<p id="runs">{{ runs }} runs</p>{% endblock %}'
    )
    out = repo.parent / "site"
    result = gitrun_cli("site", "build", "-o", str(out), cwd=repo, env=_env(site))
    assert result.returncode == 0, result.stderr
    page = out / "boards" / "index.html"
    assert _nav(page) == [  # order 45: between the built-in Models (44) and History (50)
        ("Experiments", "../index.html"),
        ("Models", "../models.html"),
        ("Leaderboard", "../boards/index.html"),
        ("History", "../history.html"),
    ]
    soup = BeautifulSoup(page.read_text(encoding="utf-8"), "html.parser")
    assert soup.select_one("#runs").get_text() == "2 runs"
    assert soup.select_one("header.topbar nav a.current").get_text() == "Leaderboard"
    assert ("Leaderboard", "boards/index.html") in _nav(out / "index.html")
