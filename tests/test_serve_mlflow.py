"""The same requests to ``mlflow models serve --env-manager local`` and to ``gitrun serve``, for one model
folder: the same status codes, content types, error codes and predictions."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.helpers.serving import Server, save_models, start, start_mlflow, stop_group

pytestmark = pytest.mark.slow

COLUMNS = ["sepal length (cm)", "sepal width (cm)", "petal length (cm)", "petal width (cm)"]
ROWS = [[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3], [5.9, 3.0, 4.2, 1.5]]


def parquet_body() -> bytes:
    import pandas as pd

    out = io.BytesIO()
    pd.DataFrame(ROWS, columns=COLUMNS).to_parquet(out)
    return out.getvalue()


RECORDS = [dict(zip(COLUMNS, row, strict=True)) for row in ROWS]
JSON = "application/json"
REQUESTS: list[tuple[str, str | None, bytes | str]] = [
    ("dataframe_split", JSON, json.dumps({"dataframe_split": {"columns": COLUMNS, "data": ROWS}})),
    ("dataframe_records", JSON, json.dumps({"dataframe_records": RECORDS})),
    ("instances", JSON, json.dumps({"instances": RECORDS})),
    ("inputs", JSON, json.dumps({"inputs": {c: [r[i] for r in ROWS] for i, c in enumerate(COLUMNS)}})),
    ("params", JSON, json.dumps({"dataframe_records": RECORDS, "params": {}})),
    ("ints for doubles", JSON, json.dumps({"dataframe_split": {"columns": COLUMNS, "data": [[5, 3, 1, 0]]}})),
    ("utf-8 charset", "application/json; charset=utf-8", json.dumps({"dataframe_records": RECORDS})),
    ("csv", "text/csv", ",".join(COLUMNS) + "\n" + "\n".join(",".join(map(str, r)) for r in ROWS) + "\n"),
    ("parquet", "application/vnd.apache.parquet", b""),  # filled in below (pandas is imported lazily)
    ("not JSON", JSON, "{not json"),
    ("a list", JSON, "[1, 2]"),
    ("two keys", JSON, json.dumps({"inputs": ROWS, "instances": ROWS})),
    ("no key", JSON, json.dumps({"data": ROWS})),
    ("a missing column", JSON, json.dumps({"dataframe_split": {"columns": COLUMNS[:3], "data": [ROWS[0][:3]]}})),
    ("latin-1", "application/json; charset=latin-1", "{}"),
    ("xml", "application/xml", "<a/>"),
    ("text", "text/plain", "hello"),
]


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, Server]]:
    folder: Path = tmp_path_factory.mktemp("serve-models")
    save_models(folder)
    ours = start(["iris"], cwd=folder)
    theirs = start_mlflow(folder / "iris", cwd=folder)
    yield ours, theirs
    assert ours.stop() == 0
    stop_group(theirs)


def summary(reply: Any) -> tuple[int, str, Any]:
    kind = reply.content_type.split(";")[0]
    if reply.status == 200:
        return reply.status, kind, reply.json()
    if kind == JSON:
        return reply.status, kind, reply.json()["error_code"]
    return reply.status, kind, None


@pytest.mark.parametrize(("name", "content_type", "body"), REQUESTS, ids=[r[0] for r in REQUESTS])
def test_gitrun_answers_as_mlflow_does(
    servers: tuple[Server, Server], name: str, content_type: str | None, body: bytes | str
) -> None:
    ours, theirs = servers
    if name == "parquet":
        body = parquet_body()
    mine, mlflows = summary(ours.post(body, content_type)), summary(theirs.post(body, content_type))
    assert mine == mlflows


def test_the_routes_answer_as_mlflows(servers: tuple[Server, Server]) -> None:
    ours, theirs = servers
    for path in ("/ping", "/health"):
        mine, mlflows = ours.get(path), theirs.get(path)
        assert (mine.status, mine.content_type, mine.body) == (mlflows.status, mlflows.content_type, mlflows.body)
    assert ours.get("/version").status == theirs.get("/version").status == 200
    for path in ("/nope",):
        assert (ours.get(path).status, ours.get(path).json()) == (theirs.get(path).status, theirs.get(path).json())
