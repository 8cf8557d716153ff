"""Data lineage of a run inside a DVC pipeline (``dvc repro``, ``dvc exp run``).

DVC runs a stage's command with ``DVC_STAGE`` (the stage's address) and ``DVC_ROOT`` in its
environment, and ``dvc exp run`` adds ``DVC_EXP_NAME`` and ``DVC_EXP_BASELINE_REV``. A run
started there records them as tags and its stage's deps and outs as dataset inputs
(``inputs.json``, context ``dvc.dep`` / ``dvc.out``) with DVC's hashes: the deps' when the command
starts, the outs' when it has ended (DVC writes ``dvc.lock`` only after the stage's command, so
during it the lock file still holds the previous run's hashes).
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from gitrun import tags
from gitrun.data import dvc_dataset
from gitrun.dvcfiles import Stage, hash_path, read_stage
from gitrun.entities import DatasetInput
from gitrun.errors import GitrunError
from gitrun.store.datasets import CONTEXT_TAG, DVC_DEP_CONTEXT


@dataclass(frozen=True)
class DvcContext:
    root: Path
    stage: Stage | None
    address: str
    experiment: str | None = None
    baseline: str | None = None

    def tags(self) -> dict[str, str]:
        found = {tags.DVC_STAGE: self.address, tags.DVC_ROOT: str(self.root)}
        if self.experiment:
            found[tags.DVC_EXPERIMENT] = self.experiment
        if self.baseline:
            found[tags.DVC_BASELINE] = self.baseline
        return found

    def inputs(self, context: str) -> list[DatasetInput]:
        """The stage's deps (``dvc.dep``) or outs (``dvc.out``) with their DVC hashes now."""
        if self.stage is None:
            return []
        paths = self.stage.deps if context == DVC_DEP_CONTEXT else self.stage.outs
        return [
            DatasetInput(dvc_dataset(self.root, hash_path(self.root, p), stage=self.address), {CONTEXT_TAG: context})
            for p in paths
        ]


def from_environment(env: Mapping[str, str] | None = None) -> DvcContext | None:
    """The DVC stage this process runs in, from DVC's variables; None outside a DVC pipeline."""
    env = os.environ if env is None else env
    address, root = env.get("DVC_STAGE"), env.get("DVC_ROOT")
    if not address or not root:
        return None
    stage = None
    try:
        stage = read_stage(Path(root), address)
    except GitrunError as exc:  # the run goes on; only its lineage is incomplete
        warnings.warn(f"gitrun: cannot read DVC stage {address!r}: {exc}", stacklevel=2)
    return DvcContext(Path(root), stage, address, env.get("DVC_EXP_NAME"), env.get("DVC_EXP_BASELINE_REV"))
