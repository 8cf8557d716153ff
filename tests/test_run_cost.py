"""What a run costs the file system (issue 16, item 5), counted with ``strace`` in a real process.

An empty run creates at most 4 files (``meta.json`` written at start and at end, ``tags.json``,
``.lock``) and takes its lock once, at the end; a ``log_metrics`` call with thousands of new keys
makes at most 4 system calls per new series. Counts, not timings: they hold on any machine.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import ROOT

pytestmark = [
    pytest.mark.skipif(shutil.which("strace") is None, reason="strace is not installed: it counts the system calls"),
    pytest.mark.skipif(sys.platform != "linux", reason="strace and O_TMPFILE are Linux's"),
]

EMPTY_RUN = """
import os, gitrun
gitrun.start_run(); gitrun.end_run()  # the first run of a process also sets the store and Git context up
os.write(2, b"MARK-BEGIN\\n")
with gitrun.start_run() as run:
    pass
os.write(2, b"MARK-END\\n")
print(run.info.run_id)
"""

NEW_SERIES = """
import os, sys, gitrun
n = int(sys.argv[1])
with gitrun.start_run() as run:
    gitrun.log_metric("first", 1.0)  # makes metrics/: once per run, not per series
    metrics = {f"layer/m{i}": float(i) for i in range(n)}
    gitrun.log_metric("layer/first", 1.0)
    os.write(2, b"MARK-BEGIN\\n")
    gitrun.log_metrics(metrics, step=1)
    os.write(2, b"MARK-END\\n")
    gitrun.log_metrics(metrics, step=2)  # appends to the series just created
print(run.info.run_id)
"""


def _traced(repo: Path, code: str, *args: str, trace: str = "all") -> tuple[str, list[str]]:
    """Run ``code`` under ``strace -f``; (its stdout, the calls made between its two markers). ``trace``
    must include ``write``, which marks them."""
    probe = subprocess.run(["strace", "-qq", "-o", os.devnull, "true"], capture_output=True)
    if probe.returncode != 0:
        pytest.skip(f"strace cannot trace here: {probe.stderr.decode().strip()}")
    out = repo.parent / "strace.txt"
    script = repo.parent / "script.py"
    script.write_text(code)
    cmd = ["strace", "-f", "-qq", "-e", f"trace={trace}", "-e", "signal=none", "-o", str(out)]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([*cmd, sys.executable, str(script), *args], cwd=repo, env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    lines = out.read_text().splitlines()
    begin = next(i for i, line in enumerate(lines) if "MARK-BEGIN" in line)
    end = next(i for i, line in enumerate(lines) if "MARK-END" in line)
    # A call another thread interrupted is split in two lines ("<unfinished ...>", "<... resumed>"): count it once.
    calls = [line for line in lines[begin + 1 : end] if "resumed>" not in line]
    return proc.stdout.strip().splitlines()[-1], calls


def test_an_empty_run_creates_four_files_and_locks_once(repo: Path, store_dir: Path) -> None:
    run_id, calls = _traced(repo, EMPTY_RUN, trace="openat,open,creat,mkdir,rename,link,linkat,unlink,flock,write")
    run_dir = next(store_dir.glob(f"experiments/*/runs/{run_id}"))
    mine = [line for line in calls if f"/{run_id}" in line or "flock(" in line]

    # Every path opened with O_CREAT is a file that may be new (each temp file is one, renamed into place).
    created = {re.search(r'"([^"]+)"', line).group(1) for line in mine if "O_CREAT" in line}  # type: ignore[union-attr]
    assert len(created) <= 4, "\n".join(sorted(created))
    names = [path.rsplit("/", 1)[-1] for path in created]
    assert sum(".meta.json." in n for n in names) == 2 and sum(".tags.json." in n for n in names) == 1
    assert ".lock" in names  # the starter's heartbeat, and later its lock
    # Any other open that may create a file reopens the lock made above.
    assert all(line.split('"')[1].endswith("/.lock") for line in mine if "O_CREAT" in line and "O_EXCL" not in line)
    assert sum("flock(" in line for line in mine) == 1  # once, at the end
    assert not any("unlink(" in line for line in mine)  # no heartbeat file to remove
    reads = [line for line in mine if "O_RDONLY" in line and "O_DIRECTORY" not in line]
    assert len(reads) == 1 and "/meta.json" in reads[0], reads  # read once, under the lock, to end the run
    assert sorted(p.name for p in run_dir.iterdir()) == [".lock", "meta.json", "tags.json"]
    assert (run_dir / ".lock").read_bytes() == b""  # it no longer names a live process


def test_log_metrics_with_thousands_of_new_keys_costs_at_most_four_calls_per_series(
    repo: Path, store_dir: Path
) -> None:
    n = 2000
    run_id, calls = _traced(repo, NEW_SERIES, str(n))
    per_series = len(calls) / n
    assert per_series <= 4, (per_series, sorted({line.split("(")[0].split()[-1] for line in calls}))
    import gitrun

    run = gitrun.Client(str(repo)).get_run(run_id)
    assert len(run.data.metrics) == n + 2 and run.data.metrics["layer/m1999"] == 1999.0
    series = next(store_dir.glob(f"experiments/*/runs/{run_id}/metrics/layer/m7.tsv")).read_text()
    assert series.splitlines()[0] == "step\ttimestamp\tm7"
    assert [line.split("\t")[0] for line in series.splitlines()[1:]] == ["1", "2"]
