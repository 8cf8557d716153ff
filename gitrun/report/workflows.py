"""The GitHub Actions workflows ``gitrun init --github`` writes (PR report, fork comments, site).

One function per workflow file; each renders a Jinja2 template of ``templates/workflows/``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from gitrun._version import __version__
from gitrun.compare.gate import parse_check
from gitrun.data import templates_dir
from gitrun.errors import NotAGitRepositoryError
from gitrun.vcs.git import GitRepo

# One function per workflow file; each renders a Jinja2 template of templates/workflows/. The
# templates use {{{ name }}} for gitrun's values, so GitHub's own ${{ ... }} expressions need no escaping.
WORKFLOWS_DIR = Path(".github") / "workflows"
PYTHON_FOR_WORKFLOWS = "3.12"


@dataclass(frozen=True)
class WorkflowFile:
    path: Path
    action: str  # "created", "updated" (with force), "unchanged", or "kept" (exists; no force)


def render_workflow(name: str, **context: object) -> str:
    """Render ``templates/workflows/<name>.j2`` (``version`` and ``python`` are always given)."""
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(templates_dir() / "workflows")),
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
    major, minor = [*__version__.split("."), "0", "0"][:2]
    return f"gitrun-ml{extra}~={major}.{minor}.0"


def write_pr_workflow(repo_root: Path, *, checks: Sequence[str] = (), force: bool = False) -> WorkflowFile:
    """``gitrun-pr.yml``: the PR report on every pull request, posted as a sticky comment; ``checks`` is the gate."""
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
        try:
            branch = GitRepo.find(repo_root).default_branch() or "main"
        except NotAGitRepositoryError:
            branch = "main"  # not a repository (yet): GitHub's default
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
