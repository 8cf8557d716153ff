"""Validation of keys and values, as strict as MLflow's with clearer messages.

Keys name files (a metric ``train/loss`` is ``metrics/train/loss.tsv``), so the rules also keep
every key inside its run directory.
"""

from __future__ import annotations

import math
import numbers
import posixpath
import re

from gitrun.errors import InvalidInputError
from gitrun.store.textio import TEMP_PREFIX

MAX_KEY_LENGTH = 250
MAX_PARAM_VALUE_LENGTH = 6000
MAX_TAG_VALUE_LENGTH = 8000
MAX_EXPERIMENT_NAME_LENGTH = 500
MAX_FILE_NAME_BYTES = 255  # NAME_MAX of Linux and macOS file systems: one part of an artifact path

_KEY_RE = re.compile(r"^[/\w.\- :]+$")
_RUN_ID_RE = re.compile(r"^[a-zA-Z0-9][\w\-]{0,255}$")


def validate_key(kind: str, key: object, run_id: str | None = None) -> str:
    """Return ``key`` if it is a valid param/metric/tag name, else raise with the fix."""
    where = f" in run {run_id}" if run_id else ""
    if not isinstance(key, str):
        raise InvalidInputError(f"{kind} key {key!r}{where} must be a string, not {type(key).__name__}")
    if not key:
        raise InvalidInputError(f"{kind} key{where} is empty; give it a name such as 'val_loss'")
    if len(key) > MAX_KEY_LENGTH:
        raise InvalidInputError(
            f"{kind} key {key[:40]!r}...{where} is {len(key)} characters long; the limit is {MAX_KEY_LENGTH}"
        )
    if not _KEY_RE.match(key):
        bad = sorted({c for c in key if not re.match(r"[/\w.\- :]", c)})
        raise InvalidInputError(
            f"{kind} key {key!r}{where} contains {''.join(bad)!r}; keys may only hold letters, digits, "
            "'_', '-', '.', ' ', '/' and ':'"
        )
    # normpath leaves leading '..' parts alone ("../up" is its own normal form), so check parts too.
    escapes = key.startswith("..") or any(part in (".", "..") for part in key.split("/"))
    if posixpath.normpath(key) != key or escapes or key.startswith("/") or key.endswith("/") or key.strip() != key:
        raise InvalidInputError(
            f"{kind} key {key!r}{where} is not a clean relative name (no leading or trailing '/' or "
            "spaces, no '.', '..' or '//' parts), because keys become file names"
        )
    if key.startswith(".") or "/." in key or "~" in key:  # every reserved name starts with '.' (or is git~1)
        *folders, name = key.split("/")
        reason = next(filter(None, map(_reserved_part, folders)), None)
        if reason is None and name.startswith(TEMP_PREFIX):  # the file gets a suffix (.tsv): only the prefix matters
            reason = _reserved_part(name)
        if reason:
            raise InvalidInputError(f"{kind} key {key!r}{where} has a part {reason}, because keys become file names")
    if any(len(part.encode("utf-8")) > MAX_KEY_LENGTH for part in key.split("/")):
        raise InvalidInputError(
            f"{kind} key {key[:40]!r}...{where} has a part longer than {MAX_KEY_LENGTH} bytes in UTF-8, too long "
            "for a file name; shorten it or split it with '/'"
        )
    return key


def _show(value: object, limit: int = 60) -> str:
    """``repr(value)`` cut short (a huge int's repr has hundreds of digits, or raises)."""
    try:
        text = repr(value)
    except Exception:
        text = f"<{type(value).__name__}>"
    return text if len(text) <= limit else text[:limit] + "..."


def validate_metric_value(key: str, value: object, run_id: str | None = None) -> float:
    """A metric value as a plain ``float``, as MLflow converts it.

    Accepted: anything that is a :class:`numbers.Number` or converts with ``float()`` (float
    subclasses, NumPy and torch scalars, 0-d arrays, ``Decimal``, ``Fraction``; bools count as
    0/1). Refused, naming the key: strings, bytes, ``None``, containers, and numbers too large for
    a double (``10**400``).
    """
    if type(value) is float:
        return value
    where = f" in run {run_id}" if run_id else ""
    if isinstance(value, (str, bytes, bytearray)) or (
        not isinstance(value, numbers.Number) and not hasattr(value, "__float__")
    ):
        raise InvalidInputError(
            f"metric {key!r}{where} got {_show(value)} ({type(value).__name__}); metric values must be numbers. "
            "Log text with set_tag() or log_param()"
        )
    try:
        number = float(value)  # type: ignore[arg-type]
    except OverflowError:
        raise InvalidInputError(
            f"metric {key!r}{where} got {_show(value)}, too large for a 64-bit float (about 1.8e308 at most); "
            "log it scaled, or its logarithm"
        ) from None
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(
            f"metric {key!r}{where} got {_show(value)} ({type(value).__name__}), which is not a number: {exc}"
        ) from None
    # float() of a float subclass may still return the subclass (a __float__ override); the
    # series must hold repr() of a plain float, never "np.float64(0.5)".
    return number if type(number) is float else float.__float__(number)


INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1


