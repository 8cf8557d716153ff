"""``gitrun serve`` as MLflow's scoring protocol, against a real uvicorn process on 127.0.0.1: every
input format, the outputs as MLflow serializes them, the error table (status, content type, body),
413/415/504, and the routes beside /invocations."""

from __future__ import annotations

import io
import json
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from gitrun._version import __version__
from tests.helpers.serving import Server, save_models, start

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    folder = tmp_path_factory.mktemp("serve-models")
    return folder, save_models(folder)


@pytest.fixture(scope="module")
def iris(models: tuple[Path, dict[str, Any]]) -> Iterator[Server]:
    folder, _ = models
    server = start(["iris", "--timeout", "3", "--max-body", "64KiB"], cwd=folder)
    yield server
    assert server.stop() == 0


@pytest.fixture(scope="module")
def tricks(models: tuple[Path, dict[str, Any]]) -> Iterator[Server]:
    folder, _ = models
    server = start(["tricks", "--timeout", "2"], cwd=folder)
    yield server
    assert server.stop() == 0


def rows(models: tuple[Path, dict[str, Any]], n: int = 5) -> tuple[list[str], list[list[float]], list[int]]:
    facts = models[1]
    return facts["columns"], facts["iris_rows"][:n], facts["iris"][:n]


def test_every_input_format_gives_the_models_predictions(iris: Server, models: tuple[Path, dict[str, Any]]) -> None:
    import pandas as pd

    columns, data, expected = rows(models)
    records = [dict(zip(columns, row, strict=True)) for row in data]
    bodies = {
        "dataframe_split": json.dumps({"dataframe_split": {"columns": columns, "data": data}}),
        "dataframe_split with index": json.dumps(
            {"dataframe_split": {"columns": columns, "data": data, "index": list(range(10, 15))}}
        ),
        "dataframe_records": json.dumps({"dataframe_records": records}),
        "instances": json.dumps({"instances": records}),
        "inputs (columns)": json.dumps({"inputs": {c: [r[i] for r in data] for i, c in enumerate(columns)}}),
        "inputs + params": json.dumps({"dataframe_records": records, "params": {}}),
    }
    for name, body in bodies.items():
        reply = iris.post(body)
        assert (reply.status, reply.content_type, reply.json()) == (
            200,
            "application/json",
            {"predictions": expected},
        ), name
    frame = pd.DataFrame(data, columns=columns)
    for content_type in ("text/csv", "text/csv; charset=utf-8", "text/csv;charset=UTF-8"):
        reply = iris.post(frame.to_csv(index=False), content_type)
        assert (reply.status, reply.json()) == (200, {"predictions": expected}), content_type
    parquet = io.BytesIO()
    frame.to_parquet(parquet)
    reply = iris.post(parquet.getvalue(), "application/vnd.apache.parquet")
    assert (reply.status, reply.json()) == (200, {"predictions": expected})
    # ints where the signature says double convert, as MLflow converts them
    reply = iris.post(json.dumps({"dataframe_split": {"columns": columns, "data": [[5, 3, 1, 0]]}}))
    assert reply.status == 200 and reply.json()["predictions"] == [0]


@pytest.mark.parametrize(
    ("mode", "expected"),
    [
        ("double", "[2.0, 4.0, 6.0]"),
        ("nan", "[NaN, Infinity, 1.5]"),  # what MLflow's json.dump writes (not strict JSON, as MLflow)
        ("strings", '["setosa", "versicolor", "\\u00fcn\\u00efcode"]'),
        ("matrix", "[[1.0, 2.0], [2.0, 3.0], [3.0, 4.0]]"),
        (
            "frame",
            '[{"value": 1.0, "label": "a", "flag": false}, {"value": 2.0, "label": "a", "flag": true}, '
            '{"value": 3.0, "label": "a", "flag": true}]',
        ),
        ("scalars", "[1.0, 2.0, 3.0, 7]"),
    ],
)
def test_outputs_are_serialized_as_mlflow_does(tricks: Server, mode: str, expected: str) -> None:
    body = json.dumps({"dataframe_split": {"columns": ["x"], "data": [[1.0], [2.0], [3.0]]}, "params": {"mode": mode}})
    reply = tricks.post(body)
    assert reply.status == 200, reply.body
    assert reply.body.decode() == '{"predictions": ' + expected + "}"


COLUMNS = ["sepal length (cm)", "sepal width (cm)", "petal length (cm)", "petal width (cm)"]
ROW = [5.1, 3.5, 1.4, 0.2]
UNSUPPORTED = "This predictor only supports the following content types"
BAD = ("BAD_REQUEST", "KAM00", "INVALID_PARAMETER_VALUE")
SCHEMA = ("INVALID_PARAMETER_VALUE", "KAM01", "SCHEMA_ENFORCEMENT_FAILED")

