"""Artifact paths the file system cannot hold, and folders holding what is not a file (issue 9, item 15).

Every writer (log_text, log_dict, log_figure, log_image, log_artifact, log_artifacts) refuses with
a clear error naming the artifact path, never a raw FileExistsError/OSError showing a temp path;
log_artifacts names in a warning what it skips (dangling symlinks, directory symlinks, FIFOs).
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

import gitrun
from gitrun.errors import GitrunError, InvalidInputError
from tests.helpers import run_python


def _figure() -> object:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    fig = Figure()
    fig.add_subplot().plot([1, 2, 3])
    return fig


def _writers(tmp_path: Path) -> dict[str, Callable[[str], None]]:
    local = tmp_path / "local.txt"
    local.write_text("local\n")
    folder = tmp_path / "folder"
    (folder / "sub").mkdir(parents=True, exist_ok=True)
    (folder / "sub" / "x.txt").write_text("x\n")
    return {
        "log_text": lambda path: gitrun.log_text("text", path),
        "log_dict": lambda path: gitrun.log_dict({"a": 1}, path),
        "log_figure": lambda path: gitrun.log_figure(_figure(), path),
        "log_image": lambda path: gitrun.log_image(np.zeros((4, 4, 3), dtype=np.uint8), path),
        # for these two, the artifact path is the folder the file goes into
        "log_artifact": lambda path: gitrun.log_artifact(str(local), path),
        "log_artifacts": lambda path: gitrun.log_artifacts(str(folder), path),
    }


SUFFIX = {"log_figure": ".png", "log_image": ".png", "log_dict": ".json"}
WRITERS = ["log_text", "log_dict", "log_figure", "log_image", "log_artifact", "log_artifacts"]


def _artifacts(run: gitrun.ActiveRun) -> Path:
    return Path(run._writer.run_dir) / "artifacts"  # type: ignore[attr-defined]


def _no_temp_files(root: Path) -> None:
    assert [p.name for p in root.rglob("*.tmp*")] == []


@pytest.mark.parametrize("writer", WRITERS)
def test_a_file_where_a_folder_is_needed(repo: Path, tmp_path: Path, writer: str) -> None:
    with gitrun.start_run() as run:
        gitrun.log_text("a file\n", "a.txt")
        wanted = f"a.txt/b{SUFFIX.get(writer, '')}"
        with pytest.raises(InvalidInputError) as excinfo:
            _writers(tmp_path)[writer](wanted)
        message = str(excinfo.value)
        assert "'a.txt' is a file there" in message and run.info.run_id in message, message
        assert ".tmp" not in message
        assert (_artifacts(run) / "a.txt").read_text() == "a file\n"
        _no_temp_files(_artifacts(run))


@pytest.mark.parametrize("writer", ["log_text", "log_dict", "log_figure", "log_image"])
def test_a_folder_where_a_file_is_wanted(repo: Path, tmp_path: Path, writer: str) -> None:
    with gitrun.start_run() as run:
        name = f"plots{SUFFIX.get(writer, '')}"
        gitrun.log_text("inside\n", f"{name}/inner.txt")
        with pytest.raises(InvalidInputError, match=rf"'{name}' .*a folder of that name is already there"):
            _writers(tmp_path)[writer](name)
        assert (_artifacts(run) / name / "inner.txt").read_text() == "inside\n"
        _no_temp_files(_artifacts(run))


@pytest.mark.parametrize("writer", WRITERS)
def test_a_name_too_long_for_the_file_system(repo: Path, tmp_path: Path, writer: str) -> None:
    with gitrun.start_run() as run:
        with pytest.raises(InvalidInputError) as excinfo:
            _writers(tmp_path)[writer]("n" * 300 + SUFFIX.get(writer, ""))
        message = str(excinfo.value)
        assert "has a part of 30" in message and "255 bytes" in message, message
        assert ".tmp" not in message and "File name too long" not in message
        assert not _artifacts(run).exists() or list(_artifacts(run).rglob("*")) == []


@pytest.mark.parametrize("writer", WRITERS)
def test_the_longest_name_the_file_system_allows_works(repo: Path, tmp_path: Path, writer: str) -> None:
    """255 bytes is a valid name: the temp file beside it must not need more."""
    name = "n" * (255 - len(SUFFIX.get(writer, ""))) + SUFFIX.get(writer, "")
    with gitrun.start_run() as run:
        _writers(tmp_path)[writer](name)
    listed = [p.relative_to(_artifacts(run)).parts[0] for p in _artifacts(run).rglob("*") if p.is_file()]
    assert listed and set(listed) == {name}
    _no_temp_files(_artifacts(run))


def test_log_artifacts_skips_what_is_not_a_file_and_says_so(repo: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    (out / "ckpt").mkdir(parents=True)
    (out / "ckpt" / "model.bin").write_bytes(b"weights")
    (out / "metrics.txt").write_text("ok\n")
    (out / "latest").symlink_to("ckpt")  # a directory symlink
    (out / "stale").symlink_to(tmp_path / "deleted-long-ago.bin")  # a dangling symlink
    (out / "alias.txt").symlink_to("metrics.txt")  # a file symlink: logged as the file
    os.mkfifo(out / "pipe")
    with gitrun.start_run() as run, warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        gitrun.log_artifacts(str(out), "run-output")
    messages = [str(w.message) for w in caught]
    assert len(messages) == 1, messages
    message = messages[0]
    for part in ("skipped 3 entries", "latest (a symlink to the folder 'ckpt': not followed)", "stale (a dangling",
                 "pipe (not a regular file)"):  # fmt: skip
        assert part in message, message
    root = _artifacts(run) / "run-output"
    logged = sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())
    assert logged == ["alias.txt", "ckpt/model.bin", "metrics.txt"]
    assert (root / "alias.txt").read_text() == "ok\n" and not (root / "alias.txt").is_symlink()


def test_log_artifacts_never_blocks_on_a_fifo(repo: Path, tmp_path: Path) -> None:
    """A FIFO is not a file: skipped with a warning (reading it would wait for a writer, so this runs in a
    child with a timeout; the old code raised shutil's SpecialFileError)."""
    out = tmp_path / "out"
    out.mkdir()
    (out / "a.txt").write_text("a\n")
    os.mkfifo(out / "pipe")
    code = f"import gitrun\nwith gitrun.start_run():\n    gitrun.log_artifacts({str(out)!r})\nprint('done')\n"
    try:
        proc = run_python(code, cwd=repo, timeout=30)
    except Exception as exc:  # subprocess.TimeoutExpired
        pytest.fail(f"log_artifacts blocked on a FIFO: {exc}")
    assert proc.returncode == 0 and "done" in proc.stdout, proc.stderr


def test_log_artifact_of_a_dangling_symlink_names_it(repo: Path, tmp_path: Path) -> None:
    link = tmp_path / "gone.bin"
    link.symlink_to(tmp_path / "nothing-here")
    with gitrun.start_run(), pytest.raises(GitrunError, match=r"gone\.bin.*no such file"):
        gitrun.log_artifact(str(link))
