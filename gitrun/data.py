"""Where gitrun's own data files live: the ``templates/`` and ``site/`` folders.

Installed from a wheel, they ship as ``gitrun/_data/templates`` and ``gitrun/_data/site``
(pyproject's force-include); in a source checkout they are the top-level folders of the repository.
"""

from __future__ import annotations

from pathlib import Path

from gitrun.errors import GitrunError

_PACKAGE = Path(__file__).resolve().parent


def data_dir(name: str) -> Path:
    """The ``templates`` or ``site`` folder: packaged data first, else the checkout's top level."""
    packaged = _PACKAGE / "_data" / name
    if packaged.is_dir():
        return packaged
    checkout = _PACKAGE.parent / name
    if checkout.is_dir():
        return checkout
    raise GitrunError(f"gitrun's {name}/ folder is missing (looked in {packaged} and {checkout}); reinstall gitrun-ml")


def templates_dir() -> Path:
    return data_dir("templates")


def assets_dir() -> Path:
    return data_dir("site")
