"""Helpers of the serving tests: a real ``gitrun serve`` (or ``mlflow models serve``) process on
127.0.0.1, and plain HTTP requests to it (``http.client``: nothing between the test and the socket)."""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.helpers import ROOT

READY = "Serving "  # gitrun serve's first line: "Serving URI (version V) at http://HOST:PORT ..."

# Models the serving tests use, saved in a fresh interpreter (a user's training script: the
# PythonModel class lives in __main__, so cloudpickle keeps it by value).
SAVE_MODELS = """
import json, sys, time, warnings
warnings.filterwarnings("ignore")
import numpy as np, pandas as pd
import gitrun
from gitrun.models import infer_signature
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression

X, y = load_iris(return_X_y=True, as_frame=True)
iris = LogisticRegression(max_iter=500).fit(X, y)
gitrun.sklearn.save_model(iris, "iris", input_example=X.head(3))

class Tricks(gitrun.pyfunc.PythonModel):
    # What the tests need a model to do, chosen by the `mode` param.
    def predict(self, context, model_input, params=None):
        import time
        import numpy as np, pandas as pd
        params = params or {}
        x = model_input["x"].to_numpy()
        mode = params.get("mode", "double")
        if mode == "double":
            return x * 2
        if mode == "sleep":
            time.sleep(params.get("seconds", 0.0))
            return x
        if mode == "raise":
            raise ValueError("the model refuses: internal detail 42")
        if mode == "nan":
            return np.array([float("nan"), float("inf"), 1.5])[: len(x)]
        if mode == "strings":
            return np.array(["setosa", "versicolor", "ünïcode"])[: len(x)]
        if mode == "matrix":
            return np.stack([x, x + 1], axis=1)
        if mode == "frame":
            return pd.DataFrame({"value": x, "label": ["a"] * len(x), "flag": x > 1})
        if mode == "scalars":
            return [np.float32(v) for v in x] + [np.int64(7)]
        raise KeyError(mode)

frame = pd.DataFrame({"x": [1.0, 2.0, 3.0]})
signature = infer_signature(frame, np.array([2.0, 4.0, 6.0]), params={"mode": "double", "seconds": 0.0})
gitrun.pyfunc.save_model("tricks", python_model=Tricks(), signature=signature, input_example=frame)
print(json.dumps({"iris": iris.predict(X.head(5)).tolist(), "iris_rows": X.head(5).values.tolist(), "columns": list(X.columns)}))
"""


def save_models(dest: Path) -> dict[str, Any]:
    """Save the iris and tricks models under ``dest``; what iris predicts on its first rows."""
    from tests.helpers import python_ok

    dest.mkdir(parents=True, exist_ok=True)
    return dict(json.loads(python_ok(SAVE_MODELS, dest).strip().splitlines()[-1]))


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "")

    def json(self) -> Any:
        return json.loads(self.body)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    """A server process: its URL, and what it printed (stdout lines, stderr lines)."""

    proc: subprocess.Popen[str]
    url: str = ""
    out: list[str] = field(default_factory=list)
    err: list[str] = field(default_factory=list)

    @property
    def port(self) -> int:
        return int(self.url.rsplit(":", 1)[1])

    def request(
        self,
        method: str,
        path: str,
        body: bytes | str | None = None,
        content_type: str | None = "application/json",
        headers: dict[str, str] | None = None,
        timeout: float = 30,
    ) -> Reply:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            sent = dict(headers or {})
            if content_type is not None:
                sent["Content-Type"] = content_type
            data = body.encode("utf-8") if isinstance(body, str) else body
            conn.request(method, path, body=data, headers=sent)
            response = conn.getresponse()
            return Reply(response.status, {k.lower(): v for k, v in response.getheaders()}, response.read())
        finally:
            conn.close()

    def post(self, body: bytes | str, content_type: str | None = "application/json", **kw: Any) -> Reply:
        return self.request("POST", "/invocations", body, content_type, **kw)

    def get(self, path: str) -> Reply:
        return self.request("GET", path, content_type=None)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        return self.proc.wait(timeout=timeout)

    def rss_mb(self) -> float:
        """The resident memory of the server process (Linux /proc), in MB."""
        status = Path(f"/proc/{self.proc.pid}/status").read_text()
        line = next(x for x in status.splitlines() if x.startswith("VmRSS:"))
        return int(line.split()[1]) / 1024


