"""docs/api.md's compatibility table has a row for every name of ``mlflow.__all__`` and every public
method of ``MlflowClient`` (MLflow 3.17.2), and says "same" or "different" only for what gitrun has."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import gitrun

API = Path(__file__).parent.parent / "docs" / "api.md"
ROW = re.compile(r"^\| `([A-Za-z_]\w*)` \| (same|different|later|not applicable) \|", re.M)


def _rows(heading: str) -> dict[str, str]:
    text = API.read_text(encoding="utf-8")
    section = text[text.index(heading) :]
    section = section[: section.find("\n### ", 1)] if "\n### " in section[1:] else section
    return dict(ROW.findall(section))


def test_every_mlflow_name_has_a_row() -> None:
    import mlflow

    rows = _rows("### `mlflow` (the names in `mlflow.__all__`)")
    assert sorted(set(mlflow.__all__) - set(rows)) == []
    wrong = [n for n, status in rows.items() if status in ("same", "different") and not hasattr(gitrun, n)]
    assert wrong == []


def test_every_client_method_has_a_row() -> None:
    from mlflow import MlflowClient

    methods = {n for n, _ in inspect.getmembers(MlflowClient) if not n.startswith("_")}
    rows = _rows("### `MlflowClient` (its public methods)")
    assert sorted(methods - set(rows)) == []
    wrong = [n for n, status in rows.items() if status in ("same", "different") and not hasattr(gitrun.Client, n)]
    assert wrong == []
