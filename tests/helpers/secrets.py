"""Finding a secret anywhere it must never be: the work tree, Git's history and objects, output."""

from __future__ import annotations

import subprocess
from pathlib import Path


def secret_found(repo: Path, secret: str, *outputs: str, allowed: tuple[str, ...] = ()) -> list[str]:
    """Where ``secret`` occurs: files of the work tree (except ``allowed``), Git's history, objects
    and other files, and ``outputs``. Empty when nowhere."""
    needle = secret.encode()
    found = []
    for path in repo.rglob("*"):
        rel = path.relative_to(repo).as_posix()
        if (
            path.is_file()
            and not rel.startswith(".git/objects/")
            and rel not in allowed
            and needle in path.read_bytes()
        ):
            found.append(rel)
    history = subprocess.run(["git", "log", "-p", "--all"], cwd=repo, capture_output=True, check=True).stdout
    if needle in history:
        found.append("git log -p --all")
    objects = subprocess.run(
        ["git", "cat-file", "--batch-all-objects", "--batch"], cwd=repo, capture_output=True, check=True
    ).stdout
    if needle in objects:
        found.append("git objects")
    found += [f"output {i}" for i, text in enumerate(outputs) if secret in text]
    return found
