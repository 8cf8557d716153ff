"""Artifact previews on the run page, safe and bounded: every type from real files (images made
by Pillow, a DVC cache laid out as DVC 3 writes it), the hostile cases (an SVG with a script, a
CSV of formulas and HTML, a 10 MB text file, a binary file named .csv, HTML with a script), the
built page parsed with BeautifulSoup, then opened in real headless Chromium."""

from __future__ import annotations

# ruff: noqa: F811  (pytest fixtures imported from test_site_browser are redefined as arguments)
import base64
import hashlib
import io
import json
import os
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from test_site_browser import CHROMIUM, Watch, browser_context  # noqa: F401 - fixture
from test_site_helpers import EPOCH, soup_of

import gitrun
from gitrun.site import previews
from gitrun.site.build import BuildOptions, build_site
from gitrun.store import Store

HOSTILE_SVG = (
    '<svg xmlns="http://www.w3.org/2000/svg" width="40" height="20"><script>alert("svg")</script>'
    '<rect width="40" height="20" fill="red" onload="alert(2)"/><image href="http://example.invalid/x.png"/></svg>'
)
HOSTILE_CSV = 'name,score,link\n<b>bold</b>,-1.5,"=HYPERLINK(""http://evil"",""x"")"\nplain,+7,@SUM(A1)\n'
HOSTILE_HTML = "<h1>report</h1><script>alert('html')</script><p>ok</p>"
HOSTILE_MD = "# Title\n\n<script>alert('md')</script> [x](javascript:alert(1)) **bold**\n"


def png(width: int = 8, height: int = 6, noise: bool = False) -> bytes:
    image = Image.frombytes("RGB", (width, height), os.urandom(width * height * 3)) if noise else None
    image = image or Image.new("RGB", (width, height), (10, 120, 200))
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def image_bytes(fmt: str) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (5, 5), (200, 10, 10)).save(out, fmt)
    return out.getvalue()


class Sink:
    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}

    def __call__(self, rel: str, data: bytes) -> None:
        self.files[rel] = data


def make(tmp_path: Path, name: str, data: bytes, href: str | None = "artifacts/R/x") -> tuple[Any, Sink]:
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    sink = Sink()
    return previews.preview(path, name, href, "previews/R/thumb.png", sink), sink


# -- one file at a time --------------------------------------------------------------------------
@pytest.mark.parametrize(("name", "fmt"), [("a.png", "PNG"), ("b.jpg", "JPEG"), ("c.gif", "GIF"), ("d.webp", "WEBP")])
def test_images_show_inline_through_their_copy(tmp_path: Path, name: str, fmt: str) -> None:
    view, sink = make(tmp_path, name, image_bytes(fmt), href=f"artifacts/R/{name}")
    assert (view.kind, view.src, view.note) == ("image", f"artifacts/R/{name}", "")
    assert not sink.files


def test_a_big_image_shows_as_a_thumbnail(tmp_path: Path) -> None:
    data = png(1100, 1100, noise=True)
    assert len(data) > previews.IMAGE_INLINE_BYTES
    view, sink = make(tmp_path, "big.png", data)
    assert view.kind == "image" and view.src == "previews/R/thumb.png" and "thumbnail of a 3." in view.note
    with Image.open(io.BytesIO(sink.files["previews/R/thumb.png"])) as thumb:
        assert max(thumb.size) == 640
    view, _ = make(tmp_path, "small-not-copied.png", png(), href=None)  # over the copy limit
    assert view.src == "previews/R/thumb.png"


def test_a_file_named_png_that_is_not_an_image(tmp_path: Path) -> None:
    view, _ = make(tmp_path, "fake.png", b"<script>alert(1)</script>")
    assert view.kind == "none" and "not an image" in view.note


def test_a_hostile_svg_is_only_an_image_data_uri(tmp_path: Path) -> None:
    view, sink = make(tmp_path, "plot.svg", HOSTILE_SVG.encode())
    assert view.kind == "image" and view.src.startswith("data:image/svg+xml;base64,")
    assert base64.b64decode(view.src.split(",", 1)[1]) == HOSTILE_SVG.encode()
    assert not sink.files  # no .svg file the browser would run lands on the site


def test_csv_formulas_are_neutralized_and_numbers_kept(tmp_path: Path) -> None:
    view, _ = make(tmp_path, "confusion.csv", HOSTILE_CSV.encode())
    assert view.kind == "table" and view.header == ("name", "score", "link")
    assert view.rows == (
        ("<b>bold</b>", "-1.5", '\'=HYPERLINK("http://evil","x")'),
        ("plain", "+7", "'@SUM(A1)"),
    )
    assert previews.neutralize("-cmd|' /C calc'!A0") == "'-cmd|' /C calc'!A0"
    assert previews.neutralize("\t=1+1") == "'\t=1+1" and previews.neutralize("1e-3") == "1e-3"


