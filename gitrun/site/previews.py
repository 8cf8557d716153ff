"""Artifact previews on the run page, made at build time from the files (or the DVC cache):
bounded, and safe on the site's origin.

- Images (PNG, JPEG, GIF, WebP, told by their bytes, not their names) inline through ``<img>``;
  one over :data:`IMAGE_INLINE_BYTES` (or not copied into the site) as a thumbnail when Pillow
  is installed. SVG only as a ``data:`` URI inside ``<img>``: an image context never runs its
  scripts nor loads anything, and no ``.svg`` file the browser would run sits on the origin.
- CSV/TSV: the first :data:`TABLE_ROWS` rows of :data:`TABLE_COLUMNS` columns (the page sorts
  them); a cell that a spreadsheet would take as a formula (``=``, ``+``, ``-``, ``@``, tab or
  CR first, and not a number) is shown with a leading ``'``; HTML in cells is text (autoescape).
- JSON (pretty-printed; a table as ``log_table`` writes it as a table), YAML, text and logs: at
  most :data:`TEXT_BYTES` bytes.
- Stepped images (``log_image(key=, step=)``, MLflow's ``images/`` names): one preview per key
  with a step slider (:func:`stepped_images`). Markdown
  rendered and sanitized with nh3 (:func:`gitrun.site.safe.render_note`).
- HTML: cleaned by nh3 (:func:`gitrun.site.safe.sanitize_html`: no scripts, handlers or media,
  styles kept), then only inside ``<iframe sandbox srcdoc>`` (no scripts, a unique origin)
  behind a Content-Security-Policy that blocks every request: three walls, not one.
- Anything with NUL bytes or that is not UTF-8, whatever its name (a binary ``.csv``): no
  preview, a note saying why.
"""

from __future__ import annotations

import base64
import csv
import io
import json
import re
from collections.abc import Callable
from pathlib import Path

from gitrun.formatting import format_size
from gitrun.site import safe
from gitrun.site.context import PreviewView

TEXT_BYTES = 64 * 1024  # text shown of a text, JSON, YAML or Markdown file
TABLE_BYTES = 256 * 1024  # read of a CSV/TSV for its first rows
TABLE_ROWS = 50
TABLE_COLUMNS = 30
CELL_CHARS = 200
SVG_BYTES = 512 * 1024  # largest SVG inlined as a data: URI
HTML_BYTES = 512 * 1024  # largest HTML shown in the sandboxed frame
IMAGE_INLINE_BYTES = 2 * 1024 * 1024  # larger images show as a thumbnail
THUMBNAIL_SOURCE_BYTES = 64 * 1024 * 1024  # never decode a bigger image
THUMBNAIL_SIZE = (640, 640)
MAX_PREVIEWS = 12  # per run page

# What the frame's document may do: nothing that reaches the network or runs code.
HTML_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; font-src data:"

_RASTER = {  # magic bytes -> MIME type
    b"\x89PNG\r\n\x1a\n": "image/png",
    b"\xff\xd8\xff": "image/jpeg",
    b"GIF87a": "image/gif",
    b"GIF89a": "image/gif",
}
_TEXT = {".txt": "text", ".log": "text", ".yaml": "yaml", ".yml": "yaml", ".json": "json", ".md": "markdown"}
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")

Write = Callable[[str, bytes], None]


def kind_of(rel: str) -> str | None:
    """The preview a file's name asks for (its bytes may still refuse it); None for no preview."""
    suffix = Path(rel).suffix.lower()
    if suffix in (".png", ".jpg", ".jpeg", ".gif", ".webp"):
        return "image"
    if suffix == ".svg":
        return "svg"
    if suffix in (".csv", ".tsv"):
        return "table"
    if suffix in (".html", ".htm"):
        return "html"
    return _TEXT.get(suffix)


