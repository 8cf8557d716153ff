"""Tables and stepped images on the run page, in the files MLflow 3 writes for ``log_table`` and
``log_image(key=, step=)`` (the parity work makes gitrun write the same names): here real MLflow
writes them, they are placed in a gitrun run's artifacts, and the built page shows the table as
a table and the image series with a step slider (parsed with BeautifulSoup, then in Chromium)."""

from __future__ import annotations

# ruff: noqa: F811  (pytest fixtures imported from test_site_browser are redefined as arguments)
import json
import shutil
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pytest
from test_site_browser import CHROMIUM, _open, browser_context  # noqa: F401 - fixture
from test_site_helpers import EPOCH, load_data, soup_of

import gitrun
from gitrun.site import previews
from gitrun.site.build import BuildOptions, build_site
from gitrun.store import Store
from tests.helpers import run_python

MLFLOW_SCRIPT = """
import json, sys, numpy as np, mlflow
mlflow.set_tracking_uri(sys.argv[1])
with mlflow.start_run() as run:
    mlflow.log_table({"question": ["2+2?", "=HYPERLINK(1)"], "score": [0.9, 0.4]}, "eval/qa.json")
    for step in range(3):
        image = np.full((12, 16, 3), step * 100, dtype=np.uint8)
        mlflow.log_image(image, key="samples/train", step=step)
print(mlflow.get_run(run.info.run_id).info.artifact_uri)
"""


@pytest.fixture
def media_site(repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, str]:
    pytest.importorskip("mlflow")
    script = MLFLOW_SCRIPT.replace("sys.argv[1]", repr((tmp_path / "mlruns").as_uri()))
    proc = run_python(script, cwd=tmp_path, env={"MLFLOW_ALLOW_FILE_STORE": "true"}, timeout=180)
    assert proc.returncode == 0, proc.stderr
    mlflow_artifacts = Path(proc.stdout.strip().splitlines()[-1].removeprefix("file://"))
    client = gitrun.Client(repo / ".gitrun")
    exp = client.create_experiment("media")
    run_ids = []
    for name in ("m", "twin"):  # two runs with the same files: the compare page lines their tables up
        run_id = client.create_run(exp, run_name=name).info.run_id
        shutil.copytree(mlflow_artifacts, client.store.artifact_dir(run_id), dirs_exist_ok=True)
        client.set_terminated(run_id, "FINISHED")
        run_ids.append(run_id)
    monkeypatch.setenv("SOURCE_DATE_EPOCH", EPOCH)
    out = tmp_path / "_site"
    build_site(Store(repo / ".gitrun"), BuildOptions(output=out, strict=True))
    return out, ",".join(run_ids)


def test_log_table_json_is_a_table() -> None:
    view = previews.table_json(
        "t.json",
        json.dumps({"columns": ["a", "img"], "data": [[1, {"type": "image", "filepath": "table_images/t/x.png"}]]}),
    )
    assert view is not None and view.kind == "table"
    assert view.header == ("a", "img") and view.rows == (("1", "[image] table_images/t/x.png"),)
    assert previews.table_json("t.json", '{"columns": 1}') is None and previews.table_json("t.json", "[1]") is None


def test_stepped_images_one_per_step() -> None:
    names = [
        "images/a~b+step+1+timestamp+5+ab.png",
        "images/a~b+step+1+timestamp+5+ab+compressed.webp",
        "images/a~b+step+1+timestamp+2+zz.png",  # older at the same step: not shown
        "images/a~b+step+0+timestamp+3+ef.png",
        "images/plain.png",
    ]
    assert previews.stepped_images(names) == {
        "a/b": [
            (0, "images/a~b+step+0+timestamp+3+ef.png", None),
            (1, "images/a~b+step+1+timestamp+5+ab.png", "images/a~b+step+1+timestamp+5+ab+compressed.webp"),
        ]
    }


def test_run_page_table_and_step_slider(media_site: tuple[Path, str]) -> None:
    out, ids = media_site
    run_id = ids.split(",")[0]
    assert load_data(out / "data" / "runs" / f"{run_id}.js")["tables"] == {
        "eval/qa.json": {"columns": ["question", "score"], "rows": [["2+2?", "0.9"], ["'=HYPERLINK(1)", "0.4"]]}
    }
    soup = soup_of(out / "runs" / f"{run_id}.html")
    table = soup.select_one('figure.preview[data-path="eval/qa.json"]')
    assert table["data-kind"] == "table" and "a table (log_table)" in table.figcaption.get_text()
    assert [th.get_text() for th in table.select("thead th")] == ["question", "score"]
    assert [[td.get_text() for td in tr.find_all("td")] for tr in table.select("tbody tr")] == [
        ["2+2?", "0.9"],
        ["'=HYPERLINK(1)", "0.4"],
    ]
    (steps,) = soup.select("figure.image-steps")
    assert steps["data-path"] == "samples/train" and json.loads(steps["data-steps"]) == [0, 1, 2]
    srcs = json.loads(steps["data-srcs"])
    assert all(s.endswith("+compressed.webp") for s in srcs) and all((out / s).is_file() for s in srcs)
    assert steps.img["alt"] == "samples/train at step 2"
    slider = steps.select_one("input.step-slider")
    assert (slider["min"], slider["max"], slider["value"]) == ("0", "2", "2")
    # the series' files get no preview of their own (12 steps would crowd the page)
    assert not soup.select('figure.preview[data-kind="image"]')


@pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed")
def test_step_slider_in_chromium(media_site: tuple[Path, str], browser_context: Any) -> None:
    out, ids = media_site
    run_id = ids.split(",")[0]
    base = out.resolve().as_uri() + "/"
    page, watch = _open(browser_context, f"{base}runs/{run_id}.html")
    img = page.locator("figure.image-steps img")
    page.wait_for_function("() => document.querySelector('figure.image-steps img').naturalWidth > 0")
    last = img.get_attribute("src")
    page.fill("figure.image-steps input.step-slider", "0")
    page.dispatch_event("figure.image-steps input.step-slider", "input")
    assert page.locator("figure.image-steps output").inner_text() == "0"
    assert img.get_attribute("src") != last and "+step+0+" in unquote(img.get_attribute("src"))
    page.wait_for_function("() => document.querySelector('figure.image-steps img').naturalWidth > 0")
    assert page.locator('figure.preview[data-path="eval/qa.json"] table').is_visible()
    watch.check(base)
    page.close()


@pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed")
def test_compare_page_lines_up_the_runs_tables_in_chromium(media_site: tuple[Path, str], browser_context: Any) -> None:
    out, ids = media_site
    base = out.resolve().as_uri() + "/"
    page, watch = _open(browser_context, f"{base}compare.html?runs={ids}")
    table = page.locator('#compare-tables figure[data-table="eval/qa.json"] table')
    table.wait_for()
    assert table.locator("thead th").all_inner_texts() == ["run", "question", "score"]
    rows = [r.split("\t") for r in table.locator("tbody tr").all_inner_texts()]
    assert [r[1:] for r in rows] == [["2+2?", "0.9"], ["'=HYPERLINK(1)", "0.4"]] * 2
    assert [r[0].split(" ·")[0] for r in rows] == ["m", "m", "twin", "twin"]
    assert page.locator("#compare-tables-empty").is_hidden()
    table.locator("thead th").nth(2).locator("button").click()  # sortable, as on the run page
    assert [r.split("\t")[2] for r in table.locator("tbody tr").all_inner_texts()] == ["0.4", "0.4", "0.9", "0.9"]
    watch.check(base)
    page.close()


def test_gitruns_own_log_table_and_log_image_give_the_same_page(
    repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same calls as MLFLOW_SCRIPT, made through gitrun (``import gitrun as mlflow``): the run
    page shows the table and the step slider exactly as for MLflow's files."""
    np = pytest.importorskip("numpy")
    gitrun.set_tracking_uri(str(repo / ".gitrun"))
    with gitrun.start_run() as run:
        gitrun.log_table({"question": ["2+2?", "=HYPERLINK(1)"], "score": [0.9, 0.4]}, "eval/qa.json")
        for step in range(3):
            gitrun.log_image(np.full((12, 16, 3), step * 100, dtype=np.uint8), key="samples/train", step=step)
    monkeypatch.setenv("SOURCE_DATE_EPOCH", EPOCH)
    out = tmp_path / "_site"
    build_site(Store(repo / ".gitrun"), BuildOptions(output=out, strict=True))
    run_id = run.info.run_id
    assert load_data(out / "data" / "runs" / f"{run_id}.js")["tables"] == {
        "eval/qa.json": {"columns": ["question", "score"], "rows": [["2+2?", "0.9"], ["'=HYPERLINK(1)", "0.4"]]}
    }
    soup = soup_of(out / "runs" / f"{run_id}.html")
    assert soup.select_one('figure.preview[data-path="eval/qa.json"]')["data-kind"] == "table"
    (steps,) = soup.select("figure.image-steps")
    assert steps["data-path"] == "samples/train" and json.loads(steps["data-steps"]) == [0, 1, 2]
    assert all((out / s).is_file() for s in json.loads(steps["data-srcs"]))
    assert not soup.select('figure.preview[data-kind="image"]')
