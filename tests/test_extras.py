"""A feature whose optional extra is missing names the extra to install, one line, no traceback.

Each test runs the real entry point (the CLI's ``main``, a training script, the demo) in a fresh
interpreter where the extra's module cannot be imported: ``sys.modules[name] = None`` makes
``import name`` raise ModuleNotFoundError as an uninstalled package does.
"""

from __future__ import annotations

import importlib.metadata
import os
import re
from pathlib import Path

import pytest
import tomllib

from gitrun.extras import EXTRAS
from tests.helpers import DVC_REMOTE_NAME, ROOT, log_runs, run_git, run_python

MiB = 1024 * 1024


def without(modules: list[str], body: str) -> str:
    """Python code that runs ``body`` with ``modules`` impossible to import."""
    return f"import sys\nfor name in {modules!r}:\n    sys.modules[name] = None\n{body}"


def cli_without(modules: list[str], *args: str, cwd: Path) -> tuple[int, str]:
    code = without(modules, f"from gitrun.cli import main\nsys.argv = ['gitrun', *{list(args)!r}]\nmain()")
    proc = run_python(code, cwd)
    return proc.returncode, proc.stderr


def assert_names_extra(stderr: str, extra: str, package: str) -> None:
    assert "Traceback" not in stderr, stderr
    assert stderr.startswith("Error: ") and len(stderr.splitlines()) == 1, stderr
    assert f"needs {package}, which is not installed" in stderr, stderr
    assert f"pip install 'gitrun-ml[{extra}]'" in stderr, stderr


def test_the_table_of_extras_is_pyprojects() -> None:
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    assert set(EXTRAS) == set(declared) - {"dev"}
    owners = importlib.metadata.packages_distributions()
    for extra, modules in EXTRAS.items():
        requirements = [re.split(r"[<>=~!;\s]", r, maxsplit=1)[0] for r in declared[extra]]
        pulled = []  # what a requirement's own extra brings: dvc[s3] -> dvc-s3
        for requirement in requirements:
            if "[" in requirement:
                dist, extras = requirement.rstrip("]").split("[")
                for line in importlib.metadata.requires(dist) or []:
                    if any(re.search(rf"extra *== *['\"]{re.escape(e)}['\"]", line) for e in extras.split(",")):
                        pulled.append(re.split(r"[<>=~!;\s\[]", line, maxsplit=1)[0])
        names = {r.split("[")[0].lower() for r in requirements} | {p.lower() for p in pulled}
        for module, distribution in modules.items():
            assert distribution.lower() in names, (extra, distribution, names)
            assert distribution in owners.get(module, []), (module, distribution)  # the module is that package's


def test_init_dvc_without_dvc_names_the_extra_and_writes_nothing(repo: Path) -> None:
    code, stderr = cli_without(["dvc"], "init", "--dvc", cwd=repo)
    assert code == 1
    assert_names_extra(stderr, "dvc", "dvc")
    assert stderr.startswith("Error: gitrun init --dvc needs dvc")
    assert not (repo / ".gitrun").exists() and not (repo / ".dvc").exists()


def test_push_to_an_s3_remote_without_dvc_s3_names_the_s3_extra(dvc_repo: Path, origin: Path, tmp_path: Path) -> None:
    (dvc_repo / ".dvc" / "config").write_text(
        f"[core]\n    analytics = False\n    remote = {DVC_REMOTE_NAME}\n"
        f"['remote \"{DVC_REMOTE_NAME}\"']\n    url = s3://gitrun-test-bucket/dvc\n"
    )
    run_git(dvc_repo, "commit", "-q", "-am", "an S3 remote")
    (tmp_path / "model.bin").write_bytes(os.urandom(MiB))
    log_runs(dvc_repo, [{"artifacts": [str(tmp_path / "model.bin")]}])
    proc = run_python("import gitrun\nprint(gitrun.commit().sha)", dvc_repo)
    assert proc.returncode == 0, proc.stderr

    code, stderr = cli_without(["dvc_s3"], "push", cwd=dvc_repo)

    assert code == 1
    assert_names_extra(stderr, "s3", "dvc-s3")
    assert run_git(origin, "rev-parse", "main").stdout == run_git(dvc_repo, "rev-parse", "HEAD").stdout  # Git went


