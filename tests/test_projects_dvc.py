"""Runs inside DVC pipelines: a real `dvc repro` and `dvc exp run` of a stage whose command is
`gitrun run -- ...`; the stage, the experiment and the deps'/outs' hashes, checked against the
`dvc.lock` DVC writes; `gitrun.data.from_dvc` on a `dvc add`ed folder."""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml

from gitrun.data import from_dvc
from gitrun.errors import GitrunError
from gitrun.store import Store
from gitrun.store.datasets import read_inputs
from tests.helpers import run_git

pytestmark = pytest.mark.slow

TRAIN = """
import pathlib, gitrun
rows = pathlib.Path("data/rows.csv").read_text().splitlines()
with gitrun.start_run():
    gitrun.log_metric("rows", len(rows))
pathlib.Path("out").mkdir(exist_ok=True)
pathlib.Path("out/model.txt").write_text(f"{len(rows)} rows\\n")
pathlib.Path("out/extra.txt").write_text("more\\n")
"""


def _gitrun_cmd() -> str:
    exe = Path(sys.executable).with_name("gitrun")
    return shlex.quote(str(exe)) if exe.exists() else f"{shlex.quote(sys.executable)} -m gitrun"


def _dvc(repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run([sys.executable, "-m", "dvc", *args], cwd=repo, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc


@pytest.fixture
def pipeline(dvc_repo: Path) -> Path:
    (dvc_repo / "data").mkdir()
    (dvc_repo / "data/rows.csv").write_text("a\nb\nc\n")
    (dvc_repo / "train.py").write_text(textwrap.dedent(TRAIN))
    stage = {
        "stages": {
            "train": {
                "cmd": f"{_gitrun_cmd()} run -q -- {shlex.quote(sys.executable)} train.py",
                "deps": ["train.py", "data/rows.csv"],
                "outs": ["out"],
            }
        }
    }
    (dvc_repo / "dvc.yaml").write_text(yaml.safe_dump(stage))
    (dvc_repo / ".gitignore").write_text("/out\n.gitrun/\n")
    run_git(dvc_repo, "add", "-A")
    run_git(dvc_repo, "commit", "-q", "-m", "a pipeline")
    return dvc_repo


def _lock_hashes(repo: Path, kind: str) -> dict[str, str]:
    lock = yaml.safe_load((repo / "dvc.lock").read_text())
    return {entry["path"]: entry["md5"] for entry in lock["stages"]["train"][kind]}


def _recorded(run_dir: Path, context: str) -> dict[str, str]:
    out = {}
    for item in read_inputs(run_dir):
        if item.tags["mlflow.data.context"] == context:
            source = json.loads(item.dataset.source)
            assert item.dataset.source_type == "dvc" and source["stage"] == "train"
            out[item.dataset.name] = item.dataset.digest
    return out


def test_a_run_inside_dvc_repro_records_its_stage_and_hashes(pipeline: Path) -> None:
    _dvc(pipeline, "repro")
    (run,) = Store(pipeline / ".gitrun").iter_runs()
    assert run.status == "FINISHED" and run.metrics == {"rows": 3.0}
    assert run.tags["gitrun.dvc.stage"] == "train"
    assert Path(run.tags["gitrun.dvc.root"]) == pipeline
    # the deps' hashes at the start and the outs' after the command: what DVC wrote in dvc.lock after it
    assert _recorded(run.run_dir, "dvc.dep") == _lock_hashes(pipeline, "deps")
    assert _recorded(run.run_dir, "dvc.out") == _lock_hashes(pipeline, "outs")
    assert _lock_hashes(pipeline, "outs")["out"].endswith(".dir")  # a folder, hashed as DVC does


def test_a_run_inside_dvc_exp_run_records_the_experiment(pipeline: Path) -> None:
    _dvc(pipeline, "exp", "run", "--name", "bright-exp")
    (run,) = Store(pipeline / ".gitrun").iter_runs()
    assert run.tags["gitrun.dvc.stage"] == "train"
    assert run.tags["gitrun.dvc.experiment"] == "bright-exp"
    assert run.tags["gitrun.dvc.baseline_rev"] == run_git(pipeline, "rev-parse", "HEAD").stdout.strip()


def test_from_dvc_describes_a_dvc_tracked_folder(dvc_repo: Path) -> None:
    (dvc_repo / "images").mkdir()
    for i in range(3):
        (dvc_repo / "images" / f"{i}.txt").write_text(f"image {i}\n")
    _dvc(dvc_repo, "add", "images")
    pointer = yaml.safe_load((dvc_repo / "images.dvc").read_text())["outs"][0]
    dataset = from_dvc(dvc_repo / "images")
    source = json.loads(dataset.source)
    assert dataset.name == "images" and dataset.source_type == "dvc"
    assert dataset.digest == source["md5"] == source["dvc_md5"] == pointer["md5"]
    assert source["nfiles"] == pointer["nfiles"] and source["size"] == pointer["size"]
    assert source["rev"] == run_git(dvc_repo, "rev-parse", "HEAD").stdout.strip()
    (dvc_repo / "images" / "0.txt").write_text("changed\n")
    changed = json.loads(from_dvc(dvc_repo / "images").source)
    assert changed["md5"] != changed["dvc_md5"] == pointer["md5"]  # what the run read, and what DVC has
    (dvc_repo / "loose.txt").write_text("x")
    with pytest.raises(GitrunError, match=r"not tracked by DVC.*dvc add loose\.txt"):
        from_dvc(dvc_repo / "loose.txt")
