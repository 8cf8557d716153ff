"""``gitrun serve --watch``: a stage URI follows promotions (Git tags) while requests keep coming, with
no failed request; requests in flight finish on the old model; a version that fails to load leaves
the old one serving and says so on ``/health``; ``--fetch`` follows an origin's tags.

The registry (issue 14) had not landed when these were written: a test-only resolver plugin,
plugged in through the real ``gitrun_resolve_model_uri`` hook, maps ``NAME#STAGE`` to what the stage's
latest Git tag points to (tests/helpers/serving.py). The server only sees the hook and the refs."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest

from tests.helpers import python_ok, run_git
from tests.helpers.serving import SAVE_VERSIONS, Client, install_tag_resolver, promote, start, wait_for

pytestmark = pytest.mark.slow

ONE_ROW = json.dumps({"dataframe_records": [{"x": 1.0}]})


@pytest.fixture
def versions(repo: Path, tmp_path: Path) -> dict[str, str]:
    """v1 in stage prod; the env that plugs the stand-in registry in."""
    folder = tmp_path / "versions"
    folder.mkdir()
    python_ok(SAVE_VERSIONS, folder)
    site = install_tag_resolver(tmp_path / "site")
    promote(repo, "iris", "prod", "v1")
    from tests.helpers import ROOT

    return {"PYTHONPATH": f"{site}:{ROOT}"}


def test_watch_follows_a_promotion_with_no_failed_request(repo: Path, versions: dict[str, str]) -> None:
    server = start(["iris#prod", "--watch", "--watch-interval", "0.2"], cwd=repo, env=versions)
    client = Client(server, ONE_ROW)
    try:
        assert server.get("/metadata").json()["stage"] == "prod"
        client.start()
        wait_for(lambda: len(client.seen) >= 20)
        # a slow request that starts on v1 finishes on v1, after the swap
        slow: list[object] = []
        body = json.dumps({"dataframe_records": [{"x": 1.0}], "params": {"seconds": 2.0}})
        in_flight = threading.Thread(target=lambda: slow.append(server.post(body)))
        in_flight.start()
        time.sleep(0.3)
        promote(repo, "iris", "prod", "v2")
        wait_for(lambda: any(v == "v2" for _, v, _ in client.seen[-5:]))
        in_flight.join(timeout=30)
        n = len(client.seen)
        wait_for(lambda: len(client.seen) >= n + 20)
    finally:
        client.stopped.set()
        client.join(timeout=30)
    assert all(status == 200 for status, _, _ in client.seen), [s for s in client.seen if s[0] != 200][:5]
    answered = [(version, value) for _, version, value in client.seen]
    switch = answered.index(("v2", 2.0))
    assert set(answered[:switch]) == {("v1", 1.0)} and set(answered[switch:]) == {("v2", 2.0)}  # one swap
    (old,) = slow
    assert old.status == 200 and old.headers["x-gitrun-model-version"] == "v1"  # type: ignore[attr-defined]
    assert old.json() == {"predictions": [1.0]}  # type: ignore[attr-defined]
    metadata = server.get("/metadata").json()
    assert (metadata["version"], metadata["stage"], metadata["name"]) == ("v2", "prod", "iris")
    assert metadata["commit"] == run_git(repo, "rev-parse", "HEAD").stdout.strip()
    # a version that does not load: v2 goes on answering, /health says why
    promote(repo, "iris", "prod", "broken")
    wait_for(lambda: server.get("/health").body != b"\n")
    health = server.get("/health")
    assert health.status == 200  # the server still serves (MLflow's /health failing means nothing loaded)
    problem = health.json()
    assert problem["status"] == "degraded" and problem["serving"] == "v2" and "broken" in problem["error"]
    assert server.post(ONE_ROW).json() == {"predictions": [2.0]}
    # promoting a good version again clears it
    promote(repo, "iris", "prod", "v1")
    wait_for(lambda: server.post(ONE_ROW).headers["x-gitrun-model-version"] == "v1")
    assert server.get("/health").body == b"\n"
    assert server.stop() == 0
    log = "\n".join(server.err)
    assert "iris#prod: now serving v2 (was v1)" in log and "broken failed to load" in log


def test_fetch_follows_the_tags_of_origin(repo: Path, origin: Path, versions: dict[str, str], tmp_path: Path) -> None:
    run_git(repo, "push", "-q", "origin", "HEAD:main", "--tags")
    clone = tmp_path / "clone"
    run_git(tmp_path, "clone", "-q", str(origin), str(clone))
    args = ["iris#prod", "--watch", "--fetch", "--fetch-interval", "0.3", "--watch-interval", "0.2"]
    server = start(args, cwd=clone, env=versions)
    try:
        assert server.post(ONE_ROW).headers["x-gitrun-model-version"] == "v1"
        promote(repo, "iris", "prod", "v2")
        run_git(repo, "push", "-q", "origin", "HEAD:main", "--tags")
        wait_for(lambda: server.post(ONE_ROW).headers["x-gitrun-model-version"] == "v2")
        assert server.post(ONE_ROW).json() == {"predictions": [2.0]}
    finally:
        assert server.stop() == 0


def test_a_fixed_uri_is_never_reloaded(repo: Path, versions: dict[str, str], tmp_path: Path) -> None:
    folder = str(tmp_path / "versions" / "v1")
    server = start([folder, "--watch", "--watch-interval", "0.1"], cwd=repo, env=versions)
    try:
        before = server.get("/metadata").json()["loaded_at"]
        promote(repo, "iris", "prod", "v2")  # the refs change; the folder is the same model
        time.sleep(1.0)
        assert server.get("/metadata").json()["loaded_at"] == before
        assert server.post(ONE_ROW).json() == {"predictions": [1.0]}
    finally:
        assert server.stop() == 0
    assert "now serving" not in "\n".join(server.err)
