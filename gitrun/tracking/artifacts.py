"""Artifact writers behind ``log_artifact(s)``, ``log_text``, ``log_dict``, ``log_figure``, ``log_image``.

Every file lands in the run's ``artifacts/`` folder through a temp file and a rename, so a
reader never sees half an artifact. The writes are the store's checked writes
(:mod:`gitrun.store.textio`): a full disk or a read-only store is a clear error naming the
artifact, and what was there before stays intact. A path that cannot be made (a file where a
folder is needed, a name too long for the file system) is refused naming the artifact path.
"""

from __future__ import annotations

import os
import re
import stat
import uuid
import warnings
from pathlib import Path
from typing import Any

from gitrun.errors import GitrunError, InvalidInputError
from gitrun.extras import require
from gitrun.store import textio
from gitrun.store.validation import validate_artifact_path


def _run_of(artifact_root: Path) -> str:
    return artifact_root.parent.name


def _make_folder(artifact_root: Path, folder: Path, wanted: str) -> None:
    """Create ``folder`` under ``artifact_root``; a file standing in its way is named in the error."""
    try:
        textio.make_dirs(folder)
    except (FileExistsError, NotADirectoryError):
        blocker = next((p for p in (folder, *folder.parents) if p.is_file() or p.is_symlink()), folder)
        try:
            shown = blocker.relative_to(artifact_root).as_posix()
        except ValueError:
            shown = str(blocker)
        raise InvalidInputError(
            f"cannot log artifact {wanted!r} in run {_run_of(artifact_root)}: {shown!r} is a file there, and this "
            "path needs a folder of that name; choose another artifact path"
        ) from None


def target(artifact_root: Path, artifact_file: str) -> Path:
    rel = validate_artifact_path(artifact_file, writing=True)
    if not rel:
        raise InvalidInputError("artifact_file must name a file, e.g. 'report/summary.txt'")
    path = artifact_root / rel
    _make_folder(artifact_root, path.parent, rel)
    _refuse_folder(artifact_root, path, rel)
    return path


def _refuse_folder(artifact_root: Path, path: Path, rel: str) -> None:
    if path.is_dir():
        raise InvalidInputError(
            f"cannot log artifact {rel!r} in run {_run_of(artifact_root)}: a folder of that name is already "
            "there; choose another file name"
        )


def _copy_file(artifact_root: Path, source: Path, dest: Path) -> None:
    rel = dest.relative_to(artifact_root).as_posix()
    _make_folder(artifact_root, dest.parent, rel)
    _refuse_folder(artifact_root, dest, rel)
    try:
        textio.copy_file(source, dest)
    except FileNotFoundError:
        raise GitrunError(f"cannot log artifact {str(source)!r}: it disappeared while being copied") from None
    except OSError as exc:  # reading the user's file; writing errors are already StoreWriteError
        raise GitrunError(f"cannot read {str(source)!r} to log it as artifact {rel!r}: {exc.strerror or exc}") from None


def save_through_temp(artifact_root: Path, path: Path, save: Any, suffix: str) -> None:
    """Let ``save(tmp)`` write a temp file beside ``path`` (a library's own writer), then check and rename it."""
    tmp = textio.temp_path(path, suffix)
    try:
        try:
            save(tmp)
            if not tmp.is_file():
                raise GitrunError(f"saving artifact {path.name!r} wrote no file")
            textio.commit_temp(tmp, path)
        except OSError as exc:  # from the library's own writes (savefig, PIL...)
            raise textio.write_error(path, exc) from None
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
    _copy_file(artifact_root, source, dest)
    return dest


def _files_to_log(source: Path) -> list[tuple[str, Path]]:
    """``(relative path, file)`` of every regular file under ``source``, warning about what is skipped.

    Symlinks to files are logged as the files they point to. Directory symlinks are not
    followed (they can reach far outside the folder, e.g. a dataset mount, or loop), dangling
    symlinks have nothing to copy, and FIFOs, sockets and devices are not files: each is named
    in a warning.
    """
    found: list[tuple[str, Path]] = []
    skipped: list[str] = []
    for dirpath, dirnames, filenames in os.walk(source):
        folder = Path(dirpath)
        prefix = folder.relative_to(source).as_posix()
        prefix = "" if prefix == "." else prefix + "/"
        for name in sorted(dirnames):
            if (folder / name).is_symlink():
                skipped.append(f"{prefix}{name} (a symlink to the folder {os.readlink(folder / name)!r}: not followed)")
        for name in sorted(filenames):
            path = folder / name
            try:
                mode = path.stat().st_mode  # follows symlinks
            except OSError:
                target = os.readlink(path) if path.is_symlink() else "?"
                skipped.append(f"{prefix}{name} (a dangling symlink to {target!r})")
                continue
            if stat.S_ISREG(mode):
                found.append((prefix + name, path))
            else:
                skipped.append(f"{prefix}{name} (not a regular file)")
    if skipped:
        warnings.warn(
            f"log_artifacts({str(source)!r}) skipped {len(skipped)} entr{'y' if len(skipped) == 1 else 'ies'}: "
            + "; ".join(skipped)
            + ". Log a folder that a symlink points to with log_artifacts(<that folder>, <artifact path>)",
            stacklevel=4,
        )
    return found


def log_artifacts(artifact_root: Path, local_dir: str | os.PathLike[str], artifact_path: str | None = None) -> Path:
    source = Path(local_dir)
    if not source.is_dir():
        raise GitrunError(f"cannot log artifacts from {str(source)!r}: not a directory (use log_artifact for a file)")
    base = validate_artifact_path(artifact_path, writing=True)
    folder = artifact_root / base
    files = _files_to_log(source)
    # Every name is checked before anything is copied: a refused name logs nothing.
    for rel, _ in files:
        validate_artifact_path(f"{base}/{rel}" if base else rel, writing=True)
    for rel, file in files:
        _copy_file(artifact_root, file, folder / rel)
    _make_folder(artifact_root, folder, base or ".")
    return folder