@pytest.mark.parametrize("module", sorted(EXTRAS["site"]))
def test_site_build_without_a_site_package_names_the_site_extra(repo: Path, module: str) -> None:
    log_runs(repo, [{"metrics": {"val_acc": [0.5, 0.7]}}])
    code, stderr = cli_without([module], "site", "build", "-o", "out", cwd=repo)
    assert code == 1
    assert_names_extra(stderr, "site", EXTRAS["site"][module])
    assert not (repo / "out").exists()


def test_log_image_without_pillow_names_the_images_extra(repo: Path) -> None:
    body = """
import gitrun, numpy
with gitrun.start_run() as run:
    try:
        gitrun.log_image(numpy.zeros((2, 2), dtype=numpy.uint8), "black.png")
    except gitrun.GitrunError as exc:
        print(exc)
    gitrun.log_metric("after", 1.0)
print(gitrun.get_run(run.info.run_id).data.metrics)
"""
    proc = run_python(without(["PIL"], body), repo)
    assert proc.returncode == 0, proc.stderr
    message, metrics = proc.stdout.splitlines()
    assert (
        message == "log_image needs pillow, which is not installed (no module 'PIL'): pip install 'gitrun-ml[images]'"
    )
    assert metrics == "{'after': 1.0}"  # the run goes on


def test_the_demo_without_scikit_learn_names_the_demo_extra(tmp_path: Path) -> None:
    target = tmp_path / "demo-repo"
    body = f"import runpy\nsys.argv = ['run_demo.py', {str(target)!r}]\nrunpy.run_path({str(ROOT / 'demo' / 'run_demo.py')!r}, run_name='__main__')"
    proc = run_python(without(["sklearn"], body), tmp_path)
    assert proc.returncode == 1
    assert_names_extra(proc.stderr, "demo", "scikit-learn")
    assert not target.exists()


def test_the_cli_maps_an_unguarded_missing_module_to_its_extra(repo: Path) -> None:
    # `gitrun init --github` renders its workflows with Jinja2 and calls no `require`: the CLI's
    # error wrapper still names the extra that brings the module.
    code, stderr = cli_without(["jinja2"], "init", "--github", cwd=repo)
    assert code == 1
    assert_names_extra(stderr, "site", "Jinja2")
    assert "unexpected" not in stderr
    code, stderr = cli_without(["jinja2"], "--traceback", "init", "--github", cwd=repo)
    assert "ModuleNotFoundError" in stderr and "gitrun-ml[site]" in stderr.splitlines()[-1]


def test_an_unexpected_missing_module_stays_unexpected(repo: Path) -> None:
    code = without(["yaml"], "from gitrun.cli import main\nsys.argv = ['gitrun', 'init']\nmain()")
    proc = run_python(code, repo)
    assert proc.returncode == 1
    assert proc.stderr.startswith("Error: unexpected ModuleNotFoundError"), proc.stderr


def test_the_pr_report_without_vl_convert_is_written_and_names_the_site_extra(repo: Path) -> None:
    log_runs(repo, [{"name": "base", "metrics": {"val_acc": [0.5, 0.6, 0.7]}}])
    proc = run_python("import gitrun\nprint(gitrun.commit().sha)", repo)
    assert proc.returncode == 0, proc.stderr
    log_runs(repo, [{"name": "new", "metrics": {"val_acc": [0.6, 0.7, 0.8]}}])
    code, stderr = cli_without(["vl_convert"], "report", "pr", "--out", "report", cwd=repo)
    assert code == 0, stderr
    assert (repo / "report" / "comment.md").is_file() and not (repo / "report" / "charts").exists()
    assert stderr.strip() == (
        "No chart images: drawing charts as SVG/PNG needs vl-convert-python, which is not installed (no module "
        "'vl_convert'): pip install 'gitrun-ml[site]' (the Markdown report is complete without them)"
    )
