"""System tag names live in gitrun/tags.py only: no other module of gitrun spells one as a string."""

from __future__ import annotations

import ast

from gitrun import tags
from tests.helpers import ROOT

NAMES = {value for key, value in vars(tags).items() if key.isupper() and isinstance(value, str)}


def _string_literals(tree: ast.AST) -> list[tuple[int, str]]:
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    # In an f-string, the literal "gitrun." before a placeholder is code (f"gitrun.{flavor}.load_model"),
    # not the tag prefix; a tag spelled there still shows by its longer prefix ("gitrun.ci.").
    prefixes_in_fstrings = {
        id(part)
        for node in ast.walk(tree)
        if isinstance(node, ast.JoinedStr)
        for part in node.values
        if isinstance(part, ast.Constant) and part.value in (tags.MLFLOW_PREFIX, tags.GITRUN_PREFIX)
    }
    return [
        (node.lineno, node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and id(node) not in docstrings
        and id(node) not in prefixes_in_fstrings
    ]


def test_no_module_spells_a_system_tag() -> None:
    found = []
    for path in sorted((ROOT / "gitrun").rglob("*.py")):
        if path == ROOT / "gitrun" / "tags.py":
            continue
        for line, text in _string_literals(ast.parse(path.read_text(encoding="utf-8"))):
            if text in NAMES or text.startswith(("mlflow.", "gitrun.ci.", "gitrun.git.")):
                found.append(f"{path.relative_to(ROOT)}:{line}: {text!r}")
    assert not found, "use the constants of gitrun/tags.py:\n" + "\n".join(found)


def test_the_constants_are_mlflows_names_where_mlflow_has_them() -> None:
    # MLflow's spellings (mlflow.utils.mlflow_tags), which scripts and MLflow's UI read.
    assert (tags.RUN_NAME, tags.PARENT_RUN_ID, tags.NOTE) == (
        "mlflow.runName",
        "mlflow.parentRunId",
        "mlflow.note.content",
    )
    assert (tags.GIT_COMMIT, tags.GIT_BRANCH, tags.GIT_REPO_URL) == (
        "mlflow.source.git.commit",
        "mlflow.source.git.branch",
        "mlflow.source.git.repoURL",
    )
    assert all(name.startswith(tags.SYSTEM_PREFIXES) for name in NAMES - {tags.MLFLOW_PREFIX, tags.GITRUN_PREFIX})