def _pump(stream: Any, into: list[str]) -> None:
    for line in stream:
        into.append(line.rstrip("\n"))


def start(args: list[str], cwd: Path, env: dict[str, str] | None = None, timeout: float = 90) -> Server:
    """``gitrun serve ARGS`` on a free port of 127.0.0.1 (unless ARGS name one); returns once it listens."""
    if "--port" not in args and "-p" not in args:
        args = [*args, "--port", "0"]
    full_env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1", **(env or {})}
    proc = subprocess.Popen(
        [sys.executable, "-m", "gitrun", "serve", *args],
        cwd=cwd,
        env=full_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
    )
    server = Server(proc)
    threading.Thread(target=_pump, args=(proc.stdout, server.out), daemon=True).start()
    threading.Thread(target=_pump, args=(proc.stderr, server.err), daemon=True).start()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready = [line for line in server.out if line.startswith(READY)]
        if ready:
            server.url = ready[0].split(" at ", 1)[1].split()[0]
            return server
        if proc.poll() is not None:
            time.sleep(0.2)  # let the pumps read the last lines
            raise AssertionError(f"gitrun serve exited {proc.returncode}:\n" + "\n".join(server.out + server.err))
        time.sleep(0.05)
    proc.kill()
    raise AssertionError("gitrun serve did not start in time:\n" + "\n".join(server.out + server.err))


def start_mlflow(model_dir: Path, cwd: Path, timeout: float = 120) -> Server:
    """``mlflow models serve -m MODEL_DIR --env-manager local`` on a free port; returns once /ping answers."""
    from tests.helpers.models import MLFLOW_ENV

    port = free_port()
    env = {**os.environ, **MLFLOW_ENV, "PYTHONPATH": ""}
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])  # its uvicorn
    proc = subprocess.Popen(
        [
            str(Path(sys.executable).with_name("mlflow")),
            "models",
            "serve",
            "-m",
            str(model_dir),
            "--env-manager",
            "local",
            "-h",
            "127.0.0.1",
            "-p",
            str(port),
        ],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
        start_new_session=True,  # mlflow runs uvicorn through bash: stop the whole group
    )
    server = Server(proc, url=f"http://127.0.0.1:{port}")
    threading.Thread(target=_pump, args=(proc.stdout, server.out), daemon=True).start()
    threading.Thread(target=_pump, args=(proc.stderr, server.err), daemon=True).start()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"mlflow models serve exited {proc.returncode}:\n" + "\n".join(server.err[-30:]))
        try:
            if server.get("/ping").status == 200:
                return server
        except OSError:
            pass
        time.sleep(0.2)
    stop_group(server)
    raise AssertionError("mlflow models serve did not answer /ping in time:\n" + "\n".join(server.err[-30:]))


def stop_group(server: Server) -> None:
    """Stop a server started in its own session, and everything it started."""
    if server.proc.poll() is None:
        try:
            os.killpg(server.proc.pid, signal.SIGTERM)
            server.proc.wait(timeout=30)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            os.killpg(server.proc.pid, signal.SIGKILL)
            server.proc.wait(timeout=30)


# Two versions of one model (v1 answers 1.0 per row, v2 2.0), and a third that does not load; the
# `seconds` param makes a prediction sleep (a request in flight while the server swaps).
SAVE_VERSIONS = """
import sys, warnings
warnings.filterwarnings("ignore")
import pandas as pd
import gitrun
from gitrun.models import infer_signature

class Version(gitrun.pyfunc.PythonModel):
    def __init__(self, value):
        self.value = value

    def predict(self, context, model_input, params=None):
        import time
        time.sleep((params or {}).get("seconds", 0.0))
        return [self.value] * len(model_input)

frame = pd.DataFrame({"x": [1.0]})
signature = infer_signature(frame, [1.0], params={"seconds": 0.0})
for value in (1, 2):
    gitrun.pyfunc.save_model(f"v{value}", python_model=Version(float(value)), signature=signature)
gitrun.pyfunc.save_model("broken", python_model=Version(3.0), signature=signature)
open("broken/python_model.pkl", "wb").write(b"not a pickle")
"""

