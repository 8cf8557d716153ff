"""``gitrun site build | serve | publish`` and the Pages workflow of ``gitrun init --github``."""

from __future__ import annotations

import json
import shutil
import subprocess
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest
import yaml
from test_site_helpers import git, site_repo  # noqa: F401 - fixture

from tests.helpers import gitrun_cli

ROOT = Path(__file__).resolve().parent.parent
ACTIONLINT = ROOT / "scripts" / "node" / "actionlint.cjs"


def _copy(source: tuple[Path, Any], tmp_path: Path) -> tuple[Path, dict[str, Any]]:
    src, facts = source
    repo = tmp_path / "repo"
    shutil.copytree(src, repo, symlinks=True)
    return repo, facts


def test_cli_build_then_publish_to_gh_pages(site_repo: tuple[Path, Any], tmp_path: Path) -> None:  # noqa: F811
    repo, _ = _copy(site_repo, tmp_path)
    (repo / "scratch.txt").write_text("unstaged work\n")
    (repo / "README.md").write_text("# changed, staged\n")
    git(repo, "add", "README.md")
    built = gitrun_cli("site", "build", cwd=repo, env={"GITRUN_NO_PROGRESS": "1"})
    assert built.returncode == 0, built.stderr
    assert "2 experiment(s), 5 run(s)" in built.stdout and (repo / "_site" / "index.html").is_file()
    before = (git(repo, "status", "--porcelain"), git(repo, "rev-parse", "HEAD"), git(repo, "symbolic-ref", "HEAD"))
    bare = tmp_path / "remote.git"
    subprocess.run(["git", "init", "-q", "--bare", str(bare)], check=True)
    git(repo, "remote", "add", "origin", str(bare))
    first = gitrun_cli("site", "publish", "--push", cwd=repo)
    assert first.returncode == 0, first.stderr
    assert "Pushed gh-pages to origin" in first.stdout
    files = set(git(repo, "ls-tree", "-r", "--name-only", "gh-pages").splitlines())
    assert {"index.html", "compare.html", ".nojekyll", "assets/vendor/vega-bundle.js"} <= files
    assert ".gitrun-site.json" not in files
    assert git(bare, "rev-parse", "gh-pages") == git(repo, "rev-parse", "gh-pages")
    # The user's work tree, index and branch are exactly as they were.
    assert (
        git(repo, "status", "--porcelain"),
        git(repo, "rev-parse", "HEAD"),
        git(repo, "symbolic-ref", "HEAD"),
    ) == before
    again = gitrun_cli("site", "publish", cwd=repo)
    assert "nothing to commit" in again.stdout
    tip = git(repo, "rev-parse", "gh-pages")
    (repo / "_site" / "extra.txt").write_text("x")
    third = gitrun_cli("site", "publish", "-m", "update", cwd=repo)
    assert third.returncode == 0, third.stderr
    assert git(repo, "rev-parse", "gh-pages^") == tip  # appended, never rewritten
    assert git(repo, "log", "-1", "--format=%s", "gh-pages") == "update"


def test_publish_refuses_without_a_built_site(site_repo: tuple[Path, Any], tmp_path: Path) -> None:  # noqa: F811
    repo, _ = _copy(site_repo, tmp_path)
    result = gitrun_cli("site", "publish", "-d", "nowhere", cwd=repo)
    assert result.returncode == 1 and "build the site first" in result.stderr


def test_help_ends_with_examples() -> None:
    for args in (("site",), ("site", "build"), ("site", "serve"), ("site", "publish")):
        out = gitrun_cli(*args, "--help", cwd=ROOT).stdout
        assert "Example" in out.strip().split("\n\n")[-2] + out.strip().split("\n\n")[-1], args


def test_site_help_imports_nothing_heavy() -> None:
    code = "import sys; from gitrun.cli import main; sys.argv=['gitrun','site','--help']\ntry:\n main()\nexcept SystemExit:\n pass\nprint(sorted(m for m in ('altair','jinja2','numpy','pandas','vl_convert') if m in sys.modules))"
    import sys

    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip().splitlines()[-1] == "[]"


def test_serve_rebuilds_when_the_store_changes(site_repo: tuple[Path, Any], tmp_path: Path) -> None:  # noqa: F811
    import gitrun
    from gitrun.serve.preview import serve
    from gitrun.site.build import BuildOptions
    from gitrun.store import Store

    repo, facts = _copy(site_repo, tmp_path)
    urls: list[str] = []
    builds: list[Any] = []
    stop = threading.Event()
    options = BuildOptions(output=tmp_path / "preview", history=False)
    thread = threading.Thread(
        target=serve,
        args=(Store(repo / ".gitrun"), options),
        kwargs={"port": 0, "interval": 0.2, "on_build": builds.append, "on_ready": urls.append, "stop": stop},
        daemon=True,
    )
    thread.start()
    try:
        deadline = time.time() + 60
        while not urls and time.time() < deadline:
            time.sleep(0.05)
        assert urls and urls[0].startswith("http://127.0.0.1:")
        page = urllib.request.urlopen(urls[0], timeout=10).read().decode()
        assert "alpha" in page
        client = gitrun.Client(repo / ".gitrun")
        new = client.create_run(facts["alpha"], run_name="live").info.run_id
        client.set_terminated(new, "FINISHED")
        while len(builds) < 2 and time.time() < deadline:
            time.sleep(0.05)
        assert len(builds) >= 2 and builds[-1].rebuilt_runs >= 1
        run_page = urllib.request.urlopen(urls[0].replace("index.html", f"runs/{new}.html"), timeout=10).read().decode()
        assert "live" in run_page
    finally:
        stop.set()
        thread.join(timeout=10)


def test_init_github_writes_a_pages_workflow_that_actionlint_accepts(repo: Path) -> None:
    result = gitrun_cli("init", "--github", cwd=repo)
    assert result.returncode == 0, result.stderr
    path = repo / ".github" / "workflows" / "gitrun-site.yml"
    assert "Created .github/workflows/gitrun-site.yml" in result.stdout
    flow = yaml.safe_load(path.read_text())
    assert flow[True]["push"]["branches"] == ["main"]  # YAML 1.1 reads the key `on` as true
    assert flow["permissions"] == {"contents": "read", "pages": "write", "id-token": "write"}
    build_steps = flow["jobs"]["build"]["steps"]
    uses = [s.get("uses", "") for s in build_steps]
    assert uses[0] == "actions/checkout@v4" and build_steps[0]["with"]["fetch-depth"] == 0
    assert any(u.startswith("actions/configure-pages@") for u in uses)
    assert any(u.startswith("actions/upload-pages-artifact@") for u in uses)
    assert any("gitrun site build -o _site" in s.get("run", "") for s in build_steps)
    assert flow["jobs"]["deploy"]["steps"][0]["uses"].startswith("actions/deploy-pages@")
    assert flow["jobs"]["deploy"]["environment"]["name"] == "github-pages"
    node = shutil.which("node")
    if node is None or not (ACTIONLINT.parent / "node_modules" / "@tktco" / "node-actionlint").is_dir():
        pytest.skip("actionlint (scripts/node) is not installed: run scripts/install-system-deps.sh")
    lint = subprocess.run([node, str(ACTIONLINT), str(path)], capture_output=True, text=True, check=True)
    assert json.loads(lint.stdout) == [], lint.stdout