def preview(source: Path, rel: str, href: str | None, thumb_rel: str, write: Write) -> PreviewView | None:
    """The preview of the artifact ``rel`` read from ``source``; ``href`` is its copy in the site
    (None when not copied), ``thumb_rel`` where a thumbnail would go. None: no preview for the type."""
    kind = kind_of(rel)
    if kind is None:
        return None
    try:
        size = source.stat().st_size
        if kind == "image":
            return _image(source, rel, size, href, thumb_rel, write)
        head = _head(source, max(TEXT_BYTES, TABLE_BYTES, SVG_BYTES, HTML_BYTES))
    except OSError as exc:
        return PreviewView(rel, "none", note=f"cannot read it: {exc.strerror or exc}")
    text, cut = _text(head, size)
    if text is None:
        return PreviewView(rel, "none", note=f"binary content ({format_size(size)}), not {kind}: no preview")
    if kind == "svg":
        if size > SVG_BYTES:
            return PreviewView(rel, "none", note=f"SVG over {format_size(SVG_BYTES)}: no preview")
        uri = "data:image/svg+xml;base64," + base64.b64encode(head).decode("ascii")
        return PreviewView(rel, "image", src=uri)
    if kind == "html":
        if size > HTML_BYTES:
            return PreviewView(rel, "none", note=f"HTML over {format_size(HTML_BYTES)}: no preview")
        csp = f'<meta http-equiv="Content-Security-Policy" content="{HTML_CSP}">'
        return PreviewView(rel, "html", html=csp + safe.sanitize_html(text))
    if kind == "table":
        return _table(rel, text, cut, size, delimiter="\t" if rel.lower().endswith(".tsv") else ",")
    shown, cut = _cap(text, cut)
    note = f"first {format_size(TEXT_BYTES)} of {format_size(size)}" if cut else ""
    if kind == "json" and not cut:
        table = table_json(rel, shown)
        if table is not None:
            return table
        try:
            shown = json.dumps(json.loads(shown), indent=2, ensure_ascii=False)[:TEXT_BYTES]
        except ValueError:
            note = "not valid JSON: shown as text"
    if kind == "markdown":
        return PreviewView(rel, "markdown", html=safe.render_note(shown), note=note)
    return PreviewView(rel, "text", text=shown, note=note)


def table_json(rel: str, text: str) -> PreviewView | None:
    """A table as ``log_table`` writes it (pandas' split JSON: ``{"columns": [...], "data": [[...]]}``),
    or None when ``text`` is other JSON. Image cells (``{"type": "image", "filepath": ...}``) show their path."""
    try:
        doc = json.loads(text)
    except ValueError:
        return None
    if not (isinstance(doc, dict) and isinstance(doc.get("columns"), list) and isinstance(doc.get("data"), list)):
        return None
    if not all(isinstance(row, list) for row in doc["data"]):
        return None

    def cell(value: object) -> str:
        if isinstance(value, dict) and value.get("type") == "image":
            return f"[image] {value.get('filepath', '')}"
        if isinstance(value, str):
            return value
        return json.dumps(value, ensure_ascii=False)

    header = tuple(neutralize(str(c)) for c in doc["columns"][:TABLE_COLUMNS])
    rows = tuple(
        tuple(neutralize(cell(v)) for v in row[:TABLE_COLUMNS]) + ("",) * max(0, len(header) - len(row))
        for row in doc["data"][: TABLE_ROWS - 1]
    )
    notes = ["a table (log_table)"]
    if len(doc["data"]) > TABLE_ROWS - 1:
        notes.append(f"first {len(rows)} of {len(doc['data'])} rows")
    if len(doc["columns"]) > TABLE_COLUMNS:
        notes.append(f"first {TABLE_COLUMNS} columns")
    return PreviewView(rel, "table", header=header, rows=rows, note="; ".join(notes), logged_table=True)


# MLflow's stepped images (log_image(key=, step=)): images/<key, / as ~>+step+<n>+timestamp+<ms>+<uuid>
_STEPPED = re.compile(
    r"^images/(?P<key>[^/]+)\+step\+(?P<step>\d+)\+timestamp\+(?P<ts>\d+)\+(?P<uuid>[0-9A-Fa-f-]+)"
    r"(?P<compressed>\+compressed)?\.(?:png|webp)$"
)


def stepped_images(rels: list[str]) -> dict[str, list[tuple[int, str, str | None]]]:
    """The image series among artifact paths: key -> ``(step, full image, its preview or None)``
    by step, one per step (the largest timestamp, then the last name, as MLflow's UI shows)."""
    best: dict[tuple[str, int], tuple[int, str]] = {}
    previews: dict[str, str] = {}
    for rel in rels:
        match = _STEPPED.match(rel)
        if match is None:
            continue
        stem = rel[: match.start("compressed")] if match.group("compressed") else rel.rsplit(".", 1)[0]
        if match.group("compressed"):
            previews[stem] = rel
            continue
        at = (match.group("key").replace("~", "/"), int(match.group("step")))
        candidate = (int(match.group("ts")), rel)
        if at not in best or candidate > best[at]:
            best[at] = candidate
    out: dict[str, list[tuple[int, str, str | None]]] = {}
    for (key, step), (_, full) in sorted(best.items()):
        out.setdefault(key, []).append((step, full, previews.get(full.rsplit(".", 1)[0])))
    return out


