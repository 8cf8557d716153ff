"""What loading a model may execute, and the checks gitrun makes before it does.

- **skops** (``model.skops``, the sklearn default): loads only types it trusts. Its defaults are
  scikit-learn's, numpy's and scipy's own; anything else must be trusted by name. gitrun trusts
  the flavor's own types (LightGBM's estimators for ``gitrun.lightgbm``), the types the caller
  passes (``skops_trusted_types=``, ``--trust-type``) and, as MLflow does, the types the model's
  MLmodel lists — except in safe mode, since a hostile repository writes that list too. A type
  trusted by none of these is refused, naming it and the way to trust it.
- **pickle / cloudpickle** (``model.pkl``, ``python_model.pkl``) and **code paths** (``code/``
  put on ``sys.path``): loading them runs whatever code the file holds. gitrun loads them, as
  MLflow does, unless safe mode is on.

Safe mode: ``load_model(..., safe=True)``, ``gitrun models predict --safe``, or
``GITRUN_SAFE_LOAD=1`` (for a process that loads models from repositories it does not trust).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from gitrun.errors import GitrunError, UnsafeModelError
from gitrun.models.flavors import LoadOptions

ENV_SAFE = "GITRUN_SAFE_LOAD"


def load_options(skops_trusted_types: Iterable[str] | None = None, safe: bool | None = None) -> LoadOptions:
    if safe is None:
        safe = os.environ.get(ENV_SAFE, "").strip().lower() not in ("", "0", "false", "no", "off")
    if isinstance(skops_trusted_types, str):
        skops_trusted_types = [skops_trusted_types]
    return LoadOptions(tuple(skops_trusted_types or ()), bool(safe))


def refuse_code(what: str, path: Path, options: LoadOptions) -> None:
    """In safe mode, refuse a file whose loading executes code (pickle, cloudpickle, code paths)."""
    if options.safe:
        raise UnsafeModelError(
            f"{path} is {what}: loading it runs the code it holds, and safe mode is on ({ENV_SAFE} or safe=True). "
            "Load it only if you trust where it comes from (turn safe mode off for this load)"
        )


def skops_load(
    path: Path, recorded: Iterable[str] | None, options: LoadOptions, flavor_types: Iterable[str] = ()
) -> Any:
    """``skops.io.load`` of ``path`` trusting only what the rules above trust; else an error listing the types."""
    import skops.io

    try:
        found = skops.io.get_untrusted_types(file=path)
    except Exception as exc:
        raise GitrunError(f"cannot read {path} as a skops file: {type(exc).__name__}: {exc}") from None
    trusted = set(flavor_types) | set(options.skops_trusted_types)
    if not options.safe:
        trusted |= set(recorded or ())
    refused = sorted(set(found) - trusted)
    if refused:
        listed = ", ".join(refused)
        recorded_note = (
            " (the model's MLmodel lists some of them, which safe mode does not take on trust)"
            if options.safe and set(refused) & set(recorded or ())
            else ""
        )
        raise UnsafeModelError(
            f"{path} holds types skops does not trust by default: {listed}{recorded_note}. Loading them can run code. "
            f"If you trust this model, trust them by name: load_model(..., skops_trusted_types={refused!r}), or "
            f"`gitrun models predict ... {' '.join('--trust-type ' + t for t in refused)}`"
        )
    return skops.io.load(path, trusted=sorted(set(found)))
