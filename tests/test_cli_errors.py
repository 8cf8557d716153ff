"""Every CLI command with bad input: one line starting with "Error:", no traceback, the exit status
docs/cli.md documents (1 for an error, 2 for usage and for a malformed `--check`), and nothing
changed on disk.

The commands come from the CLI itself (``gitrun.cli.commands.COMMANDS`` and each group's subcommands): a
new command fails :func:`test_every_command_has_its_bad_input_cases` until it gets its cases here.
"""

from __future__ import annotations

import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

import click
import pytest

from gitrun.cli.app import cli
from gitrun.cli.commands import COMMANDS
from tests.helpers import GIT_IDENTITY, git_state, gitrun_cli, log_runs, run_git


def command_paths() -> list[str]:
    """Every runnable command, as typed after ``gitrun`` ("runs list", "diff"...)."""
    ctx = click.Context(cli)
    found = []

    def walk(group: click.Group, prefix: list[str]) -> None:
        for name in group.list_commands(ctx):
            command = group.get_command(ctx, name)
            assert command is not None, name
            if isinstance(command, click.Group):
                walk(command, [*prefix, name])
            else:
                found.append(" ".join([*prefix, name]))

    walk(cli, [])
    assert {p.split()[0] for p in found} == set(COMMANDS)
    return found


@dataclass(frozen=True)
class Case:
    where: str  # "plain": no Git repository; "nostore": a Git repository without a store; "store": with runs
    args: tuple[str, ...]
    code: int
    says: str  # a piece of the message


def case(where: str, *args: str, code: int = 1, says: str) -> Case:
    return Case(where, args, code, says)


NOT_GIT = "is not inside a Git work tree; run `git init` there first"
NO_REV = "unknown revision 'nope'"
RUN = "{run}"  # replaced by a committed run's ID