def test_tables_are_bounded(tmp_path: Path) -> None:
    rows = ["\t".join(f"c{j}" for j in range(40))] + ["\t".join(str(i * j) for j in range(40)) for i in range(500)]
    view, _ = make(tmp_path, "wide.tsv", ("\n".join(rows) + "\n").encode())
    assert len(view.header) == previews.TABLE_COLUMNS and len(view.rows) == previews.TABLE_ROWS - 1
    assert view.rows[0][:3] == ("0", "0", "0") and "first 49 rows" in view.note and "first 30 columns" in view.note
    long_cell, _ = make(tmp_path, "long.csv", ("a\n" + "x" * 1000 + "\n").encode())
    assert long_cell.rows[0][0] == "x" * previews.CELL_CHARS + "…"


def test_a_binary_file_named_csv_has_no_preview(tmp_path: Path) -> None:
    view, _ = make(tmp_path, "data.csv", b"PK\x03\x04" + bytes(range(256)) * 40)
    assert view.kind == "none" and view.note.startswith("binary content") and "not table" in view.note
    latin, _ = make(tmp_path, "latin.csv", "naïve,1\n".encode("latin-1"))
    assert latin.kind == "none"


def test_a_10_mb_text_file_is_capped(tmp_path: Path) -> None:
    line = "epoch 1 loss 0.25 — ok\n"
    data = (line * (10 * 1024 * 1024 // len(line.encode()) + 1)).encode()
    view, _ = make(tmp_path, "train.log", data)
    assert view.kind == "text" and view.note == "first 64.0 KB of 10.0 MB"
    assert len(view.text.encode()) <= previews.TEXT_BYTES and view.text.startswith(line)


def test_json_yaml_and_markdown(tmp_path: Path) -> None:
    view, _ = make(tmp_path, "report.json", b'{"b": [1, 2], "a": {"x": "<i>y</i>"}}')
    assert view.kind == "text" and view.text == json.dumps({"b": [1, 2], "a": {"x": "<i>y</i>"}}, indent=2)
    bad, _ = make(tmp_path, "bad.json", b"{nope")
    assert bad.text == "{nope" and bad.note == "not valid JSON: shown as text"
    yml, _ = make(tmp_path, "conf.yaml", b"lr: 0.1\nlayers: [1, 2]\n")
    assert (yml.kind, yml.text) == ("text", "lr: 0.1\nlayers: [1, 2]\n")
    md, _ = make(tmp_path, "README.md", HOSTILE_MD.encode())
    assert md.kind == "markdown" and "<h1>Title</h1>" in md.html and "<strong>bold</strong>" in md.html
    assert "<script" not in md.html and "javascript:" not in md.html


def test_html_only_in_a_sandboxed_frame_behind_a_csp(tmp_path: Path) -> None:
    view, _ = make(tmp_path, "report.html", HOSTILE_HTML.encode())
    assert view.kind == "html"
    csp = f'<meta http-equiv="Content-Security-Policy" content="{previews.HTML_CSP}">'
    assert view.html == csp + "<h1>report</h1><p>ok</p>"  # nh3 took the script out
    styled, _ = make(
        tmp_path, "styled.html", b'<style>p{color:red}</style><p style="x" onclick="y">t</p><img src="http://e/x">'
    )
    assert styled.html == csp + '<style>p{color:red}</style><p style="x">t</p>'
    assert previews.kind_of("model.pkl") is None and previews.kind_of("x.PNG") == "image"


# -- on the built run page -------------------------------------------------------------------------
@pytest.fixture
def preview_site(repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, str]:
    client = gitrun.Client(repo / ".gitrun")
    exp = client.create_experiment("previews")
    run_id = client.create_run(exp, run_name="art").info.run_id
    art = Path(client.store.artifact_dir(run_id))
    files = {
        "plots/roc.png": png(),
        "plots/hostile.svg": HOSTILE_SVG.encode(),
        "confusion.csv": HOSTILE_CSV.encode(),
        "blob.csv": bytes(range(256)),
        "metrics.json": b'{"acc": 0.9}',
        "README.md": HOSTILE_MD.encode(),
        "report.html": HOSTILE_HTML.encode(),
    }
    for rel, data in files.items():
        (art / rel).parent.mkdir(parents=True, exist_ok=True)
        (art / rel).write_bytes(data)
    # DVC-tracked, the file itself only in the cache (as after `gitrun commit` and a fresh checkout)
    cached = b"step,loss\n0,0.9\n1,0.4\n"
    md5 = hashlib.md5(cached).hexdigest()
    (art / "losses.csv.dvc").write_text(
        f"outs:\n- md5: {md5}\n  size: {len(cached)}\n  hash: md5\n  path: losses.csv\n", encoding="utf-8"
    )
    obj = repo / ".dvc" / "cache" / "files" / "md5" / md5[:2] / md5[2:]
    obj.parent.mkdir(parents=True)
    obj.write_bytes(cached)
    client.set_terminated(run_id, "FINISHED")
    monkeypatch.setenv("SOURCE_DATE_EPOCH", EPOCH)
    out = tmp_path / "_site"
    build_site(Store(repo / ".gitrun"), BuildOptions(output=out, strict=True))
    return out, run_id


def test_run_page_previews(preview_site: tuple[Path, str]) -> None:
    out, run_id = preview_site
    soup = soup_of(out / "runs" / f"{run_id}.html")
    figures = {f["data-path"]: f for f in soup.select("figure.preview")}
    assert {p: f["data-kind"] for p, f in figures.items()} == {
        "README.md": "markdown",
        "blob.csv": "none",
        "confusion.csv": "table",
        "losses.csv": "table",
        "metrics.json": "text",
        "plots/hostile.svg": "image",
        "plots/roc.png": "image",
        "report.html": "html",
    }
    assert figures["plots/roc.png"].img["src"] == f"../artifacts/{run_id}/plots/roc.png"
    assert figures["plots/hostile.svg"].img["src"].startswith("data:image/svg+xml;base64,")
    assert (
        figures["plots/hostile.svg"].find("svg") is None
        and soup.find("script", string=lambda s: "svg" in (s or "")) is None
    )
    table = figures["confusion.csv"].table
    assert table.find("b") is None  # HTML in a cell is text
    assert [td.get_text() for td in table.tbody.find_all("td")][:3] == [
        "<b>bold</b>",
        "-1.5",
        '\'=HYPERLINK("http://evil","x")',
    ]
    assert [td.get_text() for td in figures["losses.csv"].tbody.find_all("td")] == [
        "0",
        "0.9",
        "1",
        "0.4",
    ]  # from the cache
    assert "binary content" in figures["blob.csv"].get_text()
    frame = figures["report.html"].iframe
    assert (
        frame.has_attr("sandbox")
        and not frame["sandbox"]
        and frame["srcdoc"].startswith('<meta http-equiv="Content-Security-Policy"')
    )
    assert figures["README.md"].find("script") is None
    links = {a.get_text(): a for a in soup.select("#artifacts-table td:first-child a:first-child")}
    assert links["plots/hostile.svg"]["download"] == "hostile.svg" and links["report.html"]["download"] == "report.html"
    assert links["plots/hostile.svg"]["href"].endswith(".svg.txt")  # never served as SVG
    assert "download" not in links["plots/roc.png"].attrs
    dvc_row = next(tr for tr in soup.select("#artifacts-table tbody tr") if "losses.csv" in tr.get_text())
    assert "dvc get" in dvc_row.get_text()


@pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed")
def test_previews_in_chromium(preview_site: tuple[Path, str], browser_context: Any) -> None:
    out, run_id = preview_site
    base = out.resolve().as_uri() + "/"
    page = browser_context.new_page()
    watch = Watch(page)
    page.goto(f"{base}runs/{run_id}.html", wait_until="load")
    page.wait_for_function(
        "() => [...document.querySelectorAll('figure.preview img')].every(i => i.complete && i.naturalWidth > 0)"
    )
    sizes = page.eval_on_selector_all("figure.preview img", "els => els.map(i => [i.alt, i.naturalWidth])")
    assert sorted(sizes) == [["plots/hostile.svg", 40], ["plots/roc.png", 8]]
    assert page.locator('figure.preview[data-path="confusion.csv"] table').is_visible()
    # the table sorts from the keyboard
    page.focus('figure.preview[data-path="losses.csv"] th:nth-child(2) button')
    page.keyboard.press("Enter")
    cells = page.locator('figure.preview[data-path="losses.csv"] tbody td:nth-child(2)').all_inner_texts()
    assert cells == ["0.4", "0.9"]
    assert page.locator('figure.preview[data-path="metrics.json"] pre').inner_text() == '{\n  "acc": 0.9\n}'
    frame = page.frame_locator('figure.preview[data-path="report.html"] iframe')
    assert frame.locator("h1").inner_text() == "report"
    page.wait_for_timeout(300)
    # The frame's script is refused (that is the message Chromium logs); nothing else is wrong.
    blocked = [e for e in watch.errors if "Blocked script execution in 'about:srcdoc'" in e]
    watch.errors = [e for e in watch.errors if e not in blocked]
    watch.check(base)  # no dialog (svg, html, md scripts never ran), no console error, no request out
    assert not [u for u in watch.requests if "example.invalid" in u]
    page.close()
