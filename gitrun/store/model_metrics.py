"""``model_metrics.jsonl``: metric values a run logged for a model (MLflow 3's ``log_metric(model_id=)``).

One JSON object per line, appended by one ``write`` each (never rewritten, so two processes
logging to one run lose nothing): ``model_id``, ``key``, ``value`` (non-finite values as
``"NaN"``/``"Infinity"``/``"-Infinity"``), ``step``, ``timestamp`` and, when the value was computed
on a dataset, ``dataset_name`` and ``dataset_digest``. The value is also in the run's own series
(``metrics/<key>.tsv``), as MLflow records it in both places. A torn last line is skipped.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from gitrun.entities import Metric
from gitrun.store import textio

FILE = "model_metrics.jsonl"


def append(run_dir: Path, metrics: Iterable[Metric]) -> None:
    lines = []
    for m in metrics:
        record = {
            "key": m.key,
            "model_id": m.model_id,
            "step": m.step,
            "timestamp": m.timestamp,
            "value": textio.json_number(m.value),
        }
        if m.dataset_name is not None:
            record["dataset_name"] = m.dataset_name
        if m.dataset_digest is not None:
            record["dataset_digest"] = m.dataset_digest
        lines.append(json.dumps(record, sort_keys=True, ensure_ascii=False) + "\n")
    if not lines:
        return
    path = run_dir / FILE
    data = "".join(lines).encode("utf-8")
    try:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o644)
        try:
            textio.write_all(fd, data)
        finally:
            os.close(fd)
    except OSError as exc:
        raise textio.write_error(path, exc, "earlier lines are intact") from None


def link(
    run_dir: Path, values: Mapping[str, float], step: int | None, timestamp: int, model_id: str, dataset: Any = None
) -> None:
    """Record metric values (already in the run's series) as metrics of the logged model ``model_id``,
    computed on ``dataset`` (anything with ``name`` and ``digest``, or None)."""
    name = getattr(dataset, "name", None) if dataset is not None else None
    digest = getattr(dataset, "digest", None) if dataset is not None else None
    points = [
        Metric(k, float(v), timestamp, step or 0, model_id=str(model_id), dataset_name=name, dataset_digest=digest)
        for k, v in values.items()
    ]
    append(run_dir, points)


def read(run_dir: Path, run_id: str | None = None) -> list[Metric]:
    """Every metric of ``model_metrics.jsonl`` (empty when the run logged none)."""
    try:
        text = (run_dir / FILE).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return []
    out = []
    for line in text.splitlines():
        try:
            r = json.loads(line)
            out.append(
                Metric(
                    key=str(r["key"]),
                    value=textio.from_json_number(r["value"]),
                    timestamp=int(r["timestamp"]),
                    step=int(r.get("step", 0)),
                    model_id=str(r["model_id"]),
                    dataset_name=r.get("dataset_name"),
                    dataset_digest=r.get("dataset_digest"),
                    run_id=run_id,
                )
            )
        except (ValueError, KeyError, TypeError):
            continue  # a torn or hand-broken line: the others still count
    return out