CASES: dict[str, list[Case]] = {
    "init": [
        case("plain", "--dvc", says=NOT_GIT),
        case("plain", "--github", says=NOT_GIT),
        case("store", "--check", "metrics.acc > 0", code=2, says="--check needs --github"),
        case("store", "--github", "--check", "metrics.acc >", code=2, says="invalid check: unexpected end"),
    ],
    "experiments list": [
        case("store", "--rev", "nope", says=NO_REV),
        case("plain", "--rev", "HEAD", says=NOT_GIT),
    ],
    "plugins": [],
    "runs list": [
        case("store", "-e", "nope", says="no experiment 'nope'"),
        case("nostore", "-e", "nope", says="no experiment 'nope'"),
        case("store", "-f", "metrics.acc >", says="invalid filter: expected a value"),
        case("store", "--order-by", "bogus", says="unknown run attribute 'bogus'"),
        case("store", "--max", "-1", says="max_results must be a positive number"),
        case("store", "--rev", "nope", says=NO_REV),
        case("plain", "--rev", "HEAD", says=NOT_GIT),
    ],
    "runs show": [
        case("store", "NOPE", says="no run whose ID starts with 'NOPE'"),
        case("plain", "NOPE", says="no run whose ID starts with 'NOPE'"),
        case("store", RUN, "--rev", "nope", says=NO_REV),
        case("store", code=2, says="Missing argument 'RUN_ID'"),
    ],
    "runs delete": [
        case("store", "NOPE", says="no run whose ID starts with 'NOPE'"),
        case("store", code=2, says="Missing argument 'RUN_IDS...'"),
    ],
    "runs restore": [
        case("store", "NOPE", says="no run whose ID starts with 'NOPE'"),
        case("store", code=2, says="Missing argument 'RUN_IDS...'"),
    ],
    "runs checkout": [
        case("store", "NOPE", "elsewhere", says="no run whose ID starts with 'NOPE'"),
        case("store", RUN, ".", says="exists and is not empty; choose a new directory"),
        case("store", code=2, says="Missing argument 'RUN_ID'"),
    ],
    "commit": [
        case("store", "NOPE", says="no run whose ID starts with 'NOPE'"),
        case("store", "-e", "nope", says="no experiment 'nope'"),
        # Default has nothing to commit: a bad option is refused all the same
        case("store", "-e", "Default", "--dvc-threshold", "lots", says="cannot read size 'lots'"),
        case("nostore", says="no run store at"),
        case("plain", says="no run store at"),
    ],
    "push": [
        case("store", says="git push to origin failed: fatal: 'origin' does not appear to be a git repository"),
        case("plain", says=NOT_GIT),
    ],
    "pull": [
        case("store", says="git pull --ff-only from origin failed"),
        case("plain", says=NOT_GIT),
    ],
    "log": [
        case("store", "nope", says=NO_REV),
        case("plain", says=NOT_GIT),
    ],
    "gc": [
        case("store", "--older-than", "soon", says="cannot read age 'soon'"),
    ],
    "diff": [
        case("store", "nope", says=NO_REV),
        case("store", "HEAD", "nope", says=NO_REV),
        case("store", "-e", "nope", says="no experiment 'nope' in either side of the diff"),
        case("plain", says=NOT_GIT),
        case("store", "--format", "yaml", code=2, says="Invalid value for '--format'"),
        case("store", "--precision", "-1", code=2, says="Invalid value for '--precision'"),
        case("store", "--check", "metrics.acc >", code=2, says="invalid check: unexpected end"),
        case("store", "--check", "metrics.nope > 0", code=2, says="unknown metric 'nope'"),
    ],
    "report pr": [
        case("store", "nope", says=NO_REV),
        case("store", "--marker", "a b", says="bad report marker 'a b'"),
        case("store", "--check", "metrics.acc >", code=2, says="invalid check: unexpected end"),
        case("store", "--max-runs", "0", code=2, says="Invalid value for '--max-runs'"),
        case("plain", says=NOT_GIT),
    ],
    "report post": [
        case("store", "nowhere", code=2, says="Directory 'nowhere' does not exist"),
        case("store", ".gitrun", says="no comment.md or report.md in .gitrun"),
    ],
    "models predict": [
        case("store", "-m", "runs:/NOPE/model", says="no run whose ID starts with 'NOPE'"),
        case("store", "-m", f"runs:/{RUN}/nope", "--input-data", "{}", says="no model"),
        case("store", "-m", "nowhere", "-i", "nowhere.json", code=2, says="'nowhere.json' does not exist"),
        case("store", "-m", "runs:/NOPE/model", "--rev", "nope", says=NO_REV),
        case("store", code=2, says="Missing option '-m'"),
    ],
    "models register": [
        case("store", "churn", "--run", "NOPE", says="no run whose ID starts with 'NOPE'"),
        case("store", "wine model", "--run", RUN, says="invalid model name 'wine model': only letters"),
        case("store", "churn", "--run", RUN, says="has no model; log one"),
        case("store", "churn", "--run", RUN, "--version", "1.0", says="invalid version '1.0'"),
        case("store", "churn", "--bump", "huge", code=2, says="Invalid value for '--bump'"),
        case("store", "churn", code=2, says="Missing option '--run'"),
    ],
    **{
        f"models {verb}": [
            case("store", "churn", "1", "prod", says="no registered model 'churn' (registered: none yet)"),
            case("store", "churn", "1", "pro d", says="invalid stage 'pro d'"),
            case("plain", "churn", "1", "prod", says="is not inside a Git work tree"),
            case("store", "churn", "1", code=2, says="Missing argument 'STAGE'"),
        ]
        for verb in ("promote", "assign")
    },
    "models demote": [
        case("store", "churn", "prod", says="no registered model 'churn'"),
        case("store", "churn", code=2, says="Missing argument 'STAGE'"),
    ],
    "models deregister": [
        case("store", "churn", "v0.0.1", says="no registered model 'churn'"),
        case("store", "churn", code=2, says="Missing argument 'VERSION'"),
    ],
    "models deprecate": [
        case("store", "churn", says="no registered model 'churn'"),
        case("plain", "churn", says="is not inside a Git work tree"),
    ],
    "models list": [
        case("plain", says="is not inside a Git work tree"),
    ],
    "models history": [
        case("store", "churn", says="no registered model 'churn'"),
        case("plain", says="is not inside a Git work tree"),
    ],
    "models show": [
        case("store", "runs:/NOPE/model", says="no run whose ID starts with 'NOPE'"),
        case("store", "nowhere", says="no model folder at 'nowhere'"),
        case("store", "runs:/NOPE/model", "--rev", "nope", says=NO_REV),
        case("store", code=2, says="Missing argument 'URI'"),
    ],
    "run": [
        # a command that cannot start exits 127, as a shell's does, before any run exists
        case("store", "--", "no-such-command-xyz", code=127, says="cannot run 'no-such-command-xyz'"),
        case("store", "nowhere", says="no project directory"),
        case("store", ".", "-e", "nope", says="Could not find 'nope' among the entry points"),
        case("store", "--env-manager", "conda", "--", "true", code=2, says="Invalid value for '--env-manager'"),
    ],
    "sweep": [
        case("store", "-P", "lr", says="-P 'lr' is not KEY=VALUES"),
        case("store", "--random", "-1", "-P", "lr=1,2", says="--random -1: draw at least one point"),
        case("store", "-P", "lr=1,2", says="Could not find 'main' among the entry points"),
        case("store", code=2, says="nothing to sweep over"),
    ],
    "serve": [
        # the model loads before the server listens: a bad URI or option never opens a port
        case("store", "runs:/NOPE/model", says="no run whose ID starts with 'NOPE'"),
        case("store", "nowhere", says="no model folder at 'nowhere'"),
        case("store", "runs:/NOPE/model", "--rev", "nope", says=NO_REV),
        case("store", "nowhere", "--workers", "0", says="--workers must be 1 or more"),
        case("store", "nowhere", "--max-body", "lots", says="cannot read size 'lots'"),
        case("store", "nowhere", "--fetch", says="--fetch fetches tags for --watch: give --watch too"),
        case("store", "nowhere", "--env-manager", "conda", code=2, says="Invalid value for '--env-manager'"),
        case("store", code=2, says="Missing argument 'URI'"),
    ],
    "site build": [
        case("store", "--rev", "nope", says=NO_REV),
        case("store", "-o", ".gitrun/site", says="is inside the run store"),
        case("store", "--template-dir", "nowhere", code=2, says="Directory 'nowhere' does not exist"),
        case("plain", "--rev", "HEAD", says="needs a Git repository"),
    ],
    "site serve": [
        case("store", "--rev", "nope", says=NO_REV),
        case("store", "--port", "70000", code=2, says="Invalid value for '--port'"),
        case("store", "--interval", "0", code=2, says="Invalid value for '--interval'"),
    ],
    "site publish": [
        case("store", "-d", "nowhere", says="has no index.html: build the site first"),
        case("store", "-d", "fake-site", "-b", "a..b", says="'a..b' is not a valid branch name"),
        case("plain", says=NOT_GIT),
    ],
}


