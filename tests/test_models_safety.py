"""What loading a model may run: skops refuses types nobody trusted; pickle, cloudpickle and code paths
run code, which safe mode refuses before reading a byte of them."""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

import gitrun
from gitrun.models.safety import UnsafeModelError
from tests.helpers import gitrun_cli

CUSTOM = """
from sklearn.base import BaseEstimator, TransformerMixin


class Doubler(TransformerMixin, BaseEstimator):
    def fit(self, X, y=None):
        return self

    def transform(self, X):
        return X * 2
"""


@pytest.fixture
def custom_pipeline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    """A pipeline with a step of a class skops does not know: ``custom_steps.Doubler``."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    (tmp_path / "custom_steps.py").write_text(CUSTOM)
    monkeypatch.syspath_prepend(str(tmp_path))
    from custom_steps import Doubler  # type: ignore[import-not-found]

    x = np.abs(np.random.default_rng(0).random((30, 3)))
    return make_pipeline(Doubler(), LogisticRegression()).fit(x, (x[:, 0] > 0.5).astype(int)), x


def test_saving_a_type_skops_does_not_trust_needs_it_trusted_by_name(tmp_path: Path, custom_pipeline: Any) -> None:
    model, _ = custom_pipeline
    with pytest.raises(
        UnsafeModelError, match=r"custom_steps\.Doubler.*skops_trusted_types=\['custom_steps\.Doubler'\]"
    ):
        gitrun.sklearn.save_model(model, tmp_path / "refused", pip_requirements=[])
    assert not (tmp_path / "refused" / "model.skops").exists()


def test_an_untrusted_type_in_a_skops_file_is_refused_with_the_way_to_trust_it(
    tmp_path: Path, custom_pipeline: Any
) -> None:
    model, x = custom_pipeline
    folder = tmp_path / "m"
    gitrun.sklearn.save_model(model, folder, skops_trusted_types=["custom_steps.Doubler"], pip_requirements=[])
    assert yaml.safe_load((folder / "MLmodel").read_text())["flavors"]["sklearn"]["skops_trusted_types"] == [
        "custom_steps.Doubler"
    ]
    assert (
        gitrun.sklearn.load_model(folder).predict(x).tolist() == model.predict(x).tolist()
    )  # recorded, trusted as MLflow does
    # A model file whose MLmodel does not list the type (written by hand, or tampered with): refused.
    mlmodel = yaml.safe_load((folder / "MLmodel").read_text())
    mlmodel["flavors"]["sklearn"]["skops_trusted_types"] = None
    (folder / "MLmodel").write_text(yaml.safe_dump(mlmodel))
    for load in (gitrun.sklearn.load_model, gitrun.pyfunc.load_model):
        with pytest.raises(UnsafeModelError) as refused:
            load(folder)
        message = str(refused.value)
        assert "custom_steps.Doubler" in message and "skops_trusted_types=['custom_steps.Doubler']" in message
        assert "--trust-type custom_steps.Doubler" in message
    trusted = gitrun.pyfunc.load_model(folder, skops_trusted_types=["custom_steps.Doubler"])
    assert trusted.predict(x).tolist() == model.predict(x).tolist()


def test_safe_mode_does_not_take_the_model_s_own_list_of_trusted_types(
    tmp_path: Path, custom_pipeline: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    model, x = custom_pipeline
    gitrun.sklearn.save_model(model, tmp_path / "m", skops_trusted_types=["custom_steps.Doubler"], pip_requirements=[])
    with pytest.raises(UnsafeModelError, match="safe mode does not take on trust"):
        gitrun.sklearn.load_model(tmp_path / "m", safe=True)
    monkeypatch.setenv("GITRUN_SAFE_LOAD", "1")
    with pytest.raises(UnsafeModelError):
        gitrun.pyfunc.load_model(tmp_path / "m")
    loaded = gitrun.pyfunc.load_model(tmp_path / "m", skops_trusted_types=["custom_steps.Doubler"])
    assert loaded.predict(x).tolist() == model.predict(x).tolist()


class _Boom:
    """Unpickling this writes a file: what loading a hostile pickle can do."""

    def __init__(self, marker: str):
        self.marker = marker

    def __reduce__(self) -> Any:
        return (Path(self.marker).write_text, ("pickle ran code",))


def test_safe_mode_refuses_pickles_before_reading_them(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from sklearn.dummy import DummyClassifier

    folder = tmp_path / "m"
    gitrun.sklearn.save_model(
        DummyClassifier().fit([[0], [1]], [0, 1]), folder, serialization_format="pickle", pip_requirements=[]
    )
    marker = tmp_path / "marker.txt"
    (folder / "model.pkl").write_bytes(pickle.dumps(_Boom(str(marker))))
    with pytest.raises(UnsafeModelError, match=r"model\.pkl is a pickle file: loading it runs the code it holds"):
        gitrun.pyfunc.load_model(folder, safe=True)
    assert not marker.exists()
    out = gitrun_cli(
        "models", "predict", "-m", str(folder), "--safe", "--input-data", '{"inputs": [[0]]}', cwd=tmp_path
    )
    assert out.returncode == 1 and "safe mode is on" in out.stderr and not marker.exists()
    gitrun.pyfunc.load_model(folder)  # without safe mode the pickle is read, as MLflow reads it...
    assert marker.read_text() == "pickle ran code"  # it did run: that is what pickle formats do


def test_safe_mode_refuses_cloudpickled_python_models_and_code_paths(tmp_path: Path) -> None:
    code = tmp_path / "helpers_mod.py"
    code.write_text("def f(x):\n    return x\n")
    gitrun.pyfunc.save_model(tmp_path / "py", python_model=lambda df: df, pip_requirements=[])
    gitrun.pyfunc.save_model(tmp_path / "code", python_model=lambda df: df, code_paths=[str(code)], pip_requirements=[])
    with pytest.raises(UnsafeModelError, match="cloudpickle"):
        gitrun.pyfunc.load_model(tmp_path / "py", safe=True)
    with pytest.raises(UnsafeModelError, match="code paths"):
        gitrun.pyfunc.load_model(tmp_path / "code", safe=True)
    assert gitrun.pyfunc.load_model(tmp_path / "code").predict([1]) == [1]


def test_the_cli_trusts_types_given_by_name(tmp_path: Path, custom_pipeline: Any) -> None:
    import os

    model, _ = custom_pipeline
    folder = tmp_path / "m"
    gitrun.sklearn.save_model(model, folder, skops_trusted_types=["custom_steps.Doubler"], pip_requirements=[])
    env = {"PYTHONPATH": os.pathsep.join([str(tmp_path), os.environ.get("PYTHONPATH", "")])}
    body = '{"inputs": [[0.2, 0.3, 0.9]]}'
    refused = gitrun_cli("models", "predict", "-m", str(folder), "--safe", "--input-data", body, cwd=tmp_path, env=env)
    assert refused.returncode == 1 and "--trust-type custom_steps.Doubler" in refused.stderr
    ok = gitrun_cli(
        "models",
        "predict",
        "-m",
        str(folder),
        "--safe",
        "--trust-type",
        "custom_steps.Doubler",
        "--input-data",
        body,
        cwd=tmp_path,
        env=env,
    )
    assert ok.returncode == 0, ok.stderr
