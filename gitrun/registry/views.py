"""What ``gitrun models list`` and ``history`` answer: values, and their ``--json`` documents
(shapes pinned by docs/schemas/registry-list.json and registry-history.json).

``list`` is ``gto show``: each model, its latest version and the current version of every stage;
``history`` is ``gto history``: every event, newest first, with who, when and why (and, with
``verify``, whether its signature is trusted).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from gitrun.registry import index
from gitrun.registry.state import Event, ModelState, Registry, load
from gitrun.registry.verify import SignatureStatus, Verifier

SCHEMA_VERSION = 1


@dataclass(frozen=True)
class ModelRow:
    model: ModelState | None  # None: only in artifacts.yaml (gto's "unregistered" *name)
    name: str
    mlflow_name: str | None
    stages: dict[str, str | None]  # every stage used in the registry -> this model's current version


def list_models(root: Path, *, deprecated: bool = False, registry: Registry | None = None) -> list[ModelRow]:
    """Every model (deprecated ones only with ``deprecated``), as ``gto show`` lists them."""
    registry = registry if registry is not None else load(root)
    entries = index.read_index(root)
    stages = registry.stages
    rows = []
    for name in sorted(set(registry.models) | set(entries)):
        model = registry.models.get(name)
        if model is not None and model.deprecated and not deprecated:
            continue
        entry = entries.get(name)
        rows.append(
            ModelRow(
                model,
                name,
                entry.mlflow_name if entry else None,
                {s: (model.stages.get(s) if model else None) for s in stages},
            )
        )
    return rows


def list_json(rows: Sequence[ModelRow]) -> dict[str, Any]:
    return {"schema_version": SCHEMA_VERSION, "models": [_row_json(r) for r in rows]}


def _row_json(row: ModelRow) -> dict[str, Any]:
    model = row.model
    latest = model.latest if model else None
    return {
        "name": row.name,
        "mlflow_name": row.mlflow_name,
        "latest": latest.version if latest else None,
        "latest_number": latest.number if latest else None,
        "stages": row.stages,
        "registered": bool(model and model.registered),
        "active": bool(model is None or model.active),
        "versions": [version_json(v) for v in model.versions] if model else [],
    }


def version_json(v: Any) -> dict[str, Any]:
    registration = v.registration
    return {
        "version": v.version,
        "number": v.number,
        "commit": v.commit,
        "active": v.active,
        "stages": list(v.stages),
        "run_id": v.run_id,
        "path": v.path,
        "tag": registration.tag if registration else None,
        "registered_at": iso(registration) if registration else None,
        "author": registration.author if registration else None,
    }


def iso(e: Event) -> str:
    """The event's tagger date with its UTC offset, ISO 8601 (gto's ``timestamp``)."""
    sign = -1 if e.tz.startswith("-") else 1
    digits = e.tz.lstrip("+-").rjust(4, "0")
    offset = timedelta(hours=int(digits[:2]), minutes=int(digits[2:4])) * sign
    return datetime.fromtimestamp(e.timestamp, timezone(offset)).isoformat()


# -- history ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class HistoryRow:
    event: Event
    signature: SignatureStatus | None = None  # with verify


def history(root: Path, name: str | None = None, *, verify: bool = False) -> list[HistoryRow]:
    """Every event (of ``name``), newest first; with ``verify``, each one's signature status."""
    registry = load(root)
    events = list(registry.model(name).events if name is not None else registry.events)
    events.reverse()
    if not verify:
        return [HistoryRow(e) for e in events]
    with Verifier(root) as verifier:
        return [HistoryRow(e, verifier.verify(e)) for e in events]


def history_json(rows: Sequence[HistoryRow]) -> dict[str, Any]:
    return {"schema_version": SCHEMA_VERSION, "events": [event_json(r.event, r.signature) for r in rows]}


def event_json(e: Event, signature: SignatureStatus | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "timestamp": iso(e),
        "name": e.name,
        "event": e.action.value,
        "version": e.version,
        "stage": e.stage,
        "counter": e.counter,
        "commit": e.commit,
        "author": e.author,
        "author_email": e.author_email,
        "message": e.message,
        "tag": e.tag,
        "run_id": e.run_id,
        "path": e.path,
        "signed": e.signed,
    }
    if signature is not None:
        out["signature"] = {"status": signature.status, "detail": signature.detail, "signer": signature.signer}
    return out
