"""The Git layer (gitrun/vcs/git.py on GitPython, gitrun/gitcmd.py for direct calls): discovery and
refs against real repositories, one environment and one error type for every Git process."""

from __future__ import annotations

import ast
import os
from pathlib import Path

import pytest

from gitrun import gitcmd
from gitrun.errors import GitCommandError, GitrunError, NotAGitRepositoryError
from gitrun.vcs.git import GitRepo
from tests.helpers import ROOT, gitrun_cli, log_runs, run_git, run_python

ENV_DUMP = ("-c", "alias.env-dump=!env", "env-dump")  # a shell alias: prints what git's children get


def _env_of(output: str | bytes) -> dict[str, str]:
    text = output.decode() if isinstance(output, bytes) else output
    return dict(line.split("=", 1) for line in text.splitlines() if "=" in line)


def test_gitpythons_and_direct_git_processes_get_the_same_environment(repo: Path) -> None:
    git_repo = GitRepo.find(repo)
    through_gitpython = _env_of(git_repo.run(*ENV_DUMP))
    streamed = _env_of(git_repo.batch(*ENV_DUMP))
    direct = _env_of(gitcmd.run(repo, *ENV_DUMP).stdout)
    for env in (through_gitpython, streamed, direct):
        assert {k: env.get(k) for k in gitcmd.BASE_ENV} == gitcmd.BASE_ENV
    extra = _env_of(git_repo.run(*ENV_DUMP, env={"GIT_INDEX_FILE": "/tmp/x"}))
    assert extra["GIT_INDEX_FILE"] == "/tmp/x" and extra["GIT_OPTIONAL_LOCKS"] == "0"


def test_a_version_command_leaves_the_users_index_alone(repo: Path) -> None:
    # `git status` rewrites a stale index unless GIT_OPTIONAL_LOCKS=0: with GitPython's own
    # environment only, `gitrun commit` (which runs it) would touch the user's .git/index.
    log_runs(repo, [{"metrics": {"val_acc": 0.5}}])
    assert gitrun_cli("commit", cwd=repo).returncode == 0
    for committed in (repo / ".gitrun").rglob("meta.json"):  # what `git status -- .gitrun` looks at
        stamp = committed.stat().st_mtime + 5
        os.utime(committed, (stamp, stamp))  # same content, new mtime: the index's stat data is stale
    before = (repo / ".git" / "index").read_bytes()
    result = gitrun_cli("commit", cwd=repo)
    assert result.returncode == 0 and "Nothing to commit" in result.stdout, result.stdout + result.stderr
    assert (repo / ".git" / "index").read_bytes() == before


def test_a_failed_command_is_a_git_command_error_either_way(repo: Path) -> None:
    git_repo = GitRepo.find(repo)
    with pytest.raises(GitCommandError) as info:
        git_repo.run("cat-file", "-t", "0" * 40)
    error = info.value
    assert isinstance(error, GitrunError)
    assert error.command == f"git cat-file -t {'0' * 40}" and error.returncode == 128
    assert str(error).endswith("fatal: git cat-file: could not get object info")
    with pytest.raises(
        GitCommandError, match=r"git ls-tree -r -l -z nope failed \(exit status 128\): fatal: Not a valid"
    ):
        git_repo.ls_tree_raw("nope")  # read directly: stderr still reaches the error
    with pytest.raises(GitCommandError, match=r"git fast-import failed \(exit status \d+\): .*Unsupported command"):
        git_repo.batch("fast-import", chunks=[b"bogus\n"])
    assert git_repo.run("cat-file", "-t", "0" * 40, check=False).returncode == 128


def test_an_exception_while_streaming_stops_the_process_and_is_raised(repo: Path) -> None:
    def chunks() -> object:
        yield b"blob\nmark :1\ndata 2\nhi\n"
        raise OSError("the file went away")

    with pytest.raises(OSError, match="the file went away"):
        GitRepo.find(repo).batch("fast-import", "--quiet", "--done", chunks=chunks())  # type: ignore[arg-type]