def neutralize(cell: str) -> str:
    """A CSV cell as shown: capped, and prefixed with ``'`` when a spreadsheet would run it as a formula."""
    cell = cell if len(cell) <= CELL_CHARS else cell[:CELL_CHARS] + "…"
    if cell.startswith(_FORMULA_START) and not _is_number(cell):
        return "'" + cell
    return cell


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _head(path: Path, limit: int) -> bytes:
    with path.open("rb") as f:
        return f.read(limit)


def _text(head: bytes, size: int) -> tuple[str | None, bool]:
    """``head`` as UTF-8 (None when it is binary), and whether the file goes on past it."""
    cut = size > len(head)
    if b"\0" in head:
        return None, cut
    try:
        return head.decode("utf-8"), cut
    except UnicodeDecodeError as exc:
        if cut and exc.start >= len(head) - 3:  # a character split at the end of what was read
            return head[: exc.start].decode("utf-8", errors="strict"), True
        return None, cut


def _cap(text: str, cut: bool) -> tuple[str, bool]:
    data = text.encode("utf-8")
    if len(data) <= TEXT_BYTES:
        return text, cut
    return data[:TEXT_BYTES].decode("utf-8", errors="ignore"), True


def _table(rel: str, text: str, cut: bool, size: int, delimiter: str) -> PreviewView:
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    rows: list[tuple[str, ...]] = []
    wide = False
    try:
        for row in reader:
            if len(rows) > TABLE_ROWS:
                break
            wide = wide or len(row) > TABLE_COLUMNS
            rows.append(tuple(neutralize(c) for c in row[:TABLE_COLUMNS]))
    except csv.Error as exc:
        return PreviewView(rel, "none", note=f"not a readable table ({exc})")
    if not rows:
        return PreviewView(rel, "none", note="empty table")
    if cut and len(rows) <= TABLE_ROWS:
        rows = rows[:-1]  # the last row read may be cut short
    header, body = rows[0], rows[1:]
    more = len(body) > TABLE_ROWS - 1 or cut
    body = body[: TABLE_ROWS - 1]
    width = max(len(header), *(len(r) for r in body)) if body else len(header)
    header = header + ("",) * (width - len(header))
    body = [r + ("",) * (width - len(r)) for r in body]
    notes = []
    if more:
        notes.append(f"first {len(body)} rows of {format_size(size)}")
    if wide:
        notes.append(f"first {TABLE_COLUMNS} columns")
    return PreviewView(rel, "table", header=header, rows=tuple(body), note="; ".join(notes))


def _image(source: Path, rel: str, size: int, href: str | None, thumb_rel: str, write: Write) -> PreviewView:
    with source.open("rb") as f:
        magic = f.read(16)
    mime = next((m for sig, m in _RASTER.items() if magic.startswith(sig)), None)
    if mime is None and magic[:4] == b"RIFF" and magic[8:12] == b"WEBP":
        mime = "image/webp"
    if mime is None:
        return PreviewView(rel, "none", note="not an image its name says it is: no preview")
    if href is not None and size <= IMAGE_INLINE_BYTES:
        return PreviewView(rel, "image", src=href)
    thumb = _thumbnail(source, size)
    if thumb is None:
        return PreviewView(rel, "none", note=f"image of {format_size(size)}: too big to show inline")
    write(thumb_rel, thumb)
    return PreviewView(rel, "image", src=thumb_rel, note=f"thumbnail of a {format_size(size)} image")


def _thumbnail(source: Path, size: int) -> bytes | None:
    """A PNG thumbnail by Pillow (None without it, for a huge file, or one it cannot decode)."""
    if size > THUMBNAIL_SOURCE_BYTES:
        return None
    try:
        from PIL import Image
    except ImportError:
        return None
    try:
        with Image.open(source) as image:
            if image.width * image.height > 100_000_000:  # a decompression bomb
                return None
            image.thumbnail(THUMBNAIL_SIZE)
            out = io.BytesIO()
            image.convert("RGBA" if image.mode in ("RGBA", "LA", "P") else "RGB").save(out, "PNG", optimize=True)
            return out.getvalue()
    except (OSError, ValueError, Image.DecompressionBombError):
        return None