@dataclass(frozen=True)
class Places:
    plain: Path
    nostore: Path
    store: Path
    run_id: str


@pytest.fixture(scope="module")
def places(template_repo: Path, _session_home: Path, tmp_path_factory: pytest.TempPathFactory) -> Places:
    """The three places, built once: bad input changes nothing, which every case checks."""
    root = tmp_path_factory.mktemp("cli-errors")
    env = {
        "HOME": str(_session_home),
        "GIT_CONFIG_GLOBAL": str(_session_home / ".gitconfig"),
        "GIT_CONFIG_NOSYSTEM": "1",
        **GIT_IDENTITY,
    }
    plain = root / "plain"
    plain.mkdir()
    nostore = root / "nostore"
    shutil.copytree(template_repo, nostore, symlinks=True)
    store = root / "store"
    shutil.copytree(template_repo, store, symlinks=True)
    run_id = log_runs(
        store, [{"name": "a", "metrics": {"acc": 0.5}}], experiment="iris", primary_metric="acc", env=env
    )[0]
    assert gitrun_cli("commit", cwd=store, env=env).returncode == 0
    log_runs(store, [{"name": "b", "metrics": {"acc": 0.7}}], experiment="iris", primary_metric="acc", env=env)
    (store / "fake-site").mkdir()
    (store / "fake-site" / "index.html").write_text("<p>a built site</p>\n")
    (store / ".git" / "info" / "exclude").write_text("fake-site/\n")
    return Places(plain, nostore, store, run_id)


