"""A barrage of hostile requests at a real ``gitrun serve``: random bytes, deep nesting, huge numbers,
10,000 columns, slowloris-style partial headers and bodies. Every request gets an answer in MLflow's
error shape (or the connection is closed on a deadline), ``/ping`` answers throughout and after,
and the server's memory stays bounded."""

from __future__ import annotations

import json
import random
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers.serving import Server, save_models, start

pytestmark = pytest.mark.slow

COLUMNS = ["sepal length (cm)", "sepal width (cm)", "petal length (cm)", "petal width (cm)"]
TIMEOUT = 2.0


@pytest.fixture(scope="module")
def iris(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    folder: Path = tmp_path_factory.mktemp("serve-models")
    save_models(folder)
    server = start(["iris", "--timeout", str(TIMEOUT), "--max-body", "4MiB"], cwd=folder)
    yield server
    assert server.stop() == 0


def assert_error(reply_status: int, body: bytes, statuses: tuple[int, ...] = (400,)) -> None:
    assert reply_status in statuses, (reply_status, body[:300])
    if reply_status != 200:
        payload = json.loads(body)
        assert set(payload) == {"error_code", "message", "sqlstate", "error_class"}
        assert len(payload["message"]) < 2000 and "Traceback" not in payload["message"]


def test_hostile_bodies_are_400_and_the_server_stays_up(iris: Server) -> None:
    rng = random.Random(15)
    assert iris.post(json.dumps({"inputs": [[5.1, 3.5, 1.4, 0.2]]})).status == 400  # warm (a tensor for a table)
    before = iris.rss_mb()
    for _ in range(3):  # the whole barrage three times: memory must not grow with it
        for content_type in ("application/json", "text/csv", "application/vnd.apache.parquet"):
            for size in (1, 100, 10_000, 1_000_000):
                reply = iris.post(rng.randbytes(size), content_type)
                assert_error(reply.status, reply.body)
        deep = "[" * 100_000 + "]" * 100_000
        for body in (deep, '{"inputs": ' + deep + "}", '{"dataframe_records": [' + "{" * 50_000 + "}]}"):
            reply = iris.post(body)
            assert_error(reply.status, reply.body)
        huge = [
            json.dumps({"dataframe_split": {"columns": COLUMNS, "data": [["1" + "0" * 5000, 1, 1, 1]]}}).replace(
                '"1' + "0" * 5000 + '"', "1" + "0" * 5000
            ),  # an integer of 5001 digits
            json.dumps({"dataframe_split": {"columns": COLUMNS, "data": [[1e308, -1e308, 1e-320, 0]]}}),
            '{"dataframe_split": {"columns": ' + json.dumps(COLUMNS) + ', "data": [[1e99999, 1, 1, 1]]}}',  # inf
            json.dumps({"dataframe_split": {"columns": COLUMNS, "data": [[float("nan"), 1, 1, 1]]}}),
        ]
        for body in huge:
            reply = iris.post(body)  # sklearn refuses inf and NaN itself: the model raising is a 500
            assert_error(reply.status, reply.body, (200, 400, 500))
            assert reply.status != 500 or reply.json()["error_class"] == "PREDICTION_FUNCTION_FAILED"
        wide = [f"c{i}" for i in range(10_000)]
        for body in (
            json.dumps({"dataframe_split": {"columns": wide, "data": [[1.0] * 10_000]}}),
            json.dumps({"dataframe_records": [dict.fromkeys(wide, 1.0)]}),
            json.dumps({"dataframe_split": {"columns": COLUMNS + wide, "data": [[1.0] * 10_004] * 20}}),
        ):
            reply = iris.post(body)
            assert_error(reply.status, reply.body, (200, 400))  # extra columns are ignored, as MLflow does
        many_rows = json.dumps({"dataframe_split": {"columns": COLUMNS, "data": [[5.1, 3.5, 1.4, 0.2]] * 50_000}})
        reply = iris.post(many_rows)
        assert reply.status == 200 and len(reply.json()["predictions"]) == 50_000
        assert iris.get("/ping").status == 200
    grown = iris.rss_mb() - before
    assert grown < 150, f"the server grew by {grown:.0f} MB over the barrage"
    reply = iris.post(json.dumps({"dataframe_split": {"columns": COLUMNS, "data": [[5.1, 3.5, 1.4, 0.2]]}}))
    assert (reply.status, reply.json()) == (200, {"predictions": [0]})


def test_slowloris_connections_are_cut_off_on_a_deadline(iris: Server) -> None:
    head = b"POST /invocations HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
    socks = []
    for i in range(60):
        sock = socket.create_connection(("127.0.0.1", iris.port), timeout=15)
        if i % 3 == 0:
            sock.sendall(head[:20])  # headers that never end
        elif i % 3 == 1:
            sock.sendall(head + b"Content-Length: 1000\r\n\r\n" + b'{"inputs": [')  # a body that never ends
        else:
            sock.sendall(head + b'Transfer-Encoding: chunked\r\n\r\n5\r\n{"inp')  # a chunked one
        socks.append(sock)
    started = time.monotonic()
    for _ in range(5):  # the server answers others meanwhile
        assert iris.get("/ping").status == 200
    closed_at = []
    for sock in socks:
        answer = b""
        while chunk := sock.recv(65536):  # until the server closes the connection
            answer += chunk
        closed_at.append(time.monotonic() - started)
        if answer:  # a partial body is answered 504 (its time ran out), then closed
            assert answer.startswith(b"HTTP/1.1 504"), answer[:100]
        sock.close()
    assert max(closed_at) < TIMEOUT + 5, closed_at
    assert iris.get("/ping").status == 200
