"""The wheel carries the site's templates and assets: installed in a fresh venv, it builds a site.

The wheel is built offline (no build isolation: hatchling comes from the test venv); the fresh
venv gets the wheel with ``--no-deps`` and sees this venv's packages (Jinja2, Altair...) through a
``.pth`` line, which does not run this venv's editable-install hook, so ``gitrun`` can only come
from the wheel.
"""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
import venv
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_installed_wheel_builds_a_site(tmp_path: Path, repo: Path) -> None:
    dist = tmp_path / "dist"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "--quiet",
            "-w",
            str(dist),
            str(ROOT),
        ],
        check=True,
        capture_output=True,
        cwd=tmp_path,
    )
    (wheel,) = dist.glob("gitrun_ml-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for required in (
        "gitrun/_data/templates/base.html",
        "gitrun/_data/templates/run.html",
        "gitrun/_data/templates/workflows/gitrun-site.yml.j2",
        "gitrun/_data/site/gitrun.js",
        "gitrun/_data/site/filter.js",
        "gitrun/_data/site/gitrun.css",
        "gitrun/site/build.py",
        "gitrun/charts/specs.py",
    ):
        assert required in names, f"{required} missing from {wheel.name}"

    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=False).create(env_dir)
    python = env_dir / "bin" / "python"
    purelib = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    # Install the wheel with this venv's pip into the fresh one (no index, no dependencies).
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "--no-index", "--quiet", "--target", purelib, str(wheel)],
        check=True,
        capture_output=True,
    )
    Path(purelib, "zz_test_deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n", encoding="utf-8")

    (repo / "train.py").write_text(
        "import gitrun\n"
        "gitrun.set_experiment('wheel-exp')\n"
        "with gitrun.start_run(run_name='from-wheel'):\n"
        "    gitrun.log_param('lr', 0.1)\n"
        "    for s in range(5):\n"
        "        gitrun.log_metric('acc', s / 5, step=s)\n",
        encoding="utf-8",
    )
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["GITRUN_NO_PROGRESS"] = "1"
    where = subprocess.run(
        [
            str(python),
            "-c",
            "import gitrun, gitrun.site.resources as r; print(gitrun.__file__); print(r.templates_dir())",
        ],
        cwd=tmp_path,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.splitlines()
    assert where[0].startswith(str(env_dir)), where
    assert where[1].startswith(purelib) and where[1].endswith("_data/templates"), where
    subprocess.run([str(python), "train.py"], cwd=repo, env=env, check=True, capture_output=True)
    result = subprocess.run(
        [str(python), "-m", "gitrun", "site", "build", "-o", "out", "--strict"],
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    assert "1 run(s)" in result.stdout
    assert (repo / "out" / "assets" / "gitrun.js").read_bytes() == (ROOT / "site" / "gitrun.js").read_bytes()
    assert (repo / "out" / "assets" / "vendor" / "vega-bundle.js").stat().st_size > 500_000
    assert (
        "from-wheel" in (repo / "out" / "experiments" / "wheel-exp.html").read_text()
        or "from-wheel" in (repo / "out" / "data" / "experiments" / "wheel-exp.js").read_text()
    )
