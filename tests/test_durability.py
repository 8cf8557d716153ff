"""Full disks, torn lines and GITRUN_FSYNC (issue 9, item 2).

The full-disk tests run on a real 512 KiB tmpfs that the test mounts itself (root only; skipped
with the reason when mounting is not permitted) and always unmounts. tmpfs hands out space in
4 KiB pages, so "one page left" and "a line that crosses into a page that is not there" are exact.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import shutil
import subprocess
import sys
import time
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest

import gitrun
from gitrun.errors import DiskFullError, StoreWarning
from gitrun.store import Store
from tests.helpers import ROOT, run_python

PAGE = 4096


@pytest.fixture
def disk(tmp_path: Path) -> Iterator[Path]:
    """A 512 KiB tmpfs mounted for this test; the tracking URI points at a store on it."""
    mount_point = tmp_path / "disk"
    mount_point.mkdir()
    if shutil.which("mount") is None:
        pytest.skip("no mount command: the full-disk tests need a real 512 KiB tmpfs")
    proc = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=512k", "tmpfs", str(mount_point)], capture_output=True, text=True
    )
    if proc.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({proc.stderr.strip() or proc.returncode}): needs root")
    try:
        gitrun.set_tracking_uri(str(mount_point / "store"))
        yield mount_point
    finally:
        from gitrun.tracking.state import reset

        with contextlib.suppress(Exception):
            _free(mount_point)
        reset()  # ends the runs left active: closes their descriptors on the tmpfs
        subprocess.run(["umount", "-l", str(mount_point)], capture_output=True)


def _fill(disk: Path, leave: int = 0) -> None:
    """Fill the file system, then give back ``leave`` bytes (a whole number of pages)."""
    filler = disk / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        while True:
            try:
                if os.write(fd, b"\0" * PAGE) < PAGE:
                    break
            except OSError as exc:
                assert exc.errno == errno.ENOSPC, exc
                break
        if leave:
            os.ftruncate(fd, os.fstat(fd).st_size - leave)
    finally:
        os.close(fd)


def _free(disk: Path) -> None:
    (disk / "filler").unlink(missing_ok=True)


def _temp_files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.rglob("*.tmp*"))


def _run_dir(run: gitrun.ActiveRun) -> Path:
    return Path(run._writer.run_dir)  # type: ignore[attr-defined]


def test_a_full_disk_never_replaces_tags_json_with_a_truncated_one(repo: Path, disk: Path) -> None:
    with gitrun.start_run() as run:
        gitrun.set_tags({f"tag{i:03d}": "v" * 60 for i in range(100)})  # tags.json: about 8 KB, two pages
        tags = _run_dir(run) / "tags.json"
        before = tags.read_bytes()
        assert PAGE < len(before) < 2 * PAGE
        _fill(disk, leave=PAGE)  # room for half of the new file: the write stops short
        with pytest.raises(DiskFullError, match=r"disk full writing .*tags\.json: .*free space and retry.*intact"):
            gitrun.set_tag("new", "x")
        assert tags.read_bytes() == before
        assert _temp_files(_run_dir(run)) == []
        _fill(disk)  # no room at all
        with pytest.raises(DiskFullError, match=r"tags\.json"):
            gitrun.set_tag("new", "x")
        assert tags.read_bytes() == before
        _free(disk)
        gitrun.set_tag("new", "x")  # once there is room again, it works
    assert gitrun.get_run(run.info.run_id).data.tags["new"] == "x"
    assert len(gitrun.get_run(run.info.run_id).data.tags) >= 101


@pytest.mark.parametrize("name", ["params.json", "meta.json"])
def test_other_whole_file_rewrites_keep_the_old_file(repo: Path, disk: Path, name: str) -> None:
    with gitrun.start_run() as run:
        gitrun.log_params({f"p{i:03d}": "v" * 60 for i in range(100)})
        path = _run_dir(run) / name
        before = path.read_bytes()
        _fill(disk)
        with pytest.raises(DiskFullError, match=name.replace(".", r"\.")):
            if name == "params.json":
                gitrun.log_param("more", "x" * 5000)
            else:
                gitrun.Client().store.writer(run.info.run_id).update_meta(note="x" * 9000)
        assert path.read_bytes() == before
        assert _temp_files(_run_dir(run)) == []
        _free(disk)


def _pad_to_page_end(path: Path, line: str) -> int:
    """Log points until the series ends a few bytes before a page boundary; returns the next step."""
    step = 0
    while True:
        gitrun.log_metric("loss", 0.123456789, step=step, timestamp=1000)
        step += 1
        room = PAGE - path.stat().st_size % PAGE
        if 0 < room < len(line.format(step=step)) - 2:
            return step
        assert step < 5000


def test_a_metric_append_on_a_full_disk_raises_and_leaves_no_torn_line(repo: Path, disk: Path) -> None:
    line = "{step}\t1000\t0.123456789\n"
    with gitrun.start_run() as run:
        series = _run_dir(run) / "metrics" / "loss.tsv"
        step = _pad_to_page_end(series, line)
        _fill(disk)  # the series' last page has a few bytes left: a whole line does not fit
        before = series.read_bytes()
        with pytest.raises(DiskFullError, match=r"loss\.tsv.*this point was not logged"):
            gitrun.log_metric("loss", 0.123456789, step=step, timestamp=1000)
        assert series.read_bytes() == before  # truncated back: no half line
        with pytest.raises(DiskFullError, match=r"loss\.tsv.*not logged"):
            gitrun.log_metrics({"loss": 0.123456789, "other": 1.0}, step=step, timestamp=1000)
        assert series.read_bytes() == before
        with pytest.raises(DiskFullError, match=r"fresh\.tsv"):
            gitrun.log_metric("fresh", 1.0)  # a new series: not even its header fits
        assert not (series.parent / "fresh.tsv").exists()
        assert _temp_files(_run_dir(run)) == []
        _free(disk)
        gitrun.log_metric("loss", 0.123456789, step=step, timestamp=1000)  # the same point, now with room
        gitrun.log_metric("loss", 0.5, step=step + 1, timestamp=1000)
    with warnings.catch_warnings():
        warnings.simplefilter("error", StoreWarning)  # nothing torn anywhere
        history = gitrun.get_metric_history(run.info.run_id, "loss")
    assert [m.step for m in history] == list(range(step + 2))
    assert history[-1].value == 0.5


def test_artifacts_on_a_full_disk(repo: Path, disk: Path, tmp_path: Path) -> None:
    big = tmp_path / "weights.bin"
    big.write_bytes(os.urandom(3 * PAGE))
    with gitrun.start_run() as run:
        gitrun.log_text("old notes\n" * 700, "notes.txt")
        gitrun.log_artifact(str(big))
        artifacts = _run_dir(run) / "artifacts"
        before = {p: (artifacts / p).read_bytes() for p in ("notes.txt", "weights.bin")}
        big.write_bytes(os.urandom(3 * PAGE))
        _fill(disk, leave=PAGE)
        with pytest.raises(DiskFullError, match=r"notes\.txt.*intact"):
            gitrun.log_text("new notes\n" * 700, "notes.txt")
        with pytest.raises(DiskFullError, match=r"weights\.bin.*intact"):
            gitrun.log_artifact(str(big))
        with pytest.raises(DiskFullError, match=r"table\.json"):
            gitrun.log_dict({"rows": ["x" * 100] * 100}, "table.json")
        assert {p: (artifacts / p).read_bytes() for p in before} == before
        assert not (artifacts / "table.json").exists()
        assert _temp_files(artifacts) == []
        _free(disk)


def test_start_run_on_a_full_disk_is_a_clear_error(repo: Path, disk: Path) -> None:
    Store(disk / "store").ensure_default_experiment()
    _fill(disk)
    # The work tree is dirty: its diff is kept first (the store's code/<sha256>.diff), then meta.json.
    with pytest.raises(DiskFullError, match=r"disk full writing .*(meta\.json|code/[0-9a-f]{64}\.diff)"):
        gitrun.start_run()
    runs = disk / "store" / "experiments" / "default" / "runs"
    assert not runs.exists() or list(runs.iterdir()) == []  # no run directory without its meta.json
    assert gitrun.active_run() is None
    _free(disk)


def test_cli_on_a_full_disk_is_one_line(repo: Path, disk: Path) -> None:
    """A training script run on a full disk: one clear message, no traceback of the store's internals."""
    Store(disk / "store").ensure()
    _fill(disk)
    proc = run_python(
        "import gitrun\n"
        "try:\n"
        "    gitrun.start_run()\n"
        "except gitrun.GitrunError as e:\n"
        "    print('ERROR', type(e).__name__, e)\n",
        cwd=repo,
        env={"GITRUN_TRACKING_URI": str(disk / "store")},
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("ERROR DiskFullError disk full writing"), proc.stdout
    _free(disk)


# -- torn lines left by a crash ----------------------------------------------------------------
def _series_with_torn_line(repo: Path, age_s: float) -> tuple[str, Path]:
    with gitrun.start_run() as run:
        for step in range(3):
            gitrun.log_metric("loss", 1.0 / (step + 1), step=step, timestamp=1000 + step)
    series = _run_dir(run) / "metrics" / "loss.tsv"
    with open(series, "ab") as f:
        f.write(b"3\t1003\t0.2")  # a writer killed mid-line (or an old release on a full disk) left this
    if age_s:
        then = time.time() - age_s
        os.utime(series, (then, then))
    return run.info.run_id, series


RESUME = (
    "import gitrun\n"
    "with gitrun.start_run(run_id={run_id!r}):\n"
    "    gitrun.log_metric('loss', 0.1, step=4, timestamp=1004)\n"
    "    gitrun.log_metric('loss', 0.05, step=5, timestamp=1005)\n"
)


def test_a_torn_last_line_is_cut_before_the_next_append(repo: Path) -> None:
    run_id, series = _series_with_torn_line(repo, age_s=60)
    proc = run_python(RESUME.format(run_id=run_id), cwd=repo)
    assert proc.returncode == 0, proc.stderr
    assert "incomplete last line '3\\t1003\\t0.2'" in proc.stderr and "removed it" in proc.stderr
    assert series.read_text().splitlines()[-3:] == ["2\t1002\t0.3333333333333333", "4\t1004\t0.1", "5\t1005\t0.05"]
    with warnings.catch_warnings():
        warnings.simplefilter("error", StoreWarning)
        history = gitrun.get_metric_history(run_id, "loss")
    assert [(m.step, m.value) for m in history][-2:] == [(4, 0.1), (5, 0.05)]


def test_a_torn_line_that_just_changed_is_ended_not_cut(repo: Path) -> None:
    """It may be another live process's write in progress: end it with a newline, never cut it."""
    run_id, series = _series_with_torn_line(repo, age_s=0)
    proc = run_python(RESUME.format(run_id=run_id), cwd=repo)
    assert proc.returncode == 0, proc.stderr
    assert "ended it with a newline" in proc.stderr
    assert series.read_text().endswith("3\t1003\t0.2\n4\t1004\t0.1\n5\t1005\t0.05\n")
    with warnings.catch_warnings(record=True):
        warnings.simplefilter("always")
        history = gitrun.get_metric_history(run_id, "loss")
    assert [m.step for m in history] == [0, 1, 2, 3, 4, 5]  # "3\t1003\t0.2" is a complete line now


# -- GITRUN_FSYNC=1 ------------------------------------------------------------------------------
FSYNC_SCRIPT = """
import os, sys
import gitrun
if len(sys.argv) > 1:
    os.environ["GITRUN_FSYNC"] = "1"  # set after the import: must change nothing (read once, at import)
with gitrun.start_run() as run:
    gitrun.log_metric("acc", 0.5)
    gitrun.log_metric("acc", 0.6)
    gitrun.log_metrics({"acc": 0.7, "loss": 0.1})
    gitrun.set_tag("t", "v")
    gitrun.log_param("p", 1)
    gitrun.log_text("x", "notes.txt")
"""


def _fsyncs(repo: Path, env: dict[str, str], *args: str) -> list[str]:
    """The fsync calls (``strace -y``: the file each descriptor names) the script made on store files."""
    trace = repo.parent / "strace.txt"
    script = repo.parent / "fsync_script.py"
    script.write_text(FSYNC_SCRIPT)
    full_env = {**os.environ, "PYTHONPATH": str(ROOT), **env}
    cmd = ["strace", "-f", "-qq", "-y", "-e", "trace=fsync,fdatasync", "-e", "signal=none", "-o", str(trace)]
    proc = subprocess.run([*cmd, sys.executable, str(script), *args], cwd=repo, env=full_env, capture_output=True)
    assert proc.returncode == 0, proc.stderr.decode()
    return [line for line in trace.read_text().splitlines() if "sync(" in line and "/.gitrun" in line]


@pytest.mark.skipif(shutil.which("strace") is None, reason="strace is not installed: it counts the fsync calls")
def test_gitrun_fsync_syncs_every_write_and_only_when_asked(repo: Path) -> None:
    probe = subprocess.run(["strace", "-qq", "-o", os.devnull, "true"], capture_output=True)
    if probe.returncode != 0:
        pytest.skip(f"strace cannot trace here: {probe.stderr.decode().strip()}")
    assert _fsyncs(repo, {}) == []
    assert _fsyncs(repo, {}, "set-late") == []  # read once at import, not per call
    synced = _fsyncs(repo, {"GITRUN_FSYNC": "1"})
    text = "\n".join(synced)
    assert sum("/metrics/acc.tsv>" in line for line in synced) == 3  # each append call (log_metrics: one write)
    assert sum("/metrics/loss.tsv>" in line for line in synced) == 1
    for temp in (".tags.json.", ".params.json.", ".meta.json.", ".metrics.json.", ".notes.txt."):
        assert temp in text, (temp, text)  # whole-file writes: the temp file before its rename
    assert any(re.search(r"/runs/[0-9A-Z]{26}>\)", line) for line in synced), text  # the run folder, after renames
    assert any("/artifacts>" in line for line in synced), text
