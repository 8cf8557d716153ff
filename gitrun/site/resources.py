"""The site's templates and static assets (found by :mod:`gitrun.data`), and the Jinja2 environment
over them. A ``--template-dir`` comes first in the loader, so it can override any
template, and ``{% extends "default:run.html" %}`` reaches the built-in one it replaces.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

from gitrun.data import assets_dir, data_dir, templates_dir
from gitrun.formatting import format_size
from gitrun.site import safe

__all__ = ["assets_dir", "data_dir", "make_environment", "template_cache", "templates_dir", "tree_digest"]


def tree_digest(folder: Path, suffixes: tuple[str, ...] = ()) -> str:
    """A hash of every file's relative path and bytes under ``folder`` (for cache keys)."""
    digest = hashlib.sha256()
    if folder.is_dir():
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            if suffixes and not path.name.endswith(suffixes):
                continue
            digest.update(path.relative_to(folder).as_posix().encode() + b"\0")
            digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()


def make_environment(
    template_dir: Path | None = None,
    strict: bool = False,
    page_templates: Sequence[str | Path] = (),
    bytecode_cache: Path | None = None,
) -> Any:
    """Jinja2 environment: autoescape on for every template, user folder first, ``default:`` prefix,
    then plugin pages' ``page_templates`` folders (after the built-in ones, which they cannot shadow).
    With ``bytecode_cache`` (a folder), compiled templates are kept there (keyed by their source)."""
    import jinja2

    cache = None
    if bytecode_cache is not None:
        try:
            bytecode_cache.mkdir(parents=True, exist_ok=True)
            cache = jinja2.FileSystemBytecodeCache(str(bytecode_cache))
        except OSError:  # a read-only store: templates are compiled every time
            cache = None

    default = jinja2.FileSystemLoader(str(templates_dir()))
    loaders: list[jinja2.BaseLoader] = []
    if template_dir is not None:
        loaders.append(jinja2.FileSystemLoader(str(template_dir)))
    loaders += [jinja2.PrefixLoader({"default": default}, delimiter=":"), default]
    loaders += [jinja2.FileSystemLoader(str(folder)) for folder in page_templates]
    env = jinja2.Environment(
        loader=jinja2.ChoiceLoader(loaders),
        autoescape=True,  # every template, whatever its extension
        undefined=jinja2.StrictUndefined if strict else jinja2.Undefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        bytecode_cache=cache,
    )
    env.filters["script_json"] = safe.script_json
    env.filters["fmt"] = safe.format_number
    env.filters["filesize"] = format_size
    env.filters["url"] = safe.url_path
    return env


def template_cache(store: Any) -> Path:
    """Where a build keeps its compiled templates: the store's local cache (never committed)."""
    return Path(store.layout.cache_dir) / "site-templates"


@lru_cache(maxsize=1)
def vega_bundle() -> tuple[str, str]:
    """(version label, JavaScript) of the offline Vega + Vega-Lite + vega-embed bundle from vl-convert."""
    import vl_convert

    label = f"vl-convert {getattr(vl_convert, '__version__', '?')}, vega {vl_convert.get_vega_version()}"
    return label, vl_convert.javascript_bundle()  # type: ignore[call-arg]  # the snippet is optional


def vega_bundle_label() -> str:
    """The bundle's version label without building it (building takes about a second)."""
    import vl_convert

    return f"vl-convert {getattr(vl_convert, '__version__', '?')}, vega {vl_convert.get_vega_version()}"


def relpath_under(path: Path, root: Path) -> str:
    return os.path.relpath(path, root).replace(os.sep, "/")
