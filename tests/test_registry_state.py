"""The registry's state from its tags: gto's meaning of every event, ordered by counter, read with
one ``git for-each-ref`` (counted through a ``git`` on PATH that logs its calls)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from gitrun.registry.grammar import Action
from gitrun.registry.state import Event, build, load
from tests.helpers import run_git
from tests.helpers.registry import git_out, gto, json_of, ok, tag


def _event(tag_name: str, commit: str, ts: int = 1000, version: str | None = None) -> Event:
    from gitrun.registry.grammar import parse_tag

    parsed = parse_tag(tag_name)
    assert parsed is not None
    return Event(
        tag=tag_name,
        action=parsed.action,
        name=parsed.name,
        version=parsed.version or version,
        stage=parsed.stage,
        counter=parsed.counter,
        commit=commit,
        tag_object="0" * 40,
        author="a",
        author_email="a@e",
        timestamp=ts,
        tz="+0000",
        message="m",
    )


def test_a_stage_falls_back_when_its_version_leaves_it() -> None:
    events = [
        _event("m@v0.0.1", "c1"),
        _event("m@v0.0.2", "c2"),
        _event("m#prod#1", "c1"),
        _event("m#prod#2", "c2"),
        _event("m#dev#3", "c2"),
    ]
    model = build(events).model("m")
    assert model.stages == {"dev": "v0.0.2", "prod": "v0.0.2"}
    assert build([*events, _event("m#prod!#4", "c2")]).model("m").stages["prod"] == "v0.0.1"
    deregistered = build([*events, _event("m@v0.0.2!", "c2")]).model("m")
    assert deregistered.stages == {"prod": "v0.0.1"}  # dev had only v0.0.2
    assert deregistered.latest is not None and deregistered.latest.version == "v0.0.1"
    assert [(v.version, v.number, v.active) for v in deregistered.versions] == [
        ("v0.0.2", 2, False),
        ("v0.0.1", 1, True),
    ]


def test_counters_order_stage_events_whatever_their_dates() -> None:
    # #10 is the later event though its date is earlier (another machine's clock) and its name sorts first
    events = [
        _event("m@v1.0.0", "c1"),
        _event("m@v2.0.0", "c2"),
        _event("m#prod#9", "c1", ts=2000),
        _event("m#prod#10", "c2", ts=1500),
    ]
    registry = build(events)
    assert registry.model("m").stages == {"prod": "v2.0.0"}
    assert [e.tag for e in registry.events if e.action == Action.ASSIGN] == ["m#prod#9", "m#prod#10"]


def test_a_stage_tag_means_the_version_registered_at_its_commit() -> None:
    model = build([_event("m@v1.0.0", "c1"), _event("m#prod#1", "c1"), _event("m#dev#2", "c9")]).model("m")
    assert model.stages == {"prod": "v1.0.0", "dev": "c9"}  # gto: a commit without a version is its own version
    assert model.version("c9").registered is False


def test_a_deprecated_model_is_active_again_after_a_later_event() -> None:
    assert build([_event("m@v1.0.0", "c1", 1), _event("m@deprecated", "c1", 2)]).model("m").deprecated
    later = build([_event("m@v1.0.0", "c1", 1), _event("m@deprecated", "c1", 2), _event("m@v1.0.1", "c2", 3)])
    assert not later.model("m").deprecated


def _committed_model(repo: Path) -> str:
    from tests.helpers.registry import runs_with_models

    return runs_with_models(repo, [{"auc": 0.8}])[0]


def test_lightweight_and_foreign_tags_are_not_events(repo: Path) -> None:
    tag(repo, "churn@v0.0.1", message="registered by hand")
    run_git(repo, "tag", "churn@v0.0.2")  # lightweight: gto ignores it too
    tag(repo, "v1.0", message="a release of the project")
    tag(repo, "churn#prod", message="simple mode, no counter")
    registry = load(repo)
    assert [e.tag for e in registry.events] == ["churn@v0.0.1", "churn#prod"]
    assert registry.model("churn").stages == {"prod": "v0.0.1"}


def test_events_carry_who_when_and_why(repo: Path) -> None:
    run_id = _committed_model(repo)
    env = {"GIT_COMMITTER_NAME": "Alice", "GIT_COMMITTER_EMAIL": "alice@example.com"}
    ok("models", "register", "churn", "--run", run_id, "-m", "better AUC 0.91", cwd=repo, env=env)
    event = load(repo).model("churn").events[0]
    assert (event.author, event.author_email, event.message) == ("Alice", "alice@example.com", "better AUC 0.91")
    assert event.run_id == run_id and event.path is not None and event.path.endswith(f"{run_id}/artifacts/model")
    raw = git_out(repo, "cat-file", "-p", "churn@v0.0.1")
    assert "better AUC 0.91\n\nGitrun-Registry: {" in raw and f'"run_id":"{run_id}"' in raw


def _logging_git(tmp_path: Path) -> dict[str, str]:
    """An environment whose ``git`` logs each call's arguments to a file, then runs the real Git."""
    import shutil

    real = shutil.which("git")
    folder = tmp_path / "shim"
    folder.mkdir()
    log = tmp_path / "git-calls.log"
    script = folder / "git"
    script.write_text(f'#!/bin/sh\nprintf "%s\\n" "$*" >> {log}\nexec {real} "$@"\n')
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return {"PATH": f"{folder}{os.pathsep}{os.environ['PATH']}", "GITRUN_TEST_GIT_LOG": str(log)}


def test_the_state_is_read_with_one_for_each_ref(repo: Path, tmp_path: Path) -> None:
    run_id = _committed_model(repo)
    ok("models", "register", "churn", "--run", run_id, cwd=repo)
    for i in range(3):
        ok("models", "promote", "churn", "v0.0.1", f"stage{i}", cwd=repo)
    env = _logging_git(tmp_path)
    log = Path(env["GITRUN_TEST_GIT_LOG"])
    for command in (["models", "list", "--json"], ["models", "history", "--json"]):
        log.write_text("")
        ok(*command, cwd=repo, env=env)
        calls = log.read_text().splitlines()
        assert sum(c.startswith("for-each-ref") for c in calls) == 1, calls
        assert len(calls) <= 3, calls  # + the work tree's root (+ artifacts.yaml at HEAD for list)


def test_gto_resolves_same_second_assignments_by_tag_name_gitrun_by_counter(repo: Path) -> None:
    """docs/registry.md, "Differences from gto": two assignments in one second."""
    run_git(repo, "commit", "-q", "--allow-empty", "-m", "v2")
    tag(repo, "m@v1.0.0", "HEAD~1", date="2025-01-01T00:00:00")
    tag(repo, "m@v2.0.0", "HEAD", date="2025-01-01T00:00:00")
    tag(repo, "m#prod#9", "HEAD~1", date="2025-01-01T00:00:01")
    tag(repo, "m#prod#10", "HEAD", date="2025-01-01T00:00:01")
    assert gto("show", "--json", cwd=repo)["m"]["stage"]["prod"] == "v1.0.0"  # gto: wrong, #10 came after #9
    assert json_of("models", "list", cwd=repo)["models"][0]["stages"]["prod"] == "v2.0.0"
    history = json_of("models", "history", "m", cwd=repo)["events"]
    assert [e["tag"] for e in history][:2] == ["m#prod#10", "m#prod#9"]  # newest first, by counter
