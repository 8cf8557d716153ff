"""``gitrun init``: the store skeleton, and optionally DVC with a default remote."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from gitrun.store import Store

if TYPE_CHECKING:
    from gitrun.vcs.git import GitRepo


@dataclass(frozen=True)
class InitResult:
    store: Path
    existed: bool
    dvc_files: tuple[str, ...] = ()
    commit_sha: str | None = None
    remote_url: str | None = None  # the DVC remote as written to .dvc/config (credentials removed)
    remote_credentials: tuple[str, ...] = ()  # its options written to .dvc/config.local instead


def init_store(store: Store, *, with_dvc: bool = False, remote_url: str | None = None) -> InitResult:
    """Create the store; with DVC, run ``dvc init``, set the remote and commit DVC's config files only.

    Credentials in ``remote_url`` (``https://user:password@...``, ``s3://KEY:SECRET@...``) go to
    the git-ignored ``.dvc/config.local``, never to a committed file.
    """
    existed = store.layout.exists()
    store.ensure()
    store.ensure_default_experiment()
    if not with_dvc:
        return InitResult(store.root, existed)
    from gitrun.vcs import dvc
    from gitrun.vcs.commit import check_git_state, commit_paths
    from gitrun.vcs.git import GitRepo

    repo = GitRepo.find(store.root)
    check_git_state(repo)
    setup = dvc.init(repo.root, remote_url)
    files = list(setup.files)
    if setup.credentials and _ignore_local_config(repo) and ".dvc/.gitignore" not in files:
        files.append(".dvc/.gitignore")
    sha = None
    if repo.branch() is not None or repo.head() is None:
        sha, _ = commit_paths(repo, files, "gitrun: set up DVC for large artifacts\n", no_verify=False)
    return InitResult(store.root, existed, tuple(files), sha, setup.remote_url, setup.credentials)


def _ignore_local_config(repo: GitRepo) -> bool:
    """``.dvc/config.local`` holds credentials: make sure Git ignores it (DVC's ``.dvc/.gitignore``
    normally does). True when the rule had to be added to ``.dvc/.gitignore``."""
    from gitrun.errors import GitrunError

    if repo.run("check-ignore", "-q", "--no-index", ".dvc/config.local", check=False).returncode == 0:
        return False
    gitignore = repo.root / ".dvc" / ".gitignore"
    text = gitignore.read_text(encoding="utf-8") if gitignore.exists() else ""
    gitignore.write_text(text + ("" if not text or text.endswith("\n") else "\n") + "/config.local\n", encoding="utf-8")
    if repo.run("check-ignore", "-q", "--no-index", ".dvc/config.local", check=False).returncode != 0:
        raise GitrunError(
            f"{repo.root / '.dvc' / 'config.local'} holds the remote's credentials but Git does not ignore it "
            "(a rule in your .gitignore files re-includes it); fix that rule before committing anything"
        )
    return True


# -- GitHub workflows (`gitrun init --github`) ---------------------------------------------------
# One function per workflow file; each renders a Jinja2 template of templates/workflows/. The
# templates use {{{ name }}} for gitrun's values, so GitHub's own ${{ ... }} expressions need no escaping.
WORKFLOWS_DIR = Path(".github") / "workflows"
PYTHON_FOR_WORKFLOWS = "3.12"


@dataclass(frozen=True)
class WorkflowFile:
    path: Path
    action: str  # "created", "updated" (with force), "unchanged", or "kept" (exists; no force)


def _templates_dir() -> Path:
    """templates/: packaged as gitrun/_data/templates in a wheel, else the checkout's top level."""
    import gitrun

    package = Path(gitrun.__file__).resolve().parent
    for candidate in (package / "_data" / "templates", package.parent / "templates"):
        if candidate.is_dir():
            return candidate
    from gitrun.errors import GitrunError

    raise GitrunError(f"gitrun's templates/ folder is missing (looked beside {package}); reinstall gitrun-ml")


def render_workflow(name: str, **context: object) -> str:
    """Render ``templates/workflows/<name>.j2`` (``version`` and ``python`` are always given)."""
    import jinja2

    from gitrun._version import __version__

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(_templates_dir() / "workflows")),
        variable_start_string="{{{",
        variable_end_string="}}}",
        comment_start_string="{##",
        comment_end_string="##}",
        autoescape=False,  # YAML, not HTML; every value is gitrun's own or a validated check
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
    )
    values = {"version": __version__, "python": PYTHON_FOR_WORKFLOWS, **context}
    return env.get_template(f"{name}.j2").render(**values)


def _write_workflow(repo_root: Path, name: str, text: str, force: bool) -> WorkflowFile:
    path = repo_root / WORKFLOWS_DIR / name
    if path.exists():
        if path.read_text(encoding="utf-8") == text:
            return WorkflowFile(path, "unchanged")
        if not force:
            return WorkflowFile(path, "kept")
    path.parent.mkdir(parents=True, exist_ok=True)
    existed = path.exists()
    path.write_text(text, encoding="utf-8")
    return WorkflowFile(path, "updated" if existed else "created")


def _package_spec(extra: str = "") -> str:
    from gitrun._version import __version__

    major, minor = [*__version__.split("."), "0", "0"][:2]
    return f"gitrun-ml{extra}~={major}.{minor}.0"


def write_pr_workflow(repo_root: Path, *, checks: Sequence[str] = (), force: bool = False) -> WorkflowFile:
    """``gitrun-pr.yml``: the PR report on every pull request, posted as a sticky comment; ``checks`` is the gate."""
    from gitrun.compare.gate import parse_check

    for check in checks:
        parse_check(check)  # malformed checks fail here, not in the user's CI
    text = render_workflow("gitrun-pr.yml", checks=list(checks), package=_package_spec("[site]"))
    return _write_workflow(repo_root, "gitrun-pr.yml", text, force)


def write_pr_comment_workflow(repo_root: Path, *, force: bool = False) -> WorkflowFile:
    """``gitrun-pr-comment.yml``: posts the report of pull requests from forks (``workflow_run``)."""
    text = render_workflow("gitrun-pr-comment.yml", poster_package=_package_spec())
    return _write_workflow(repo_root, "gitrun-pr-comment.yml", text, force)


def write_site_workflow(repo_root: Path, *, branch: str | None = None, force: bool = False) -> WorkflowFile:
    """``gitrun-site.yml``: build the report site on every push to ``branch`` and deploy it to GitHub Pages."""
    if branch is None:
        from gitrun.site.build import default_branch
        from gitrun.vcs.git import GitRepo

        repo = GitRepo(repo_root)
        branch = (default_branch(repo) if repo.head() is not None else None) or repo.branch() or "main"
        branch = branch.split("/", 1)[1] if branch.startswith("origin/") else branch
    text = render_workflow("gitrun-site.yml", branch=branch, package=_package_spec("[site]"))
    return _write_workflow(repo_root, "gitrun-site.yml", text, force)


def write_github_workflows(repo_root: Path, *, checks: Sequence[str] = (), force: bool = False) -> list[WorkflowFile]:
    """Every workflow ``gitrun init --github`` writes (existing files are kept unless ``force``)."""
    return [
        write_pr_workflow(repo_root, checks=checks, force=force),
        write_pr_comment_workflow(repo_root, force=force),
        write_site_workflow(repo_root, force=force),
    ]