def test_discovery_from_anywhere_in_the_work_tree(repo: Path, tmp_path: Path) -> None:
    deep = repo / "a" / "b"
    deep.mkdir(parents=True)
    assert GitRepo.find(deep).root == repo.resolve()
    assert GitRepo.find(repo / "not" / "yet" / "there.txt").root == repo.resolve()
    assert GitRepo.find(repo / "README.md").root == repo.resolve()
    link = tmp_path / "link"
    link.symlink_to(repo)
    assert GitRepo.find(link / "a").root == repo.resolve()  # as `git rev-parse --show-toplevel` prints it

    linked = tmp_path / "linked"
    run_git(repo, "worktree", "add", "-q", "-b", "side", str(linked))
    found = GitRepo.find(linked)
    assert found.root == linked.resolve() and found.branch() == "side"
    assert found.git_dir == Path(run_git(linked, "rev-parse", "--absolute-git-dir").stdout.strip())

    outside = tmp_path / "plain"
    outside.mkdir()
    with pytest.raises(NotAGitRepositoryError, match="is not inside a Git work tree; run `git init`"):
        GitRepo.find(outside)
    bare = tmp_path / "bare.git"
    run_git(tmp_path, "init", "-q", "--bare", str(bare))
    with pytest.raises(NotAGitRepositoryError, match="bare Git repository"):
        GitRepo.find(bare)


def test_refs_read_in_process_agree_with_git(repo: Path, tmp_path: Path) -> None:
    git_repo = GitRepo.find(repo)
    head = run_git(repo, "rev-parse", "HEAD").stdout.strip()
    assert (git_repo.head(), git_repo.branch(), git_repo.default_branch()) == (head, "main", "main")
    clone = tmp_path / "clone"
    run_git(tmp_path, "clone", "-q", str(repo), str(clone))
    assert GitRepo.find(clone).default_branch() == "origin/main"  # origin/HEAD wins over the local main
    run_git(repo, "pack-refs", "--all")  # refs only in packed-refs now
    assert not (repo / ".git" / "refs" / "heads" / "main").exists()
    assert GitRepo.find(repo).head() == head
    run_git(repo, "switch", "-q", "--detach")
    detached = GitRepo.find(repo)
    assert (detached.head(), detached.branch(), detached.default_branch()) == (head, None, "main")
    run_git(repo, "switch", "-q", "--orphan", "fresh")
    unborn = GitRepo.find(repo)
    assert (unborn.head(), unborn.branch()) == (None, "fresh")
    run_git(repo, "branch", "-q", "-m", "main", "trunk")
    assert unborn.default_branch() == "fresh"  # no main/master, no origin: the current branch


def test_config_values_are_gits_including_the_environment(repo: Path) -> None:
    git_repo = GitRepo.find(repo)
    assert git_repo.config("user.name") == "Test User"  # from GIT_CONFIG_GLOBAL (conftest)
    assert git_repo.config("gitrun.nothing") is None
    env = {"GIT_CONFIG_COUNT": "1", "GIT_CONFIG_KEY_0": "core.autocrlf", "GIT_CONFIG_VALUE_0": "input"}
    proc = run_python(
        f"from gitrun.vcs.git import GitRepo; print(GitRepo.find({str(repo)!r}).config('core.autocrlf'))", repo, env
    )
    assert proc.stdout.strip() == "input", proc.stderr


def test_user_revisions_are_checked_not_taken_as_options(repo: Path) -> None:
    git_repo = GitRepo.find(repo)
    assert git_repo.rev_parse("HEAD") == run_git(repo, "rev-parse", "HEAD").stdout.strip()
    for rev in ("nope", "--all", "-h"):
        with pytest.raises(GitrunError, match=f"unknown revision '{rev}'"):
            git_repo.rev_parse(rev)


def test_without_git_a_version_command_says_so_in_one_line(repo: Path) -> None:
    env = {"PATH": ""}  # the interpreter is started by its full path
    code = "import sys; from gitrun.cli import main; sys.argv = ['gitrun', 'log']; main()"
    proc = run_python(code, repo, env)
    assert proc.returncode == 1
    assert proc.stderr.strip() == f"Error: git version failed (exit status 127): {gitcmd.NOT_INSTALLED}"


def test_only_gitcmd_starts_git_itself() -> None:
    # An argv list starting with "git" outside gitrun/gitcmd.py is a Git call with neither gitrun's
    # environment nor its error type; GitRepo.run (GitPython) and gitcmd are the two ways in.
    allowed = {ROOT / "gitrun" / "gitcmd.py", ROOT / "gitrun" / "vcs" / "git.py"}
    found = []
    for path in sorted(set((ROOT / "gitrun").rglob("*.py")) - allowed):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            first = node.elts[0] if isinstance(node, (ast.List, ast.Tuple)) and node.elts else None
            if isinstance(first, ast.Constant) and first.value == "git":
                found.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert found == []