# (name, content type, body, status, (error_code, sqlstate, error_class) or the text/plain body's start, a word of the message)
ERRORS: list[tuple[str, str | None, bytes | str, int, Any, str]] = [
    ("not JSON", "application/json", "{not json", 400, BAD, "valid JSON"),
    ("empty body", "application/json", "", 400, BAD, "valid JSON"),
    ("a list", "application/json", "[1, 2]", 400, BAD, "Received a list"),
    ("a number", "application/json", "3", 400, BAD, "exactly one of the input fields"),
    (
        "two format keys",
        "application/json",
        json.dumps({"inputs": [ROW], "instances": [ROW]}),
        400,
        BAD,
        "['inputs', 'instances']",
    ),
    ("no format key", "application/json", json.dumps({"data": [ROW]}), 400, BAD, "['data']"),
    (
        "split not a mapping",
        "application/json",
        json.dumps({"dataframe_split": {"columns": COLUMNS, "data": 5}}),
        400,
        BAD,
        "dataframe_split",
    ),
    ("records not a list", "application/json", json.dumps({"dataframe_records": 5}), 400, BAD, "list of records"),
    (
        "params not a mapping",
        "application/json",
        json.dumps({"dataframe_records": [dict(zip(COLUMNS, ROW, strict=True))], "params": 5}),
        400,
        BAD,
        "params",
    ),
    (
        "a missing column",
        "application/json",
        json.dumps({"dataframe_split": {"columns": COLUMNS[:3], "data": [ROW[:3]]}}),
        400,
        SCHEMA,
        "petal width (cm)",
    ),
    (
        "text in a double column",
        "application/json",
        json.dumps({"dataframe_split": {"columns": COLUMNS, "data": [["a", 3.5, 1.4, 0.2]]}}),
        400,
        BAD,
        "sepal length (cm)",
    ),
    ("a tensor for a table", "application/json", json.dumps({"inputs": [[1, 2]]}), 400, SCHEMA, "missing"),
    ("invalid UTF-8", "application/json", b"\xff\xfe{", 400, BAD, "valid JSON"),
    ("CSV of text", "text/csv", ",".join(COLUMNS) + "\nx,y,z,w\n", 400, BAD, "CSV"),
    ("CSV not UTF-8", "text/csv", b"a\n\xff\n", 400, BAD, "UTF-8"),
    ("not Parquet", "application/vnd.apache.parquet", "notparquet", 400, BAD, "Parquet"),
    ("another charset", "application/json; charset=latin-1", "{}", 415, "The scoring server only supports UTF-8", ""),
    ("an unknown parameter", "application/json; foo=bar", "{}", 415, "Unrecognized content type parameters: foo", ""),
    ("XML", "application/xml", "<a/>", 415, UNSUPPORTED, "application/xml"),
    ("plain text", "text/plain", "hi", 415, UNSUPPORTED, "text/plain"),
    ("no content type", None, "{}", 415, UNSUPPORTED, "no Content-Type"),
]


@pytest.mark.parametrize(
    ("name", "content_type", "body", "status", "error", "word"), ERRORS, ids=[e[0] for e in ERRORS]
)
def test_the_error_table(
    iris: Server, name: str, content_type: str | None, body: bytes | str, status: int, error: Any, word: str
) -> None:
    reply = iris.post(body, content_type)
    assert reply.status == status
    if status == 415:
        assert reply.content_type == "text/plain; charset=utf-8"
        assert reply.body.decode().startswith(error) and word in reply.body.decode()
        return
    assert reply.content_type == "application/json"
    payload = reply.json()
    assert set(payload) == {"error_code", "message", "sqlstate", "error_class"}  # MLflow's keys, no stack trace
    assert (payload["error_code"], payload["sqlstate"], payload["error_class"]) == error
    assert word in payload["message"]
    assert iris.get("/ping").status == 200


def test_a_body_over_max_body_is_refused_before_it_is_read(iris: Server) -> None:
    import socket

    # Content-Length says 1 GB: 413 at once, and the connection is closed (the body is never read).
    with socket.create_connection(("127.0.0.1", iris.port), timeout=10) as sock:
        sock.sendall(
            b"POST /invocations HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: 1000000000\r\n\r\n" + b"[" * 1000
        )
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 413") and b"connection: close" in head.lower()
    payload = json.loads(body)
    assert payload["error_code"] == "REQUEST_LIMIT_EXCEEDED" and "--max-body" in payload["message"]
    # A chunked body (no Content-Length) is cut off as soon as it passes the limit.
    with socket.create_connection(("127.0.0.1", iris.port), timeout=10) as sock:
        sock.sendall(
            b"POST /invocations HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
        )
        chunk = b"a" * 16384
        for _ in range(5):  # 80 KiB, past the 64 KiB limit
            sock.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        answer = sock.recv(65536)
    assert answer.startswith(b"HTTP/1.1 413")
    assert iris.get("/ping").status == 200


