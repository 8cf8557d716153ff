"""Artifact writers behind ``log_artifact(s)``, ``log_text``, ``log_dict``, ``log_figure``, ``log_image``.

Every file lands in the run's ``artifacts/`` folder through a temp file and a rename, so a
reader never sees half an artifact.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

from gitrun.errors import GitrunError, InvalidInputError
from gitrun.store import textio
from gitrun.store.validation import validate_artifact_path


def _target(artifact_root: Path, artifact_file: str) -> Path:
    rel = validate_artifact_path(artifact_file, writing=True)
    if not rel:
        raise InvalidInputError("artifact_file must name a file, e.g. 'report/summary.txt'")
    path = artifact_root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def _copy_file(source: Path, dest: Path) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = textio.temp_path(dest)
    try:
        shutil.copy2(source, tmp)
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)


def log_artifact(artifact_root: Path, local_path: str | os.PathLike[str], artifact_path: str | None = None) -> Path:
    source = Path(local_path)
    if not source.exists():
        raise GitrunError(f"cannot log artifact {str(source)!r}: no such file or directory")
    folder = validate_artifact_path(artifact_path)
    rel = f"{folder}/{source.name}" if folder else source.name
    if source.is_dir():
        return log_artifacts(artifact_root, source, validate_artifact_path(rel))
    dest = artifact_root / validate_artifact_path(rel, writing=True)
    _copy_file(source, dest)
    return dest


def log_artifacts(artifact_root: Path, local_dir: str | os.PathLike[str], artifact_path: str | None = None) -> Path:
    source = Path(local_dir)
    if not source.is_dir():
        raise GitrunError(f"cannot log artifacts from {str(source)!r}: not a directory (use log_artifact for a file)")
    prefix = validate_artifact_path(artifact_path, writing=True)
    folder = artifact_root / prefix
    for dirpath, _dirnames, filenames in os.walk(source):  # check every name before copying any file
        rel = Path(dirpath).relative_to(source).as_posix()
        for name in filenames:
            validate_artifact_path("/".join(p for p in (prefix, rel, name) if p not in ("", ".")), writing=True)
    for dirpath, _dirnames, filenames in os.walk(source):
        for name in filenames:
            file = Path(dirpath) / name
            _copy_file(file, folder / file.relative_to(source))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def log_text(artifact_root: Path, text: str, artifact_file: str) -> Path:
    path = _target(artifact_root, artifact_file)
    textio.atomic_write(path, text)
    return path


def log_dict(artifact_root: Path, dictionary: Any, artifact_file: str) -> Path:
    """JSON, or YAML when the file ends in ``.yaml``/``.yml`` (MLflow's rule)."""
    if artifact_file.endswith((".yaml", ".yml")):
        import yaml

        text = yaml.safe_dump(dictionary, default_flow_style=False, sort_keys=False, allow_unicode=True)
    else:
        import json

        text = json.dumps(dictionary, indent=2, ensure_ascii=False, default=str) + "\n"
    return log_text(artifact_root, text, artifact_file)


def log_figure(artifact_root: Path, figure: Any, artifact_file: str, save_kwargs: dict[str, Any] | None = None) -> Path:
    """A matplotlib figure (``savefig``) or a plotly figure (``write_html`` / ``write_image``)."""
    path = _target(artifact_root, artifact_file)
    tmp = textio.temp_path(path, ".tmp" + path.suffix)
    kwargs = dict(save_kwargs or {})
    module = type(figure).__module__
    try:
        if module.startswith("matplotlib"):
            figure.savefig(tmp, **kwargs)
        elif module.startswith("plotly"):
            if path.suffix.lower() in (".html", ".htm"):
                figure.write_html(str(tmp), **kwargs)
            else:
                figure.write_image(str(tmp), **kwargs)
        else:
            raise InvalidInputError(
                f"log_figure takes a matplotlib or plotly figure, got {type(figure).__name__}; "
                "save other objects to a file and use log_artifact"
            )
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def image_to_pil(image: Any) -> Any:
    """A PIL image from a PIL image or a numpy array (HW, HWC; float in [0, 1] or integers 0-255)."""
    try:
        from PIL import Image
    except ImportError:
        raise GitrunError("log_image needs Pillow: pip install pillow") from None
    if isinstance(image, Image.Image):
        return image
    import numpy as np

    array = np.asarray(image)
    if array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[2] not in (1, 3, 4)):
        raise InvalidInputError(f"log_image expects an HxW or HxWxC array with C in 1, 3, 4; got shape {array.shape}")
    if array.dtype.kind == "f":
        if array.size and (np.nanmin(array) < 0 or np.nanmax(array) > 1):
            raise InvalidInputError("float images must hold values in [0, 1]; scale them or pass uint8 values 0-255")
        array = (array * 255).round().astype(np.uint8)
    elif array.dtype.kind in "iu":
        if array.size and (array.min() < 0 or array.max() > 255):
            raise InvalidInputError("integer images must hold values in [0, 255]")
        array = array.astype(np.uint8)
    elif array.dtype.kind == "b":
        array = array.astype(np.uint8) * 255
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[:, :, 0]
    return Image.fromarray(array)


def log_image(artifact_root: Path, image: Any, artifact_file: str) -> Path:
    path = _target(artifact_root, artifact_file)
    pil = image_to_pil(image)
    tmp = textio.temp_path(path, ".tmp" + (path.suffix or ".png"))
    try:
        pil.save(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path
