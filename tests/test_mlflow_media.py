"""``log_table`` and stepped ``log_image``: the files MLflow 3.17.2 writes, byte for byte where it can be.

Each test runs the same MLflow-shaped code twice, with ``import mlflow`` (a real MLflow file
store) and with ``import gitrun as mlflow``, and compares the artifact trees (names with their
uuid4 replaced), the pixels of each image, the bytes of each table, and the tags.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pandas as pd
import pytest
from PIL import Image

import gitrun
from gitrun.errors import InvalidInputError

UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")


def _in_both(real_mlflow: ModuleType, script: Callable[[Any], str]) -> tuple[tuple[Path, Any], tuple[Path, Any]]:
    """Run ``script(mlflow)`` with each module; each returns (its artifacts folder, its run)."""
    out = []
    for module in (real_mlflow, gitrun):
        run_id = script(module)
        run = module.get_run(run_id)
        root = Path(run.info.artifact_uri.removeprefix("file://"))
        out.append((root, run))
    return out[0], out[1]


def _tree(root: Path) -> dict[str, Path]:
    """Artifact paths with each uuid4 numbered in order of appearance (sorted names), timestamps as <ts>."""
    out: dict[str, Path] = {}
    numbers: dict[str, str] = {}
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        rel = path.relative_to(root).as_posix()
        rel = re.sub(r"\+timestamp\+\d+", "+timestamp+<ts>", rel)
        rel = UUID.sub(lambda m: numbers.setdefault(m.group(0), f"<uuid{len(numbers)}>"), rel)
        out[rel] = path
    return out


def _pixels(path: Path) -> tuple[str, tuple[int, int], bytes]:
    with Image.open(path) as image:
        return image.format or "", image.size, image.tobytes()


def _stepped(mlflow: Any) -> str:
    rng = np.random.default_rng(7)
    with mlflow.start_run() as run:
        mlflow.log_image(rng.integers(0, 255, (300, 200, 3), dtype=np.uint8), key="samples/train", step=1)
        mlflow.log_image(rng.random((40, 90)), key="mask", step=2, timestamp=1_700_000_000_000)
        mlflow.log_image(Image.new("RGBA", (20, 20), (1, 2, 3, 4)), key="plain")  # step defaults to 0
        return run.info.run_id  # type: ignore[no-any-return]


def test_stepped_images_are_the_files_mlflow_writes(real_mlflow: ModuleType) -> None:
    (theirs, their_run), (ours, our_run) = _in_both(real_mlflow, _stepped)
    their_tree, our_tree = _tree(theirs), _tree(ours)
    assert sorted(our_tree) == sorted(their_tree)
    assert "images/samples~train+step+1+timestamp+<ts>+<uuid2>+compressed.webp" in our_tree  # MLflow's name
    assert any(name.startswith("images/mask+step+2+timestamp+1700000000000+") for name in _tree_raw(ours))
    for name, path in their_tree.items():
        assert _pixels(our_tree[name]) == _pixels(path), name  # same format, size and pixels
    assert our_run.data.tags["mlflow.loggedImages"] == their_run.data.tags["mlflow.loggedImages"] == "True"


def _tree_raw(root: Path) -> list[str]:
    return [p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()]


def test_preview_fits_in_256_keeping_the_aspect(repo: Path) -> None:
    with gitrun.start_run() as run:
        gitrun.log_image(np.zeros((600, 150), dtype=np.uint8), key="tall", step=0)
    root = Path(run.info.artifact_uri.removeprefix("file://")) / "images"
    (preview,) = root.glob("tall+step+0+timestamp+*+compressed.webp")
    assert _pixels(preview)[:2] == ("WEBP", (64, 256))
    (full,) = (p for p in root.glob("tall+step+0+*.png"))
    assert _pixels(full)[:2] == ("PNG", (150, 600))


def test_stepped_image_refusals_write_nothing(repo: Path) -> None:
    with gitrun.start_run() as run:
        with pytest.raises(InvalidInputError, match="may hold only letters"):
            gitrun.log_image(np.zeros((2, 2), dtype=np.uint8), key="a:b", step=1)
        with pytest.raises(InvalidInputError, match="not both"):
            gitrun.log_image(np.zeros((2, 2), dtype=np.uint8), "x.png", key="a", step=1)
        with pytest.raises(InvalidInputError, match="needs artifact_file"):
            gitrun.log_image(np.zeros((2, 2), dtype=np.uint8))
        with pytest.raises(InvalidInputError, match="integer images"):
            gitrun.log_image(np.full((2, 2), 300), key="a", step=1)
    assert gitrun.Client().list_artifacts(run.info.run_id) == []
    assert "mlflow.loggedImages" not in gitrun.get_run(run.info.run_id).data.tags


def test_float_pixels_out_of_range_are_rescaled_with_a_warning_as_mlflow_does(real_mlflow: ModuleType) -> None:
    image = np.linspace(-1.0, 3.0, 64).reshape(8, 8)

    def script(mlflow: Any) -> str:
        with mlflow.start_run() as run, pytest.warns(UserWarning, match=r"\[0(\.0)?, 1(\.0)?\]"):
            mlflow.log_image(image, "scaled.png")
        return run.info.run_id  # type: ignore[no-any-return]

    (theirs, _), (ours, _) = _in_both(real_mlflow, script)
    assert _pixels(ours / "scaled.png") == _pixels(theirs / "scaled.png")


def _tables(mlflow: Any) -> str:
    with mlflow.start_run() as run:
        mlflow.log_table({"inputs": ["What is MLflow?", "Qu'est-ce ?"], "toxicity": [0.0, 0.25]}, "eval/qa.json")
        mlflow.log_table(pd.DataFrame({"inputs": ["more"], "toxicity": [1.5]}), "eval/qa.json")  # appended
        mlflow.log_table({"question": "one row", "n": 3}, "single.json")  # only scalars: one row
        when = pd.to_datetime(["2024-01-02T03:04:05"])
        mlflow.log_table(pd.DataFrame({"when": when, "flag": [True]}), "dates.json")
        mlflow.log_table(pd.DataFrame({"img": [Image.new("RGB", (300, 100), (9, 8, 7))], "k": [1]}), "gen.json")
        return run.info.run_id  # type: ignore[no-any-return]


def test_tables_are_the_files_mlflow_writes(real_mlflow: ModuleType) -> None:
    (theirs, their_run), (ours, our_run) = _in_both(real_mlflow, _tables)
    their_tree, our_tree = _tree(theirs), _tree(ours)
    assert sorted(our_tree) == sorted(their_tree)
    assert "table_images/gen/<uuid0>.webp" in our_tree
    for name in ("eval/qa.json", "single.json", "dates.json"):
        assert our_tree[name].read_bytes() == their_tree[name].read_bytes(), name
    theirs_gen = json.loads(their_tree["gen.json"].read_text())
    ours_gen = json.loads(our_tree["gen.json"].read_text())
    cell = ours_gen["data"][0][0]
    assert cell["type"] == "image" and cell["filepath"].startswith("table_images/gen/")
    assert ours_gen["columns"] == theirs_gen["columns"] and ours_gen["data"][0][1] == theirs_gen["data"][0][1]
    for name, path in their_tree.items():
        if name.startswith("table_images/"):
            assert _pixels(our_tree[name]) == _pixels(path), name
    tag = "mlflow.loggedArtifacts"
    assert json.loads(our_run.data.tags[tag]) == json.loads(their_run.data.tags[tag])
    assert our_run.data.tags[tag] == their_run.data.tags[tag]


def test_load_table_reads_back_as_mlflow_does(real_mlflow: ModuleType) -> None:
    def script(mlflow: Any) -> str:
        mlflow.set_experiment("tables")
        for n in (1, 2):
            with mlflow.start_run(run_name=f"r{n}"):
                mlflow.log_table({"x": [n, n * 10], "run_id": ["mine", "mine"]}, "t.json")
        with mlflow.start_run():
            mlflow.log_text("no table here", "other.txt")
        return mlflow.last_active_run().info.run_id  # type: ignore[no-any-return]

    script(real_mlflow)
    script(gitrun)
    theirs = real_mlflow.load_table("t.json", extra_columns=["run_id"])
    ours = gitrun.load_table("t.json", extra_columns=["run_id"])
    assert list(ours.columns) == list(theirs.columns) == ["x", "run_id", "run_id_"]
    assert ours["x"].tolist() == theirs["x"].tolist() == [2, 20, 1, 10]  # newest run first
    one = gitrun.search_runs(filter_string="attributes.run_name = 'r1'", output_format="list")[0].info.run_id
    assert gitrun.load_table("t.json", run_ids=[one])["x"].tolist() == [1, 10]


def test_table_refusals(repo: Path) -> None:
    with gitrun.start_run() as run:
        for name, match in [("t.csv", r"\.json or \.parquet"), ("a:b.json", "refuses"), ("../t.json", "relative")]:
            with pytest.raises(InvalidInputError, match=match):
                gitrun.log_table({"a": [1]}, name)
        with pytest.raises(InvalidInputError, match="DataFrame or a dict"):
            gitrun.log_table([1, 2], "t.json")
        with pytest.raises(InvalidInputError, match="mixes images"):
            gitrun.log_table({"a": [Image.new("RGB", (2, 2)), "x"]}, "t.json")
    assert gitrun.Client().list_artifacts(run.info.run_id) == []


def test_mlflow_image_objects_log_as_in_mlflow(real_mlflow: ModuleType) -> None:
    def script(mlflow: Any) -> str:
        image = mlflow.Image([[1, 2, 3], [4, 5, 6]])
        with mlflow.start_run() as run:
            assert image.size == (3, 2) and image.to_array().tolist() == [[1, 2, 3], [4, 5, 6]]
            mlflow.log_image(image, "plain.png")
            mlflow.log_image(image.resize((6, 4)), key="grown", step=1)
            mlflow.log_table({"inputs": ["a", "b"], "outputs": [image, image]}, "image_gen.json")
        return run.info.run_id  # type: ignore[no-any-return]

    (theirs, _), (ours, _) = _in_both(real_mlflow, script)
    their_tree, our_tree = _tree(theirs), _tree(ours)
    assert sorted(our_tree) == sorted(their_tree)
    for name, path in their_tree.items():
        if name.endswith((".png", ".webp")):
            assert _pixels(our_tree[name]) == _pixels(path), name
