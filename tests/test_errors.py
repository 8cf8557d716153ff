"""One error hierarchy: every exception and warning gitrun raises is defined in gitrun/errors.py, and
every error a user can meet is a GitrunError (gitrun/errors.py)."""

from __future__ import annotations

import importlib
import inspect
import pickle
import pkgutil
from pathlib import Path

import pytest

import gitrun
from gitrun import errors
from gitrun.entities import ViewType
from gitrun.errors import (
    AmbiguousRunIdError,
    GitCommandError,
    GitrunError,
    InvalidInputError,
    MissingExtraError,
)
from tests.helpers import gitrun_cli, run_git


def _gitrun_modules() -> list[str]:
    return sorted(m.name for m in pkgutil.walk_packages(gitrun.__path__, "gitrun.") if not m.name.endswith("__main__"))


def test_no_module_defines_its_own_exception_or_warning() -> None:
    # Private ones (a leading underscore) are control flow caught inside their module.
    outside = []
    for name in _gitrun_modules():
        module = importlib.import_module(name)
        for cls_name, obj in inspect.getmembers(module, inspect.isclass):
            if obj.__module__ != name or name == "gitrun.errors" or cls_name.startswith("_"):
                continue
            if issubclass(obj, BaseException):
                outside.append(f"{name}.{cls_name}")
    assert outside == [], "define these in gitrun/errors.py: " + ", ".join(outside)


def test_every_error_class_is_a_gitrun_error_and_every_warning_a_user_warning() -> None:
    for _, obj in inspect.getmembers(errors, inspect.isclass):
        if obj.__module__ != "gitrun.errors":
            continue
        if issubclass(obj, Warning):
            assert issubclass(obj, UserWarning), obj
        elif issubclass(obj, BaseException):
            assert issubclass(obj, GitrunError), obj


def test_errors_survive_pickling_with_their_fields() -> None:
    # Site builds run pages in worker processes: their errors come back pickled.
    git = GitCommandError(["push", "https://user:secret@example.com/r.git"], 128, "fatal: one\n\nfatal: two\n")
    again = pickle.loads(pickle.dumps(git))
    assert (again.command, again.returncode, str(again)) == (git.command, 128, str(git))
    assert "secret" not in str(again) and str(again).endswith("fatal: one / fatal: two")
    extra = MissingExtraError("building the report site", "site", "altair", "altair")
    assert str(pickle.loads(pickle.dumps(extra))) == str(extra)
    assert "pip install 'gitrun-ml[site]'" in str(extra)


def test_an_unknown_view_type_is_invalid_input() -> None:
    with pytest.raises(InvalidInputError, match="unknown run view type 'some'"):
        ViewType.from_any("some")
    with pytest.raises(InvalidInputError, match=r"ViewType\.ACTIVE_ONLY"):
        ViewType.from_any(7)
    with pytest.raises(InvalidInputError):
        gitrun.search_runs(run_view_type="bogus")


def test_misusing_set_experiment_is_invalid_input_not_a_missing_experiment(repo: Path) -> None:
    for kwargs in ({}, {"experiment_name": "a", "experiment_id": "a"}):
        with pytest.raises(InvalidInputError, match="exactly one of experiment_name or experiment_id") as info:
            gitrun.set_experiment(**kwargs)  # type: ignore[arg-type]
        assert not isinstance(info.value, LookupError)


def test_an_ambiguous_prefix_is_the_same_error_in_the_work_tree_and_at_a_revision(repo: Path) -> None:
    for name in ("a", "b"):
        with gitrun.start_run(run_name=name):
            pass
    store = gitrun.Client().store
    with pytest.raises(AmbiguousRunIdError, match=r"ambiguous \(2 runs\) in .*\.gitrun"):
        store.resolve_run_id("0")  # every ULID of this century starts with 0
    assert run_git(repo, "add", ".gitrun").returncode == 0
    run_git(repo, "commit", "-q", "-m", "runs")
    from gitrun.vcs.revision import store_at

    with pytest.raises(AmbiguousRunIdError, match=r"ambiguous \(2 runs\) in \S+ at [0-9a-f]{10}"):
        store_at(store, "HEAD").resolve_run_id("0")
    for rev in ((), ("--rev", "HEAD")):
        result = gitrun_cli("runs", "show", "0", *rev, cwd=repo)
        assert result.returncode == 1
        assert result.stderr.startswith("Error: run ID prefix '0' is ambiguous (2 runs)"), result.stderr
        assert len(result.stderr.splitlines()) == 1
