"""MLflow's registry entities (``mlflow.entities.model_registry``), as gitrun's registry answers them.

Field names and types are MLflow's (``version`` is an int, ``current_stage`` the text ``"None"``
when there is none, timestamps in milliseconds), plus gitrun's own at the end: the GTO version
name, the tagged commit and the registration tag.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

PENDING_REGISTRATION = "PENDING_REGISTRATION"
FAILED_REGISTRATION = "FAILED_REGISTRATION"
READY = "READY"

# MLflow's legacy stages (deprecated since MLflow 2.9) and the GTO stages they are kept as
LEGACY_STAGES = {"Staging": "staging", "Production": "production", "Archived": "archived"}
NO_STAGE = "None"


class ModelVersionStatus:
    """MLflow's status names of a model version."""

    PENDING_REGISTRATION = PENDING_REGISTRATION
    FAILED_REGISTRATION = FAILED_REGISTRATION
    READY = READY


@dataclass(frozen=True)
class ModelVersion:
    name: str
    version: int
    creation_timestamp: int
    last_updated_timestamp: int | None = None
    description: str | None = None
    user_id: str | None = None
    current_stage: str = NO_STAGE
    source: str | None = None
    run_id: str | None = None
    status: str = READY
    status_message: str | None = None
    tags: dict[str, str] = field(default_factory=dict)
    run_link: str | None = None
    aliases: list[str] = field(default_factory=list)
    model_id: str | None = None
    # gitrun's
    registry_name: str | None = None  # the GTO name, when the MLflow name is not one
    registry_version: str | None = None  # "v0.0.3"
    commit: str | None = None
    tag: str | None = None

    def to_dict(self) -> dict[str, Any]:
        from dataclasses import asdict

        return asdict(self)


@dataclass(frozen=True)
class RegisteredModel:
    name: str
    creation_timestamp: int | None = None
    last_updated_timestamp: int | None = None
    description: str | None = None
    latest_versions: list[ModelVersion] = field(default_factory=list)
    tags: dict[str, str] = field(default_factory=dict)
    aliases: dict[str, int] = field(default_factory=dict)
    registry_name: str | None = None

    def to_dict(self) -> dict[str, Any]:
        from dataclasses import asdict

        return asdict(self)
