"""Serving (issue 15): ``gitrun serve`` and ``mlflow models serve --env-manager local`` side by side in
one run, on the same iris model folder, client and server on this machine.

    python bench/bench_serve.py [--quick] [--json OUT] [--write-results]

- Start to the first successful ``GET /ping`` (the process started by the bench). Target: <= 2 s.
- One-row iris ``/invocations``, sequential on one keep-alive connection: p50 and p99 latency.
  Targets: p50 <= 1.5 ms, p99 <= 5 ms.
- Throughput with 8 concurrent connections, one worker. Target: >= 2x MLflow's requests per second.
- The same with ``gitrun serve --workers 2`` (reported: this machine has few cores, and the load
  generator shares them).

The load generator is an asyncio loop on aiohttp (a maintained HTTP client), with a bounded number
of requests; every answer is checked (status 200, the expected prediction). Each server is started
fresh for its measurements and stopped with SIGTERM.

``--write-results`` replaces this benchmark's section of bench/RESULTS.md (below the keep marker).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import platform
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

from stores import RUN_ENV, write_section  # noqa: E402

BEGIN = "<!-- serve: begin (written by bench/bench_serve.py --write-results) -->"
END = "<!-- serve: end -->"


SAVE = """
import warnings
warnings.filterwarnings("ignore")
import gitrun
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression
X, y = load_iris(return_X_y=True, as_frame=True)
gitrun.sklearn.save_model(LogisticRegression(max_iter=500).fit(X, y), "iris", input_example=X.head(3))
"""

BODY = json.dumps(
    {
        "dataframe_split": {
            "columns": ["sepal length (cm)", "sepal width (cm)", "petal length (cm)", "petal width (cm)"],
            "data": [[5.1, 3.5, 1.4, 0.2]],
        }
    }
).encode()
EXPECTED = {"predictions": [0]}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start(system: str, model_dir: Path, workers: int = 1) -> tuple[subprocess.Popen[bytes], str, float]:
    """Start a server; return it, its URL and the seconds from the start to the first 200 on /ping."""
    port = free_port()
    if system == "gitrun":
        cmd = [sys.executable, "-m", "gitrun", "serve", str(model_dir), "--port", str(port), "--workers", str(workers)]
        env = RUN_ENV
    else:
        cmd = [sys.executable, "-m", "mlflow", "models", "serve", "-m", str(model_dir)]
        cmd += ["--env-manager", "local", "-h", "127.0.0.1", "-p", str(port), "-w", str(workers)]
        # mlflow runs `uvicorn` from PATH: this interpreter's (its HTTP parser and loop, as gitrun's)
        env = {**RUN_ENV, "PYTHONPATH": "", "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    url = f"http://127.0.0.1:{port}"
    started = time.perf_counter()
    proc = subprocess.Popen(
        cmd, cwd=model_dir.parent, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    deadline = started + 120
    while time.perf_counter() < deadline:
        try:
            with urllib.request.urlopen(url + "/ping", timeout=1) as reply:
                if reply.status == 200:
                    return proc, url, time.perf_counter() - started
        except OSError:
            pass
        if proc.poll() is not None:
            raise SystemExit(f"{system} serve exited {proc.returncode}")
        time.sleep(0.01)
    stop(proc)
    raise SystemExit(f"{system} serve did not answer /ping within 120 s")


def stop(proc: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=60)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


async def _load(url: str, requests: int, connections: int) -> tuple[list[float], float]:
    """``requests`` POSTs over ``connections`` keep-alive connections: each latency, and the wall time."""
    import aiohttp

    latencies: list[float] = []
    remaining = requests
    connector = aiohttp.TCPConnector(limit=connections, force_close=False)
    headers = {"Content-Type": "application/json"}
    async with aiohttp.ClientSession(connector=connector) as session:

        async def worker() -> None:
            nonlocal remaining
            while remaining > 0:
                remaining -= 1
                t = time.perf_counter()
                async with session.post(url + "/invocations", data=BODY, headers=headers) as reply:
                    body = await reply.read()
                latencies.append(time.perf_counter() - t)
                if reply.status != 200 or json.loads(body) != EXPECTED:
                    raise SystemExit(f"unexpected answer {reply.status}: {body[:200]!r}")

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(connections)))
        return latencies, time.perf_counter() - started


def load(url: str, requests: int, connections: int, warmup: int = 200) -> dict[str, float]:
    asyncio.run(_load(url, warmup, connections))
    latencies, wall = asyncio.run(_load(url, requests, connections))
    ordered = sorted(latencies)
    return {
        "p50_ms": 1000 * statistics.median(ordered),
        "p99_ms": 1000 * ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))],
        "rps": requests / wall,
        "requests": requests,
    }


def measure(model_dir: Path, sequential: int, concurrent: int) -> dict[str, Any]:
    results: dict[str, Any] = {}
    for system, workers in (("mlflow", 1), ("gitrun", 1), ("gitrun", 2), ("mlflow", 2)):
        key = f"{system}-w{workers}"
        try:
            proc, url, ready = start(system, model_dir, workers)
        except SystemExit as exc:
            if key != "mlflow-w2":
                raise
            results[key] = {"error": str(exc)}  # reported beside gitrun's, not a target
            print(key, exc, flush=True)
            continue
        try:
            time.sleep(0.5)  # let the workers settle
            entry: dict[str, Any] = {"start_to_ping_s": ready}
            if workers == 1:
                entry["sequential"] = load(url, sequential, 1)
            entry["concurrent8"] = load(url, concurrent, 8)
            results[key] = entry
        finally:
            stop(proc)
        print(key, json.dumps(entry), flush=True)
    return results


def report(results: dict[str, Any], quick: bool) -> str:
    g, m, g2, m2 = (results[k] for k in ("gitrun-w1", "mlflow-w1", "gitrun-w2", "mlflow-w2"))
    m2_rps = f"{m2['concurrent8']['rps']:.0f}" if "concurrent8" in m2 else f"({m2['error']})"
    gs, ms = g["sequential"], m["sequential"]
    ratio = g["concurrent8"]["rps"] / m["concurrent8"]["rps"]
    scale = g2["concurrent8"]["rps"] / g["concurrent8"]["rps"]

    def ok(cond: bool) -> str:
        return "met" if cond else "**missed**"

    when = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        BEGIN,
        "## Serving (issue 15): `gitrun serve` vs `mlflow models serve --env-manager local`",
        "",
        f"`python bench/bench_serve.py{' --quick' if quick else ''} --write-results`, {when}, Python "
        f"{platform.python_version()}, {os.cpu_count()} cores, **machine shared with other jobs (loaded)**; "
        f"uvicorn's HTTP parser {http_parser()} and event loop {event_loop()} for both servers; "
        "client (aiohttp asyncio loop) and server on the same cores. One-row iris `dataframe_split`, "
        f"{gs['requests']} sequential requests and {g['concurrent8']['requests']} over 8 connections per case, "
        "after 200 warm-up requests; every answer checked.",
        "",
        "| measure | gitrun | MLflow | target | |",
        "|---|---|---|---|---|",
        f"| start to first /ping | {g['start_to_ping_s']:.2f} s | {m['start_to_ping_s']:.2f} s | <= 2 s | "
        f"{ok(g['start_to_ping_s'] <= 2)} |",
        f"| sequential p50 | {gs['p50_ms']:.2f} ms | {ms['p50_ms']:.2f} ms | <= 1.5 ms | {ok(gs['p50_ms'] <= 1.5)} |",
        f"| sequential p99 | {gs['p99_ms']:.2f} ms | {ms['p99_ms']:.2f} ms | <= 5 ms | {ok(gs['p99_ms'] <= 5)} |",
        f"| sequential req/s | {gs['rps']:.0f} | {ms['rps']:.0f} | | |",
        f"| 8 connections, 1 worker, req/s | {g['concurrent8']['rps']:.0f} | {m['concurrent8']['rps']:.0f} | "
        f">= 2x MLflow | {ok(ratio >= 2)} ({ratio:.1f}x) |",
        f"| 8 connections, 2 workers, req/s | {g2['concurrent8']['rps']:.0f} | {m2_rps} | "
        f"reported | {scale:.2f}x one gitrun worker |",
        f"| 8 connections, 1 worker, p50 / p99 | {g['concurrent8']['p50_ms']:.1f} / {g['concurrent8']['p99_ms']:.1f} ms | "
        f"{m['concurrent8']['p50_ms']:.1f} / {m['concurrent8']['p99_ms']:.1f} ms | | |",
        "",
        END,
        "",
    ]
    return "\n".join(lines)


def http_parser() -> str:
    import importlib.util

    return "httptools" if importlib.util.find_spec("httptools") else "h11"


def event_loop() -> str:
    import importlib.util

    return "uvloop" if importlib.util.find_spec("uvloop") else "asyncio"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="fewer requests (a smoke run)")
    p.add_argument("--json", type=Path, default=None)
    p.add_argument("--write-results", action="store_true", help="update this benchmark's section of bench/RESULTS.md")
    args = p.parse_args(argv)
    sequential, concurrent = (300, 800) if args.quick else (2000, 4000)
    with tempfile.TemporaryDirectory(prefix="gitrun-bench-serve-") as tmp:
        work = Path(tmp)
        subprocess.run([sys.executable, "-c", SAVE], cwd=work, env=RUN_ENV, check=True)
        results = measure(work / "iris", sequential, concurrent)
    text = report(results, args.quick)
    print(text)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2, sort_keys=True))
    if args.write_results:
        write_section(HERE / "RESULTS.md", BEGIN, END, text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
