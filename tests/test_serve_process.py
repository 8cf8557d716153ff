"""The ``gitrun serve`` process: SIGTERM during a request drains it and exits 0, ``--workers`` forks
workers that are restarted when one dies, the 0.0.0.0 warning, a busy port."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import gitrun_cli
from tests.helpers.serving import Reply, save_models, start

pytestmark = pytest.mark.slow

SLOW = json.dumps({"dataframe_records": [{"x": 1.0}], "params": {"mode": "sleep", "seconds": 1.5}})


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("serve-models")
    save_models(folder)
    return folder


def children(pid: int) -> list[int]:
    out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True).stdout
    return [int(p) for p in out.split()]


def test_sigterm_during_a_request_answers_it_then_exits_0(models: Path) -> None:
    server = start(["tricks"], cwd=models)
    replies: list[Reply] = []
    request = threading.Thread(target=lambda: replies.append(server.post(SLOW)))
    request.start()
    time.sleep(0.5)  # the prediction is sleeping
    server.proc.send_signal(signal.SIGTERM)
    request.join(timeout=30)
    assert server.proc.wait(timeout=30) == 0
    (reply,) = replies
    assert (reply.status, reply.json()) == (200, {"predictions": [1.0]})
    assert server.out[-1] == "Stopped."
    with pytest.raises(OSError):  # and it no longer listens
        socket.create_connection(("127.0.0.1", server.port), timeout=2).close()


def test_workers_are_forked_and_restarted(models: Path) -> None:
    server = start(["tricks", "--workers", "2"], cwd=models)
    try:
        workers = children(server.proc.pid)
        assert len(workers) == 2
        results: list[Any] = []
        threads = [threading.Thread(target=lambda: results.append(server.post(SLOW).status)) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=30)
        assert results == [200] * 4
        os.kill(workers[0], signal.SIGKILL)  # a worker dies: another takes its place
        deadline = time.monotonic() + 20
        now = children(server.proc.pid)
        while time.monotonic() < deadline and (len(now) < 2 or workers[0] in now):
            time.sleep(0.1)
            now = children(server.proc.pid)
        assert len(now) == 2 and workers[0] not in now and workers[1] in now
        for _ in range(10):
            assert server.get("/ping").status == 200
    finally:
        assert server.stop() == 0
    assert children(server.proc.pid) == []
    assert any("exited" in line and "starting another" in line for line in server.err)


def test_every_interface_warns_that_there_is_no_authentication(models: Path) -> None:
    server = start(["tricks", "--host", "0.0.0.0"], cwd=models)
    try:
        assert server.get("/ping").status == 200
    finally:
        assert server.stop() == 0
    assert any("gitrun serve has no authentication" in line for line in server.err)
    quiet = start(["tricks"], cwd=models)
    assert quiet.stop() == 0
    assert not any("authentication" in line for line in quiet.err)


def test_a_busy_port_is_one_error_line(models: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = gitrun_cli("serve", "tricks", "--port", str(port), cwd=models)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stderr.splitlines()[-1].startswith(
        f"Error: cannot listen on 127.0.0.1:{port}: Address already in use"
    )


def test_local_warns_about_requirements_that_differ_from_the_installed_versions(models: Path, tmp_path: Path) -> None:
    import shutil

    folder = tmp_path / "pinned"
    shutil.copytree(models / "tricks", folder)
    (folder / "requirements.txt").write_text("cloudpickle==0.0.1\n")
    server = start([str(folder)], cwd=models)
    try:
        assert server.post(json.dumps({"dataframe_records": [{"x": 1.0}]})).json() == {"predictions": [2.0]}
    finally:
        assert server.stop() == 0
    warning = next(line for line in server.err if "saved with other versions of packages" in line)
    assert "cloudpickle==0.0.1" in warning