def test_a_request_over_the_timeout_is_504_and_the_server_goes_on(tricks: Server) -> None:
    import time

    slow = json.dumps({"dataframe_records": [{"x": 1.0}], "params": {"mode": "sleep", "seconds": 6.0}})
    started = time.monotonic()
    reply = tricks.post(slow)
    took = time.monotonic() - started
    assert reply.status == 504 and 1.9 < took < 4.5
    payload = reply.json()
    assert payload["error_code"] == "DEADLINE_EXCEEDED"
    assert payload["message"].startswith("Request processing time exceeded limit")  # MLflow's words
    # The worker answers at once while that prediction still sleeps in its thread.
    fast = tricks.post(json.dumps({"dataframe_records": [{"x": 4.0}]}))
    assert (fast.status, fast.json()) == (200, {"predictions": [8.0]})
    assert tricks.get("/ping").status == 200


def test_a_model_that_raises_is_500_without_a_stack_trace(tricks: Server) -> None:
    reply = tricks.post(json.dumps({"dataframe_records": [{"x": 1.0}], "params": {"mode": "raise"}}))
    assert reply.status == 500 and reply.content_type == "application/json"
    payload = reply.json()
    assert payload == {
        "error_code": "INTERNAL_ERROR",
        "message": "The model raised an error while predicting: ValueError: the model refuses: internal detail 42",
        "sqlstate": "KAM02",
        "error_class": "PREDICTION_FUNCTION_FAILED",
    }
    assert "Traceback" not in reply.body.decode()
    assert tricks.post(json.dumps({"dataframe_records": [{"x": 1.0}]})).status == 200


def test_debug_puts_the_stack_trace_in_the_error(models: tuple[Path, dict[str, Any]]) -> None:
    server = start(["tricks", "--debug"], cwd=models[0])
    try:
        reply = server.post(json.dumps({"dataframe_records": [{"x": 1.0}], "params": {"mode": "raise"}}))
        assert reply.status == 500
        trace = reply.json()["stack_trace"]
        assert trace.startswith("Traceback") and "the model refuses" in trace
        assert server.get("/ping").status == 200
    finally:
        assert server.stop() == 0
    assert any('"POST /invocations HTTP/1.1" 500' in line for line in server.err)  # --debug logs every request


def test_the_routes_beside_invocations(iris: Server, models: tuple[Path, dict[str, Any]]) -> None:
    for path in ("/ping", "/health"):
        reply = iris.get(path)
        assert (reply.status, reply.content_type, reply.body) == (200, "application/json", b"\n")  # MLflow's
    version = iris.get("/version")
    assert (version.status, version.body.decode()) == (200, __version__)
    metadata = iris.get("/metadata")
    facts = metadata.json()
    assert facts["uri"] == "iris" and facts["flavors"] == ["python_function", "sklearn"]
    assert facts["version"] == metadata.headers["x-gitrun-model-version"] == facts["model_uuid"]
    assert facts["path"] == str(models[0] / "iris") and facts["commit"] is None and facts["stage"] is None
    assert json.loads(facts["signature"]["inputs"])[0] == {"type": "double", "name": COLUMNS[0], "required": True}
    assert facts["watch"] is False and facts["load_error"] is None
    prediction = iris.post(json.dumps({"dataframe_split": {"columns": COLUMNS, "data": [ROW]}}))
    assert prediction.headers["x-gitrun-model-version"] == facts["version"]
    # Unknown routes and methods answer as FastAPI (MLflow's server) does.
    assert (iris.get("/nope").status, iris.get("/nope").body) == (404, b'{"detail":"Not Found"}')
    wrong = iris.request("GET", "/invocations")
    assert (wrong.status, wrong.body) == (405, b'{"detail":"Method Not Allowed"}')


def test_models_predict_answers_as_the_server_does(iris: Server, models: tuple[Path, dict[str, Any]]) -> None:
    import pandas as pd

    from tests.helpers import gitrun_cli

    columns, data, expected = rows(models)
    frame = pd.DataFrame(data, columns=columns)
    frame.to_parquet(models[0] / "rows.parquet")
    cli = gitrun_cli("models", "predict", "-m", "iris", "-i", "rows.parquet", "-t", "parquet", cwd=models[0])
    assert cli.returncode == 0, cli.stderr
    served = iris.post((models[0] / "rows.parquet").read_bytes(), "application/vnd.apache.parquet")
    assert json.loads(cli.stdout) == served.json() == {"predictions": expected}
    bad = gitrun_cli(
        "models", "predict", "-m", "iris", "--input-data", '{"inputs": [1], "instances": [2]}', cwd=models[0]
    )
    assert bad.returncode == 1 and "exactly one of the input fields" in bad.stderr
    assert not math.isnan(expected[0])
