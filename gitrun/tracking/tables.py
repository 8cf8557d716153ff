"""``log_table`` and ``load_table``: a table artifact as MLflow writes it (docs/format.md, "Tables").

A table is ``artifacts/<artifact_file>``: pandas' ``to_json(orient="split", index=False,
date_format="iso")`` for ``.json``, ``to_parquet(index=False)`` for ``.parquet``. Logging to a file
that exists appends the rows (MLflow's rule). A column of images is stored as
``table_images/<table>/<uuid4>.png`` plus a ``.webp`` preview, and the cell becomes ``{"type":
"image", "filepath": ..., "compressed_filepath": ...}``. The run's ``mlflow.loggedArtifacts`` tag
lists each table as ``{"path": ..., "type": "table"}``.
"""

from __future__ import annotations

import json
import posixpath
import uuid
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gitrun.errors import GitrunError, InvalidInputError
from gitrun.store.validation import validate_artifact_path
from gitrun.tags import LOGGED_ARTIFACTS
from gitrun.tracking import artifacts

if TYPE_CHECKING:
    import pandas

TABLE_SUFFIXES = (".json", ".parquet")
FORBIDDEN = "\"',:[]{}"  # MLflow refuses these in a table's file name
TABLE_IMAGES = "table_images"


def check_table_file(artifact_file: str) -> str:
    """The table's artifact path, or a clear error for a name MLflow refuses too."""
    bad = sorted({c for c in artifact_file if c in FORBIDDEN})
    if bad:
        raise InvalidInputError(
            f"table file {artifact_file!r} holds {' '.join(bad)}, which MLflow refuses in a table's name; rename it"
        )
    if not artifact_file.endswith(TABLE_SUFFIXES):
        raise InvalidInputError(f"table file {artifact_file!r} must end in .json or .parquet, e.g. 'eval/results.json'")
    return validate_artifact_path(artifact_file, writing=True)


def _frame(data: Any) -> pandas.DataFrame:
    import pandas as pd

    if isinstance(data, pd.DataFrame):
        return data.copy()
    if not isinstance(data, Mapping):
        raise InvalidInputError(f"log_table takes a pandas.DataFrame or a dict, got {type(data).__name__}")
    try:
        return pd.DataFrame(dict(data))
    except ValueError:  # only scalars: one row, as MLflow does
        return pd.DataFrame([dict(data)])


def _is_image(value: Any) -> bool:
    """MLflow's test: a PIL-like image (``save``, ``resize``, ``size``)."""
    return (
        callable(getattr(value, "save", None)) and callable(getattr(value, "resize", None)) and hasattr(value, "size")
    )


def _store_images(artifact_root: Path, frame: pandas.DataFrame, table: str) -> None:
    """Replace each column of images by MLflow's image cells, writing the files."""
    stem = posixpath.splitext(table)[0]
    for column in [c for c in frame.columns if frame[c].dtype == object]:  # images sit in object columns
        flags = [_is_image(v) for v in frame[column]]
        if not any(flags):
            continue
        if not all(flags):
            raise InvalidInputError(
                f"column {column!r} of table {table!r} mixes images and other values; "
                "put images in columns of their own"
            )

        def cell(image: Any) -> dict[str, str]:
            base = f"{TABLE_IMAGES}/{stem}/{uuid.uuid4()}"
            artifacts.save_with_preview(artifact_root, image, f"{base}.png", f"{base}.webp")
            return {"type": "image", "filepath": f"{base}.png", "compressed_filepath": f"{base}.webp"}

        frame[column] = frame[column].map(cell)


def read_table(path: Path) -> pandas.DataFrame:
    import pandas as pd

    try:
        if path.suffix == ".json":
            return pd.read_json(path, orient="split")
        return pd.read_parquet(path)
    except (ValueError, OSError) as exc:
        raise GitrunError(f"cannot read the table {path}: {exc}; it is not a table logged by log_table") from None


def log_table(artifact_root: Path, data: Any, artifact_file: str) -> str:
    """Write (or append to) the table ``artifact_file``; returns its artifact path."""
    import pandas as pd

    rel = check_table_file(artifact_file)
    frame = _frame(data)
    _store_images(artifact_root, frame, rel)
    path = artifact_root / rel
    if path.is_file():
        frame = pd.concat([read_table(path), frame], ignore_index=True)

    def save(tmp: Path) -> None:
        try:
            if rel.endswith(".json"):
                frame.to_json(tmp, orient="split", index=False, date_format="iso")
            else:
                frame.to_parquet(tmp, index=False)
        except (TypeError, ValueError, OverflowError) as exc:
            raise InvalidInputError(f"cannot save table {rel!r}: {exc}; log JSON-serialisable values") from None

    artifacts.save_through_temp(artifact_root, artifacts.target(artifact_root, rel), save, posixpath.splitext(rel)[1])
    return rel


def logged_artifacts_tag(current: str | None, table: str) -> str | None:
    """The new value of ``mlflow.loggedArtifacts`` once ``table`` is logged, or None if it lists it already."""
    try:
        entries = json.loads(current) if current else []
    except ValueError:
        entries = []
    entries = entries if isinstance(entries, list) else []
    entry = {"path": table, "type": "table"}
    return None if entry in entries else json.dumps([*entries, entry])


def load_table_filter(artifact_file: str) -> str:
    """MLflow's search filter for the runs whose ``mlflow.loggedArtifacts`` tag lists the table."""
    check_table_file(artifact_file)
    return f'tags.`{LOGGED_ARTIFACTS}` LIKE \'%"path"%:%"{artifact_file}",%"type"%:%"table"%\''


def load_table(
    runs: pandas.DataFrame, artifact_root: Callable[[str], Path], artifact_file: str, extra_columns: Iterable[str] = ()
) -> pandas.DataFrame:
    """The rows of ``artifact_file`` in each of ``runs`` (a ``search_runs`` frame), one table after
    the other, as MLflow's ``load_table``: ``extra_columns`` are columns of ``runs`` copied into
    each row (a name the table has already gets a ``_`` suffix)."""
    import pandas as pd

    extra = list(extra_columns)
    missing = [c for c in extra if c not in runs.columns]
    if missing:
        raise InvalidInputError(
            f"load_table: no column {', '.join(map(repr, missing))} in search_runs' result; "
            "use one of its columns, e.g. 'run_id' or 'params.<key>'"
        )
    frames = []
    for _, run in runs.iterrows():
        path = artifact_root(run["run_id"]) / validate_artifact_path(artifact_file)
        if not path.is_file():
            raise GitrunError(f"run {run['run_id']} lists the table {artifact_file!r} but has no such artifact")
        frame = read_table(path)
        for column in extra:
            frame[f"{column}_" if column in frame else column] = run[column]
        frames.append(frame)
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