# A resolver plugin standing in for the registry (issue 14) in the --watch tests, plugged in through
# the real gitrun_resolve_model_uri hook (an entry point of a dist-info on PYTHONPATH). As GTO's, a
# promotion is a new tag, `stage/NAME/STAGE/N` (N counts up); `NAME#STAGE` is the one with the highest
# N, whose commit has `NAME.version` saying which version (a model folder beside the repository).
TAG_RESOLVER = """
import subprocess
from pathlib import Path
import pluggy

hookimpl = pluggy.HookimplMarker("gitrun")


@hookimpl
def gitrun_resolve_model_uri(uri, store, rev):
    if "#" not in uri:
        return None
    from gitrun.errors import ModelNotFoundError
    from gitrun.models.uri import ModelLocation

    name, stage = uri.split("#", 1)
    root = Path(store.root).parent
    listed = subprocess.run(["git", "tag", "--list", f"stage/{name}/{stage}/*"], cwd=root, capture_output=True, text=True)
    if not listed.stdout.split():
        raise ModelNotFoundError(f"{uri}: nothing in stage {stage}")
    tag = max(listed.stdout.split(), key=lambda t: int(t.rsplit("/", 1)[1]))
    shown = subprocess.run(["git", "show", f"refs/tags/{tag}:{name}.version"], cwd=root, capture_output=True, text=True)
    if shown.returncode != 0:
        raise ModelNotFoundError(f"{uri}: no tag {tag}")
    version = shown.stdout.strip()
    commit = subprocess.run(["git", "rev-parse", f"{tag}^{{commit}}"], cwd=root, capture_output=True, text=True)
    return ModelLocation(
        uri,
        local_dir=root.parent / "versions" / version,
        registered={"name": name, "version": version, "stage": stage},
        commit=commit.stdout.strip(),
    )
"""


def install_tag_resolver(site: Path) -> Path:
    """The stand-in registry as an installed plugin under ``site`` (put it on PYTHONPATH)."""
    site.mkdir(parents=True, exist_ok=True)
    (site / "gitrun_tag_resolver.py").write_text(TAG_RESOLVER)
    info = site / "gitrun_tag_resolver-0.1.0.dist-info"
    info.mkdir(exist_ok=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: gitrun-tag-resolver\nVersion: 0.1.0\n")
    (info / "entry_points.txt").write_text("[gitrun]\ntag_resolver = gitrun_tag_resolver\n")
    return site


def promote(repo: Path, name: str, stage: str, version: str) -> None:
    """Commit ``NAME.version`` saying ``version`` and tag it the stage's next promotion."""
    from tests.helpers import run_git

    (repo / f"{name}.version").write_text(version + "\n")
    run_git(repo, "add", f"{name}.version")
    run_git(repo, "commit", "-q", "-m", f"{name}: {version} to {stage}")
    count = len(run_git(repo, "tag", "--list", f"stage/{name}/{stage}/*").stdout.split())
    run_git(repo, "tag", f"stage/{name}/{stage}/{count + 1}")


def wait_for(predicate: object, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return
        time.sleep(0.05)
    raise AssertionError("timed out")


class Client(threading.Thread):
    """Sequential requests until stopped (at most ``limit``): each status and answering version."""

    def __init__(self, server: Server, body: str, limit: int = 20000):
        super().__init__(daemon=True)
        self.server, self.body, self.limit = server, body, limit
        self.seen: list[tuple[int, str, float]] = []
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.is_set() and len(self.seen) < self.limit:
            try:
                reply = self.server.post(self.body, timeout=10)
                value = reply.json()["predictions"][0] if reply.status == 200 else float("nan")
                self.seen.append((reply.status, reply.headers.get("x-gitrun-model-version", ""), value))
            except Exception as exc:  # a refused or reset connection is a failed request too
                self.seen.append((0, repr(exc), float("nan")))