def log_text(artifact_root: Path, text: str, artifact_file: str) -> Path:
    path = target(artifact_root, artifact_file)
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
    module = type(figure).__module__
    if not module.startswith(("matplotlib", "plotly")):
        raise InvalidInputError(
            f"log_figure takes a matplotlib or plotly figure, got {type(figure).__name__}; "
            "save other objects to a file and use log_artifact"
        )
    path = target(artifact_root, artifact_file)
    kwargs = dict(save_kwargs or {})

    def save(tmp: Path) -> None:
        if module.startswith("matplotlib"):
            figure.savefig(tmp, **kwargs)
        elif path.suffix.lower() in (".html", ".htm"):
            figure.write_html(str(tmp), **kwargs)
        else:
            figure.write_image(str(tmp), **kwargs)

    save_through_temp(artifact_root, path, save, path.suffix)  # the suffix tells savefig the format
    return path


def image_to_pil(image: Any) -> Any:
    """A PIL image from a PIL image or a numpy array (HW, HWC; float in [0, 1] or integers 0-255)."""
    require("images", "PIL", feature="log_image")
    from PIL import Image

    if isinstance(image, Image.Image):
        return image
    if callable(getattr(image, "to_pil", None)):  # mlflow.Image
        return image.to_pil()
    import numpy as np

    array = np.asarray(image)
    if array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[2] not in (1, 3, 4)):
        raise InvalidInputError(f"log_image expects an HxW or HxWxC array with C in 1, 3, 4; got shape {array.shape}")
    if array.dtype.kind == "f":
        low, high = (float(np.nanmin(array)), float(np.nanmax(array))) if array.size else (0.0, 1.0)
        if low < 0 or high > 1:  # MLflow's rule: warn, then min-max scale
            warnings.warn(
                f"float pixel values outside [0, 1] (from {low} to {high}): rescaled to [0, 1] by min and max; "
                "pass values in [0, 1], or uint8 values 0-255, to keep them as they are",
                stacklevel=4,
            )
            array = (array - low) / ((high - low) or 1.0)
        array = (array * 255).astype(np.uint8)  # truncated, as MLflow does: the same pixels
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
    path = target(artifact_root, artifact_file)
    pil = image_to_pil(image)
    save_through_temp(artifact_root, path, pil.save, path.suffix or ".png")
    return path


IMAGE_KEY = re.compile(r"[a-zA-Z0-9_\-./ ]+")  # MLflow's rule for an image series key
PREVIEW_SIZE = 256  # MLflow's compressed preview fits in a square of this side


def preview(pil: Any) -> Any:
    """MLflow's compressed preview of an image: scaled to fit in 256x256, aspect kept (``int`` sizes)."""
    width, height = pil.size
    if width > height:
        size = (PREVIEW_SIZE, int(height * (PREVIEW_SIZE / width)))
    else:
        size = (int(width * (PREVIEW_SIZE / height)), PREVIEW_SIZE)
    return pil.resize(size)


def save_with_preview(artifact_root: Path, pil: Any, full_file: str, preview_file: str) -> None:
    """``pil`` as the PNG ``full_file`` and its compressed preview as the WebP ``preview_file`` (MLflow's pair)."""
    log_image(artifact_root, pil, full_file)
    small = target(artifact_root, preview_file)
    save_through_temp(artifact_root, small, preview(pil).save, ".webp")


IMAGES_FOLDER = "images"


def stepped_image_stem(key: str, step: int, timestamp: int) -> str:
    """``images/<key with / as ~>+step+<step>+timestamp+<ms>+<uuid4>``: MLflow 3's name for a series image."""
    if not IMAGE_KEY.fullmatch(key):
        raise InvalidInputError(
            f"image key {key!r} may hold only letters, digits, '_', '-', '.', ' ' and '/' (MLflow's rule); "
            "rename the key"
        )
    return f"{IMAGES_FOLDER}/{key.replace('/', '~')}+step+{step}+timestamp+{timestamp}+{uuid.uuid4()}"


def log_image_step(artifact_root: Path, image: Any, key: str, step: int, timestamp: int) -> str:
    """Step ``step`` of image series ``key``: ``<stem>.png`` and its preview ``<stem>+compressed.webp``
    (MLflow's files); returns the stem."""
    pil = image_to_pil(image)  # before naming: a bad image writes nothing
    stem = stepped_image_stem(key, step, timestamp)
    save_with_preview(artifact_root, pil, f"{stem}.png", f"{stem}+compressed.webp")
    return stem


class Image:
    """MLflow's ``mlflow.Image``: an image from a numpy array, a list of pixel rows, a PIL image or
    a file path, for ``log_image`` and table cells."""

    def __init__(self, image: Any):
        if isinstance(image, (str, os.PathLike)):
            require("images", "PIL", feature="gitrun.Image")
            from PIL import Image as PILImage

            with PILImage.open(image) as opened:
                opened.load()
                self.image = opened.copy()
        else:
            self.image = image_to_pil(image)

    @property
    def size(self) -> tuple[int, int]:
        return self.image.size  # type: ignore[no-any-return]

    def to_pil(self) -> Any:
        return self.image

    def to_array(self) -> Any:
        import numpy as np

        return np.array(self.image)

    def save(self, path: str | os.PathLike[str]) -> None:
        self.image.save(path)

    def resize(self, size: tuple[int, int]) -> Image:
        return Image(self.image.resize(size))