def snapshot(place: Path) -> tuple[dict[str, bytes], dict[str, bytes]]:
    """Every file outside .git/ and gitrun's derived cache, and what Git says of the index and tree."""
    files = {}
    for dirpath, dirnames, filenames in os.walk(place):
        rel_dir = Path(dirpath).relative_to(place)
        dirnames[:] = [d for d in dirnames if (rel_dir / d).as_posix() not in (".git", ".gitrun/.cache")]
        for name in filenames:
            files[(rel_dir / name).as_posix()] = (Path(dirpath) / name).read_bytes()
    state = git_state(place, exclude_store=False) if (place / ".git").exists() else {}
    return files, state


UNEXPECTED = re.compile(r"Error: unexpected \w+: ")  # how the CLI shows an exception that is no GitrunError


def assert_one_error(stderr: str, code: int) -> None:
    assert "Traceback" not in stderr, stderr
    lines = stderr.splitlines()
    if lines and lines[0].startswith("Usage: "):  # click's usage errors: usage, a hint, then the error
        assert code == 2 and lines[-1].startswith("Error: "), stderr
        return
    assert lines and lines[0].startswith("Error: ") and not UNEXPECTED.match(lines[0]), stderr
    # A grammar error adds the expression and a caret under the bad position; anything else is one line.
    assert len(lines) == 1 or (len(lines) == 3 and lines[2].strip() == "^"), stderr


def test_every_command_has_its_bad_input_cases() -> None:
    assert sorted(CASES) == sorted(command_paths())


@pytest.mark.parametrize("command", sorted(CASES))
def test_bad_input_is_one_error_line_and_changes_nothing(places: Places, command: str) -> None:
    cases = [*CASES[command], case("store", "--no-such-option", code=2, says="No such option '--no-such-option'")]
    for bad in cases:
        place = getattr(places, bad.where)
        args = [a.replace(RUN, places.run_id) for a in bad.args]
        before = snapshot(place)
        result = gitrun_cli(*command.split(), *args, cwd=place)
        shown = f"gitrun {command} {' '.join(args)} in {bad.where}: exit {result.returncode}\n{result.stderr}"
        assert result.returncode == bad.code, shown
        assert_one_error(result.stderr, bad.code)
        assert bad.says in result.stderr, shown
        assert snapshot(place) == before, shown


@pytest.mark.parametrize("command", ["diff", "report pr"])
def test_a_gate_exits_0_when_its_checks_hold_1_when_one_fails(places: Places, command: str, tmp_path: Path) -> None:
    out = ["--out", str(tmp_path / "report")] if command == "report pr" else []
    passing = gitrun_cli(*command.split(), *out, "--check", "metrics.acc >= base", cwd=places.store)
    assert passing.returncode == 0, passing.stderr
    assert "PASS metrics.acc >= base" in passing.stdout
    failing = gitrun_cli(*command.split(), *out, "--check", "metrics.acc > 0.9", cwd=places.store)
    assert failing.returncode == 1, failing.stderr
    assert "FAIL metrics.acc > 0.9" in failing.stdout and "Error" not in failing.stderr
    assert run_git(places.store, "status", "--porcelain", "--", "fake-site").stdout == ""


def test_site_serve_on_a_busy_port_says_so_before_building(places: Places) -> None:
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        before = snapshot(places.store)
        result = gitrun_cli("site", "serve", "--port", str(port), "-o", "preview", cwd=places.store)
    assert result.returncode == 1
    assert_one_error(result.stderr, 1)
    assert f"cannot serve on 127.0.0.1:{port}: Address already in use; choose another port" in result.stderr
    assert snapshot(places.store) == before  # nothing built
