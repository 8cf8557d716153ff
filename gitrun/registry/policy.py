"""Registry policy: which stages are allowed, which need a signed tag, whose signatures count.

Read from the work tree's ``.gto`` (gto's own file, so gto enforces the same stages) and from
``[tool.gitrun.registry]`` in pyproject.toml (which wins where both say something)::

    # .gto
    stages: [dev, staging, prod]

    # pyproject.toml
    [tool.gitrun.registry]
    stages = ["dev", "staging", "prod"]
    protected_stages = ["prod"]                   # promotion there needs a tag signed by a trusted key
    allowed_signers = ".gitrun/allowed_signers"   # the trusted keys (the default), read at the default branch's tip
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gitrun.errors import StageNotAllowedError
from gitrun.registry.grammar import validate_stage
from gitrun.settings import load_project_settings

GTO_CONFIG = ".gto"
DEFAULT_ALLOWED_SIGNERS = ".gitrun/allowed_signers"
DEFAULT_TRUSTED_GPG_KEYS = ".gitrun/trusted_keys.asc"


@dataclass(frozen=True)
class Policy:
    stages: tuple[str, ...] | None = None  # None: any valid stage
    protected_stages: tuple[str, ...] = ()
    allowed_signers: str = DEFAULT_ALLOWED_SIGNERS  # repo-relative
    trusted_gpg_keys: str = DEFAULT_TRUSTED_GPG_KEYS  # repo-relative, ASCII-armoured OpenPGP keys
    source: str = ""  # where the stages came from, for messages

    def check_stage(self, stage: str) -> str:
        validate_stage(stage)
        if self.stages is not None and stage not in self.stages:
            raise StageNotAllowedError(
                f"stage {stage!r} is not allowed; allowed stages are {', '.join(self.stages)} ({self.source}). "
                "Use one of them, or add it there"
            )
        return stage

    def protected(self, stage: str) -> bool:
        return stage in self.protected_stages


def load_policy(root: Path) -> Policy:
    """The policy of the work tree at ``root``."""
    stages: tuple[str, ...] | None = None
    source = ""
    gto = root / GTO_CONFIG
    if gto.is_file():
        stages = _gto_stages(gto)
        source = GTO_CONFIG if stages is not None else ""
    section = load_project_settings(root).raw.get("registry")
    section = section if isinstance(section, dict) else {}
    if section.get("stages") is not None:
        stages = _names(section["stages"], "stages")
        source = "[tool.gitrun.registry] stages in pyproject.toml"
    return Policy(
        stages=stages,
        protected_stages=_names(section.get("protected_stages") or [], "protected_stages") or (),
        allowed_signers=str(section.get("allowed_signers") or DEFAULT_ALLOWED_SIGNERS),
        trusted_gpg_keys=str(section.get("trusted_gpg_keys") or DEFAULT_TRUSTED_GPG_KEYS),
        source=source,
    )


def _gto_stages(path: Path) -> tuple[str, ...] | None:
    import yaml

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        warnings.warn(f"{path}: cannot read it ({exc}); its stages are not enforced", stacklevel=3)
        return None
    value = data.get("stages") if isinstance(data, dict) else None
    return None if value is None else _names(value, f"stages in {GTO_CONFIG}")


def _names(value: Any, what: str) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise StageNotAllowedError(f'{what} must be a list of stage names, e.g. ["dev", "prod"]')
    return tuple(validate_stage(v) for v in value)