def _as_int64(key: str, what: str, value: object, hint: str) -> int:
    """An integral number (an int, or a float with an integral value) inside 64-bit signed range."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise InvalidInputError(f"metric {key!r}: {what} must be {hint}, got {_show(value)}")
    if isinstance(value, numbers.Integral):
        number = int(value)
    else:
        as_float = float(value)
        if not math.isfinite(as_float):
            raise InvalidInputError(f"metric {key!r}: {what} must be finite, got {_show(value)}")
        if not as_float.is_integer() and what == "step":
            raise InvalidInputError(f"metric {key!r}: step must be an integer, got {_show(value)}")
        number = int(as_float)
    if not INT64_MIN <= number <= INT64_MAX:
        raise InvalidInputError(
            f"metric {key!r}: {what} {_show(number)} is outside the 64-bit signed range MLflow accepts "
            f"(-2**63 to 2**63-1)"
        )
    return number


def validate_step(key: str, step: object) -> int:
    if step is None:
        return 0
    if type(step) is int and INT64_MIN <= step <= INT64_MAX:
        return step
    return _as_int64(key, "step", step, "an integer")


def validate_timestamp(key: str, timestamp: object) -> int | None:
    """Milliseconds since the epoch (a float is truncated), inside 64-bit signed range."""
    if timestamp is None:
        return None
    if type(timestamp) is int and INT64_MIN <= timestamp <= INT64_MAX:
        return timestamp
    return _as_int64(key, "timestamp", timestamp, "milliseconds since the epoch")


# A run's start and end times are shown as dates everywhere (search_runs' DataFrame, runs list, the
# site), so they must fit a pandas Timestamp (datetime64[ns]): 1677-09-22 to 2262-04-11.
RUN_TIME_MIN_MS = -9_223_372_036_854
RUN_TIME_MAX_MS = 9_223_372_036_854


def validate_run_time(what: str, value: object) -> int:
    """A run's ``start_time``/``end_time``: milliseconds since the epoch, a date between 1677 and 2262."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(float(value)):
        raise InvalidInputError(f"{what} must be milliseconds since the epoch, got {_show(value)}")
    number = int(value) if isinstance(value, numbers.Integral) else int(float(value))
    if not RUN_TIME_MIN_MS <= number <= RUN_TIME_MAX_MS:
        raise InvalidInputError(
            f"{what} {_show(value)} is not a date between 1677 and 2262 in milliseconds since the epoch "
            "(did you pass seconds or nanoseconds?)"
        )
    return number


def validate_run_id(run_id: object) -> str:
    if not isinstance(run_id, str) or not _RUN_ID_RE.match(run_id):
        raise InvalidInputError(
            f"{run_id!r} is not a run ID; run IDs are 26-character ULIDs such as 01JD5Z3F6X0000000000000000"
        )
    return run_id


def validate_experiment_name(name: object) -> str:
    if not isinstance(name, str) or not name.strip():
        raise InvalidInputError(f"experiment name must be a non-empty string, got {name!r}")
    if len(name) > MAX_EXPERIMENT_NAME_LENGTH:
        raise InvalidInputError(
            f"experiment name is {len(name)} characters long; the limit is {MAX_EXPERIMENT_NAME_LENGTH}"
        )
    if "\n" in name or "\r" in name:
        raise InvalidInputError(f"experiment name {name!r} must fit on one line")
    return name


def validate_direction(metric: str, direction: object) -> str:
    if direction not in ("min", "max"):
        raise InvalidInputError(f"direction of metric {metric!r} must be 'min' or 'max', got {direction!r}")
    return str(direction)


def _reserved_part(part: str) -> str | None:
    """Why a file or folder name cannot hold user data in a store, or None: Git refuses ``.git``
    (in any case, and ``.git.`` / ``git~1``, which Windows and macOS read as ``.git``), and the
    temp-file prefix is gitrun's own (its files are never committed)."""
    if part.rstrip(". ").lower() == ".git" or part.lower() == "git~1":
        return f"{part!r}, which Git cannot store (it is the name of Git's own folder)"
    if part.startswith(TEMP_PREFIX):
        return f"{part!r} starting with {TEMP_PREFIX!r}, gitrun's temp-file prefix (never committed)"
    return None


def validate_artifact_path(path: object, *, writing: bool = False) -> str:
    """A relative artifact path that stays inside the run's ``artifacts/`` folder.

    ``writing``: also refuse names that could not reach Git or DVC intact (docs/format.md,
    "Reserved names"): ``.git``, gitrun's temp prefix, DVC's ``*.dvc`` and ``.dvcignore``, and a
    ``.gitignore`` directly in ``artifacts/``, where DVC lists the big files it tracks.
    """
    if path is None or path == "":
        return ""
    if not isinstance(path, str):
        raise InvalidInputError(f"artifact path must be a string, got {path!r}")
    clean = path.replace("\\", "/").strip("/")
    parts = clean.split("/")
    if path.startswith("/") or any(part in ("", ".", "..") for part in parts) or "\x00" in path:
        raise InvalidInputError(
            f"artifact path {path!r} must be a relative path inside the run's artifacts (no '..', no leading '/')"
        )
    if writing:
        for part in parts:
            reason = _reserved_part(part)
            if reason is None and (part.lower().endswith(".dvc") or part.lower() == ".dvcignore"):
                reason = f"{part!r}, a name DVC keeps for its own files (*.dvc pointers, .dvcignore)"
            if reason:
                raise InvalidInputError(f"artifact path {path!r} has a part {reason}; rename it before logging")
        if parts[0] == ".gitignore":
            raise InvalidInputError(
                f"artifact path {path!r}: artifacts/.gitignore is where DVC lists the big files it tracks; "
                "log the file under a folder (e.g. artifact_path='out')"
            )
    sizes = [len(part.encode("utf-8", "surrogateescape")) for part in parts]
    if max(sizes) > MAX_FILE_NAME_BYTES:
        long = parts[sizes.index(max(sizes))]
        raise InvalidInputError(
            f"artifact path {_show(path)} has a part of {max(sizes)} bytes ({_show(long, 40)}); file systems "
            f"allow {MAX_FILE_NAME_BYTES} bytes per file or folder name: shorten it"
        )
    return clean
