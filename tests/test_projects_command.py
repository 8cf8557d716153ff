"""`gitrun run -- CMD`: a real command in a real gitrun process; exit statuses, signals, output."""

from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from gitrun.store import Store
from gitrun.store.reader import pid_alive
from tests.helpers import gitrun_cli


def _gitrun(*args: str) -> list[str]:
    exe = Path(sys.executable).with_name("gitrun")
    return [str(exe), *args] if exe.exists() else [sys.executable, "-m", "gitrun", *args]


def _spawn(repo: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        _gitrun(*args), cwd=repo, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def _only_run(repo: Path) -> tuple[str, str, dict[str, str]]:
    store = Store(repo / ".gitrun")
    records = list(store.iter_runs())
    assert len(records) == 1, [r.run_id for r in records]
    return records[0].run_id, records[0].status, records[0].tags


def _wait_for(path: Path, timeout: float = 30) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and path.read_text():
            return path.read_text()
        time.sleep(0.02)
    raise AssertionError(f"{path} never appeared")


@pytest.mark.parametrize(("code", "status"), [(0, "FINISHED"), (3, "FAILED")])
def test_exit_status_is_the_commands(repo: Path, code: int, status: str) -> None:
    argv = [sys.executable, "-c", f"print('hello'); raise SystemExit({code})"]
    proc = gitrun_cli("run", "--", *argv, cwd=repo)
    assert proc.returncode == code, proc.stderr
    assert proc.stdout == "hello\n"  # gitrun prints nothing of its own on stdout
    run_id, stored, tags = _only_run(repo)
    assert stored == status
    assert tags["gitrun.exit_status"] == str(code)
    assert shlex.split(tags["gitrun.command"]) == argv
    assert tags["mlflow.source.git.commit"]  # the command's repository, not gitrun's installation
    assert f"run {run_id} {status} (exit status {code})" in proc.stderr
    assert (
        repo / ".gitrun" / "experiments" / "default" / "runs" / run_id / "artifacts/gitrun/stdout.txt"
    ).read_text() == "hello\n"


def test_a_missing_command_is_a_clear_error_with_the_shells_status(repo: Path) -> None:
    proc = gitrun_cli("run", "--", "no-such-command-here", cwd=repo)
    assert proc.returncode == 127
    assert "cannot run 'no-such-command-here'" in proc.stderr and "Traceback" not in proc.stderr
    # refused before a run exists: a typo leaves nothing in the store
    assert not list((repo / ".gitrun").glob("experiments/*/runs/*"))


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_to_gitrun_reaches_the_command_and_gitrun_exits_128_plus_it(repo: Path, sig: int) -> None:
    (repo / "child.py").write_text(
        textwrap.dedent(
            """
            import pathlib, signal, sys, time
            def stop(signum, frame):
                pathlib.Path("got-signal").write_text(str(signum))
                sys.exit(5)
            signal.signal(signal.SIGINT, stop)
            signal.signal(signal.SIGTERM, stop)
            pathlib.Path("ready").write_text("1")
            time.sleep(60)
            """
        )
    )
    proc = _spawn(repo, "run", "--", sys.executable, "child.py")
    _wait_for(repo / "ready")
    proc.send_signal(sig)
    proc.wait(timeout=30)
    assert proc.returncode == 128 + sig  # 130 after Ctrl-C, 143 after SIGTERM
    assert (repo / "got-signal").read_text() == str(int(sig))  # the command got it, and could clean up
    _, status, tags = _only_run(repo)
    assert status == "KILLED"
    assert tags["gitrun.exit_status"] == str(128 + sig)


def test_a_command_killed_by_sigkill_is_killed(repo: Path) -> None:
    proc = gitrun_cli("run", "--", "sh", "-c", "kill -9 $$", cwd=repo)
    assert proc.returncode == 128 + 9
    assert _only_run(repo)[1] == "KILLED"


def test_a_crash_by_signal_is_failed(repo: Path) -> None:
    proc = gitrun_cli("run", "--", "sh", "-c", "kill -SEGV $$", cwd=repo)
    assert proc.returncode == 128 + int(signal.SIGSEGV)
    assert _only_run(repo)[1] == "FAILED"


def test_sigkill_of_gitrun_kills_the_command_and_the_run_reads_killed(repo: Path) -> None:
    (repo / "child.py").write_text(
        "import os, pathlib, time\npathlib.Path('pid').write_text(str(os.getpid()))\ntime.sleep(60)\n"
    )
    proc = _spawn(repo, "run", "--", sys.executable, "child.py")
    child = int(_wait_for(repo / "pid"))
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    deadline = time.monotonic() + 10
    while pid_alive(child) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not pid_alive(child), "the command outlived gitrun"
    assert _only_run(repo)[1] == "KILLED"


def test_a_chatty_command_is_streamed_whole_and_kept_within_the_cap(repo: Path) -> None:
    (repo / "chatty.py").write_text(
        textwrap.dedent(
            """
            import sys
            for i in range(40000):
                line = f"{i:06d} " + "x" * 93 + "\\n"
                (sys.stdout if i % 2 == 0 else sys.stderr).write(line)
            """
        )
    )
    proc = _spawn(repo, "run", "-q", "--output-cap", "64KiB", "--", sys.executable, "chatty.py")
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err[-2000:]
    expected_out = "".join(f"{i:06d} " + "x" * 93 + "\n" for i in range(0, 40000, 2))
    expected_err = "".join(f"{i:06d} " + "x" * 93 + "\n" for i in range(1, 40000, 2))
    assert out == expected_out and err == expected_err  # all of it, in order, nothing of gitrun's
    run_id, _, tags = _only_run(repo)
    kept = (repo / ".gitrun/experiments/default/runs" / run_id / "artifacts/gitrun/stdout.txt").read_text()
    half = 32 * 1024
    left_out = len(expected_out) - 2 * half
    assert kept.startswith(expected_out[:half] + f"\n[gitrun: {left_out} bytes left out here")
    assert kept.endswith("]\n" + expected_out[-half:])
    assert f"gitrun/stdout.txt: {len(expected_out)} bytes, {left_out} left out" in tags["gitrun.output"]


def test_a_script_calling_start_run_logs_into_the_same_run(repo: Path) -> None:
    (repo / "train.py").write_text(
        textwrap.dedent(
            """
            import gitrun as mlflow
            with mlflow.start_run() as run:
                mlflow.log_param("lr", 0.1)
                mlflow.log_metric("acc", 0.9)
            print(run.info.run_id)
            """
        )
    )
    proc = gitrun_cli(
        "run", "--experiment-name", "iris", "--run-name", "first", "--", sys.executable, "train.py", cwd=repo
    )
    assert proc.returncode == 0, proc.stderr
    record = next(Store(repo / ".gitrun").iter_runs())
    assert proc.stdout.strip() == record.run_id
    assert record.status == "FINISHED" and record.run_name == "first"
    assert record.params == {"lr": "0.1"} and record.metrics == {"acc": 0.9}
    assert Store(repo / ".gitrun").get_experiment(record.experiment_id).name == "iris"


def test_a_script_that_ends_its_run_but_exits_non_zero_fails_the_run(repo: Path) -> None:
    (repo / "train.py").write_text(
        "import gitrun\nwith gitrun.start_run():\n    gitrun.log_metric('m', 1)\nraise SystemExit(2)\n"
    )
    proc = gitrun_cli("run", "--", sys.executable, "train.py", cwd=repo)
    assert proc.returncode == 2
    assert _only_run(repo)[1] == "FAILED"


def test_gitrun_run_inside_a_tracked_command_is_its_child_run(repo: Path) -> None:
    inner = json.dumps(_gitrun("run", "-q", "--", "true"))
    proc = gitrun_cli(
        "run", "--", sys.executable, "-c", f"import subprocess; subprocess.run({inner}, check=True)", cwd=repo
    )
    assert proc.returncode == 0, proc.stderr
    records = {r.run_id: r for r in Store(repo / ".gitrun").iter_runs()}
    assert len(records) == 2
    child = next(r for r in records.values() if r.tags.get("mlflow.parentRunId"))
    assert child.tags["mlflow.parentRunId"] in records and child.status == "FINISHED"


def test_in_a_terminal_the_command_reads_it_and_ctrl_c_reaches_it(repo: Path) -> None:
    import pty

    (repo / "ask.py").write_text(
        "import time\nname = input('name? ')\nprint('hello ' + name, flush=True)\ntime.sleep(60)\n"
    )
    leader, follower = pty.openpty()

    def own_terminal() -> None:  # gitrun is a session leader with the pty as its controlling terminal
        import fcntl
        import termios

        os.setsid()
        fcntl.ioctl(0, termios.TIOCSCTTY, 0)

    proc = subprocess.Popen(
        _gitrun("run", "-q", "--", sys.executable, "ask.py"),
        cwd=repo,
        stdin=follower,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        preexec_fn=own_terminal,
    )
    os.close(follower)
    assert proc.stdout is not None
    seen = b""
    deadline = time.monotonic() + 30
    os.write(leader, b"ada\n")
    while b"hello ada" not in seen and time.monotonic() < deadline:
        seen += proc.stdout.read1(100)  # type: ignore[attr-defined]
    assert b"hello ada" in seen
    os.write(leader, b"\x03")  # Ctrl-C, as typed: the terminal signals its foreground group
    proc.wait(timeout=30)
    os.close(leader)
    assert proc.returncode == 130
    assert _only_run(repo)[1] == "KILLED"


def test_run_id_logs_into_an_existing_run(repo: Path) -> None:
    from tests.helpers import log_runs

    (run_id,) = log_runs(repo, [{"name": "made-before", "params": {"lr": "0.1"}}])
    proc = gitrun_cli("run", "--run-id", run_id, "--", sys.executable, "-c", "print('again')", cwd=repo)
    assert proc.returncode == 0, proc.stderr
    record = Store(repo / ".gitrun").read_run(run_id)
    assert record.status == "FINISHED" and record.params == {"lr": "0.1"}
    assert record.tags["gitrun.exit_status"] == "0" and record.run_name == "made-before"
    assert (record.run_dir / "artifacts/gitrun/stdout.txt").read_text() == "again\n"
    assert len(list(Store(repo / ".gitrun").iter_runs())) == 1
