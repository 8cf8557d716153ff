"""Requirements: inferred from what the model is made of, pinned to the versions installed where it is
saved (a fresh venv with its own packages), without a subprocess; pip_requirements and
extra_pip_requirements as in MLflow."""

from __future__ import annotations

import json
import subprocess
import sys
import sysconfig
import venv
from pathlib import Path

import pytest

import gitrun
from gitrun.errors import InvalidInputError
from tests.helpers import ROOT

PACKAGE = """
[build-system]
requires = ["hatchling"]
build-backend = "hatchling.build"

[project]
name = "{dist}"
version = "{version}"

[tool.hatch.build.targets.wheel]
packages = ["{module}"]
"""


@pytest.fixture(scope="session")
def fresh_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A new venv seeing this one's packages, plus two of its own: ``tiny-dep`` 1.4.2 (module
    ``tinydep``: the distribution is named otherwise) and ``plaindep`` 0.3.0. Built once per session."""
    root = tmp_path_factory.mktemp("fresh-venv")
    env_dir = root / "venv"
    venv.EnvBuilder(with_pip=False).create(env_dir)
    python = env_dir / "bin" / "python"
    purelib = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    for dist, module, version, body in (
        ("tiny-dep", "tinydep", "1.4.2", "def scale(x):\n    return x * 3\n"),
        ("plaindep", "plaindep", "0.3.0", "class Offset:\n    value = 7\n"),
    ):
        source = root / dist
        (source / module).mkdir(parents=True)
        (source / module / "__init__.py").write_text(body)
        (source / "pyproject.toml").write_text(PACKAGE.format(dist=dist, module=module, version=version))
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "install",
                "--no-deps",
                "--no-index",
                "--no-build-isolation",
                "--quiet",
                "--target",
                purelib,
                str(source),
            ],
            check=True,
            capture_output=True,
        )
    Path(purelib, "zz_parent_venv.pth").write_text(sysconfig.get_paths()["purelib"] + "\n", encoding="utf-8")
    return python


SAVE = """
import json, subprocess, sys
import pandas as pd
import gitrun
import plaindep, tinydep
from importlib import metadata

def no_subprocess(*args, **kwargs):
    raise AssertionError(f"a subprocess was started: {args!r}")
subprocess.Popen.__init__ = no_subprocess  # inference must not run anything

class Model(gitrun.pyfunc.PythonModel):
    def __init__(self):
        self.offset = plaindep.Offset()
    def predict(self, context, model_input, params=None):
        return tinydep.scale(model_input["x"]) + self.offset.value

gitrun.pyfunc.save_model("py", python_model=Model(), input_example=pd.DataFrame({"x": [1.0]}))
from sklearn.linear_model import LinearRegression
gitrun.sklearn.save_model(LinearRegression().fit([[0.0], [1.0]], [0.0, 1.0]), "sk")
versions = {d: metadata.version(d) for d in ("cloudpickle", "scikit-learn", "skops", "numpy")}
print(json.dumps({"py": open("py/requirements.txt").read(), "sk": open("sk/requirements.txt").read(), "versions": versions,
                  "loaded": sorted(m for m in ("torch", "mlflow", "matplotlib") if m in sys.modules)}))
"""


def test_requirements_are_pinned_to_what_the_saving_environment_has(fresh_venv: Path, tmp_path: Path) -> None:
    proc = subprocess.run(
        [str(fresh_venv), "-c", SAVE],
        cwd=tmp_path,
        env={"PYTHONPATH": str(ROOT), "PATH": ""},
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    v = out["versions"]
    assert out["py"].splitlines() == [f"cloudpickle=={v['cloudpickle']}", "plaindep==0.3.0", "tiny-dep==1.4.2"]
    assert out["sk"].splitlines() == [
        f"numpy=={v['numpy']}",
        f"scikit-learn=={v['scikit-learn']}",
        f"skops=={v['skops']}",
    ]
    assert out["loaded"] == []


def test_pip_requirements_replace_and_extra_pip_requirements_extend(tmp_path: Path) -> None:
    from sklearn.dummy import DummyClassifier

    model = DummyClassifier().fit([[0], [1]], [0, 1])
    gitrun.sklearn.save_model(model, tmp_path / "a", pip_requirements=["scikit-learn>=1.3", "pandas"])
    assert (tmp_path / "a" / "requirements.txt").read_text() == "scikit-learn>=1.3\npandas"
    (tmp_path / "constraints.txt").write_text("numpy<3\n")
    gitrun.sklearn.save_model(
        model, tmp_path / "b", extra_pip_requirements=["requests==2.0", f"-c {tmp_path / 'constraints.txt'}"]
    )
    lines = (tmp_path / "b" / "requirements.txt").read_text().splitlines()
    assert lines[-2:] == ["requests==2.0", "-c constraints.txt"] and any(
        ln.startswith("scikit-learn==") for ln in lines
    )
    assert (tmp_path / "b" / "constraints.txt").read_text() == "numpy<3"
    conda = (tmp_path / "b" / "conda.yaml").read_text()
    assert "- requests==2.0" in conda and conda.startswith("channels:\n- conda-forge\n")
    (tmp_path / "reqs.txt").write_text("# pinned by hand\nlightgbm==4.7.0\n")
    gitrun.sklearn.save_model(model, tmp_path / "c", pip_requirements=str(tmp_path / "reqs.txt"))
    assert (tmp_path / "c" / "requirements.txt").read_text() == "lightgbm==4.7.0"
    with pytest.raises(InvalidInputError, match="not both"):
        gitrun.sklearn.save_model(model, tmp_path / "d", pip_requirements=[], extra_pip_requirements=["x"])


def test_loading_warns_when_the_pinned_versions_differ(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    from sklearn.dummy import DummyClassifier

    gitrun.sklearn.save_model(
        DummyClassifier().fit([[0], [1]], [0, 1]), tmp_path / "m", pip_requirements=["scikit-learn==0.0.1"]
    )
    gitrun.pyfunc.load_model(tmp_path / "m")
    assert "scikit-learn==0.0.1 (installed: " in caplog.text
