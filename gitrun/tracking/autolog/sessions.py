"""Sessions: what a patched call knows about the patched calls around it.

- The autologging session (MLflow's ``_AutologgingSessionManager``): the outermost patched call
  and everything it calls. Inside it a run started by autolog is not "the user's run" (for
  ``exclusive``), and once its autolog code has failed, the calls nested in it run unpatched.
- Training sessions (MLflow's ``_SklearnTrainingSession``): the ``fit`` calls in progress. A
  ``fit`` nested in another one (a Pipeline's steps, a search's candidates, an estimator calling
  its own ``fit``) is logged only when every enclosing session allows children and none of them is
  the same estimator. Each integration family has its own stack (:func:`training_session_class`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any, ClassVar

RUNNING, SUCCEEDED, FAILED = "running", "succeeded", "failed"


class AutologSession:
    def __init__(self, integration: str):
        self.integration = integration
        self.state = RUNNING


_session: AutologSession | None = None


def active_session() -> AutologSession | None:
    return _session


@contextlib.contextmanager
def autolog_session(integration: str) -> Iterator[AutologSession]:
    """The session of the outermost patched call (a new one), or the one already active."""
    global _session
    outer = _session
    if outer is None:
        _session = AutologSession(integration)
    try:
        yield _session  # type: ignore[misc]
    finally:
        if outer is None:
            _session = None


class TrainingSession:
    """A ``fit`` in progress, on its family's stack (``with Session(estimator, allow_children): ...``)."""

    stack: ClassVar[list[TrainingSession]]

    def __init__(self, estimator: Any, allow_children: bool = True):
        self.estimator = estimator
        self.allow_children = allow_children
        self.parent: TrainingSession | None = None

    def __enter__(self) -> TrainingSession:
        stack = type(self).stack
        if stack:
            self.parent = stack[-1]
            self.allow_children = self.parent.allow_children and self.allow_children
        stack.append(self)
        return self

    def __exit__(self, *exc: Any) -> None:
        type(self).stack.pop()

    def should_log(self) -> bool:
        """The root session logs; a nested one when its parent allows children and no enclosing
        session trains the same estimator."""
        for session in type(self).stack:
            if session is self:
                break
            if session.estimator is self.estimator:
                return False
        return self.parent is None or self.parent.allow_children

    @classmethod
    def is_active(cls) -> bool:
        return bool(cls.stack)


_families: list[type[TrainingSession]] = []


def training_session_class() -> type[TrainingSession]:
    """A new family of training sessions, with a stack of its own."""
    family = type("TrainingSession", (TrainingSession,), {"stack": []})
    _families.append(family)
    return family


def training_active() -> bool:
    """Whether any ``fit`` of any family is in progress (then a worker thread it started must not
    start a run of its own)."""
    return any(family.stack for family in _families)
