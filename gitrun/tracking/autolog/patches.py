"""Patches: replacing a class's (or module's) attribute with autolog's wrapper, and putting it back.

What gorilla does for MLflow, in the small: the attribute's original is the one the destination
had before any autolog patch (a wrapper of an earlier patch, or of another integration, is seen
through), and reverting restores exactly what the destination's own ``__dict__`` held, so an
inherited method is inherited again.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Any

ORIGINAL = "__gitrun_autolog_original__"  # on each wrapper: what it wraps
_MISSING = object()

_patches: dict[str, list[Patch]] = {}  # integration -> its applied patches, in order


@dataclass
class Patch:
    destination: Any
    name: str
    own: Any  # what destination.__dict__ held under name before (_MISSING: it was inherited)

    def revert(self) -> None:
        if self.own is _MISSING:
            if self.name in vars(self.destination):
                delattr(self.destination, self.name)
        else:
            setattr(self.destination, self.name, self.own)


def original_attribute(destination: Any, name: str, *, raw: bool = False) -> Any:
    """The attribute as it is without autolog's wrappers; ``raw``: as stored (``inspect.getattr_static``,
    bypassing descriptors), else as ``getattr`` returns it."""
    value = inspect.getattr_static(destination, name) if raw else getattr(destination, name)
    while hasattr(value, ORIGINAL):
        value = getattr(value, ORIGINAL)
    return value


def apply_patch(integration: str, destination: Any, name: str, wrapper: Any, original: Any) -> None:
    """Set ``destination.name`` to ``wrapper`` (which wraps ``original``), remembered for revert."""
    own = vars(destination).get(name, _MISSING) if hasattr(destination, "__dict__") else _MISSING
    if not isinstance(wrapper, property):  # a property takes no attributes (and is never unwrapped)
        setattr(wrapper, ORIGINAL, original)
    setattr(destination, name, wrapper)
    _patches.setdefault(integration, []).append(Patch(destination, name, own))


def revert_patches(integration: str) -> None:
    """Undo every patch of ``integration``, latest first."""
    for patch in reversed(_patches.pop(integration, [])):
        patch.revert()


def patched(integration: str) -> list[tuple[Any, str]]:
    """``(destination, name)`` of the patches ``integration`` has applied (for tests and docs)."""
    return [(p.destination, p.name) for p in _patches.get(integration, [])]
