"""Static assets (``site/`` copied verbatim to ``assets/``) and the vendored Vega bundle."""

from __future__ import annotations

from gitrun.site import resources
from gitrun.site.builder import Builder
from gitrun.site.output import digest

VEGA_BUNDLE = "assets/vendor/vega-bundle.js"


def build(builder: Builder) -> None:
    writer = builder.writer
    folder = resources.assets_dir()
    key = digest(resources.tree_digest(folder))
    if not writer.is_fresh("assets", key):
        writer.begin("assets", key)
        for path in sorted(p for p in folder.rglob("*") if p.is_file() and not p.name.startswith(".")):
            writer.write("assets/" + path.relative_to(folder).as_posix(), path.read_bytes())
        writer.end()
    label = resources.vega_bundle_label()
    if not writer.is_fresh("vendor", label):
        writer.begin("vendor", label)
        version, script = resources.vega_bundle()
        header = (
            f"/* Vega, Vega-Lite and vega-embed ({version}), bundled by vl-convert-python; BSD-3-Clause licensed. */\n"
        )
        writer.write(VEGA_BUNDLE, header + script)
        writer.end()
