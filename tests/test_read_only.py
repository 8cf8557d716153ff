"""A store on a read-only file system (issue 9, item 14).

Tests run as root, where ``chmod`` makes nothing read-only, so the repository is seen through a
real read-only bind mount (``mount --bind`` + ``remount,bind,ro``), which the test makes itself
(skipped with the reason when mounting is not permitted) and always unmounts. Reading works
without a writable ``.gitrun/.cache``; writing fails with one clear error.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers import gitrun_cli, log_runs, run_git, run_python


def _mount(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["mount", *args], capture_output=True, text=True)


@pytest.fixture
def read_only(repo: Path, tmp_path: Path) -> Iterator[Path]:
    """``repo`` with runs committed on ``main`` and on a branch ``feature`` (checked out), seen
    read-only at another path; yields that path."""
    log_runs(repo, [{"name": "base", "params": {"lr": 0.1}, "metrics": {"val_acc": [0.5, 0.7]}}])
    run_git(repo, "add", "-f", ".gitrun")
    run_git(repo, "commit", "-q", "-m", "base run")
    run_git(repo, "checkout", "-q", "-b", "feature")
    log_runs(repo, [{"name": "better", "params": {"lr": 0.01}, "metrics": {"val_acc": [0.6, 0.9]}}])
    run_git(repo, "add", "-f", ".gitrun")
    run_git(repo, "commit", "-q", "-m", "better run")
    log_runs(repo, [{"name": "uncommitted", "metrics": {"val_acc": 0.95}}])
    shutil.rmtree(repo / ".gitrun" / ".cache", ignore_errors=True)  # nothing materialised yet

    view = tmp_path / "ro"
    view.mkdir()
    if shutil.which("mount") is None:
        pytest.skip("no mount command: the read-only tests need a real read-only bind mount")
    bound = _mount("--bind", str(repo), str(view))
    if bound.returncode != 0:
        pytest.skip(f"cannot bind-mount here ({bound.stderr.strip() or bound.returncode}): needs root")
    try:
        remount = _mount("-o", "remount,bind,ro", str(view))
        if remount.returncode != 0:
            pytest.skip(f"cannot remount read-only here ({remount.stderr.strip()})")
        probe = subprocess.run(["touch", str(view / "probe")], capture_output=True)
        assert probe.returncode != 0, "the bind mount is not read-only"
        yield view
    finally:
        subprocess.run(["umount", str(view)], capture_output=True)


def _cli_ok(view: Path, *args: str) -> subprocess.CompletedProcess[str]:
    result = gitrun_cli(*args, cwd=view)
    assert result.returncode == 0, f"gitrun {' '.join(args)}:\n{result.stdout}\n{result.stderr}"
    assert "Traceback" not in result.stderr and "OSError" not in result.stderr, result.stderr
    return result


def test_reading_works_on_a_read_only_store(read_only: Path, tmp_path: Path) -> None:
    listed = json.loads(_cli_ok(read_only, "runs", "list", "--json").stdout)
    assert sorted(r["run_name"] for r in listed) == ["base", "better", "uncommitted"]

    found = run_python(
        "import gitrun\n"
        "runs = gitrun.search_runs(search_all_experiments=True, filter_string='metrics.val_acc > 0.8',"
        " output_format='list')\n"
        "print(sorted(r.info.run_name for r in runs))\n"
        "print(len(gitrun.search_runs(search_all_experiments=True)))\n",
        cwd=read_only,
    )
    assert found.returncode == 0, found.stderr
    assert found.stdout.split("\n")[:2] == ["['better', 'uncommitted']", "3"]

    head = json.loads(_cli_ok(read_only, "diff", "HEAD", "--json").stdout)
    assert "uncommitted" in json.dumps(head)
    branches = json.loads(_cli_ok(read_only, "diff", "main", "HEAD", "--json").stdout)
    assert "better" in json.dumps(branches) and "uncommitted" not in json.dumps(branches)
    _cli_ok(read_only, "diff", "main", "HEAD")  # the text renderer too

    site = tmp_path / "site"
    _cli_ok(read_only, "site", "build", "-o", str(site))
    assert (site / "index.html").is_file()
    assert not (read_only / ".gitrun" / ".cache").exists()  # nothing could be, nor was, written there


START = """
import gitrun
try:
    {call}
except gitrun.GitrunError as exc:
    print(type(exc).__name__, exc)
"""


@pytest.mark.parametrize(
    "call",
    [
        "gitrun.start_run()",
        "gitrun.set_experiment('new experiment')",
        "gitrun.start_run(run_id=gitrun.search_runs(search_all_experiments=True, output_format='list')[0].info.run_id)",
        "gitrun.Client().log_metric(gitrun.search_runs(search_all_experiments=True, output_format='list')[0]"
        ".info.run_id, 'x', 1.0)",
        "gitrun.Client().set_tag(gitrun.search_runs(search_all_experiments=True, output_format='list')[0]"
        ".info.run_id, 'x', 1.0)",
    ],
    ids=["start_run", "set_experiment", "resume", "log_metric", "set_tag"],
)
def test_writing_to_a_read_only_store_is_one_clear_error(read_only: Path, call: str) -> None:
    proc = run_python(START.format(call=call), cwd=read_only)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("ReadOnlyStoreError the store "), proc.stdout
    assert f"{read_only / '.gitrun'} is on a read-only file system" in proc.stdout
    assert "Traceback" not in proc.stderr


def test_a_training_script_on_a_read_only_store_fails_without_an_oserror(read_only: Path) -> None:
    script = "import gitrun\nwith gitrun.start_run():\n    gitrun.log_metric('x', 1.0)\n"
    proc = run_python(script, cwd=read_only)
    assert proc.returncode == 1
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("gitrun.errors.ReadOnlyStoreError: the store "), proc.stderr
    assert "read-only file system" in last
