"""The environment summary a command's run records: Python, platform, installed distributions.

The distributions are read from the names of the ``*.dist-info`` / ``*.egg-info`` folders on the
interpreter's path (name and version are in the folder name), which costs a directory listing
per path entry instead of opening hundreds of metadata files. Two runs with the same
``gitrun.env.packages`` ran with the same set of distributions at the same versions.
"""

from __future__ import annotations

import hashlib
import os
import platform
import re
import subprocess
import sys
from collections.abc import Iterable
from functools import lru_cache

from gitrun import tags

_DIST_FOLDER = re.compile(r"^(?P<name>[^-]+)-(?P<version>[^-]+?)(?:-py[\d.]+)?(?:-[^-]+)?\.(?:dist|egg)-info$")


def distributions(path: Iterable[str]) -> list[str]:
    """Sorted ``name==version`` of the distributions installed in the folders of ``path``."""
    found = set()
    for entry in path:
        try:
            names = os.listdir(entry or ".")
        except OSError:
            continue
        for name in names:
            match = _DIST_FOLDER.match(name)
            if match:
                dist = re.sub(r"[-_.]+", "-", match["name"]).lower()
                found.add(f"{dist}=={match['version']}")
    return sorted(found)


def packages_digest(dists: list[str]) -> str:
    """``sha256:<first 16 hex digits> (<n> distributions)`` of a distribution list."""
    digest = hashlib.sha256("\n".join(dists).encode()).hexdigest()[:16]
    return f"sha256:{digest} ({len(dists)} distributions)"


@lru_cache(maxsize=8)
def summary(python: str | None = None) -> dict[str, str]:
    """The ``gitrun.env.*`` tags of this interpreter, or of the interpreter ``python`` (a venv's)."""
    # not realpath: a venv's python is a symlink to the interpreter it was made from
    if python is None or os.path.abspath(python) == os.path.abspath(sys.executable):
        version, path = platform.python_version(), sys.path
    else:
        probe = "import platform, sys; print(platform.python_version()); print('\\n'.join(sys.path))"
        lines = subprocess.run([python, "-c", probe], capture_output=True, text=True, check=True).stdout.splitlines()
        version, path = lines[0], lines[1:]
    return {
        tags.ENV_PYTHON: version,
        tags.ENV_PLATFORM: f"{platform.system()}-{platform.release()}-{platform.machine()}",
        tags.ENV_PACKAGES: packages_digest(distributions(path)),
    }
